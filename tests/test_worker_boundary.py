"""The checker/worker boundary: learner code runs only in the worker, and what comes back is data.

These tests drive the boundary directly (grading/submission.py, grading/crossing.py,
grading/worker_client.py), without pytest-in-pytest, so that each property is shown on its own.
"""
import io
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from watchtrain.grading.crossing import Described, MalformedAnswer, load_answer, rebuild, restore_arguments
from watchtrain.grading.submission import (LearnerCrash, NotStarted, SubmissionError, lesson_module,
                                          printed_by_last_call)
from watchtrain.grading.worker_client import LearnerWorker

LESSON = "01_boundary"
EXERCISE = '''
import os
from pathlib import Path

Path("import-pid").write_text(str(os.getpid()))  # where the import ran (cwd: the checker's, shipped)

def add(a, b):
    return a + b

def stub():
    raise NotImplementedError

def nested():
    deep, loop = [], []
    for _ in range(100_000):
        deep = [deep]
    loop.append(loop)
    return deep, loop


def hostile_value():
    class Hostile:
        @property
        def __class__(self):
            raise RuntimeError("no class for you")
    return Hostile()


def hoard_the_answer():
    import torch
    return torch.zeros(80_000_000)  # 305 MB


def crash():
    raise ConnectionRefusedError("no server on port 9")

def recurse(depth=0):
    return recurse(depth + 1)

class Unprintable(Exception):
    def __str__(self):
        raise ValueError("no text")

def unprintable():
    raise Unprintable()

def interrupt():
    raise KeyboardInterrupt  # as a training loop's `except KeyboardInterrupt: raise` passes it on

def leave(code):
    os._exit(code)

def leave_by_signal(number):
    os.kill(os.getpid(), number)

def forever():
    while True:
        pass

def train(net, steps):
    import torch
    for _ in range(steps):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(1.0)
    net.eval()
    return {"done": steps, "shape": (2, 3)}

def gradient():
    import torch
    x = torch.ones(3, requires_grad=True)
    (2 * x).sum().backward()
    return x.grad.tolist()

def numpy_flavoured():
    import enum
    import numpy as np
    import torch
    from torch import nn
    from torchvision import tv_tensors
    net = nn.Linear(2, 1)
    class Kind(enum.IntEnum):
        A = 3
    return {"mean": np.float64(0.25), "count": np.int64(7), "name": np.str_("Sneaker"), "kind": Kind.A,
            "scalar": np.array(1.5), "huge": np.longdouble(2.5), np.int64(4): "key", "texts": np.array(["a", "b"]),
            "dropout": nn.Dropout(p=np.float64(0.5)),
            "optimizer": torch.optim.SGD(net.parameters(), lr=np.float64(0.1)),
            "picture": tv_tensors.Image(torch.zeros(1, 2, 2))}

def forked_after_cuda():
    import torch
    return torch._C._cuda_isInBadFork()

def figure():
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(4, 2))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title("hello", color="green")
    return fig

def plant():
    os.mkfifo("pipe")
    os.symlink("/etc/hostname", "link")
    return 0

def whoami():
    return [os.getuid(), os.getpid(), sorted(os.listdir("/proc"))[:3], Path("/proc/1/cmdline").exists()]

def own_memory():
    import ctypes
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: a process may always make /proc/self its own again
    return Path("/proc/self/environ").read_bytes().decode(errors="replace")

def allocate(how):
    if how == "python":
        return len(bytearray(2**40))  # 1 TiB
    import torch
    return torch.empty(2**40, dtype=torch.uint8).numel()

def hoard_beside_a_child():
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "b = bytearray(2 * 2**30); print('held', flush=True); "
                              "import time; time.sleep(120)"], stdout=subprocess.PIPE)
    child.stdout.readline()
    kept = []
    while True:  # the call outgrows the child: the largest process of the budget, the kernel's choice
        kept.append(bytearray(2**28))

def chatter(megabytes):
    import subprocess, sys
    subprocess.Popen(["sleep", "30"])  # holds the captured output open after the call
    line = "é" * 511 + "x\\n"  # 1024 bytes in UTF-8
    for _ in range(megabytes * 1024):
        sys.stdout.write(line)
    print("to stderr", file=sys.stderr)
    return 1
'''


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    submission = tmp_path_factory.mktemp("submission")
    (submission / LESSON).mkdir()
    (submission / LESSON / "exercise.py").write_text(textwrap.dedent(EXERCISE))
    workspace = tmp_path_factory.mktemp("workspace")
    worker = LearnerWorker.start(submission, Path("/nonexistent-data"), lambda: workspace)
    yield worker, workspace
    worker.close()


