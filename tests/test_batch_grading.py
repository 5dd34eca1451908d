"""The batch grader's reliability suite: bad submissions are graded as one batch, in parallel, next
to controls. Each gets a row with a clear status, the batch completes, the controls' results do not
change, and the same submission graded five times gets the same grade.

The batch grades lesson 01 only (`--lessons`), with tight time limits, to stay fast.
"""
import ast
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from watchtrain.classroom.batch import grader_fingerprint
from watchtrain.classroom.isolation.sandbox import Limits
from watchtrain.classroom.supervisor import GradingOptions
from watchtrain.course import load_course
from mutant_specs import Mutant, find_mutants

COURSE = Path(__file__).resolve().parents[1]
LESSON = "01_tensorboard_basics"
BAD = COURSE / "tests" / "bad_submissions"
BAD_NAMES = sorted(path.parent.name for path in BAD.glob("*/mutant.toml"))
TEST_TIMEOUT, SUBMISSION_TIMEOUT = 10, 90
SAME = [f"same-{index}" for index in range(1, 6)]
# A student's folder named in Korean by a zip made on Windows and unpacked with `unzip`: CP949
# bytes, not UTF-8, which Python reads with lone surrogates. Its row reads as the name it is.
CP949_NAME, CP949_ROW = os.fsdecode("홍길동".encode("cp949")), "홍길동"
FULL_POINTS = 10


def bad_spec(name: str) -> dict:
    return tomllib.loads((BAD / name / "mutant.toml").read_text(encoding="utf-8"))


def materialise_bad(name: str, submissions: Path) -> None:
    spec = bad_spec(name)
    Mutant(spec["lesson"], name, BAD / name, spec["description"], ()).materialise(COURSE / "solutions", submissions / name)


def stub_out(source: str, function: str) -> str:
    """`source` with `function`'s body (after its docstring) replaced by `raise NotImplementedError`."""
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == function)
    lines = source.splitlines(keepends=True)
    first = node.body[1] if ast.get_docstring(node) is not None else node.body[0]
    return "".join(lines[:first.lineno - 1] + ["    raise NotImplementedError\n"] + lines[node.end_lineno:])


def small_submission() -> str:
    """A lesson-01 submission with one mistake, one exercise right and one not started: every status, quickly."""
    mutant = next(m for m in find_mutants(COURSE / "tests" / "mutants") if m.lesson == LESSON)
    return stub_out(mutant.source(COURSE / "solutions"), "compare_learning_rates")


def write_exercise(folder: Path, source: str) -> None:
    (folder / LESSON).mkdir(parents=True, exist_ok=True)
    (folder / LESSON / "exercise.py").write_text(source, encoding="utf-8")


def grade(submissions: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "watchtrain.cli", "grade", str(submissions), "--out", str(out),
               "--lessons", LESSON, "--test-timeout", str(TEST_TIMEOUT), "--submission-timeout", str(SUBMISSION_TIMEOUT),
               *extra]
    return subprocess.run(command, cwd=COURSE, capture_output=True, text=True, env=env, timeout=900)


def current_grader() -> str:
    """The fingerprint of the autograder and options `grade` uses here: when it changes, all is regraded."""
    limits = Limits(test_timeout=TEST_TIMEOUT, submission_timeout=SUBMISSION_TIMEOUT)
    return grader_fingerprint(load_course(COURSE), GradingOptions(lessons=(LESSON,), limits=limits))


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


class Batch:
    def __init__(self, out: Path, completed: subprocess.CompletedProcess, seconds: float, grader: str):
        self.out, self.completed, self.seconds, self.grader = out, completed, seconds, grader
        with (out / "grades.csv").open(encoding="utf-8") as file:
            self.rows = {row["submission"]: row for row in csv.DictReader(file)}

    def report(self, name: str) -> dict:
        return json.loads((self.out / "submissions" / name / "report.json").read_text(encoding="utf-8"))

    def tests(self, name: str, exercise: str | None = None) -> list[dict]:
        return [test for lesson in self.report(name)["lessons"] for test in lesson["tests"]
                if test["status"] != "skipped" and exercise in (None, test["exercise"])]


