"""`watchtrain grade`: grade one submission or a folder of them, in parallel, each in its own sandbox.

Writes RESULTS/grades.csv (one row per submission) and, per submission, RESULTS/submissions/<name>/
report.json (points, status and feedback per test), results.json (Gradescope), junit.xml and
output.log. Run it again after an interruption: finished submissions are not graded twice.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from watchtrain.classroom.isolation.sandbox import Limits

DEFAULTS = Limits()


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "grade", help="grade submissions (folders shaped like lessons/, or zips) in parallel, in sandboxes",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                        help="a folder of submissions (each a folder or a .zip), or one submission")
    parser.add_argument("--out", type=Path, required=True, metavar="RESULTS_DIR", help="where to write the results")
    parser.add_argument("--jobs", type=int, default=0, metavar="N",
                        help="submissions graded at once (default: as many as cores and memory allow)")
    parser.add_argument("--lessons", nargs="+", metavar="LESSON", help="grade only these lessons (e.g. 01 02)")
    parser.add_argument("--hidden", action="store_true", help="also run the hidden tests in autograder/hidden/")
    parser.add_argument("--test-timeout", type=float, default=DEFAULTS.test_timeout, metavar="SECONDS",
                        help="time limit of one test (default: %(default)g)")
    parser.add_argument("--submission-timeout", type=float, default=DEFAULTS.submission_timeout, metavar="SECONDS",
                        help="time limit of one submission, all its tests (default: %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULTS.memory_mb, metavar="MIB",
                        help="memory limit of each process of a submission (default: %(default)d)")
    parser.add_argument("--regrade", action="store_true", help="grade everything again, even what is finished")
    parser.add_argument("--keep-work", action="store_true", help="keep the sandboxes (RESULTS_DIR/.work) to debug")
    parser.add_argument("--gpu", action="store_true", help="let submissions see the GPU (its checks carry no points)")
    parser.add_argument("--no-preload", dest="preload", action="store_false",
                        help="start every run as a fresh Python instead of forking it from one that has imported "
                             "torch & co. once (slower; the grades are the same)")
    parser.add_argument("--github-classroom", action="store_true",
                        help="one submission: also write its points to $GITHUB_OUTPUT (as `result`) and "
                             "$GITHUB_STEP_SUMMARY, for GitHub Classroom's autograding reporter")
    parser.set_defaults(run=run)


def _say_isolation() -> None:
    """The first lines of a batch: which layers keep submissions from the grader and each other."""
    from watchtrain.classroom.isolation.jail import probe_layers, unprotected

    layers = probe_layers()
    print("Each submission's code runs in a learner worker, apart from the checks that grade it:", file=sys.stderr)
    print("\n".join(line for line in layers.describe() if "note:" not in line), file=sys.stderr)
    for gap in unprotected(layers):
        print(f"  not protected here: {gap}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from watchtrain.classroom.batch import grade_batch
    from watchtrain.classroom.reports import summary_table
    from watchtrain.classroom.submissions import find_submissions
    from watchtrain.classroom.supervisor import GRADER_ERROR, GradingOptions
    from watchtrain.course import load_course

    course = load_course()
    lessons = tuple(course.lesson(key).dir for key in args.lessons or ())
    limits = Limits(test_timeout=args.test_timeout, submission_timeout=args.submission_timeout, memory_mb=args.memory_mb)
    options = GradingOptions(lessons=lessons, hidden=args.hidden, limits=limits, gpu=args.gpu,
                             preload=args.preload)
    try:
        entries = find_submissions(args.submissions.resolve(), course)
    except FileNotFoundError as err:
        print(f"watchtrain grade: {err}", file=sys.stderr)
        return 2
    if not entries:
        print(f"watchtrain grade: no submissions in {args.submissions} (expected folders or .zip files)", file=sys.stderr)
        return 2
    if args.github_classroom and len(entries) != 1:
        print("watchtrain grade: --github-classroom grades one submission; give its folder", file=sys.stderr)
        return 2
    jobs = args.jobs or default_jobs(limits.memory_mb)
    out = args.out.resolve()
    print(f"Grading {len(entries)} submission(s) in {args.submissions}, {jobs} at a time"
          f"{' with hidden tests' if args.hidden else ''}; results in {out}", file=sys.stderr)
    _say_isolation()
    started = time.monotonic()
    progress = _Progress(len(entries))
    try:
        rows = grade_batch(course, entries, out, options, jobs=jobs, regrade=args.regrade,
                           keep_work=args.keep_work, on_done=progress.done)
    except KeyboardInterrupt:
        progress.close()
        print(f"\ninterrupted: {progress.count} of {len(entries)} submissions finished and saved. Run the same "
              f"command again to grade the rest; finished ones are not graded twice.", file=sys.stderr)
        return 130
    progress.close()
    print(summary_table(rows, time.monotonic() - started))
    print(f"\nclass table: {out / 'grades.csv'}\nper submission: {out / 'submissions'}/<name>/"
          f"{{report.json, results.json, junit.xml, output.log}}")
    if args.github_classroom:
        _github_classroom(out, rows[0])
    return 1 if any(row.status == GRADER_ERROR for row in rows) else 0


def default_jobs(memory_mb: int) -> int:
    """One job per core, as long as every job can use its whole memory limit at once."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return max(1, cores)
    return max(1, min(cores, memory // max(1, memory_mb)))


def _github_classroom(out: Path, row) -> None:
    from watchtrain.classroom.batch import read_report
    from watchtrain.classroom.github_classroom import write_github_outputs

    report = read_report(out, row)
    outputs = {key: Path(os.environ[key]) if os.environ.get(key) else None
               for key in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    write_github_outputs(report, outputs["GITHUB_OUTPUT"], outputs["GITHUB_STEP_SUMMARY"])


class _Progress:
    """A progress bar on a terminal; one line per finished submission in a log (CI, a pipe)."""

    def __init__(self, total: int):
        self.total, self.count = total, 0
        self._bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="submission", file=sys.stderr, dynamic_ncols=True)

    def done(self, row) -> None:
        self.count += 1
        line = (f"{row.name}: {row.score:g}/{row.max_score:g} {row.status}"
                f"{' (already graded)' if row.resumed else f' in {row.seconds:.0f} s'}")
        if self._bar is not None:
            self._bar.set_postfix_str(line[:60])
            self._bar.update()
        else:
            print(f"[{self.count}/{self.total}] {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