@pytest.fixture
def lesson(worker, monkeypatch):
    learner, workspace = worker
    probe = workspace / "probe"
    probe.mkdir(exist_ok=True)
    monkeypatch.chdir(probe)
    return lesson_module(learner, LESSON, timeout=20)


def test_a_call_runs_in_another_process_and_the_checker_never_imports_the_exercise(lesson):
    assert lesson.add(2, 3) == 5
    assert int(Path("import-pid").read_text()) != os.getpid()
    assert not any(name.startswith("exercise_") for name in sys.modules)


def test_results_and_states_come_back_as_data(lesson):
    net = nn.Linear(3, 2)
    before = [p.detach().clone() for p in net.parameters()]
    value = lesson.train(net, 2)
    assert value == {"done": 2, "shape": (2, 3)}
    assert all(torch.allclose(after, old + 2) for after, old in zip(net.parameters(), before))
    assert net.training is False  # the call's net.eval() crossed back


def test_numpy_scalars_and_subclasses_of_plain_types_cross_as_what_they_hold(lesson):
    """np.float64 is a float, np.str_ a str and tv_tensors.Image a tensor, but the checker reads
    answers with weights_only, which refuses their classes: a learner's np.mean(...) once came back
    as a forged answer."""
    value = lesson.numpy_flavoured()
    assert value["mean"] == 0.25 and isinstance(value["mean"], float)
    assert value["count"] == 7 and value["name"] == "Sneaker" and type(value["name"]) is str
    assert value["kind"] == 3 and type(value["kind"]) is int and value[4] == "key"
    assert value["scalar"].shape == () and value["scalar"] == 1.5  # a 0-d array stays 0-d
    assert value["huge"] == 2.5
    assert isinstance(value["texts"], Described) and isinstance(value["dropout"], Described)
    assert value["dropout"].modules[0]["attributes"]["p"] == 0.5
    assert value["optimizer"].groups[0]["hyperparameters"]["lr"] == 0.1
    assert type(value["picture"]) is torch.Tensor and value["picture"].shape == (1, 2, 2)  # torchvision's subclass


def test_an_answer_the_checker_could_not_read_is_a_crash_that_says_so():
    """A value describe.py let through by mistake reads as a forged answer in the checker: the
    worker reads its own answer first, and sends what it is instead."""
    import numpy as np

    from watchtrain.grading.crossing import load_answer
    from watchtrain.worker.call import _encode

    answer = load_answer(_encode({"status": "returned", "value": [np.longdouble(1.5)]}))
    assert answer["status"] == "crash"
    assert answer["headline"].startswith("the value returned could not be sent to the grader (it holds a numpy.")
    assert answer["headline"].endswith("return plain Python values, tensors or NumPy arrays")


def test_values_nested_without_end_cross_as_deep_as_a_description_goes(lesson):
    """A list 100,000 deep, and one that holds itself: described to the same depth as anything else,
    not a RecursionError blamed on the grader's worker."""
    deep, loop = lesson.nested()
    assert isinstance(deep, list) and isinstance(loop, list)


