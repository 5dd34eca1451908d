"""The lessons' notebooks: in step with their sources, and runnable from top to bottom in a real kernel.

Each notebook is executed headless (nbclient, an ipykernel) with the reference solution in its
exercise cells; its check cell must then report the lesson done. `%tensorboard` is the real magic:
it starts a real TensorBoard server, from a kernel whose PATH lacks the course's environment (as
when Jupyter is started from elsewhere), and the test fetches the page it reports, then stops it.
"""
import os
import re
import signal
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from browser_pages import artifacts_dir, headless_page, require_chromium
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from watchtrain.course import load_course
from watchtrain.notebooks import (build_notebook, latest_exercise_cells, notebook_drift, notebook_lessons,
                                  readme_cells, render, split_exercises, submission_source, with_sources_of)

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
LESSONS = [lesson.dir for lesson in notebook_lessons(COURSE)]
CELL_TIMEOUT_S = 300
TENSORBOARD_LESSONS = [lesson.dir for lesson in notebook_lessons(COURSE) if lesson.tool == "TensorBoard"]


def test_every_notebook_matches_its_readme_and_exercise():
    assert notebook_drift(COURSE) == [], "run `python -m watchtrain.notebooks` (or `make notebooks`)"


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_generating_twice_gives_the_same_bytes(lesson_dir):
    lesson, folder = COURSE.lesson(lesson_dir), COURSE.files(lesson_dir).folder
    assert render(build_notebook(lesson, folder)) == render(build_notebook(lesson, folder))


def test_exercise_cells_rebuild_the_exercise_file_up_to_blank_lines():
    for lesson in notebook_lessons(COURSE):
        files = COURSE.files(lesson)
        for path in (files.exercise, files.solution):
            source = path.read_text(encoding="utf-8")
            chunks = split_exercises(source, [e.function for e in lesson.exercises])
            assert [c.name for c in chunks][1:] == [e.function for e in lesson.exercises]
            assert "\n\n\n".join(c.source for c in chunks).split() == source.split()


def test_the_check_cell_grades_the_last_run_of_each_exercise_cell():
    history = ["", "# exercise: setup\nimport math", "# exercise: area\ndef area(r):\n    return 0",
               "print('a snippet')", "# exercise: area\ndef area(r):\n    return math.pi * r * r"]
    cells = latest_exercise_cells(history)
    assert list(cells) == ["setup", "area"] and "math.pi" in cells["area"]
    namespace = {}
    exec(submission_source(cells), namespace)
    assert namespace["area"](1) == pytest.approx(3.14159, abs=1e-5)


def test_the_check_cell_grades_the_cells_as_the_learners_own_work(tmp_path, monkeypatch):
    """The cells are written to a scratch folder, which is the learner's own work: its worker is
    forked (--own-work), not a fresh interpreter that imports torch a second time."""
    import watchtrain.lesson_check as lesson_check
    from watchtrain.grading.runner import AutograderRun, pytest_arguments

    asked = {}
    monkeypatch.setattr(lesson_check, "run_autograder",
                        lambda root, **options: asked.update(options) or AutograderRun(0, {}, ""))
    with pytest.raises(lesson_check.CheckError):  # the empty report: nothing was graded
        lesson_check.check_lesson(COURSE, COURSE.lesson(LESSONS[0]), submission=tmp_path)
    assert asked["submission"] == tmp_path and asked["own_work"] is True
    assert "--own-work" in pytest_arguments(COURSE_ROOT, tmp_path / "report.json", submission=tmp_path, own_work=True)


def test_snippets_that_cannot_run_where_they_stand_stay_text():
    readme = "\n".join([
        "# Title", "```python", "import math", "radius = 2.0", "```",
        "```python", "area = math.pi * radius ** 2", "```",            # uses names defined above: runs
        "```python", "for epoch in range(epochs):", "    ...", "```",  # an excerpt: text
        "```python", "print(undefined_name)", "```",                  # a name from nowhere: text
        "<!-- notebook: skip -->", "```python", "print('skipped on purpose')", "```",
        "```python", "import tensorflow as tf", "```",                # left out of the course on purpose
        "```bash", "tensorboard --logdir runs", "```",
    ])
    kinds = [(kind, source.splitlines()[0]) for kind, source in readme_cells(readme)]
    assert [k for k, _ in kinds].count("code") == 2
    assert ("code", "area = math.pi * radius ** 2") in kinds
    assert not any("skipped on purpose" in source for kind, source in readme_cells(readme) if kind == "code")
    assert not any("notebook: skip" in source for _, source in readme_cells(readme))


