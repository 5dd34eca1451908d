"""What a batch writes: per submission a points report with its Gradescope and JUnit forms and the
(capped) console output, and for the class a CSV and a summary table."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from watchtrain.atomic import write_atomically
from watchtrain.grading.gradescope import gradescope_results
from watchtrain.grading.junit import junit_xml

if TYPE_CHECKING:
    from watchtrain.classroom.batch import Row

CSV_FIXED = ("submission", "status", "score", "max_score", "percent")


def write_submission_files(folder: Path, report: dict, output: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    notes = "\n".join(report["submission"]["notes"])
    (folder / "results.json").write_text(json.dumps(gradescope_results(report, output=notes), indent=2), encoding="utf-8")
    (folder / "junit.xml").write_text(junit_xml(report, name=report["submission"]["name"]), encoding="utf-8")
    (folder / "output.log").write_text(output, encoding="utf-8")


def write_class_csv(path: Path, rows: list["Row"], lesson_dirs: list[str]) -> None:
    """One row per submission: status, total, and the points of each lesson. Written atomically:
    a reader (or an interrupted batch) finds the previous table or this one, never half of one."""
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow([*CSV_FIXED, *lesson_dirs, "notes"])
    for row in rows:
        percent = 100 * row.score / row.max_score if row.max_score else 0.0
        writer.writerow([row.name, row.status, f"{row.score:g}", f"{row.max_score:g}", f"{percent:.1f}",
                         *(f"{row.lessons.get(lesson, 0):g}" for lesson in lesson_dirs), "; ".join(row.notes)])
    write_atomically(path, table.getvalue().encode("utf-8"))


def summary_table(rows: list["Row"], seconds: float) -> str:
    """The table printed when a batch ends: each submission, then the counts per status."""
    width = max([len("submission"), *(len(row.name) for row in rows)])
    lines = [f"{'submission':<{width}}  {'score':>11}  {'status':<12}  notes",
             f"{'-' * width}  {'-' * 11}  {'-' * 12}  {'-' * 5}"]
    for row in rows:
        score = f"{row.score:g}/{row.max_score:g}"
        notes = "; ".join(row.notes)
        lines.append(f"{row.name:<{width}}  {score:>11}  {row.status:<12}  {notes[:100]}"
                     + ("..." if len(notes) > 100 else ""))
    counts = Counter(row.status for row in rows)
    graded_now = sum(not row.resumed for row in rows)
    rate = f", {60 * graded_now / seconds:.1f} a minute" if graded_now and seconds > 0 else ""
    lines += ["", ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
              + f"; {graded_now} graded in {seconds:.0f} s{rate}"
              + (f"; {len(rows) - graded_now} already graded before (resumed)" if graded_now < len(rows) else "")]
    return "\n".join(lines)