def test_a_value_whose_own_code_raises_as_it_is_read_is_the_learners_crash(lesson):
    with pytest.raises(LearnerCrash) as crash:
        lesson.hostile_value()
    assert "hostile_value() returned, but reading what it gave back ran code of its own, which raised RuntimeError: " \
           "no class for you" in str(crash.value) and "in __class__" in str(crash.value), str(crash.value)


def test_an_answer_over_the_limit_says_how_large_and_costs_that_call_only(lesson):
    with pytest.raises(LearnerCrash) as crash:
        lesson.hoard_the_answer()
    assert "hoard_the_answer() sent back 305 MB" in str(crash.value) and "killed" not in str(crash.value), \
        str(crash.value)
    assert lesson.add(1, 2) == 3


def test_objects_that_cannot_cross_are_described(lesson):
    figure = lesson.figure()
    assert isinstance(figure, Described) and figure.kind == "figure" and figure.is_a("Figure")
    assert figure.axes[0]["title"] == "hello" and figure.size_inches == [4.0, 2.0]
    # drawn as add_figure draws it (at matplotlib's default 100 dpi), with its subplot's box in those pixels
    assert tuple(figure.pixels.shape) == (200, 400, 3) and figure.pixels.dtype == torch.uint8
    left, bottom, right, top = figure.boxes[0]
    assert 0 < left < right < 400 and 0 < bottom < top < 200


def test_what_a_call_prints_comes_back_as_its_head_and_byte_counts(lesson):
    # Read from a pipe as it is written (the head kept, the rest counted); a process that still
    # holds the pipe when the call returns does not hold up the answer.
    assert lesson.chatter(64) == 1
    printed = printed_by_last_call()
    assert printed.stdout_bytes == 64 * 1024 * 1024 and printed.stdout.startswith("é" * 511 + "x\n")
    assert 0 < len(printed.stdout) <= 4000 and printed.stderr == "to stderr\n" and printed.stderr_bytes == 10


def test_reading_what_a_call_printed_stops_when_the_call_ends_though_a_process_it_started_holds_the_pipe():
    # W&B's service, started by a call, keeps the call's stdout and stderr open for as long as it
    # runs: the reader must not wait for their end (it waited 0.2 s a pipe, on every such call).
    from watchtrain.worker.call import _PipeReader

    reader = _PipeReader()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], stdout=reader.write_end)
    try:
        os.write(reader.write_end, b"printed by the call")
        kept, size = reader.finish()
        assert (kept, size) == (b"printed by the call", 19)
        assert not reader._thread.is_alive(), "the reader still waits for a pipe that the call's leftover holds"
    finally:
        holder.kill()
        holder.wait()


def test_a_stub_is_not_started_and_a_crash_names_its_type(lesson):
    with pytest.raises(NotStarted):
        lesson.stub()
    with pytest.raises(LearnerCrash) as crash:
        lesson.crash()
    assert crash.value.raised("ConnectionError") and "no server on port 9" in str(crash.value)
    with pytest.raises(LearnerCrash) as crash:  # a BaseException the code raised, not the end of its process
        lesson.interrupt()
    assert crash.value.raised("KeyboardInterrupt") and "ended its process" not in str(crash.value)
    with pytest.raises(LearnerCrash) as crash:  # the learner's exception, though its __str__ fails
        lesson.unprintable()
    assert crash.value.raised("Unprintable") and "its __str__ failed" in str(crash.value)


def test_a_function_that_calls_itself_without_end_shows_its_line_three_times_then_a_count(lesson):
    with pytest.raises(LearnerCrash) as crash:
        lesson.recurse()
    shown = str(crash.value)
    assert crash.value.raised("RecursionError") and shown.count("return recurse(depth + 1)") == 3
    assert re.search(r"\[the line above repeated \d+ more times\]", shown), shown[-500:]


def test_a_call_that_ends_its_process_or_never_returns_costs_that_call_only(lesson):
    with pytest.raises(LearnerCrash, match=r"exited \(exit code 3\)"):
        lesson.leave(3)
    with pytest.raises(LearnerCrash, match="timed out"):
        lesson_module(lesson._worker, LESSON, timeout=2).forever()
    assert lesson.add(1, 1) == 2  # a fresh host answers the next call


