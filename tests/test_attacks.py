"""Attacks on the grade (tests/attacks/): each gets exactly its fair score, and nobody else is hurt.

The batch runs as the grader runs in CI and on Gradescope (as root where this suite runs as root),
with a fake secret in the grader's environment and HOME. See tests/attacks/README.md.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from watchtrain.classroom.isolation.budget import WORKER_MEMORY_BYTES
from watchtrain.classroom.isolation.jail import WORK_FOLDER_BYTES
from watchtrain.grading.worker_client import BATCH_CORES

from test_batch_grading import Batch, tree_digest
from test_gradescope import bundle, gradescope_layout, run_autograder  # noqa: F401  (bundle: a fixture)

COURSE = Path(__file__).resolve().parents[1]
ATTACKS = COURSE / "tests" / "attacks"
ATTACK_NAMES = sorted(path.parent.name for path in ATTACKS.glob("*/mutant.toml"))
LESSON = "01_tensorboard_basics"
SECRET_ENV, SECRET_FILE = "watchtrain-fake-secret-env-3f9a", "watchtrain-fake-secret-home-77c2"
DAEMON_MARK = "watchtrain-attack-daemon"
OUTLIVE_S = 8.0  # longer than the background rewriter's first pass


def spec(name: str) -> dict:
    return tomllib.loads((ATTACKS / name / "mutant.toml").read_text(encoding="utf-8"))


def course_digest() -> str:
    digest = hashlib.sha256()
    for folder in ("src", "autograder", "solutions", "lessons"):
        digest.update(tree_digest(COURSE / folder).encode())
    return digest.hexdigest()


def secret_environment(home: Path) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    (home / "credentials").write_text(SECRET_FILE)
    return {**os.environ, "WATCHTRAIN_INSTRUCTOR_TOKEN": SECRET_ENV, "HOME": str(home)}


def marked_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and DAEMON_MARK.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@dataclass
class Attacked:
    """The batch of attacks, and what happened after it: each attack's Gradescope run came next."""
    batch: Batch
    out: Path
    completed: subprocess.CompletedProcess
    course_before: str  # the course's digest before the batch
    snapshot: str  # the batch's results folder, as it ended
    gradescope: dict[str, dict]  # by attack: the results.json of Gradescope's run_autograder


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, bundle):
    submissions, out = tmp_path_factory.mktemp("attacks"), tmp_path_factory.mktemp("attack-out") / "out"
    for name in ATTACK_NAMES:
        (submissions / name / LESSON).mkdir(parents=True)
        (submissions / name / LESSON / "exercise.py").write_bytes((ATTACKS / name / "exercise.py").read_bytes())
    (submissions / "reference" / LESSON).mkdir(parents=True)
    (submissions / "reference" / LESSON / "exercise.py").write_bytes(
        (COURSE / "solutions" / LESSON / "exercise.py").read_bytes())
    (submissions / "stub" / LESSON).mkdir(parents=True)
    (submissions / "stub" / LESSON / "exercise.py").write_bytes((COURSE / "lessons" / LESSON / "exercise.py").read_bytes())
    before = course_digest()
    # The grader's default time limit per test: hogs_memory's call, which touches 6 GiB on one core,
    # took 21 s on an idle machine and past 30 s in a busy test run, and its report is the evidence.
    command = [sys.executable, "-m", "watchtrain.cli", "grade", str(submissions), "--out", str(out),
               "--lessons", LESSON, "--test-timeout", "60", "--submission-timeout", "200", "--jobs", "2"]
    started = time.monotonic()
    completed = subprocess.run(command, cwd=COURSE, capture_output=True, text=True, timeout=900,
                               env=secret_environment(tmp_path_factory.mktemp("instructor-home")))
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    ended = time.monotonic()
    batch = Batch(out, completed, ended - started, "")
    snapshot = tree_digest(out)
    # A daemon that survived the batch would strike in the next seconds: meanwhile, every attack goes
    # through Gradescope's run_autograder too (whose own daemons must not survive either).
    gradescope = attacks_through_gradescope(bundle, tmp_path_factory.mktemp("gradescope"))
    time.sleep(max(0.0, OUTLIVE_S - (time.monotonic() - ended)))
    return Attacked(batch, out, completed, before, snapshot, gradescope)


