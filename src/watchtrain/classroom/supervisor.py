"""Grade one submission in a sandboxed child process, and get a full report whatever its code does.

The child is `pytest autograder` on a pristine copy of the autograder and of the grader's own code,
with the plugin's results log. The supervisor follows that log: when a test ignores its time limit
it kills the child; when the child dies (a segfault, os._exit, out of memory, a kill), the test that
was running is graded as an error with the reason (and so are the unfinished checks of the same
exercise, which would run the same code again), and a fresh child grades the rest. Every test ends
with a status: a crash costs the checks of one exercise, never the submission. In a batch, the
children are forked from a zygote that has imported the heavy libraries once (isolation/forking.py).
"""
from __future__ import annotations

import re
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import watchtrain
from watchtrain.classroom.isolation.forking import Zygote
from watchtrain.classroom.isolation.sandbox import Limits, Sandbox
from watchtrain.classroom.submissions import INVALID
from watchtrain.course import EXERCISE_FILE, Course
from watchtrain.grading.options import HIDDEN_DIR
from watchtrain.grading.outcomes import incident
from watchtrain.grading.results import ERROR, NOT_STARTED, Status, SubmissionStatus, TestResult, build_report
from watchtrain.grading.results_log import COLLECTED, PHASE, RESULT, read_new_events, read_results_log
from watchtrain.grading.runner import GRADING_PYTEST_OPTIONS, autograder_targets

GRADED, CRASHED, TIMEOUT, GRADER_ERROR = (SubmissionStatus.GRADED, SubmissionStatus.CRASHED,
                                        SubmissionStatus.TIMEOUT, SubmissionStatus.GRADER_ERROR)
MAX_RUNS = 20  # a fresh child after each crash; each crash settles at least one test
MAX_FEEDBACK_CHARS = 4000
_POLL_SECONDS = 0.1


class GradingCancelled(Exception):
    """The batch was interrupted while this submission was being graded; it has no result."""


@dataclass(frozen=True)
class GradingOptions:
    lessons: tuple[str, ...] = ()  # lesson dirs to grade; empty: all of them
    hidden: bool = False
    limits: Limits = Limits()
    gpu: bool = False  # let the child see GPUs (off: GPU checks skip, and carry no points anyway)
    preload: bool = True  # batches fork their runs from a zygote that has imported torch & co. once
    select: str = ""  # a pytest -k expression: only the checks it matches are graded; empty: every check

    def lesson_dirs(self, course: Course) -> list[str]:
        return list(self.lessons) or [lesson.dir for lesson in course.lessons]


@dataclass
class Outcome:
    report: dict  # a points report, GradeReport.as_dict()'s format
    status: str
    notes: list[str] = field(default_factory=list)
    output: str = ""  # the child's console output, capped
    runs: int = 0


@dataclass
class _Run:
    returncode: int
    ended_by: str | None  # None, "test-timeout" or "submission-timeout"
    events: list[dict]
    output: str

    @property
    def in_flight(self) -> tuple[str, str] | None:
        """(nodeid, phase) of the test that was running when the child ended, if any."""
        finished = {event["test"]["nodeid"] for event in self.events if event["event"] == RESULT}
        phases = [event for event in self.events if event["event"] == PHASE and event["nodeid"] not in finished]
        return (phases[-1]["nodeid"], phases[-1]["when"]) if phases else None


