"""Grade a folder of submissions in parallel, each in its own sandboxed child, and resume after an
interruption without regrading what is finished.

A submission is finished when `RESULTS/submissions/<name>/report.json` exists (it is written last,
atomically) and records the same fingerprint: the same exercise files, graded by the same
autograder with the same options. Anything else is graded (again).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import watchtrain
from watchtrain.atomic import write_atomically
from watchtrain.classroom.isolation.budget import remove_stale_budgets
from watchtrain.classroom.isolation.forking import Zygote, preload_for
from watchtrain.classroom.isolation.sandbox import start_zygote
from watchtrain.classroom.reports import write_class_csv, write_submission_files
from watchtrain.classroom.submissions import EMPTY, INVALID, Staged, SubmissionEntry, stage
from watchtrain.classroom.supervisor import (GRADER_ERROR, GradingCancelled, GradingOptions, Outcome, grade_folder,
                                             not_graded)
from watchtrain.course import Course
from watchtrain.grading.options import HIDDEN_DIR
from watchtrain.library_imports import lesson_libraries

REPORT_FILE = "report.json"
WORK_DIR = ".work"


@dataclass(frozen=True)
class Row:
    """One submission's line in the class table."""
    name: str
    folder: str  # under RESULTS/submissions/
    status: str
    score: float
    max_score: float
    lessons: dict[str, float]  # lesson dir -> points earned
    notes: list[str]
    seconds: float
    resumed: bool = False  # finished by an earlier run of the same batch

    @classmethod
    def from_report(cls, report: dict, *, resumed: bool = False) -> "Row":
        info = report["submission"]
        return cls(info["name"], info["folder"], info["status"], report["score"], report["max_score"],
                   {lesson["dir"]: lesson["earned"] for lesson in report["lessons"]}, info["notes"],
                   info["seconds"], resumed)


def grade_batch(course: Course, entries: list[SubmissionEntry], out: Path, options: GradingOptions, *,
                jobs: int = 1, regrade: bool = False, keep_work: bool = False,
                on_done: Callable[[Row], None] = lambda row: None) -> list[Row]:
    """Grade every entry, `jobs` at a time; rows come back in the entries' order. On
    KeyboardInterrupt the running children are stopped, finished submissions keep their results,
    and the interrupt is raised again."""
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_budgets()
    grader = grader_fingerprint(course, options)
    folders = folder_names([entry.name for entry in entries])
    cancel = threading.Event()
    rows: dict[str, Row] = {}
    lesson_dirs = options.lesson_dirs(course)
    zygote = start_zygote(out / WORK_DIR / "zygote", gpu=options.gpu,
                          preload=preload_for(lesson_libraries(course, lesson_dirs))) if options.preload and entries else None
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="grade") as pool:
            futures = {pool.submit(_grade_entry, course, entry, out, folders[entry.name], options, grader,
                                   regrade, keep_work, cancel, zygote): entry for entry in entries}
            try:
                for future in as_completed(futures):
                    row = future.result()
                    rows[row.name] = row
                    # After each submission, so that an interrupted batch leaves the grades it has.
                    write_class_csv(out / "grades.csv", [rows[e.name] for e in entries if e.name in rows], lesson_dirs)
                    on_done(row)
            except BaseException:
                cancel.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        if zygote is not None:
            zygote.close()
    ordered = [rows[entry.name] for entry in entries]
    write_class_csv(out / "grades.csv", ordered, lesson_dirs)
    if not keep_work:
        shutil.rmtree(out / WORK_DIR, ignore_errors=True)
    return ordered


def _grade_entry(course: Course, entry: SubmissionEntry, out: Path, folder: str, options: GradingOptions,
                 grader: str, regrade: bool, keep_work: bool, cancel: threading.Event, zygote: Zygote | None) -> Row:
    if cancel.is_set():
        raise GradingCancelled()
    started = time.monotonic()
    destination = out / "submissions" / folder
    work = out / WORK_DIR / folder
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        staged = stage(entry, course, work)
        fingerprint = hashlib.sha256(f"{staged.fingerprint}\n{grader}".encode()).hexdigest()
        previous = _finished_report(destination)
        if not regrade and previous and previous["submission"].get("fingerprint") == fingerprint:
            return Row.from_report(previous, resumed=True)
        outcome = _outcome(course, staged, work, options, cancel, zygote)
        report = outcome.report | {"submission": {
            "name": entry.name, "folder": folder, "status": outcome.status, "notes": outcome.notes,
            "fingerprint": fingerprint,
            "seconds": round(time.monotonic() - started, 1), "runs": outcome.runs,
            "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
        write_submission_files(destination, report, outcome.output)
        write_atomically(destination / REPORT_FILE, json.dumps(report, indent=2).encode())
        return Row.from_report(report)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)


def _outcome(course: Course, staged: Staged, work: Path, options: GradingOptions, cancel: threading.Event,
             zygote: Zygote | None) -> Outcome:
    if staged.status == INVALID:
        return not_graded(course, options, staged.reason)
    try:
        outcome = grade_folder(course, staged.folder, work / "grading", options, cancel, zygote)
    except GradingCancelled:
        raise
    except Exception as err:  # a bug of ours must cost this row, not the class's batch
        outcome = not_graded(course, options, f"the grader itself failed on this submission: {type(err).__name__}: {err}")
        outcome.status, outcome.output = GRADER_ERROR, traceback.format_exc()
    if staged.status == EMPTY:
        outcome.status, outcome.notes = EMPTY, [staged.reason, *outcome.notes]
    return outcome


def read_report(out: Path, row: Row) -> dict:
    """The full report the batch wrote for a row's submission."""
    return json.loads((out / "submissions" / row.folder / REPORT_FILE).read_text(encoding="utf-8"))


def _finished_report(destination: Path) -> dict | None:
    try:
        report = json.loads((destination / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return report if isinstance(report, dict) and "submission" in report else None


def folder_names(names: list[str]) -> dict[str, str]:
    """A safe, unique folder name for each submission name: letters of any script (a Korean name
    stays Korean), digits, '.', '_' and '-'."""
    taken: set[str] = set()
    folders = {}
    for name in names:
        base = re.sub(r"[^\w.-]+", "_", name).strip("._") or "submission"
        folder, counter = base, 1
        while folder in taken:
            counter += 1
            folder = f"{base}-{counter}"
        taken.add(folder)
        folders[name] = folder
    return folders


def grader_fingerprint(course: Course, options: GradingOptions) -> str:
    """What decides a grade besides the submission: the manifest, the autograder, the grader's code
    and the options. A change to any of them regrades everything."""
    digest = hashlib.sha256(repr(options).encode())
    autograder, package = course.root / "autograder", Path(watchtrain.__file__).parent
    tests = [path for path in sorted(autograder.rglob("*.py"))
             if options.hidden or HIDDEN_DIR not in path.relative_to(autograder).parts]
    for root, paths in ((course.root, [course.root / "course.toml", *tests]), (package, sorted(package.rglob("*.py")))):
        for path in paths:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