@pytest.mark.parametrize("how", ["python", "torch"])
def test_a_call_that_cannot_get_its_memory_is_told_it_ran_out_and_what_the_limit_is(lesson, how):
    with pytest.raises(LearnerCrash) as crash:
        lesson.allocate(how)
    message = str(crash.value)
    assert "Your code ran out of memory" in message and "at most 6 GiB" in message, message
    assert "allocate" in message.splitlines()[0], message  # the learner's own exception comes first


@pytest.mark.skipif(os.geteuid() != 0, reason="the worker's memory budget (a cgroup) is made as root")
def test_a_call_the_kernel_kills_for_memory_is_told_so_and_one_killed_otherwise_is_not(lesson):
    from watchtrain.classroom.isolation.budget import out_of_memory_kills

    if out_of_memory_kills(lesson._worker.budget) is None:
        pytest.skip("no memory controller to make the worker's budget with")
    with pytest.raises(LearnerCrash) as crash:
        lesson.hoard_beside_a_child()
    assert "the kernel killed it for running out of memory" in str(crash.value), str(crash.value)
    assert "6 GiB together" in str(crash.value)
    with pytest.raises(LearnerCrash) as crash:  # a SIGKILL sent by the code itself is no memory problem
        lesson.leave_by_signal(9)
    assert "stayed within its memory budget" in str(crash.value) and "killed it for running" not in str(crash.value)


def test_links_and_fifos_the_call_leaves_are_removed_before_the_checker_reads(lesson, worker):
    from _pytest.pathlib import make_numbered_dir

    workspace = worker[1]
    made_by_pytest = make_numbered_dir(workspace, "test_made_")  # and its link, test_made_current
    # Links named like pytest's, at the top of the work folder, as a worker of the checker's own uid
    # could make them (as root it is another uid, which may not write there).
    for target, name in [("/etc", "etccurrent"), (f"{workspace}/..", "upcurrent"), ("probe/..", "nestedcurrent"),
                         ("probe/link", "chaincurrent"), (f"{workspace}/gone", "danglingcurrent")]:
        os.symlink(target, workspace / name)
    assert lesson.plant() == 0
    assert not os.path.lexists("pipe") and not os.path.lexists("link")
    left = {name for name in os.listdir(workspace) if name.endswith("current")}
    assert left == {"test_made_current"}, "only pytest's own link to a folder beside it stays"
    assert (workspace / "test_made_current").resolve() == made_by_pytest.resolve()


def test_a_missing_function_is_a_submission_error(lesson):
    with pytest.raises(SubmissionError, match="has no function renamed"):
        lesson.renamed()


@pytest.mark.skipif(os.geteuid() != 0, reason="the separate uid and the namespaces are checked as root")
def test_as_root_the_worker_is_another_uid_in_its_own_pid_namespace(lesson, worker):
    uid, pid, _, _ = lesson.whoami()
    assert uid != 0 and pid != os.getpid() and pid < 100  # numbered from 1: a process or two per call so far
    assert worker[0].layers["pid_namespace"] and worker[0].layers["mount_namespace"]


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/watchtrain-exploit-ran",))


def test_an_answer_is_never_unpickled():
    payload = pickle.dumps({"status": "returned", "value": Exploit()})
    with pytest.raises(MalformedAnswer):
        load_answer(payload)
    buffer = io.BytesIO()
    torch.save({"status": "returned", "value": Exploit()}, buffer)
    with pytest.raises(MalformedAnswer):
        load_answer(buffer.getvalue())
    assert not Path("/tmp/watchtrain-exploit-ran").exists()


