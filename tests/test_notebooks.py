"""The lessons' notebooks: in step with their sources, and runnable from top to bottom in a real kernel.

Each notebook is executed headless (nbclient, an ipykernel) with the reference solution in its
exercise cells; its check cell must then report the lesson done. `%tensorboard` starts no server
here: an IPython start-up file makes it only say what it would show.
"""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from watchtrain.course import load_course
from watchtrain.notebooks import (NOTEBOOK_NAME, build_notebook, latest_exercise_cells, notebook_drift,
                                  notebook_lessons, readme_cells, render, split_exercises, submission_source,
                                  with_sources_of)

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
LESSONS = [lesson.dir for lesson in notebook_lessons(COURSE)]
CELL_TIMEOUT_S = 300
HEADLESS_STARTUP = "from watchtrain.notebooks import install_headless_tensorboard\n" \
                   "install_headless_tensorboard(get_ipython())\n"


def test_every_notebook_matches_its_readme_and_exercise():
    assert notebook_drift(COURSE) == [], "run `python -m watchtrain.notebooks` (or `make notebooks`)"


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_generating_twice_gives_the_same_bytes(lesson_dir):
    lesson, folder = COURSE.lesson(lesson_dir), COURSE_ROOT / "lessons" / lesson_dir
    assert render(build_notebook(lesson, folder)) == render(build_notebook(lesson, folder))


def test_exercise_cells_rebuild_the_exercise_file_up_to_blank_lines():
    for lesson in notebook_lessons(COURSE):
        for folder in ("lessons", "solutions"):
            source = (COURSE_ROOT / folder / lesson.dir / "exercise.py").read_text(encoding="utf-8")
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


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Environment for the notebooks' kernels: headless %tensorboard, offline W&B, progress kept aside,
    one torch thread."""
    ipython_dir = tmp_path_factory.mktemp("ipython")
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-watchtrain-headless.py").write_text(HEADLESS_STARTUP)
    env = {"IPYTHONDIR": str(ipython_dir), "WATCHTRAIN_COURSE_ROOT": str(COURSE_ROOT),
           "WATCHTRAIN_PROGRESS": str(tmp_path_factory.mktemp("progress") / "progress.json"),
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


@pytest.mark.slow
@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_notebook_runs_top_to_bottom_with_the_reference_solution(lesson_dir, kernel_env, tmp_path):
    lesson = COURSE.lesson(lesson_dir)
    notebook = nbformat.read(COURSE_ROOT / "lessons" / lesson_dir / NOTEBOOK_NAME, as_version=4)
    notebook = with_sources_of(notebook, COURSE_ROOT / "solutions" / lesson_dir / "exercise.py", lesson)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"lessons/{lesson_dir}/{NOTEBOOK_NAME} failed in a cell:\n{str(err)[-3000:]}", pytrace=False)
    finally:
        nbformat.write(notebook, tmp_path / f"executed_{NOTEBOOK_NAME}")
    text = outputs_text(notebook)
    assert f"Lesson {lesson.number} is done: every exercise passes." in text, text[-3000:]
    assert "headless run: TensorBoard not started" in text