def grade_folder(course: Course, submission: Path, work: Path, options: GradingOptions,
                 cancel: threading.Event | None = None, zygote: Zygote | None = None) -> Outcome:
    """Grade `submission` (shaped like lessons/); `work` is scratch space, removed by the caller.
    Setting `cancel` stops the child at once and raises GradingCancelled. With a `zygote`, the
    children are forked from it instead of started afresh."""
    submission, work = submission.resolve(), work.resolve()
    limits = options.limits
    if zygote is not None:  # a batch's first runs wait for its imports: the batch's seconds, not the submission's
        zygote.wait_until_ready()
    deadline = time.monotonic() + limits.submission_timeout
    output_path = work / "output.log"
    master: dict[str, TestResult] = {}
    results: dict[str, TestResult] = {}
    notes: list[str] = []
    status = GRADED
    remaining: list[str] = []
    runs = 0
    while runs < MAX_RUNS:
        run = _run_child(course, submission, work, runs, remaining, options, deadline, output_path, cancel, zygote)
        if run.ended_by == "cancelled":
            raise GradingCancelled()
        runs += 1
        if runs == 1:
            collected = [event for event in run.events if event["event"] == COLLECTED]
            if not collected:
                timed_out = run.ended_by == "submission-timeout"
                note = ("the submission's time limit ran out before the tests were collected" if timed_out else
                        f"the autograder could not collect its tests (exit code {run.returncode}); see the output")
                return Outcome(_empty_report(course, options), TIMEOUT if timed_out else GRADER_ERROR, [note],
                               _capped(output_path, limits), runs)
            master = {test["nodeid"]: TestResult.from_dict(test) for test in collected[0]["tests"]}
        for event in run.events:
            if event["event"] == RESULT and event["test"]["nodeid"] in master:
                test = event["test"]
                results[test["nodeid"]] = replace(master[test["nodeid"]], status=test["status"],
                                                  feedback=_short(test["feedback"]))
        in_flight = run.in_flight
        if in_flight is not None:
            reason = _crash_reason(run, limits, submission)
            crashed, *skipped = _settled_by_crash(master, results, *in_flight)
            results[crashed] = replace(master[crashed], status=ERROR, feedback=reason)
            for nodeid in skipped:
                results[nodeid] = replace(master[nodeid], status=ERROR,
                                          feedback=f"not run, because an earlier check of the same code {reason}")
            status = TIMEOUT if run.ended_by == "submission-timeout" else CRASHED
        remaining = [nodeid for nodeid in master if nodeid not in results]
        if not remaining:
            break
        if run.ended_by == "submission-timeout" or time.monotonic() >= deadline:
            _give_up(master, results, remaining, f"not graded: the submission's time limit of "
                                                 f"{limits.submission_timeout:g} s ran out before this check ran")
            status = TIMEOUT
            break
        if in_flight is None:  # the child stopped between tests, or could not start them: our problem
            _give_up(master, results, remaining, f"not graded: the autograder stopped early (exit code "
                                                 f"{run.returncode}); the instructor has the details")
            notes.append(f"the autograder stopped early (exit code {run.returncode})")
            status = GRADER_ERROR
            break
    else:
        _give_up(master, results, remaining, f"not graded: the grader gave up after {MAX_RUNS} crashes")
    ordered = [results.get(nodeid, master[nodeid]) for nodeid in master]
    notes[:0] = _incidents(ordered)
    if status == GRADED and any(result.status == Status.GRADER_ERROR for result in ordered):
        status = GRADER_ERROR
        notes.append("an autograder check failed internally; see the feedback")
    report = build_report(course, ordered).as_dict()
    return Outcome(report, status, notes, _capped(output_path, limits), runs)


def _run_child(course: Course, submission: Path, work: Path, attempt: int, only: list[str],
               options: GradingOptions, deadline: float, output_path: Path, cancel: threading.Event | None,
               zygote: Zygote | None) -> _Run:
    """One child: a fresh grader copy (whatever the last child did to its own), a fresh sandbox."""
    limits = options.limits
    grader = copy_grader(course, work / "grader", hidden=options.hidden)
    sandbox = Sandbox.create(work / f"run-{attempt}")
    log = work / f"results-{attempt}.jsonl"
    targets = only or [str(path.relative_to(grader)) for path in
                       autograder_targets(grader / "autograder", options.lessons or None, hidden=options.hidden)]
    argv = [sys.executable, "-m", "pytest", *targets, "-q", "--tb=short", "--show-capture=no", *GRADING_PYTEST_OPTIONS,
            "--rootdir", str(grader), "--basetemp", str(sandbox.tmp / "pytest"), "--submission", str(submission),
            "--results-log", str(log), "--test-timeout", f"{limits.test_timeout:g}",
            *(["--hidden"] if options.hidden else []), *(["-k", options.select] if options.select else [])]
    env = sandbox.environment([grader / "src"], {"WATCHTRAIN_COURSE_ROOT": str(grader),
                                                 "WATCHTRAIN_DATA_DIR": str(course.root / "data")}, gpu=options.gpu)
    start = output_path.stat().st_size if output_path.exists() else 0
    process = sandbox.start(argv, env=env, limits=limits, cwd=grader, output=output_path, zygote=zygote)
    ended_by, current, since, offset = None, None, 0.0, 0
    try:
        while process.poll() is None:
            if cancel is not None and cancel.is_set():
                ended_by = "cancelled"
                break
            events, offset = read_new_events(log, offset)
            for event in events:
                if event["event"] == PHASE:
                    current, since = event["nodeid"], time.monotonic()
                elif event["event"] == RESULT:
                    current = None
            now = time.monotonic()
            if now >= deadline:
                ended_by = "submission-timeout"
                break
            if current is not None and now - since > limits.hard_test_timeout:
                ended_by = "test-timeout"
                break
            time.sleep(_POLL_SECONDS)
    finally:
        sandbox.kill_all(process)
    end = output_path.stat().st_size
    tail = max(start, end - 64 * 1024)  # faulthandler's report of a crash is at the end
    return _Run(process.returncode, ended_by, read_results_log(log), _read_from(output_path, tail, end - tail))