def test_malformed_descriptions_and_states_are_refused():
    with pytest.raises(MalformedAnswer):
        rebuild({"kind": "tensor", "tensor": "not a tensor"})
    with pytest.raises(MalformedAnswer):
        rebuild({"no kind": 1})
    with pytest.raises(MalformedAnswer):
        restore_arguments([nn.Linear(2, 2)], [{"kind": "module", "state": {"weight": torch.zeros(5)},
                                               "parameters": [], "modules": []}])
    with pytest.raises(MalformedAnswer):
        restore_arguments([1, 2], [None])


def test_descriptions_that_could_break_a_check_are_refused():
    with pytest.raises(MalformedAnswer):  # a field that would shadow the checker's own method
        rebuild({"kind": "object", "types": [], "repr": "x", "is_a": "gotcha"})
    with pytest.raises(MalformedAnswer):  # a figure whose axes are not what the checks read
        rebuild({"kind": "figure", "types": [], "size_inches": [1.0, 1.0], "axes": ["not a dict"], "boxes": []})
    with pytest.raises(MalformedAnswer):  # a figure's pixels that are no picture, or boxes for other subplots
        rebuild({"kind": "figure", "types": [], "size_inches": [1.0, 1.0], "axes": [],
                 "pixels": torch.zeros(2, 2, 3), "boxes": []})
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(MalformedAnswer):
        rebuild(nested)


def test_a_trickling_answer_cannot_hold_the_checker_past_its_deadline():
    import socket
    import threading
    import time

    from watchtrain.worker.host import receive_frame

    ours, theirs = socket.socketpair()

    def trickle():
        theirs.sendall((1000).to_bytes(8, "big"))
        for _ in range(50):
            try:
                theirs.send(b"x")
            except OSError:
                return
            time.sleep(0.1)

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        receive_frame(ours, deadline=time.monotonic() + 1.0)
    assert time.monotonic() - started < 2.0
    ours.close()
    theirs.close()


def test_without_namespaces_grading_still_works_and_says_what_is_off(tmp_path, monkeypatch):
    submission = tmp_path / "submission"
    (submission / LESSON).mkdir(parents=True)
    (submission / LESSON / "exercise.py").write_text(textwrap.dedent(EXERCISE))
    monkeypatch.setenv("WATCHTRAIN_NO_NAMESPACES", "1")  # as in a container that forbids them
    worker = LearnerWorker.start(submission, Path("/nonexistent-data"), lambda: tmp_path / "workspace")
    try:
        (tmp_path / "workspace" / "cwd").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / "workspace" / "cwd")  # inside the work folder the worker may write in
        lesson = lesson_module(worker, LESSON, timeout=20)
        assert lesson.add(2, 2) == 4
        assert not worker.layers["pid_namespace"] and not worker.layers["mount_namespace"]
        assert any("no namespaces" in problem for problem in worker.layers["problems"])
    finally:
        worker.close()


