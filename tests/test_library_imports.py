"""What the processes that runs are forked from preload and warm up: only what the graded lessons use."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from watchtrain.course import find_course_root, load_course
from watchtrain.library_imports import imported_libraries, learner_libraries, lesson_libraries

COURSE = load_course(find_course_root(Path(__file__).resolve().parents[1]))
WARM_UP = Path(__file__).resolve().parents[1] / "src" / "watchtrain" / "classroom" / "isolation"


def test_every_way_of_naming_a_library_counts(tmp_path):
    source = tmp_path / "exercise.py"
    source.write_text("import torch\nfrom matplotlib import pyplot as plt\nimport wandb.sdk\n"
                      "def export(model, x):\n    torch.onnx.export(model, (x,), 'm.onnx')\n")
    assert imported_libraries([source]) == ["matplotlib.pyplot", "onnx", "onnxscript", "torch.onnx", "wandb"]


def test_a_file_that_cannot_be_parsed_or_read_counts_for_nothing(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import wandb\ndef f(:\n")
    assert imported_libraries([broken, tmp_path / "missing.py"]) == []


@pytest.mark.parametrize("lesson, expected", [
    ("01_tensorboard_basics", ["torch.utils.tensorboard"]),
    ("07_visdom", ["visdom"]),
])
def test_a_lesson_brings_only_its_own_libraries(lesson, expected):
    assert lesson_libraries(COURSE, [lesson]) == expected


def test_the_worker_gets_the_learners_libraries_and_a_zygote_the_checkers_too():
    """The checker of lesson 08 renders DOT with graphviz; the learner's code imports torchviz."""
    assert "graphviz" not in learner_libraries(COURSE, ["08_model_visualisation"])
    assert "graphviz" in lesson_libraries(COURSE, ["08_model_visualisation"])
    assert "torchviz" in learner_libraries(COURSE, ["08_model_visualisation"])


def test_the_onnx_lessons_bring_the_exporter_even_from_a_handout_without_solutions():
    for lesson in ("06_wandb", "08_model_visualisation"):
        files = COURSE.files(lesson)
        assert {"torch.onnx", "onnxscript"} <= set(
            lesson_libraries(COURSE, [lesson])), lesson
        assert {"torch.onnx", "onnxscript"} <= set(imported_libraries([files.exercise, files.tests])), lesson


@pytest.mark.parametrize("libraries, steps, swapped", [
    ([], ["training"], []),
    (["torch.utils.tensorboard"], ["tensorboard", "tensorboard_crc", "training"], ["tensorboard_crc"]),
    (["torch.onnx"], ["onnx", "training"], ["torchlib_functions"]),
])
def test_warm_up_warms_only_the_libraries_named(libraries, steps, swapped):
    """A lesson without W&B, matplotlib or ONNX never pays for warming them up (seconds each); the
    faster twins are in place where their library is named (a release that renames what they
    replace shows here, not as a slower grader)."""
    script = (f"import sys, json; sys.path.insert(0, {str(WARM_UP)!r}); import torch; from warm_up import warm_up; "
              f"warm_up({libraries!r}); modules = sys.modules; "
              f"crc = getattr(modules.get('tensorboard.compat.tensorflow_stub.pywrap_tensorflow'), 'crc32c', None); "
              f"apis = getattr(modules.get('torch.onnx._internal.exporter._registration'), 'onnxscript_apis', None); "
              f"schemas = modules.get('torch.onnx._internal.exporter._schemas'); "
              f"print(json.dumps([sorted(sys._watchtrain_warmed_up), "
              f"[name for name in ('wandb', 'matplotlib.pyplot', 'onnxscript') if name in sys.modules], "
              f"[name for name, done in (('tensorboard_crc', crc is getattr(modules.get('google_crc32c'), 'value', 0)), "
              f"('torchlib_functions', all(hasattr(getattr(module, name, None), 'cache_info') for module, name in "
              f"((apis, 'get_torchlib_ops'), (schemas, 'op_signature_from_function'))))) if done]]))")
    done, imported, faster = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                                       check=True).stdout)
    assert done == steps
    assert imported == ([] if "torch.onnx" not in libraries else ["onnxscript"])
    assert faster == swapped


def test_the_exporters_kept_function_list_exports_the_same_bytes():
    """What the ONNX exporter keeps (warm_up: the torchlib functions and their signatures) changes
    nothing it writes: a model exported twice with them kept is byte for byte the model exported
    without them."""
    script = (f"import sys, hashlib, os, tempfile, warnings; warnings.filterwarnings('ignore'); "
              f"sys.path.insert(0, {str(WARM_UP)!r}); import torch, warm_up; "
              f"warm_up._keep_torchlib_functions = warm_up._keep_torchlib_functions if sys.argv[1] == 'kept' else (lambda: None); "
              f"warm_up.warm_up(['torch.onnx']); torch.manual_seed(0); "
              f"model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), "
              f"torch.nn.Linear(4 * 26 * 26, 10)).eval(); path = os.path.join(tempfile.mkdtemp(), 'model.onnx'); "
              f"digests = []\n"
              f"for _ in range(2):\n"
              f"    torch.onnx.export(model, (torch.zeros(2, 1, 28, 28),), path, input_names=['images'], "
              f"output_names=['logits'], dynamic_axes={{'images': {{0: 'batch'}}}}, external_data=False, verbose=False)\n"
              f"    digests.append(hashlib.sha256(open(path, 'rb').read()).hexdigest())\n"
              f"print(' '.join(digests))")
    digests = {way: subprocess.run([sys.executable, "-c", script, way], capture_output=True, text=True,
                                   check=True).stdout.splitlines()[-1].split() for way in ("kept", "rebuilt")}
    assert digests["kept"] == digests["rebuilt"] and len(set(digests["kept"])) == 1, digests