def copy_grader(course: Course, target: Path, *, hidden: bool) -> Path:
    """A pristine copy of what grades: course.toml, the autograder and the watchtrain package."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("course.toml", "pyproject.toml"):  # pyproject.toml carries the pytest settings
        if (course.root / name).is_file():
            shutil.copyfile(course.root / name, target / name)
    skip = ["__pycache__", *([] if hidden else [HIDDEN_DIR])]
    shutil.copytree(course.root / "autograder", target / "autograder", ignore=shutil.ignore_patterns(*skip))
    shutil.copytree(Path(watchtrain.__file__).parent, target / "src" / "watchtrain",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _incidents(results: list[TestResult]) -> list[str]:
    """'f() crashed', 'f() timed out' per exercise (outcomes.incident), with how many checks it cost."""
    counts = Counter(filter(None, (incident(result.feedback, result.exercise) for result in results
                                   if result.status == ERROR)))
    return [f"{what} ({count} checks)" if count > 1 else what for what, count in counts.items()]


def _settled_by_crash(master: dict[str, TestResult], results: dict[str, TestResult], nodeid: str, phase: str) -> list[str]:
    """The tests a crash settles: the one running, and the unfinished tests that would run the same
    code again: those of its exercise, or, when it died while setting up (importing the learner's
    exercise.py), those of its whole lesson. Each would cost another crash, or another time limit."""
    crashed = master[nodeid]
    same = (lambda test: test.lesson == crashed.lesson) if phase == "setup" else \
        (lambda test: (test.lesson, test.exercise) == (crashed.lesson, crashed.exercise))
    return [nodeid, *(other for other, test in master.items() if other != nodeid and other not in results and same(test))]


def _crash_reason(run: _Run, limits: Limits, submission: Path) -> str:
    where = _learner_frame(run.output, submission)
    fresh = "The other exercises were graded in a fresh process."
    if run.ended_by == "test-timeout":
        return (f"timed out: the code did not stop at the time limit of {limits.test_timeout:g} s per test and had "
                f"to be killed{where}. Look for a loop that never ends; a bare `except:` that swallows everything "
                f"also swallows the time limit. {fresh}")
    if run.ended_by == "submission-timeout":
        return (f"timed out: the code was still running when the submission's time limit of "
                f"{limits.submission_timeout:g} s ran out{where}.")
    code = run.returncode
    if code < 0:
        return f"crashed: {_signal_reason(-code, limits)}{where}. {fresh}"
    if code == 2:
        return (f"crashed: the code stopped the whole test run (exit code 2){where}: does it raise "
                f"KeyboardInterrupt? {fresh}")
    return (f"crashed: the process exited (exit code {code}) in the middle of a check{where}. An exercise must "
            f"return; os._exit() or exit() ends the grader too. {fresh}")


def _signal_reason(number: int, limits: Limits) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    reasons = {
        "SIGSEGV": "a segmentation fault (SIGSEGV) in native code, which read or wrote memory it does not own "
                   "(ctypes with a bad address, a C extension given a wrong argument)",
        "SIGBUS": "a bus error (SIGBUS) in native code",
        "SIGABRT": "native code aborted (SIGABRT)",
        "SIGKILL": f"the process was killed (SIGKILL), most likely for running out of memory "
                   f"(the limit is {limits.memory_mb} MiB per process)",
    }
    return reasons.get(name, f"the process was killed by {name}")


def _learner_frame(output: str, submission: Path) -> str:
    """Where in the learner's file faulthandler saw the crash, as ' at lesson/exercise.py line N, in f'."""
    root = re.escape(str(submission.resolve()))
    match = re.search(rf'File "{root}/([^/"]+)/{re.escape(EXERCISE_FILE)}", line (\d+) in (\w+)', output)
    return f" at {match[1]}/{EXERCISE_FILE} line {match[2]}, in {match[3]}()" if match else ""


def _give_up(master: dict[str, TestResult], results: dict[str, TestResult], nodeids: list[str], reason: str) -> None:
    for nodeid in nodeids:
        results[nodeid] = replace(master[nodeid], status=ERROR, feedback=reason)


def _short(feedback: str) -> str:
    if len(feedback) <= MAX_FEEDBACK_CHARS:
        return feedback
    return f"{feedback[:MAX_FEEDBACK_CHARS]}\n... ({len(feedback) - MAX_FEEDBACK_CHARS} more characters left out)"


def _empty_report(course: Course, options: GradingOptions, status: str = ERROR) -> dict:
    """A report with every chosen lesson at zero and no tests: for submissions that could not be graded."""
    lessons = []
    for lesson_dir in options.lesson_dirs(course):
        lesson = course.lesson(lesson_dir)
        possible = sum(e.points + (e.hidden_points if options.hidden else 0) for e in lesson.exercises)
        lessons.append({"dir": lesson.dir, "title": lesson.title, "earned": 0, "possible": possible,
                        "status": status, "tests": []})
    return {"score": 0, "max_score": sum(lesson["possible"] for lesson in lessons), "lessons": lessons}


def not_graded(course: Course, options: GradingOptions, reason: str) -> Outcome:
    """The outcome of a submission that could not be graded at all (a refused zip, a symlink)."""
    return Outcome(_empty_report(course, options, NOT_STARTED), INVALID, [reason])


def _capped(path: Path, limits: Limits) -> str:
    """The output's head and tail, at most limits.output_kb KiB together."""
    if not path.is_file():
        return ""
    size, cap = path.stat().st_size, limits.output_kb * 1024
    if size <= cap:
        return path.read_text(encoding="utf-8", errors="replace")
    half = cap // 2
    return (_read_from(path, 0, half) + f"\n... [{size - 2 * half} bytes of output left out] ...\n"
            + _read_from(path, size - half, half))


def _read_from(path: Path, offset: int, length: int) -> str:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(length).decode("utf-8", errors="replace")
