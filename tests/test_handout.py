"""`watchtrain handout`: the student release holds what git committed that students need and nothing
they must not see (no answers tried in the working tree, no run folders), and its autograder runs on
its own and scores the untouched stubs 0."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from watchtrain.classroom.handout import WORKFLOW, HandoutError, find_leaks, write_handout
from watchtrain.course import LessonFiles, load_course

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
HIDDEN_TESTS = sorted((COURSE_ROOT / "autograder" / "hidden").glob("test_*.py"))
FIRST = COURSE.lessons[0].dir
FIRST_FILES = COURSE.files(FIRST)
FIRST_STUB, FIRST_TESTS = FIRST_FILES.relative(FIRST_FILES.exercise), FIRST_FILES.relative(FIRST_FILES.tests)


def committed(root: Path, path: str) -> bytes | None:
    """The file as committed at HEAD; None when git has no such file."""
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True)
    return shown.stdout if shown.returncode == 0 else None


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Instructor", "-c", "user.email=instructor@example.com", *args],
                   cwd=root, capture_output=True, check=True)


@pytest.fixture
def clone(tmp_path) -> Path:
    """A fresh clone of the course at HEAD, to try the exercises in as an instructor would."""
    root = tmp_path / "course"
    git(tmp_path, "clone", "-q", str(COURSE_ROOT), str(root))
    return root


@pytest.fixture(scope="module")
def handout(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout") / "course"
    completed = subprocess.run([sys.executable, "-m", "watchtrain.cli", "handout", str(out)], cwd=COURSE_ROOT,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert "no solution body and no hidden test" in completed.stdout
    return out


def test_handout_has_the_lessons_stubs_and_public_autograder_as_committed(handout):
    for lesson in load_course(handout).lessons:  # the committed course.toml's lessons
        files = COURSE.files(lesson)
        for path in map(files.relative, (files.exercise, files.readme, files.tests)):
            expected = committed(COURSE_ROOT, path)  # test_course.py insists that each exists
            assert (handout / path).read_bytes() == expected if expected else not (handout / path).exists(), path
    for path in ("course.toml", "pyproject.toml", "constraints.txt", "autograder/conftest.py",
                 "tools/install_system_deps.sh", "tools/venv_cache.py"):
        assert (handout / path).is_file(), path
    assert (handout / "src" / "watchtrain" / "grading" / "plugin.py").is_file()
    assert (handout / "data" / "fashion-mnist-mini" / "SHA256SUMS").is_file()
    assert not (handout / "data" / "fashion-mnist-full").exists()


def test_handout_readme_and_makefile_are_for_students(handout):
    readme = (handout / "README.md").read_text()
    assert readme.startswith(f"# {COURSE.title}") and "pytest autograder" in readme and "make setup" in readme
    for tool in ("watchtrain list", "watchtrain check", "watchtrain hint", "watchtrain watch", "TORCH=cpu"):
        assert tool in readme, f"the students' README never introduces `{tool}`"
    assert "--solutions" not in readme and "Instructor" not in readme
    for lesson in load_course(handout).lessons:
        assert f"(lessons/{lesson.dir}/README.md)" in readme
    makefile = (handout / "Makefile").read_text()
    assert "--solutions" not in makefile and "pytest tests" not in makefile
    course_makefile = committed(COURSE_ROOT, "Makefile").decode()
    for target in ("setup", "$(STAMP)", "venv-install", "system-deps", "$(VENV_KEPT)"):
        assert _rule(makefile, target) == _rule(course_makefile, target), \
            f"students must install as the course does: {target}"
    assert "TORCH_CPU_INDEX :=" in makefile, "students can install the CPU-only PyTorch as the course does"
    completed = subprocess.run(["make", "-n", "test"], cwd=handout, capture_output=True, text=True)
    assert completed.returncode == 0 and "watchtrain.learner_test autograder" in completed.stdout, completed.stderr


def _rule(makefile: str, target: str) -> str:
    match = re.search(rf"^{re.escape(target)}:.*\n(?:\t.*\n)*", makefile, re.M)
    assert match, f"no rule for {target}"
    return match.group(0)


def test_handout_workflow_grades_on_push_and_reports_points(handout):
    workflow = yaml.safe_load((handout / WORKFLOW).read_text())
    assert "push" in workflow["on"]
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    grade = next(step for step in steps if step.get("id") == "watchtrain")
    assert "watchtrain grade lessons" in grade["run"] and "--github-classroom" in grade["run"]
    reporter = next(step for step in steps if "autograding-grading-reporter" in step.get("uses", ""))
    assert reporter["with"]["runners"] == "watchtrain"
    assert reporter["env"]["WATCHTRAIN_RESULTS"] == "${{ steps.watchtrain.outputs.result }}"


def test_nothing_secret_is_in_the_handout(handout):
    for forbidden in ("solutions", "tests", "autograder/hidden", ".ci"):
        assert not (handout / forbidden).exists(), forbidden
    assert not list(handout.rglob("mutant.toml"))
    assert find_leaks(handout, COURSE) == []
    everything = "\n".join(path.read_text(errors="replace") for path in handout.rglob("*") if path.is_file()
                           and path.suffix in (".py", ".md", ".ipynb", ".toml", ".yml", ".txt", ""))
    for path in HIDDEN_TESTS:
        for name in re.findall(r"^def (test_\w+)", path.read_text(), re.M):
            assert name not in everything, f"the hidden test {name} leaked"
    for lesson in COURSE.lessons:
        solution = COURSE.files(lesson).solution.read_text()
        assert solution not in everything


def test_the_leak_check_finds_planted_leaks(handout, tmp_path):
    copy = tmp_path / "leaky"
    shutil.copytree(handout, copy)
    lesson = COURSE.lessons[0]
    solution = COURSE.files(lesson).solution.read_text()
    body = solution[solution.index("def ", solution.index("\ndef ") + 1):]  # the second function onward
    files = LessonFiles(copy, lesson.dir)
    readme, notebook = files.readme, files.notebook
    readme.write_text(readme.read_text() + "\n```python\n" + body.replace("    ", "  ") + "\n```\n")
    if notebook.exists():
        cells = json.loads(notebook.read_text())
        cells["cells"].append({"cell_type": "code", "metadata": {}, "source": body.splitlines(keepends=True),
                               "outputs": [], "execution_count": None})
        notebook.write_text(json.dumps(cells))
    shutil.copy(HIDDEN_TESTS[0], copy / "autograder" / "test_zz_extra.py")
    leaks = "\n".join(find_leaks(copy, COURSE))
    assert f"{files.relative(readme)} contains the solution of {lesson.dir}" in leaks
    if notebook.exists():
        assert f"{files.relative(notebook)} contains the solution" in leaks
    assert "autograder/test_zz_extra.py contains the hidden test" in leaks


def test_a_leaking_handout_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr("watchtrain.classroom.handout.find_leaks", lambda handout, course: ["planted"])
    with pytest.raises(HandoutError, match="would leak"):
        write_handout(COURSE, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_handout_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(HandoutError, match="not empty"):
        write_handout(COURSE, tmp_path / "busy")
    with pytest.raises(HandoutError, match="holds the course"):
        write_handout(COURSE, COURSE_ROOT)


def test_make_test_on_an_untouched_handout_says_nothing_done_yet(handout, tmp_path):
    """`make test`'s command, in a copy of the handout: no failure before anything is started, a
    real one once an exercise is started and fails."""
    copy = tmp_path / "student"
    shutil.copytree(handout, copy)
    env = {key: value for key, value in os.environ.items() if not key.startswith("WATCHTRAIN_")}
    env["PYTHONPATH"] = str(copy / "src")
    command = [sys.executable, "-m", "watchtrain.learner_test", "autograder", "-q", "-p", "no:cacheprovider"]
    untouched = subprocess.run(command, cwd=copy, capture_output=True, text=True, env=env)
    assert untouched.returncode == 0 and untouched.stdout.startswith("Nothing done yet"), untouched.stdout
    assert "failed" not in untouched.stdout
    stub = copy / FIRST_STUB
    stub.write_text(stub.read_text().replace("    raise NotImplementedError\n", "    return None\n", 1))
    started = subprocess.run([*command[:3], FIRST_TESTS, *command[4:]], cwd=copy,
                             capture_output=True, text=True, env=env)
    assert started.returncode == 1 and "failed" in started.stdout, started.stdout[-2000:]


def test_autograder_inside_the_handout_runs_and_scores_zero(handout, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("WATCHTRAIN_")}
    env["PYTHONPATH"] = str(handout / "src")  # the handout's own copy of the package, not this checkout's
    report_path = tmp_path / "report.json"
    completed = subprocess.run([sys.executable, "-m", "pytest", "autograder", "-q", "-p", "no:cacheprovider",
                                "--report-json", str(report_path)], cwd=handout, capture_output=True, text=True, env=env)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-3000:]
    report = json.loads(report_path.read_text())
    assert report["score"] == 0 and report["max_score"] == load_course(handout).points
    statuses = {t["status"] for lesson in report["lessons"] for t in lesson["tests"]}
    assert "not started" in statuses and statuses <= {"not started", "skipped"}
    assert f"points for {handout / 'lessons'}" in output


def test_handout_ships_the_commit_not_the_working_tree(clone, tmp_path):
    files = LessonFiles(clone, FIRST)
    (files.folder / "runs" / "tried").mkdir(parents=True)  # git-ignored run folders
    (files.folder / "runs" / "tried" / "events.out.tfevents.1").write_bytes(b"run")
    (clone / "runs").mkdir()
    (clone / "runs" / "demo.txt").write_text("the demo's runs")
    (files.folder / "scratch.py").write_text("print('untracked')\n")
    tests = files.tests
    tests.write_text(tests.read_text() + "\n# edited, not committed\n")
    handout = write_handout(load_course(clone), tmp_path / "out")
    shipped = set(handout.files)
    assert not [path for path in shipped if "/runs/" in path or path.startswith("runs/")], shipped
    assert files.relative(files.folder / "scratch.py") not in shipped
    assert LessonFiles(tmp_path / "out", FIRST).tests.read_bytes() == committed(clone, FIRST_TESTS)
    assert handout.commit and handout.commit in subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout


def test_a_stub_tried_in_the_working_tree_is_refused(clone, tmp_path):
    solution = FIRST_FILES.solution.read_text()
    (clone / FIRST_STUB).write_text(solution)
    with pytest.raises(HandoutError, match=rf"{re.escape(FIRST_STUB)} differs from the committed one"):
        write_handout(load_course(clone), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_committed_stub_that_no_longer_raises_is_refused(clone, tmp_path):
    stub = (clone / FIRST_STUB).read_text()
    function = COURSE.lessons[0].exercises[0].function
    start = stub.index(f"def {function}(")
    end = stub.index("raise NotImplementedError", start)
    (clone / FIRST_STUB).write_text(stub[:end] + "return None" + stub[end + len("raise NotImplementedError"):])
    git(clone, "commit", "-q", "-am", "an answer, committed by mistake")
    with pytest.raises(HandoutError, match=rf"{re.escape(FIRST_STUB)}: {function} in the committed stub no longer only raise"):
        write_handout(load_course(clone), tmp_path / "out")


def test_a_course_without_git_is_refused(tmp_path):
    (tmp_path / "course").mkdir()
    shutil.copy(COURSE_ROOT / "course.toml", tmp_path / "course")
    with pytest.raises(HandoutError, match="not a git repository"):
        write_handout(load_course(tmp_path / "course"), tmp_path / "out")
