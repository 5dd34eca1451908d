"""Runs forked from the zygote are the runs a fresh `python -m pytest` would be: same environment,
limits, session, imports and results; and when the zygote is gone, grading goes on without it."""
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

import watchtrain
from watchtrain.classroom.isolation.forking import PRELOAD, Zygote, ZygoteUnavailable
from watchtrain.classroom.isolation.sandbox import Limits, Sandbox, start_zygote

SRC = Path(watchtrain.__file__).parent.parent
FACTS_TEST = '''
import gc, json, os, resource, sys

def test_facts():
    import torch
    import watchtrain
    facts = {
        "environ": dict(os.environ),
        "proc_environ": open("/proc/self/environ", "rb").read().decode(errors="replace"),
        "cwd": os.getcwd(),
        "session_leader": os.getsid(0) == os.getpid(),
        "data_limit": resource.getrlimit(resource.RLIMIT_DATA)[0],
        "hash_randomization": sys.flags.hash_randomization,
        "watchtrain_from": watchtrain.__file__,
        "torch_sum": float(torch.arange(4.0).sum()),
        "stdin_is_empty": os.read(0, 1) == b"",
        "garbage_collection": [gc.isenabled(), gc.get_freeze_count()],
        "huge_page_kb": int(open("/proc/self/smaps_rollup").read().split("AnonHugePages:")[1].split()[0]),
    }
    with open(os.path.join(os.environ["TMPDIR"], "facts.json"), "w") as out:
        json.dump(facts, out)
'''


def huge_pages_can_be_made() -> bool:
    """Whether this kernel collapses memory into huge pages on request (MADV_COLLAPSE: Linux 6.1,
    transparent huge pages not turned off)."""
    release = tuple(int(part) for part in os.uname().release.split(".")[:2] if part.isdigit())
    settings = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return release >= (6, 1) and settings.is_file() and "[never]" not in settings.read_text()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    os.environ["WANDB_API_KEY"] = "grader-secret-must-not-leak"
    try:
        started = start_zygote(tmp_path_factory.mktemp("zygote"))
    finally:
        del os.environ["WANDB_API_KEY"]
    yield started
    started.close()


def _run(zygote, tmp_path, test_source: str, limits=Limits(memory_mb=4096)):
    """`python -m pytest test_run.py` in a fresh sandbox, forked from the zygote (None: a plain process)."""
    grader = tmp_path / "grader"
    grader.mkdir()
    (grader / "test_run.py").write_text(textwrap.dedent(test_source))
    sandbox = Sandbox.create(tmp_path / "sandbox")
    output = tmp_path / "output.log"
    env = sandbox.environment([SRC], {})
    process = sandbox.start([sys.executable, "-m", "pytest", "test_run.py", "-q", "-p", "no:cacheprovider"],
                            env=env, limits=limits, cwd=grader, output=output, zygote=zygote)
    return sandbox, process, output


def test_a_forked_run_is_a_fresh_sandboxed_run(zygote, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "grader-secret-2")
    first_run = zygote.runs_requested == 0
    sandbox, process, output = _run(zygote, tmp_path, FACTS_TEST, Limits(memory_mb=3000))
    assert type(process).__name__ == "ForkedProcess"
    assert set(zygote.preloaded) == set(PRELOAD), "every library the runs need should be preloaded"
    assert process.wait(timeout=120) == 0, output.read_text()
    sandbox.kill_all(process)
    assert "1 passed" in output.read_text()
    facts = json.loads((sandbox.tmp / "facts.json").read_text())
    assert "secret" not in json.dumps(facts["environ"]) and "secret" not in facts["proc_environ"]
    assert facts["environ"]["HOME"] == str(sandbox.home) and facts["environ"]["WANDB_MODE"] == "offline"
    assert facts["cwd"] == str(tmp_path / "grader")
    assert facts["session_leader"], "a run must lead its own session, so that killing its group kills it all"
    assert facts["data_limit"] == 3000 * 2**20
    assert facts["hash_randomization"] == 0, "PYTHONHASHSEED=0, as every run has it"
    assert facts["watchtrain_from"].startswith(str(SRC)), facts["watchtrain_from"]
    assert facts["torch_sum"] == 6.0 and facts["stdin_is_empty"]
    enabled, frozen = facts["garbage_collection"]
    assert enabled and frozen > 100_000, \
        f"the zygote's imports are frozen (a fork's collections skip them), and collection is on: {enabled}, {frozen}"
    if first_run:
        assert facts["huge_page_kb"] < 20 * 1024, \
            f"a single run does not pay for collapsing the zygote's memory: {facts['huge_page_kb']} kB in huge pages"


def test_a_zygote_serving_a_batch_forks_its_third_run_from_huge_pages(zygote, tmp_path):
    """Once asked for a second run, the zygote collapses its memory into 2 MiB pages, so that every
    later fork (and every worker and call forked from it) starts and ends cheaply."""
    if not huge_pages_can_be_made():
        pytest.skip("this kernel cannot collapse memory into huge pages (MADV_COLLAPSE: Linux 6.1)")
    while zygote.runs_requested < 2:
        folder = tmp_path / f"run{zygote.runs_requested}"
        folder.mkdir()
        sandbox, process, output = _run(zygote, folder, "def test_ok():\n    pass\n")
        assert process.wait(timeout=120) == 0, output.read_text()
        sandbox.kill_all(process)
    (tmp_path / "facts").mkdir()
    sandbox, process, output = _run(zygote, tmp_path / "facts", FACTS_TEST)
    assert process.wait(timeout=120) == 0, output.read_text()
    sandbox.kill_all(process)
    facts = json.loads((sandbox.tmp / "facts.json").read_text())
    assert facts["huge_page_kb"] > 100 * 1024, \
        f"the zygote's memory is in 2 MiB pages, so forks start and end cheaply: {facts['huge_page_kb']} kB"