@pytest.fixture(scope="module")
def waiting_runs(tmp_path_factory):
    """Two gradings that wait on purpose, each alone for 10 to 20 s of little work: a submission that
    sleeps past its time limit, and a zygote that is slow to start. The batch below starts them
    first, in threads, so that their waiting overlaps its work. By name: each one's future."""
    with ThreadPoolExecutor(2) as pool:
        yield {"sleeper": pool.submit(grade_a_sleeper, tmp_path_factory.mktemp("sleeper")),
               "slow zygote": pool.submit(grade_behind_a_slow_zygote, tmp_path_factory.mktemp("slow-zygote"))}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, waiting_runs) -> Batch:
    root = tmp_path_factory.mktemp("batch")
    submissions = root / "submissions"
    for name in BAD_NAMES:
        materialise_bad(name, submissions)
    (submissions / "empty").mkdir()
    with zipfile.ZipFile(submissions / "traversal.zip", "w") as zipped:
        zipped.writestr(f"{LESSON}/exercise.py", (COURSE / "solutions" / LESSON / "exercise.py").read_text())
        zipped.writestr("../../escaped.py", "print('this file must never be written')\n")
    (submissions / "symlinked" / LESSON).mkdir(parents=True)
    (submissions / "symlinked" / LESSON / "exercise.py").symlink_to(COURSE / "solutions" / LESSON / "exercise.py")
    write_exercise(submissions / "reference", (COURSE / "solutions" / LESSON / "exercise.py").read_text())
    write_exercise(submissions / CP949_NAME, (COURSE / "solutions" / LESSON / "exercise.py").read_text())
    for name in SAME:
        write_exercise(submissions / name, small_submission())
    before = tree_digest(COURSE / "autograder"), tree_digest(COURSE / "solutions")
    env = os.environ | {"WANDB_API_KEY": "grader-secret-must-not-leak"}
    started, grader = time.monotonic(), current_grader()
    completed = grade(submissions, root / "results", "--jobs", "2", env=env)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert (tree_digest(COURSE / "autograder"), tree_digest(COURSE / "solutions")) == before, \
        "a submission changed the course's own autograder or solutions"
    assert not (root / "escaped.py").exists() and not (submissions.parent / "escaped.py").exists()
    return Batch(root / "results", completed, time.monotonic() - started, grader)


def test_every_submission_gets_one_row_with_a_clear_status(batch):
    expected = {*BAD_NAMES, "empty", "traversal.zip", "symlinked", "reference", CP949_ROW, *SAME}
    assert set(batch.rows) == expected
    assert {row["status"] for row in batch.rows.values()} <= {"graded", "crashed", "timeout", "empty", "invalid"}
    assert "grader-error" not in batch.completed.stdout


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_submission_gets_its_status_and_keeps_its_other_points(batch, name):
    spec, row = bad_spec(name), batch.rows[name]
    assert row["status"] == spec["status"], (row, batch.report(name)["submission"])
    assert float(row["score"]) == spec["score"] and float(row["max_score"]) == FULL_POINTS, row
    for expected in spec.get("expect", []):
        tests = [test for test in batch.tests(name, expected["exercise"]) if test["name"].startswith(expected.get("test", ""))]
        assert tests, f"no test of {expected['exercise']} {expected.get('test', '')} in the report"
        for test in tests:
            assert test["status"] == expected["status"], test
            assert expected["feedback"].lower() in test["feedback"].lower(), test


def test_empty_folder_is_empty_and_graded_zero(batch):
    row = batch.rows["empty"]
    assert (row["status"], float(row["score"])) == ("empty", 0)
    assert "no exercise file found" in row["notes"]
    assert {test["status"] for test in batch.tests("empty")} == {"not started"}


def test_zip_with_path_traversal_is_refused_whole(batch):
    row = batch.rows["traversal.zip"]
    assert (row["status"], float(row["score"])) == ("invalid", 0)
    assert "outside the submission folder" in row["notes"] and "../../escaped.py" in row["notes"]


def test_symlinked_exercise_is_refused(batch):
    row = batch.rows["symlinked"]
    assert (row["status"], float(row["score"])) == ("invalid", 0) and "symbolic link" in row["notes"]


