"""The `watchtrain` command a learner and an instructor type: list, check, hint, watch, doctor, demo --serve.

Most tests run on a tiny two-lesson course built in a temporary folder, graded by the real
autograder plugin, so they are quick and independent of the real lessons.
"""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from watchtrain import doctor
from watchtrain.cli import SUBCOMMANDS, build_parser, main
from watchtrain.course import LessonFiles

COURSE = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-u", "-c", "import sys; from watchtrain.cli import main; sys.exit(main())"]

MANIFEST = """
[course]
title = "Tiny"
[[lessons]]
dir = "01_tiny"
title = "Adding"
hints = ["Python has an operator for that.", "It is the plus sign."]
[[lessons.exercises]]
function = "add"
points = 3
hints = ["Addition.", "The + operator takes two numbers.", "1 + 2 is 3.", "return a + b"]
[[lessons.exercises]]
function = "double"
points = 1
hints = ["Doubling is multiplying.", "The * operator.", "return 2 * x"]
[[lessons]]
dir = "02_tiny"
title = "Greeting"
[[lessons.exercises]]
function = "greet"
points = 2
hint = "an f-string"
"""

TESTS_01 = """
from watchtrain.grading import exercise, expect_equal

@exercise("add")
def test_add(lesson):
    expect_equal(lesson.add(1, 2), 3, "add(1, 2)")

@exercise("double")
def test_double(lesson):
    expect_equal(lesson.double(4), 8, "double(4)")
"""

TESTS_02 = """
from watchtrain.grading import exercise, expect_equal

@exercise("greet")
def test_greet(lesson):
    expect_equal(lesson.greet("Ada"), "Hello, Ada!", "greet('Ada')")
"""

STUB_01 = """
def add(a, b):
    raise NotImplementedError

def double(x):
    raise NotImplementedError
"""

SOLVED_01 = """
def add(a, b):
    return a + b

def double(x):
    return 2 * x
"""

SOLVED_02 = """
def greet(name):
    return f"Hello, {name}!"
"""