def calling_a_worker(label: str, function: str, libraries: tuple[str, ...] = ()) -> str:
    """Code for run_in_a_child that starts a worker (forked, preloading `libraries`) and prints
    `label` and what the exercise's `function`() returns."""
    return textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from watchtrain.grading.submission import lesson_module
        from watchtrain.grading.worker_client import LearnerWorker

        worker = LearnerWorker.start(Path(sys.argv[1]), Path("/nonexistent-data"), lambda: Path(sys.argv[2]),
                                     {libraries!r})
        try:
            print("{label}:", lesson_module(worker, "{LESSON}", timeout=120).{function}())
        finally:
            worker.close()
    """)


def run_in_a_child(code: str, tmp_path: Path, *more: str) -> subprocess.CompletedProcess:
    """`code` run by a new interpreter, as a process that starts a worker itself would: its
    arguments are a submission holding EXERCISE, a work folder and `more`, and it runs in that folder."""
    submission, workspace = tmp_path / "submission", tmp_path / "workspace"
    (submission / LESSON).mkdir(parents=True)
    (submission / LESSON / "exercise.py").write_text(textwrap.dedent(EXERCISE))
    (workspace / "cwd").mkdir(parents=True)
    return subprocess.run([sys.executable, "-c", code, str(submission), str(workspace), *more], cwd=workspace / "cwd",
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_worker_for_someone_elses_work_cannot_read_the_graders_environment(tmp_path, monkeypatch, fresh):
    # `pytest autograder --submission DIR` run by an instructor: the process that starts the worker
    # was started with the instructor's environment. A forked spawner keeps a copy of it in its
    # memory, and /proc/self/environ shows it (the "forked" case, which the plugin uses only for the
    # learner's own lessons/ and inside a grading sandbox); a fresh one does not.
    secret = "watchtrain-fake-secret-7e01"
    monkeypatch.setenv("WANDB_API_KEY", secret)
    # As if this process had been started with it: run as a child started with the secret.
    code = textwrap.dedent(f"""
        import sys, textwrap
        from pathlib import Path
        from watchtrain.grading.submission import lesson_module
        from watchtrain.grading.worker_client import LearnerWorker
        worker = LearnerWorker.start(Path(sys.argv[1]), Path("/nonexistent-data"), lambda: Path(sys.argv[2]), fresh={fresh})
        try:
            print("ENVIRON:" + lesson_module(worker, "{LESSON}", timeout=60).own_memory().replace("\\0", " "))
        finally:
            worker.close()
    """)
    completed = run_in_a_child(code, tmp_path)
    assert "ENVIRON:" in completed.stdout, completed.stderr[-3000:]
    assert (secret in completed.stdout) is (not fresh)


def test_a_process_whose_autograd_started_threads_still_gets_a_worker_that_can_train(tmp_path):
    # PyTorch refuses backward in every process forked below one whose autograd engine has started
    # threads: a backward pass with a GPU visible, or (as here, on any machine) a deeply nested one.
    # pytest.main() in a notebook after training is such a process. The forked spawner finds it
    # out and starts over as a new interpreter.
    code = textwrap.dedent("""
        import torch
        from watchtrain.worker.host import backward_works_in_forks

        class Nested(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, depth):
                ctx.depth = depth
                return x * 1
            @staticmethod
            def backward(ctx, grad):
                if ctx.depth:
                    with torch.enable_grad():
                        Nested.apply(torch.ones(1, requires_grad=True), ctx.depth - 1).sum().backward()
                return grad, None

        assert backward_works_in_forks()
        Nested.apply(torch.ones(1, requires_grad=True), 100).sum().backward()  # deeper than autograd's 60
        print("FORKS CAN TRAIN:", backward_works_in_forks())
    """) + calling_a_worker("GRADIENT", "gradient")
    completed = run_in_a_child(code, tmp_path)
    assert "FORKS CAN TRAIN: False" in completed.stdout, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert "GRADIENT: [2.0, 2.0, 2.0]" in completed.stdout, completed.stdout[-2000:] + completed.stderr[-3000:]


def test_no_process_a_call_is_forked_from_has_asked_cuda_anything(tmp_path):
    # A process forked from one that asked CUDA for its device count or started it cannot use CUDA
    # ("Cannot re-initialize CUDA in forked subprocess"), nor, on a GPU machine, take an optimizer
    # step even on the CPU. The checker warms up and forks the spawner, which warms up the libraries
    # (the ONNX exporter too) and forks the host, which forks each call: none of them may ask. Torch
    # marks the forks of a process that asked even where no GPU is, so this shows on any machine.
    code = textwrap.dedent("""
        from watchtrain.classroom.isolation.warm_up import warm_up

        warm_up()  # as the plugin does before it forks the spawner
    """) + calling_a_worker("FORKED AFTER CUDA", "forked_after_cuda", ("torch.onnx", "onnxscript", "onnx"))
    completed = run_in_a_child(code, tmp_path)
    assert "FORKED AFTER CUDA: False" in completed.stdout, completed.stdout[-2000:] + completed.stderr[-3000:]


def test_a_spawner_that_imported_wandb_leaves_no_folder_behind(tmp_path, monkeypatch):
    # Imported, wandb makes two folders in the temporary folder, which its finalizers remove when the
    # interpreter exits. The spawner ends with os._exit, which runs none: it removes the ones it made.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from watchtrain.grading.submission import lesson_module
        from watchtrain.grading.worker_client import LearnerWorker

        worker = LearnerWorker.start(Path(sys.argv[1]), Path("/nonexistent-data"), lambda: Path(sys.argv[2]), ("wandb",))
        try:
            print("ADDED:", lesson_module(worker, "{LESSON}", timeout=60).add(2, 3))
            print("WHILE RUNNING:", sorted(path.name.split("wandb-")[-1] for path in Path(sys.argv[3]).glob("*wandb-*")))
        finally:
            worker.close()
    """)
    completed = run_in_a_child(code, tmp_path, str(scratch))
    assert "ADDED: 5" in completed.stdout, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert "WHILE RUNNING: ['artifacts', 'media']" in completed.stdout, completed.stdout[-2000:]
    assert list(scratch.glob("*wandb-*")) == []  # (torch's compiler cache, torchinductor_<user>, is meant to stay)