def test_a_korean_folder_name_from_a_windows_zip_is_graded_under_that_name(batch):
    row = batch.rows[CP949_ROW]
    assert (row["status"], float(row["score"])) == ("graded", FULL_POINTS), row
    assert CP949_ROW in batch.completed.stdout
    folder = batch.out / "submissions" / batch.report(CP949_ROW)["submission"]["folder"]
    assert (folder / "junit.xml").is_file() and (folder / "results.json").is_file()


def test_a_fork_bomb_is_named_as_such_and_the_next_calls_still_start(batch):
    """As root, the worker's processes share one budget (256 at once). The fork bomb's call runs
    past the time limit; its feedback names the limit its code kept hitting, and the calls of the
    next exercise start in a new worker, whatever the bomb left (its score, 7, says they passed)."""
    if "[on ] memory and process budget of its own" not in batch.completed.stdout + batch.completed.stderr:
        pytest.skip("no process budget here (not root, or no cgroup controllers): nothing limits the bomb")
    for test in batch.tests("fork_bomb", "log_train_and_test"):
        assert "the most it may have at once (256)" in test["feedback"], test


def test_controls_next_to_bad_submissions_are_unharmed(batch):
    assert (batch.rows["reference"]["status"], float(batch.rows["reference"]["score"])) == ("graded", FULL_POINTS)
    assert {test["status"] for test in batch.tests("reference")} == {"passed"}


def test_the_same_submission_graded_five_times_gets_the_same_grade(batch):
    grades = [(batch.rows[name]["status"], batch.rows[name]["score"],
               [(test["nodeid"], test["status"], test["points"]) for test in batch.tests(name)]) for name in SAME]
    assert all(grade == grades[0] for grade in grades), grades
    statuses = {status for _, status, _ in grades[0][2]}
    assert statuses == {"passed", "failed", "not started"}, "the small submission should show every status"


def test_huge_output_is_capped(batch):
    folder = batch.out / "submissions" / "prints_200_mb"
    assert (folder / "output.log").stat().st_size < 1_000_000
    assert (folder / "report.json").stat().st_size < 1_000_000


def test_no_process_outlives_its_submission(batch):
    left = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()
            and b"watchtrain-bad-background" in _cmdline(entry)]
    assert not left, f"processes left behind by a graded submission: {left}"


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def test_every_submission_has_gradescope_results_and_junit(batch):
    for row in batch.rows.values():
        folder = batch.out / "submissions" / batch.report(row["submission"])["submission"]["folder"]
        results = json.loads((folder / "results.json").read_text())
        assert results["score"] == float(row["score"])
        for test in results["tests"]:
            assert {"name", "score", "max_score", "status", "output", "visibility"} <= test.keys()
            assert test["status"] in ("passed", "failed")
        suites = ET.parse(folder / "junit.xml").getroot()
        assert suites.tag == "testsuites"


def test_summary_table_lists_every_submission(batch):
    for name in batch.rows:
        assert name in batch.completed.stdout
    assert "graded" in batch.completed.stdout and "a minute" in batch.completed.stdout


def test_a_second_run_regrades_nothing(batch):
    if current_grader() != batch.grader:
        pytest.skip("the course's autograder or grading code changed while this test ran, which rightly regrades all")
    graded_at = {name: batch.report(name)["submission"]["graded_at"] for name in batch.rows}
    completed = grade(batch.out.parent / "submissions", batch.out, "--jobs", "2")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert {name: batch.report(name)["submission"]["graded_at"] for name in batch.rows} == graded_at
    assert f"{len(batch.rows)} already graded before (resumed)" in completed.stdout


