"""What the processes that runs are forked from preload and warm up: only what the graded lessons use."""
import json
import subprocess
import sys
import textwrap
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


def in_forks_of_one_torch_process(bodies: dict[str, tuple[str, list]]) -> dict[str, list]:
    """Run each body (Python that sees `case` and prints `answer: JSON`) once for each of its cases,
    each in a fork of one process that has imported torch and warm_up.py, as a zygote or a spawner
    has: one import of torch for every body and case, and no case sees what another warmed up.
    By body name: the answers, in the order of its cases."""
    script = ["import json, os, sys, traceback, warnings", "warnings.filterwarnings('ignore')",
              f"sys.path.insert(0, {str(WARM_UP)!r})", "import torch, warm_up"]
    for name, (body, _) in bodies.items():
        script += [f"def {name}(case):", textwrap.indent(body, " " * 4)]
    script += ["for name, case in json.loads(sys.argv[1]):", "    pid = os.fork()", "    if pid == 0:",
               "        try:", "            globals()[name](case)", "        except BaseException:",
               "            traceback.print_exc()", "        finally:", "            sys.stdout.flush()",
               "            sys.stderr.flush()", "            os._exit(0)", "    os.waitpid(pid, 0)"]
    cases = [(name, case) for name, (_, its_cases) in bodies.items() for case in its_cases]
    done = subprocess.run([sys.executable, "-c", "\n".join(script), json.dumps(cases)], capture_output=True,
                          text=True, check=True)
    answers = [json.loads(line.removeprefix("answer: ")) for line in done.stdout.splitlines()
               if line.startswith("answer: ")]
    assert len(answers) == len(cases), done.stdout[-2000:] + done.stderr[-2000:]
    found: dict[str, list] = {name: [] for name in bodies}
    for (name, _), answer in zip(cases, answers):
        found[name].append(answer)
    return found


WARM_UP_CASES = [
    ([], ["training"], []),
    (["torch.utils.tensorboard"], ["tensorboard", "tensorboard_crc", "training"], ["tensorboard_crc"]),
    (["torch.onnx"], ["onnx", "training"], ["torchlib_functions"]),
]


# For each case's libraries: what warm_up warmed up, which optional libraries it imported, and which
# faster twins are in place afterwards.
WARMED_UP = textwrap.dedent("""\
        warm_up.warm_up(case)
        modules = sys.modules
        crc = getattr(modules.get('tensorboard.compat.tensorflow_stub.pywrap_tensorflow'), 'crc32c', None)
        apis = getattr(modules.get('torch.onnx._internal.exporter._registration'), 'onnxscript_apis', None)
        schemas = modules.get('torch.onnx._internal.exporter._schemas')
        twins = (('tensorboard_crc', crc is getattr(modules.get('google_crc32c'), 'value', 0)),
                 ('torchlib_functions', all(hasattr(getattr(module, name, None), 'cache_info') for module, name in
                                            ((apis, 'get_torchlib_ops'), (schemas, 'op_signature_from_function')))))
        print('answer:', json.dumps([sorted(sys._watchtrain_warmed_up),
                          [name for name in ('wandb', 'matplotlib.pyplot', 'onnxscript') if name in modules],
                          [name for name, done in twins if done]]))""")


@pytest.mark.parametrize("case", range(len(WARM_UP_CASES)), ids=[str(c[0]) for c in WARM_UP_CASES])
def test_warm_up_warms_only_the_libraries_named(answered, case):
    """A lesson without W&B, matplotlib or ONNX never pays for warming them up (seconds each); the
    faster twins are in place where their library is named (a release that renames what they
    replace shows here, not as a slower grader)."""
    libraries, steps, swapped = WARM_UP_CASES[case]
    done, imported, faster = answered["warmed_up"][case]
    assert done == steps
    assert imported == ([] if "torch.onnx" not in libraries else ["onnxscript"])
    assert faster == swapped


def test_warm_up_leaves_nothing_that_breaks_a_fork(answered):
    """Zygotes and spawners warm up, then fork the processes that run learners' code. Where a GPU
    is visible, a backward pass starts autograd's device threads, and PyTorch then refuses backward
    in every process forked afterwards: the optimizer step is warmed up with gradients set by hand.
    A thread left running could hold a lock at the instant of a fork, which the child would then
    wait for forever (tqdm's monitor, which the ONNX exporter's progress bars start). And asking
    the CUDA driver how many GPUs there are initialises it, after which no fork can use CUDA."""
    [(done, passes, driver_asked, threads)] = answered["fork_safety"]
    assert {"training", "tensorboard", "figure", "onnx"} <= set(done), done
    assert passes == 0
    assert driver_asked == 0, "torch.cuda.is_available() asked the CUDA driver, which initialises it"
    assert threads == ["MainThread"]


FORK_SAFETY = textwrap.dedent("""\
        from torch.autograd.variable import Variable
        class Engine:  # counts the passes into autograd's engine
            calls = 0
            def __getattr__(self, name):
                Engine.calls += 1
                return getattr(engine, name)
        engine, Variable._execution_engine = Variable._execution_engine, Engine()
        asked, ask_driver = [], torch._C._cuda_getDeviceCount
        torch._C._cuda_getDeviceCount = lambda: asked.append(1) or ask_driver()
        # NVML answers, as on a machine with an NVIDIA driver (here, torch would fall back on the driver)
        torch.cuda._device_count_nvml = lambda: 0
        os.environ.pop('PYTORCH_NVML_BASED_CUDA_CHECK', None)  # as a zygote or a spawner starts
        warm_up.warm_up(case)
        import threading
        print('answer:', json.dumps([sorted(sys._watchtrain_warmed_up), Engine.calls, len(asked),
                                     [thread.name for thread in threading.enumerate()]]))""")


def test_the_exporters_kept_function_list_exports_the_same_bytes(answered):
    """What the ONNX exporter keeps (warm_up: the torchlib functions and their signatures) changes
    nothing it writes: a model exported twice with them kept is byte for byte the model exported
    without them."""
    kept, rebuilt = answered["exports"]
    assert kept == rebuilt and len(set(kept)) == 1, (kept, rebuilt)


EXPORTS = textwrap.dedent("""\
        import hashlib, tempfile
        if case == 'rebuilt':
            warm_up._keep_torchlib_functions = lambda: None
        warm_up.warm_up(['torch.onnx'])
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                    torch.nn.Linear(4 * 26 * 26, 10)).eval()
        path = os.path.join(tempfile.mkdtemp(), 'model.onnx')
        digests = []
        for _ in range(2):
            torch.onnx.export(model, (torch.zeros(2, 1, 28, 28),), path, input_names=['images'],
                              output_names=['logits'], dynamic_axes={'images': {0: 'batch'}}, external_data=False,
                              verbose=False)
            digests.append(hashlib.sha256(open(path, 'rb').read()).hexdigest())
        print('answer:', json.dumps(digests))""")


@pytest.fixture(scope="module")
def answered() -> dict[str, list]:
    """Every body above, for its cases, in forks of one process."""
    return in_forks_of_one_torch_process({
        "warmed_up": (WARMED_UP, [libraries for libraries, _, _ in WARM_UP_CASES]),
        "fork_safety": (FORK_SAFETY, [["torch.utils.tensorboard", "matplotlib.pyplot", "torch.onnx"]]),
        "exports": (EXPORTS, ["kept", "rebuilt"])})