def code_cells(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def built(lesson_dir: str):
    return build_notebook(COURSE.lesson(lesson_dir), COURSE.files(lesson_dir).folder)


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_tensorboard_is_loaded_once_and_only_where_the_lesson_uses_it(lesson_dir):
    cells = code_cells(built(lesson_dir))
    loads = [line for cell in cells for line in cell.splitlines() if line.strip() == "%load_ext tensorboard"]
    magic = [index for index, cell in enumerate(cells) if "%tensorboard" in cell]
    if lesson_dir not in TENSORBOARD_LESSONS:
        assert loads == [] and magic == [], f"{lesson_dir} writes no TensorBoard runs: no TensorBoard cells"
        return
    assert len(loads) == 1 and magic, f"{lesson_dir}: one `%load_ext tensorboard` and a `%tensorboard` cell"
    first = cells[magic[0]]
    assert "%load_ext tensorboard" in first and "TENSORBOARD_BINARY" in first, \
        "the first %tensorboard cell loads TensorBoard and points it at the kernel's own tensorboard"


def test_no_cell_stops_a_server_that_a_frame_shows():
    """Under Run All, a stop cell after the IFrame would stop the server before the browser loads
    the frame: the server stops with the kernel instead (the Run All test shows the frame live)."""
    cells = code_cells(built("07_visdom"))
    assert any("IFrame(" in cell for cell in cells)
    assert not [cell for cell in cells if re.search(r"^\w+\.stop\(\)", cell, re.MULTILINE)]
    assert "check_exercises" in cells[-1]


def test_the_wandb_notebook_runs_wandb_offline():
    cells = code_cells(built("06_wandb"))
    first_run = next(index for index, cell in enumerate(cells) if "wandb.init(" in cell)
    before = "\n".join(cells[:first_run + 1])
    assert re.search(r"""WANDB_MODE\s*=\s*["']offline|mode\s*=\s*["']offline""", before), \
        "the first W&B run is offline (WANDB_MODE or mode=), so the notebook runs without an account"
    assert re.search(r"WANDB_DIR|dir\s*=", before), "the runs go to a folder of the lesson's (WANDB_DIR or dir=)"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Environment for the notebooks' kernels: offline W&B, progress kept aside, one torch thread, and
    a PATH without this environment's scripts (as when Jupyter runs from elsewhere)."""
    scripts = str(Path(sys.executable).parent)
    env = {"WATCHTRAIN_COURSE_ROOT": str(COURSE_ROOT),
           "WATCHTRAIN_PROGRESS": str(tmp_path_factory.mktemp("progress") / "progress.json"),
           "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != scripts),
           "MPLBACKEND": "Agg", "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_CONSOLE": "off",
           "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true", "WANDB_X_DISABLE_STATS": "true",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", "JUPYTER_PLATFORM_DIRS": "1",
           # The snippets train tiny models: one thread is as fast, and far faster on a busy machine.
           "OMP_NUM_THREADS": "1"}
    with pytest.MonkeyPatch.context() as patch:  # the kernels inherit this process's environment
        for name, value in env.items():
            patch.setenv(name, value)
        yield


def outputs_text(notebook) -> str:
    return "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def shown(cell) -> str:
    """Everything a cell displayed: streams, and the text and HTML of its displays."""
    return "\n".join(output.get("text", "") + output.get("data", {}).get("text/plain", "")
                     + output.get("data", {}).get("text/html", "") for output in cell.get("outputs", []))


def served_tensorboard_port(cell) -> int:
    """The port of the TensorBoard that `%tensorboard`'s output frames."""
    output = shown(cell)
    port = re.search(r"const port = (\d+);", output)
    assert port, f"%tensorboard showed no TensorBoard frame:\n{output[-2000:]}"
    return int(port.group(1))


def fetch_page(port: int) -> str:
    with urllib.request.urlopen(f"http://localhost:{port}/", timeout=30) as response:
        return response.read().decode("utf-8", "replace")


def framed_url(cell) -> str:
    """The page an `IFrame(...)` cell's output frames."""
    found = re.search(r'<iframe[^>]*src="([^"]+)"', shown(cell))
    assert found, f"the IFrame cell showed no frame:\n{shown(cell)[-2000:]}"
    return found.group(1)


def visdom_windows_shown(url: str) -> int:
    """How many Visdom windows the page at `url` draws in a real browser (0 when it cannot load)."""
    require_chromium()
    with headless_page(width=1200, height=900) as page:
        page.goto(url)
        try:
            page.locator(".window").nth(2).wait_for(timeout=30_000)
        except Exception:  # playwright's TimeoutError: the count below says what was there
            pass
        page.screenshot(path=str(artifacts_dir() / "notebook_07_iframe.png"))
        return page.locator(".window").count()


def tensorboard_pid(port: int) -> int | None:
    """The pid of the TensorBoard serving `port` now: TensorBoard lists its servers."""
    from tensorboard import manager

    return next((info.pid for info in manager.get_all() if info.port == port and _alive(info.pid)), None)


def stop_tensorboard(pid: int) -> None:
    """Stop a server the magic started (by pid: another kernel's server may have its port later)."""
    from tensorboard import manager

    if _alive(pid):  # it may have ended with the kernel that started it
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
    if not _alive(pid):  # ended without removing its entry: remove it, or the next magic reuses it
        (Path(manager._get_info_dir()) / f"pid-{pid}.info").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Execution:
    """One notebook run top to bottom: the notebook with its outputs, the cell that failed (if one
    did), the pages its `%tensorboard` cells served and how many Visdom windows its frame showed."""
    notebook: nbformat.NotebookNode
    failed: str = ""
    pages: list[str] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    windows: list[int] = field(default_factory=list)


def execute(lesson_dir: str, folder: Path) -> Execution:
    lesson = COURSE.lesson(lesson_dir)
    files = COURSE.files(lesson)
    run = Execution(with_sources_of(built(lesson_dir), files.solution, lesson))
    servers = []  # the pids of the TensorBoards this notebook's magic started
    last_cell = max(index for index, cell in enumerate(run.notebook.cells) if cell.cell_type == "code")

    def on_cell_executed(cell, cell_index, **_):
        if "%tensorboard" in cell.source:  # fetched now, while the kernel that started it runs
            port = served_tensorboard_port(cell)
            servers.append(tensorboard_pid(port))
            run.pages.append(fetch_page(port))
        if "IFrame(" in cell.source:
            run.frames.append(framed_url(cell))
        if cell_index == last_cell and run.frames:  # after Run All, while the kernel runs: is the frame live?
            with ThreadPoolExecutor(1) as browser:  # playwright's sync API, away from nbclient's event loop
                run.windows.append(browser.submit(visdom_windows_shown, run.frames[-1]).result())

    client = NotebookClient(run.notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}, on_cell_executed=on_cell_executed)
    try:
        client.execute()
    except CellExecutionError as err:
        run.failed = str(err)[-3000:]
    except Exception as err:  # a check made after a cell (the page it served, say) failed
        run.failed = f"{type(err).__name__}: {err}"[-3000:]
    finally:
        for pid in filter(None, servers):
            stop_tensorboard(pid)
        nbformat.write(run.notebook, folder / f"executed_{files.notebook.name}")
    return run