@pytest.fixture
def tiny_course(tmp_path, monkeypatch):
    root = tmp_path / "course"
    (root / "autograder").mkdir(parents=True)
    (root / "course.toml").write_text(MANIFEST)
    (root / "pyproject.toml").write_text("")
    (root / "autograder" / "conftest.py").write_text((COURSE / "autograder" / "conftest.py").read_text())
    for lesson, source, tests in (("01_tiny", STUB_01, TESTS_01), ("02_tiny", SOLVED_02, TESTS_02)):
        files = LessonFiles(root, lesson)
        files.tests.write_text(tests)
        files.folder.mkdir(parents=True)
        files.exercise.write_text(source)
    monkeypatch.chdir(root)
    for name in ("WATCHTRAIN_PROGRESS", "WATCHTRAIN_COURSE_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return root


def write_exercise(course: Path, lesson: str, source: str) -> None:
    LessonFiles(course, lesson).exercise.write_text(textwrap.dedent(source))


def progress(course: Path) -> dict:
    return json.loads((course / ".watchtrain" / "progress.json").read_text())["lessons"]


# --- start-up and help ----------------------------------------------------------------------------

def test_help_is_fast_because_it_imports_no_torch():
    code = ("import sys; from watchtrain.cli import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('torch', 'tensorboard', 'numpy', 'watchfiles', 'nbformat') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_command_has_help_text(capsys):
    commands = {action.dest: action for action in build_parser()._subparsers._group_actions}
    names = [name for action in commands.values() for name in action.choices]
    for name in ("list", "check", "hint", "watch", "doctor", "demo"):
        assert name in names
    assert len(names) >= len(SUBCOMMANDS)
    for name in names:
        with pytest.raises(SystemExit) as exit_code:
            main([name, "--help"])
        assert exit_code.value.code == 0
        assert "usage: watchtrain" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["check", "hint", "watch"])
def test_a_wrong_lesson_number_lists_the_valid_ones(tiny_course, capsys, command):
    assert main([command, "7"]) == 1
    error = capsys.readouterr().err
    assert "there is no lesson '7'" in error and "01 (01_tiny), 02 (02_tiny)" in error


def test_outside_a_course_the_error_says_where_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WATCHTRAIN_COURSE_ROOT", raising=False)
    assert main(["list"]) == 1
    assert "run this from inside the course folder" in capsys.readouterr().err


# --- list, check, hint ----------------------------------------------------------------------------

def test_list_starts_with_nothing_done(tiny_course, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "-> 01  Adding" in out and "0/4  not started" in out and "0/2  not started" in out
    assert "[------------------------------] 0/6 points (0%), 0 of 2 lessons done" in out


def test_check_shows_points_and_the_first_failure_then_list_shows_progress(tiny_course, capsys):
    write_exercise(tiny_course, "01_tiny", """
        def add(a, b):
            return a - b

        def double(x):
            return 2 * x
    """)
    assert main(["check", "01"]) == 1
    out = capsys.readouterr().out
    assert "[!] add" in out and "0/3  failed" in out
    assert "[x] double" in out and "1/1  passed" in out
    assert "1/4 points, in progress" in out
    assert "expected: 3" in out and "found:    -1" in out
    assert "Hint: Addition.\n    More: `watchtrain hint 01 add`" in out and "return a + b" not in out
    assert "Next: fix add in lessons/01_tiny/exercise.py" in out
    assert progress(tiny_course)["01_tiny"]["status"] == "in progress"
    assert progress(tiny_course)["01_tiny"]["exercises"] == {"add": "failed", "double": "passed"}

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "1/4  in progress" in out and "1/6 points (17%)" in out
    os.utime(tiny_course / "lessons" / "01_tiny" / "exercise.py", (1, 1))
    main(["list"])
    assert "(edited since the last check)" in capsys.readouterr().out


def test_check_of_untouched_stubs_says_not_started(tiny_course, capsys):
    assert main(["check"]) == 1  # no number: the first lesson that is not done
    out = capsys.readouterr().out
    assert "[ ] add" in out and "not started" in out and "Traceback" not in out
    assert "Next: write add in lessons/01_tiny/exercise.py" in out


def test_a_passing_check_marks_the_lesson_done(tiny_course, capsys):
    assert main(["check", "2"]) == 0
    assert "Lesson 02 is done" in capsys.readouterr().out
    assert progress(tiny_course)["02_tiny"]["status"] == "done"
    main(["list"])
    assert "2/2  done" in capsys.readouterr().out


def test_check_of_a_lesson_without_tests_is_a_clear_error(tiny_course, capsys):
    LessonFiles(tiny_course, "02_tiny").tests.unlink()
    assert main(["check", "02"]) == 1
    assert "lesson 02 has no autograder tests yet" in capsys.readouterr().err


def test_hint_climbs_the_first_exercises_ladder_one_rung_at_a_time(tiny_course, capsys):
    shown = []
    for _ in range(5):
        assert main(["hint", "01"]) == 0
        shown.append(capsys.readouterr().out)
    assert "add, hint 1 of 4" in shown[0] and "1. concept: Addition." in shown[0] and "2. API:" not in shown[0]
    assert "About the whole lesson" in shown[0] and "Python has an operator for that." in shown[0]
    assert "next rung: 2. API" in shown[0]
    assert "add, hint 2 of 4" in shown[1] and "2. API: The + operator" in shown[1]
    assert "About the whole lesson" not in shown[1]
    assert "3. example: 1 + 2 is 3." in shown[2] and "4. code: return a + b" in shown[3]
    assert "Those are all the hints for add" in shown[3]
    # No check recorded yet: with add's ladder all shown, the next exercise's begins.
    assert "double, hint 1 of 3" in shown[4] and "1. concept: Doubling is multiplying." in shown[4]
    assert main(["hint", "01", "--reset"]) == 0
    capsys.readouterr()
    main(["hint", "01"])
    assert "add, hint 1 of 4" in capsys.readouterr().out


def test_hint_follows_the_first_exercise_that_does_not_pass(tiny_course, capsys):
    write_exercise(tiny_course, "01_tiny", """
        def add(a, b):
            return a + b

        def double(x):
            return x
    """)
    main(["check", "01"])
    assert progress(tiny_course)["01_tiny"]["exercises"] == {"add": "passed", "double": "failed"}, capsys.readouterr()
    capsys.readouterr()
    for _ in range(4):
        assert main(["hint", "01"]) == 0
    out = capsys.readouterr().out
    assert "add" not in out and "double, hint 3 of 3" in out and "3. code: return 2 * x" in out


def test_hint_for_a_named_exercise_and_its_reset(tiny_course, capsys):
    main(["hint", "01", "double"])
    main(["hint", "01", "double"])
    out = capsys.readouterr().out
    assert "double, hint 2 of 3" in out and "`watchtrain hint 01 double` again shows the next rung: 3. code" in out
    assert main(["hint", "01", "double", "--reset"]) == 0
    capsys.readouterr()
    main(["hint", "01", "double"])
    assert "double, hint 1 of 3" in capsys.readouterr().out
    main(["hint", "01"])
    assert "add, hint 1 of 4" in capsys.readouterr().out  # add's own ladder was untouched
    assert main(["hint", "01", "triple"]) == 1
    assert "lesson 01_tiny has no exercise 'triple'" in capsys.readouterr().err


def test_an_old_single_hint_is_a_one_rung_ladder(tiny_course, capsys):
    assert main(["hint", "02"]) == 0
    out = capsys.readouterr().out
    assert "greet, hint 1 of 1" in out and "1. hint: an f-string" in out


@pytest.mark.parametrize("command", [["hint", "01"], ["list"], ["check", "01"], ["--help"], ["check", "--help"]],
                         ids=" ".join)
def test_output_into_a_closed_pipe_ends_quietly(tiny_course, command):
    """`watchtrain check | head -1`: the reader goes away before the output is written."""
    read, write = os.pipe()
    os.close(read)
    try:
        process = subprocess.Popen([*CLI, *command], stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    _, errors = process.communicate(timeout=120)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert process.returncode == (0 if "--help" in command else 141)  # argparse ignores a closed pipe itself
    if command == ["hint", "01"]:
        assert progress(tiny_course)["01_tiny"]["rungs_shown"] == {"add": 1}


# --- watch ----------------------------------------------------------------------------------------

class Lines:
    """A child process's output, line by line, readable with a timeout."""

    def __init__(self, process: subprocess.Popen):
        self.seen: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} never appeared; the output was:\n{''.join(self.seen)}")


@contextmanager
def watching(course: Path, *args: str) -> Iterator[tuple[subprocess.Popen, Lines]]:
    """`watchtrain watch ARGS` running in `course`, with its output; killed on leaving if it still runs."""
    process = subprocess.Popen([*CLI, "watch", *args], cwd=course, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        yield process, Lines(process)
    finally:
        process.kill()


def test_watch_rechecks_on_save_and_moves_on_when_the_lesson_passes(tiny_course):
    with watching(tiny_course, "01") as (process, output):
        output.wait_for("Watching every lesson's exercise.py")
        write_exercise(tiny_course, "01_tiny", SOLVED_01)
        output.wait_for("lessons/01_tiny/exercise.py saved")
        output.wait_for("Lesson 01 is done")
        output.wait_for("On to lesson 02: Greeting")
        output.wait_for("Lesson 02 is done")
        output.wait_for("Every lesson is done")
        assert process.wait(timeout=30) == 0
    assert "\x1b" not in "".join(output.seen), "no colours and no screen clearing into a pipe"
    assert {lesson: entry["status"] for lesson, entry in progress(tiny_course).items()} == \
        {"01_tiny": "done", "02_tiny": "done"}


def test_watch_checks_the_lesson_whose_exercise_was_saved(tiny_course):
    with watching(tiny_course, "01") as (process, output):
        output.wait_for("Watching every lesson's exercise.py")
        write_exercise(tiny_course, "02_tiny", 'def greet(name):\n    return "Hi"\n')
        output.wait_for("lessons/02_tiny/exercise.py saved")
        output.wait_for("Checking lessons/02_tiny/exercise.py")
        output.wait_for("greet: failed")
        output.wait_for("Watching every lesson's exercise.py")
        process.send_signal(signal.SIGINT)
        output.wait_for("Stopped watching")
        assert process.wait(timeout=30) == 0
    assert progress(tiny_course)["02_tiny"]["status"] == "in progress"


def test_watch_stops_cleanly_on_ctrl_c(tiny_course):
    with watching(tiny_course) as (process, output):
        output.wait_for("Watching every lesson's exercise.py")
        process.send_signal(signal.SIGINT)
        output.wait_for("Stopped watching")
        assert process.wait(timeout=30) == 0


# --- colour ---------------------------------------------------------------------------------------

def on_a_terminal(command: list[str], cwd: Path, **env: str) -> str:
    """What `watchtrain COMMAND` prints when its output is a terminal (a pseudo-terminal here)."""
    import pty

    leader, follower = pty.openpty()
    environment = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "TERM")}
    process = subprocess.Popen([*CLI, *command], cwd=cwd, stdout=follower, stderr=subprocess.STDOUT,
                               env={**environment, "TERM": "xterm", **env})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    return b"".join(chunks).decode()


def test_list_colours_statuses_on_a_terminal_only(tiny_course, capsys):
    write_exercise(tiny_course, "01_tiny", SOLVED_01)
    assert main(["check", "01"]) == 0
    assert "\x1b[" not in capsys.readouterr().out, "no colour into a pipe or a file"
    coloured = on_a_terminal(["list"], tiny_course)
    assert "\x1b[32mdone\x1b[0m" in coloured and "\x1b[2mnot started\x1b[0m" in coloured
    assert "\x1b[" not in on_a_terminal(["list"], tiny_course, NO_COLOR="1")


def test_terminal_paints_and_clears_only_a_terminal(monkeypatch):
    import io

    from watchtrain.cli.style import Terminal

    class Screen(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    screen = Screen()
    terminal = Terminal(screen)
    terminal.clear()
    assert terminal.paint("failed", "failed") == "\x1b[31mfailed\x1b[0m" and screen.getvalue().startswith("\x1b[2J")
    assert Terminal(io.StringIO()).paint("failed", "failed") == "failed"
    monkeypatch.setenv("NO_COLOR", "1")
    screen = Screen()
    Terminal(screen).clear()
    assert Terminal(screen).paint("passed", "passed") == "passed" and screen.getvalue(), "NO_COLOR is about colour only"


# --- doctor ---------------------------------------------------------------------------------------

def statuses(findings):
    return [(f.status, f.what) for f in findings]


def test_doctor_on_this_machine_reports_every_section():
    done = subprocess.run([*CLI, "doctor"], cwd=COURSE, capture_output=True, text=True, timeout=300)
    for section in ("Python and packages", "PyTorch and GPU", "Graphviz", "Chromium", "Visdom", "TensorBoard", "Ports"):
        assert f"\n{section}" in done.stdout
    assert "torch" in done.stdout and "load together" in done.stdout
    assert done.returncode == (1 if " FAIL " in done.stdout else 0), done.stdout


def test_doctor_flags_versions_that_differ_from_constraints(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.8"\ndependencies = ["pytest>=7", "no-such-package-xyz>=1"]\n'
        '[project.optional-dependencies]\nall = ["another-missing-package"]\n')
    (tmp_path / "constraints.txt").write_text("# tested with Python 3.11\npytest==0.0.1\n")
    found = statuses(doctor.package_versions(tmp_path))
    assert any(s == "warn" and "pytest" in w and "pins 0.0.1" in w for s, w in found), found
    assert ("FAIL", "no-such-package-xyz is not installed") in found
    assert any(s == "warn" and w.startswith("another-missing-package is not installed") for s, w in found)


def test_doctor_fails_a_python_older_than_the_course_needs(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=99"\n')
    [finding] = doctor.python_version(tmp_path)
    assert finding.status == "FAIL" and "needs Python >=99" in finding.what


def test_doctor_says_how_to_install_graphviz_when_dot_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    [finding] = doctor.graphviz_dot()
    assert finding.status == "warn" and "apt-get install graphviz" in finding.fix


def test_doctor_says_how_to_install_a_cjk_font_when_fontconfig_finds_none(monkeypatch, tmp_path):
    fc_list = tmp_path / "fc-list"
    fc_list.write_text("#!/bin/sh\n")  # fontconfig that knows no font with U+3008
    fc_list.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    [finding] = doctor.cjk_font()
    assert finding.status == "warn" and "empty boxes" in finding.what and "fonts-nanum" in finding.fix
    fc_list.unlink()
    assert doctor.cjk_font() == []  # no fontconfig: nothing to say


def test_doctor_warns_about_tensorflow_beside_tensorboard(tmp_path, monkeypatch):
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    [finding] = doctor.tensorflow_trap()
    assert finding.status == "warn" and "get_filesystem" in finding.what and "uninstall tensorflow" in finding.fix


def test_doctor_names_a_port_in_use_and_how_to_find_who_holds_it():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        [finding] = doctor.free_ports({port: "TensorBoard"})
    assert finding.status == "warn" and f"port {port}" in finding.what and f"lsof -i :{port}" in finding.fix


# --- demo --serve ---------------------------------------------------------------------------------

@pytest.fixture
def finished_demo(tmp_path) -> Path:
    """What a finished demo leaves behind: a TensorBoard run, a saved Visdom env, an ONNX model."""
    import onnx
    from onnx import TensorProto, helper
    from torch.utils.tensorboard import SummaryWriter

    out = tmp_path / "runs"
    with SummaryWriter(out / "tutorial_cnn") as writer:
        for step in range(5):
            writer.add_scalar("training loss", 1.0 / (step + 1), step)
    envs = out / "07_visdom"
    envs.mkdir(parents=True)
    # As the lesson's demo leaves them: its env with a window, and the empty `main` that the server saves too.
    window = {"id": "window_1", "type": "text", "content": "hello", "title": "labels"}
    (envs / "watch_it_train.json").write_text(json.dumps({"jsons": {"window_1": window}, "reload": {}}))
    (envs / "main.json").write_text(json.dumps({"jsons": {}, "reload": {}}))
    value = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "tiny",
                              [value("x", TensorProto.FLOAT, [1, 4])], [value("y", TensorProto.FLOAT, [1, 4])])
    (out / "08_model").mkdir()
    onnx.save(helper.make_model(graph), out / "08_model" / "tiny.onnx")
    return out


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_demo_serve_starts_the_dashboards_on_localhost_until_ctrl_c_or_hang_up(finished_demo, stop_with):
    process = subprocess.Popen([*CLI, "demo", "--serve", "--no-run", "--out", str(finished_demo)], cwd=COURSE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = Lines(process)
        output.wait_for("Dashboards, bound to this machine only")
        urls = {}
        for name in ("TensorBoard", "Visdom", "Netron"):
            output.wait_for(name)
            urls[name] = output.seen[-1].split()[1]
        assert all(url.startswith("http://127.0.0.1:") for url in urls.values()), urls
        assert urls["Visdom"].endswith("/env/watch_it_train"), "the Visdom URL must open the saved env, not the empty main"
        with urllib.request.urlopen(urls["TensorBoard"] + "/data/runs", timeout=10) as response:
            assert json.load(response) == ["tutorial_cnn"]
        for name in ("Visdom", "Netron"):
            with urllib.request.urlopen(urls[name], timeout=10) as response:
                assert response.status == 200
        process.send_signal(stop_with)
        output.wait_for("Stopped the dashboards")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    for url in urls.values():
        port = urllib.parse.urlsplit(url).port
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_demo_tensorboard_page_ticks_every_lessons_runs_past_tensorboards_forty(tmp_path):
    """TensorBoard's older tabs tick no run at all when their run filter matches more than 40, and the
    demo writes 47 runs. Its page filters out lesson 09's runs to diagnose (run names as TensorBoard
    gives them: folders relative to the logdir); a demo of 40 runs or fewer gets the plain page."""
    from watchtrain.demo import TENSORBOARD_TICKS_AT_MOST, tensorboard_page

    def runs(*names: str) -> list[str]:
        for name in names:
            (tmp_path / name).mkdir(parents=True, exist_ok=True)
            (tmp_path / name / "events.out.tfevents.1.host.1.0").write_bytes(b"")
        return list(names)

    own = runs(*(f"0{lesson}_lesson/run_{index}" for lesson in range(1, 9) for index in range(3)),
               "09_read_the_dashboard/instrumented", "09_read_the_dashboard/instrumented/loss_train")
    assert tensorboard_page(tmp_path) == ("", "")
    to_diagnose = runs(*(f"09_read_the_dashboard/failure_runs/mode_{index}{part}" for index in range(8)
                         for part in ("", "/loss_train", "/loss_val")))
    page, left_out = tensorboard_page(tmp_path)
    run_filter = urllib.parse.unquote(page.split("regexInput=")[1])
    assert len(own) + len(to_diagnose) > TENSORBOARD_TICKS_AT_MOST >= len(own)
    assert [run for run in own + to_diagnose if re.search(run_filter, run)] == own, run_filter
    assert left_out == "the 24 runs in 09_read_the_dashboard/failure_runs/"


def test_demo_no_run_needs_serve(capsys):
    assert main(["demo", "--no-run"]) == 2
    assert "--no-run only makes sense with --serve" in capsys.readouterr().err


def test_demo_without_solutions_says_what_it_needs(tiny_course, capsys):
    """A student handout has no solutions/: the demo has nothing to run, and says so."""
    assert main(["demo", "--out", str(tiny_course / "runs")]) == 1
    captured = capsys.readouterr()
    assert "no solutions/ folder" in captured.err and "watchtrain demo --serve --no-run" in captured.err
    assert "Open it in TensorBoard" not in captured.out and not (tiny_course / "runs").exists()


def test_demo_names_each_lesson_it_skips(tiny_course, capsys):
    """A lesson without a demo module is no silent gap in the demo: it is named, and the rest runs."""
    LessonFiles(tiny_course, "02_tiny").solution_folder.mkdir(parents=True)  # the full course, not a handout
    assert main(["demo", "--out", str(tiny_course / "runs")]) == 0
    out = capsys.readouterr().out
    assert "note: lesson 01 has no demo (src/watchtrain/demos/lesson_01_tiny.py does not exist); skipped" in out
    assert "note: lesson 02 has no demo (src/watchtrain/demos/lesson_02_tiny.py does not exist); skipped" in out