def test_the_plugin_starts_a_fresh_worker_only_for_someone_elses_work(tmp_path, monkeypatch):
    from watchtrain.course import find_course_root, load_course
    from watchtrain.grading.plugin import _grades_someone_elses_work

    course = load_course(find_course_root(Path(__file__).resolve().parent))
    monkeypatch.delenv("WATCHTRAIN_SANDBOX", raising=False)
    assert _grades_someone_elses_work(tmp_path, course)
    assert not _grades_someone_elses_work(course.root / "lessons", course)
    assert not _grades_someone_elses_work(course.root / "solutions", course)
    assert not _grades_someone_elses_work(tmp_path, course, own_work=True)  # --own-work: a notebook's cells
    monkeypatch.setenv("WATCHTRAIN_SANDBOX", "0123")  # a batch's run: started with a scrubbed environment
    assert not _grades_someone_elses_work(tmp_path, course)


def test_an_instructors_pytest_autograder_keeps_their_environment_from_the_submission(tmp_path, monkeypatch):
    """The plugin end to end, in a process started with a secret in its environment: `--submission
    DIR` starts a fresh worker, which cannot read the secret back; `--own-work` (a notebook's cells,
    the runner's own) forks the worker, which can, and the check fails."""
    from watchtrain.grading.runner import run_autograder

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "course.toml").write_text('[course]\ntitle = "Boundary"\n[[lessons]]\ndir = "01_boundary"\n'
                                          'title = "Boundary"\n[[lessons.exercises]]\nfunction = "own_memory"\n'
                                          'points = 1\nhint = "none"\n')
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "conftest.py").write_text((root / "autograder" / "conftest.py").read_text())
    (tmp_path / "autograder" / "test_01_boundary.py").write_text(textwrap.dedent("""
        import os
        from watchtrain.grading import exercise, expect

        @exercise("own_memory")
        def test_the_graders_environment_stays_out(lesson):
            expect(os.environ["WATCHTRAIN_FAKE_SECRET"] not in lesson.own_memory(), "the grader's secret is out of reach")
    """))
    submission = tmp_path / "someone" / "01_boundary"
    submission.mkdir(parents=True)
    (submission / "exercise.py").write_text(textwrap.dedent(EXERCISE))
    (tmp_path / "lessons" / "01_boundary").mkdir(parents=True)
    monkeypatch.setenv("WATCHTRAIN_FAKE_SECRET", "watchtrain-fake-secret-51c9")  # in the checker's first environment
    statuses = {}
    for own_work in (False, True):
        run = run_autograder(tmp_path, submission=submission.parent, own_work=own_work, timeout=300)
        statuses[own_work] = [test["status"] for test in run.report.get("lessons", [{}])[0].get("tests", [])] or run.output[-3000:]
    assert statuses == {False: ["passed"], True: ["failed"]}, statuses