@pytest.fixture(scope="module")
def executed(kernel_env, tmp_path_factory) -> dict[str, Execution]:
    """Every notebook run top to bottom, two kernels at a time: a kernel and the grading its check
    cell starts keep about one core busy, and this machine has two."""
    with ThreadPoolExecutor(2) as pool:
        runs = pool.map(lambda lesson_dir: execute(lesson_dir, tmp_path_factory.mktemp(lesson_dir)), LESSONS)
        return dict(zip(LESSONS, runs))


@pytest.mark.slow
@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_notebook_runs_top_to_bottom_with_the_reference_solution(lesson_dir, executed):
    lesson, run = COURSE.lesson(lesson_dir), executed[lesson_dir]
    if run.failed:
        pytest.fail(f"{COURSE.files(lesson).relative(COURSE.files(lesson).notebook)} failed in a cell:\n{run.failed}",
                    pytrace=False)
    if run.frames:
        assert run.windows[0] >= 3, f"after Run All, the notebook's frame of {run.frames[0]} shows {run.windows[0]} windows"
    if lesson_dir in TENSORBOARD_LESSONS:
        assert run.pages and all("<title>TensorBoard</title>" in page for page in run.pages), \
            "the real %tensorboard magic served TensorBoard's page"
    text = outputs_text(run.notebook)
    assert f"Lesson {lesson.number} is done: every exercise passes." in text, text[-3000:]