def grade_a_sleeper(folder: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """A submission whose first call sleeps for ten minutes, graded with a time limit of 8 s."""
    source = (COURSE / "solutions" / LESSON / "exercise.py").read_text()
    write_exercise(folder / "submissions" / "sleeper", source.replace(
        "    batches_per_epoch = len(epoch_losses[0])\n", "    import time\n    time.sleep(600)\n", 1))
    completed = subprocess.run(
        [sys.executable, "-m", "watchtrain.cli", "grade", str(folder / "submissions"), "--out", str(folder / "out"),
         "--lessons", LESSON, "--submission-timeout", "8"], cwd=COURSE, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed, json.loads((folder / "out" / "submissions" / "sleeper" / "report.json").read_text())


def grade_behind_a_slow_zygote(folder: Path):
    """The reference, graded with a time limit of 15 s by a zygote that takes 15 s more to start
    than a batch's (a module that sleeps). It preloads what a batch of this lesson preloads
    (watchtrain.classroom.batch). Returns the zygote (closed) and the outcome."""
    from watchtrain.classroom.isolation.forking import Zygote, preload_for
    from watchtrain.classroom.isolation.sandbox import Sandbox
    from watchtrain.classroom.supervisor import grade_folder
    from watchtrain.library_imports import lesson_libraries

    (folder / "slow").mkdir()
    (folder / "slow" / "slow_start.py").write_text("import time\n\ntime.sleep(15)\n")
    sandbox = Sandbox.create(folder / "zygote")
    course = load_course(COURSE)
    preload = preload_for(lesson_libraries(course, [LESSON]))
    zygote = Zygote(sandbox.environment([folder / "slow"], {}), sandbox.tmp, (*preload, "slow_start"))
    write_exercise(folder / "submission", (COURSE / "solutions" / LESSON / "exercise.py").read_text())
    try:
        return zygote, grade_folder(course, folder / "submission", folder / "work",
                                    GradingOptions(lessons=(LESSON,), limits=Limits(submission_timeout=15)), zygote=zygote)
    finally:
        zygote.close()


def test_a_submission_past_its_time_limit_reads_timeout(waiting_runs):
    completed, report = waiting_runs["sleeper"].result()
    assert "sleeper" in completed.stdout and "timeout" in completed.stdout
    assert report["submission"]["status"] == "timeout", report["submission"]
    feedback = [test["feedback"] for lesson in report["lessons"] for test in lesson["tests"]]
    assert any("time limit of 8 s ran out" in text for text in feedback), feedback


def test_a_batchs_first_submission_is_not_timed_while_the_zygote_starts(waiting_runs):
    """The zygote starts with a batch's first run, and imports torch & co. first (seconds; more on a
    busy machine). That wait is the batch's: a submission's time limit starts when its run can. Here
    the zygote takes 15 s more, as long as the submission's whole limit."""
    from watchtrain.classroom.supervisor import GRADED

    zygote, outcome = waiting_runs["slow zygote"].result()
    assert "slow_start" in zygote.preloaded, "the test's slow module must have been imported by the zygote"
    assert outcome.status == GRADED, (outcome.status, outcome.notes)
    assert outcome.report["score"] == outcome.report["max_score"] > 0


def test_an_interrupted_batch_resumes_without_regrading(tmp_path):
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    stub = (COURSE / "lessons" / LESSON / "exercise.py").read_text()
    for name in ("a", "b", "c"):
        write_exercise(submissions / name, stub)
    command = [sys.executable, "-m", "watchtrain.cli", "grade", str(submissions), "--out", str(out),
               "--lessons", LESSON, "--jobs", "1"]
    process = subprocess.Popen(command, cwd=COURSE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first, grades = out / "submissions" / "a" / "report.json", out / "grades.csv"
    deadline = time.monotonic() + 240
    while not grades.exists() and time.monotonic() < deadline and process.poll() is None:  # after the first
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert first.exists(), stderr[-2000:]
    with grades.open() as file:  # what was graded before the interrupt, in the submissions' order
        finished = [row["submission"] for row in csv.DictReader(file)]
    assert finished == ["a"] and process.returncode == 130, (finished, stderr[-2000:])  # b was being graded
    assert not list(out.glob(".grades.csv.*")), "a half-written grades.csv was left behind"
    assert "Run the same command again" in stderr
    graded_at = json.loads(first.read_text())["submission"]["graded_at"]
    completed = subprocess.run(command, cwd=COURSE, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(first.read_text())["submission"]["graded_at"] == graded_at
    assert "a: 0/10 graded (already graded)" in completed.stderr
    with (out / "grades.csv").open() as file:
        assert [row["submission"] for row in csv.DictReader(file)] == ["a", "b", "c"]
    assert not (out / ".work").exists() or not any((out / ".work").iterdir())