def test_a_forked_run_gets_a_fresh_watchtrain_from_its_own_grader_copy(zygote, tmp_path):
    copy = tmp_path / "copy"
    (copy / "watchtrain").mkdir(parents=True)
    (copy / "watchtrain" / "__init__.py").write_text("MARK = 'the grader copy'\n")
    sandbox = Sandbox.create(tmp_path / "sandbox")
    (tmp_path / "grader").mkdir()
    (tmp_path / "grader" / "test_run.py").write_text(
        "def test_copy():\n    import watchtrain\n    assert watchtrain.MARK == 'the grader copy'\n")
    process = sandbox.start([sys.executable, "-m", "pytest", "test_run.py", "-q", "-p", "no:cacheprovider"],
                            env=sandbox.environment([copy], {}), limits=Limits(), cwd=tmp_path / "grader",
                            output=tmp_path / "out.log", zygote=zygote)
    assert process.wait(timeout=120) == 0, (tmp_path / "out.log").read_text()


def test_killing_a_forked_run_reads_as_a_kill(zygote, tmp_path):
    sandbox, process, output = _run(zygote, tmp_path, "import time\n\ndef test_hang():\n    time.sleep(600)\n")
    time.sleep(1.0)
    assert process.poll() is None
    sandbox.kill_all(process)
    assert process.returncode == -signal.SIGKILL


def test_the_zygote_starts_only_when_a_run_needs_it(tmp_path):
    zygote = Zygote({"PATH": os.environ["PATH"]}, tmp_path / "z", preload=("json",))
    assert zygote.process is None
    sandbox, process, output = _run(zygote, tmp_path, "def test_ok():\n    pass\n")
    assert zygote.process is not None and zygote.preloaded == ["json"]
    assert process.wait(timeout=120) == 0, output.read_text()
    sandbox.kill_all(process)
    zygote.close()


def test_without_a_zygote_a_plain_process_runs_instead(tmp_path):
    zygote = Zygote.start({"PATH": os.environ["PATH"]}, tmp_path / "z", preload=())
    zygote.process.kill()
    zygote.process.wait()
    deadline = time.monotonic() + 10
    while zygote._alive and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ZygoteUnavailable):
        zygote.spawn(["-q"], env={}, cwd=tmp_path, output=tmp_path / "o.log", python_path=[], data_bytes=2**30,
                     file_bytes=2**30)
    sandbox, process, output = _run(zygote, tmp_path, "def test_ok():\n    pass\n")
    assert type(process).__name__ == "Popen"
    assert process.wait(timeout=120) == 0, output.read_text()
    sandbox.kill_all(process)


def test_runs_still_going_are_killed_when_the_zygote_closes(tmp_path):
    zygote = Zygote.start({"PATH": os.environ["PATH"]}, tmp_path / "z", preload=("pytest",))
    sandbox, process, _ = _run(zygote, tmp_path, "import time\n\ndef test_hang():\n    time.sleep(600)\n")
    time.sleep(0.5)
    zygote.close()
    assert process.wait(timeout=10) == -signal.SIGKILL
    sandbox.kill_all(process)



@pytest.mark.slow
def test_forked_and_fresh_runs_grade_alike(zygote, tmp_path):
    """The reference solutions, on checks that use what the zygote preloads (matplotlib, W&B, ONNX
    and onnxruntime, torchinfo, torchviz and Graphviz), graded both ways: the same tests, statuses,
    points and feedback."""
    from watchtrain.classroom.supervisor import GradingOptions, grade_folder
    from watchtrain.course import load_course

    course = load_course()
    options = GradingOptions(lessons=("04_training_run", "06_wandb", "08_model_visualisation"),
                             select="plot_classes_preds_titles or train_logs_the_loss or save_model_onnx_saves "
                                    "or summarize_model_parameter or draw_autograd_graph_renders or onnx_predict")
    reports = {}
    for way, used in (("forked", zygote), ("fresh", None)):
        outcome = grade_folder(course, course.root / "solutions", tmp_path / way, options, zygote=used)
        reports[way] = [(test["nodeid"], test["status"], test["points"], test["feedback"])
                        for lesson in outcome.report["lessons"] for test in lesson["tests"]]
    assert reports["forked"] == reports["fresh"]
    assert reports["forked"] and all(status in ("passed", "skipped") for _, status, _, _ in reports["forked"])


def test_a_run_killed_at_once_still_has_its_output_file(zygote, tmp_path):
    # The supervisor reads the output file of every run, even one cancelled as soon as it started.
    sandbox, process, output = _run(zygote, tmp_path, "def test_ok():\n    pass\n")
    sandbox.kill_all(process)
    assert output.is_file()