def attacks_through_gradescope(bundle: Path, root: Path) -> dict[str, dict]:
    """Each attack graded as Gradescope grades it, two at a time: by attack, its results.json."""
    roots = {}
    for name in ATTACK_NAMES:  # laid out first: a script being written cannot be run by another thread
        roots[name] = gradescope_layout(bundle, root / name)
        (roots[name] / "submission" / LESSON).mkdir(parents=True)
        (roots[name] / "submission" / LESSON / "exercise.py").write_bytes((ATTACKS / name / "exercise.py").read_bytes())
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(roots, pool.map(run_autograder, roots.values())))


def test_the_grader_says_which_protections_are_active(attacked):
    completed = attacked.completed
    assert "[on ] own PID namespace" in completed.stdout + completed.stderr
    assert "[on ] work folder of its own" in completed.stdout + completed.stderr
    assert "[on ] memory and process budget of its own" in completed.stdout + completed.stderr


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_every_attack_gets_exactly_its_fair_score(attacked, name):
    batch = attacked.batch
    row, expected = batch.rows[name], spec(name)
    assert (row["status"], float(row["score"])) == (expected["status"], expected["score"]), (row, batch.report(name))


def test_the_reference_keeps_full_marks_and_the_stub_is_not_started(attacked):
    batch = attacked.batch
    assert (batch.rows["reference"]["status"], float(batch.rows["reference"]["score"])) == ("graded", 10)
    assert {test["status"] for test in batch.tests("reference")} == {"passed"}
    assert float(batch.rows["stub"]["score"]) == 0
    assert {test["status"] for test in batch.tests("stub")} == {"not started"}


def test_nothing_changes_after_the_batch_and_nothing_is_left_running(attacked):
    assert tree_digest(attacked.out) == attacked.snapshot, "a report or results file changed after the batch ended"
    assert marked_processes() == [], "a process started by a submission outlived its run"


def test_the_course_files_are_unchanged(attacked):
    for folder in ("src", "autograder", "solutions", "lessons"):
        for path in (COURSE / folder).rglob("*.py"):
            assert b"watchtrain-attack" not in path.read_bytes(), path
    assert course_digest() == attacked.course_before


# The attacks on the machine's resources: what each says it got, and the most it may get as root.
RESOURCE_ATTACKS = {
    "fills_the_disk": (r"wrote (\d+) MiB", WORK_FOLDER_BYTES >> 20),            # the run's own tmpfs
    "hogs_memory": (r"held (\d+) GiB at once", WORKER_MEMORY_BYTES >> 30),      # the worker's cgroup
    "hogs_the_cpu": (r"kept ([\d.]+) cores busy", BATCH_CORES * 1.15),          # one core in a batch
}


@pytest.mark.parametrize("name", sorted(RESOURCE_ATTACKS))
def test_an_attack_on_the_machine_gets_no_more_than_its_budget(attacked, name):
    # As root (CI, Gradescope) each run's work folder is a tmpfs of its own and its worker's
    # processes share one cgroup: the attack meets its own limits, never a classmate's run, and
    # the submission graded beside it keeps the rest of the machine.
    pattern, most = RESOURCE_ATTACKS[name]
    batch = attacked.batch
    found = [re.search(pattern, test["feedback"]) for test in batch.tests(name, "log_batch_losses")]
    got = [float(match.group(1)) for match in found if match]
    assert got, batch.report(name)  # in every call, or in the run's first call only (see tests/attacks/README.md)
    if name == "hogs_memory" and os.geteuid() == 0:  # the budget's kills are named where the attack struck
        assert any("the kernel killed one or more of the processes your code started" in test["feedback"]
                   for test in batch.tests(name, "log_batch_losses") if "held" in test["feedback"]), batch.report(name)
    if os.geteuid() == 0:
        assert max(got) <= most, got


def test_no_secret_reaches_any_report(attacked):
    for path in attacked.out.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert SECRET_ENV.encode() not in text and SECRET_FILE.encode() not in text, path


def test_every_attack_scores_zero_through_gradescopes_run_autograder(attacked):
    for name, result in attacked.gradescope.items():
        public = [test for test in result["tests"] if "hidden" not in test.get("name", "").lower()]
        assert sum(float(test.get("score", 0)) for test in public) == 0, (name, json.dumps(result)[:3000])
