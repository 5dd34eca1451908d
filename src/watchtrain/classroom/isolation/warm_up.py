"""First uses that cost seconds, done once in a process that others fork from: an optimizer step;
a TensorBoard scalar, image and matplotlib figure; an offline W&B run; an ONNX export. Two
libraries also get a faster twin of a pure function they redo at every use: TensorBoard's
CRC-32C, and the ONNX exporter's list of torchlib functions.

    warm_up(["torch.utils.tensorboard", "wandb"])  # in the zygote (by path: it never imports watchtrain),
                                                   # the worker's spawner or host: what it preloaded
    warm_up()   # in the checker, whose reference runs train too: the optimizer step only

A step runs only for the libraries named (see watchtrain.library_imports: what the graded lessons
use), so a lesson without W&B never pays for warming W&B up. Being imported is no sign of use: the
first optimizer step imports torch._dynamo, which imports torch.onnx. Each later fork finds the
libraries' lazy imports and registries in place, so a learner's call pays only for its own work (a
W&B call: 2 s -> 0.5 s; an ONNX export: 4 s -> 1 s). Library code only, and every step is optional:
a library that is missing or fails is the learner's to meet. Writes only in a temporary folder,
which it removes.
"""
import contextlib
import os
import sys
import tempfile

# Kept on `sys`, which every import of this file shares (the zygote imports it by path, a host as
# part of watchtrain), and inherited by forks: a step the zygote did is not done again by a host.
_done = sys.__dict__.setdefault("_watchtrain_warmed_up", set())


def ask_cuda_through_nvml() -> None:
    """Have torch.cuda.is_available() ask NVML, not the CUDA driver, in this process and the ones it
    starts: a process that has started the driver cannot fork one that uses CUDA. Called before the
    first import that may ask, in every process others fork from; a value already set is kept."""
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")


def warm_up(libraries=()) -> None:
    """The first optimizer step, and the first use of each of `libraries` that writes something.

    Others fork from the process that warms up, so torch is asked whether CUDA is there through
    NVML: asked the default way, `torch.cuda.is_available()` initialises the CUDA driver (an
    optimizer step and an ONNX export both ask), and a process forked after that cannot use CUDA.
    The forks inherit the setting; a value already set is kept."""
    ask_cuda_through_nvml()
    steps = [("training", (), _training),  # each step, and the libraries that must all be named for it to run
             ("tensorboard_crc", ("torch.utils.tensorboard",), lambda folder: tensorboard_crc_in_c()),
             ("tensorboard", ("torch.utils.tensorboard",), _tensorboard),
             ("figure", ("torch.utils.tensorboard", "matplotlib.pyplot"), _figure),
             ("wandb", ("wandb",), _wandb),
             ("onnx", ("torch.onnx",), _onnx_exporter)]
    for name, needs, step in steps:
        if name in _done or not set(needs) <= set(libraries):
            continue
        try:
            with _quiet(), tempfile.TemporaryDirectory() as folder:
                step(folder)
            _done.add(name)
        except Exception:  # noqa: BLE001  a warm-up never fails a run
            pass


@contextlib.contextmanager
def _quiet():
    """Nothing a library or the process it starts prints may reach our stdout: in the zygote,
    that is the channel to the grader."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        with standard_streams_to(null, null):
            yield
    finally:
        os.close(null)


@contextlib.contextmanager
def standard_streams_to(out_fd: int, err_fd: int):
    """File descriptors 1 and 2 (this process's, and those of the processes it starts meanwhile)
    write to `out_fd` and `err_fd` for the duration, and are restored afterwards."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _training(folder: str) -> None:
    """A step of each usual optimizer: the first one imports torch._dynamo and sympy (~800 modules).

    The gradients are set by hand, never by a backward pass: where a GPU is visible, the first
    backward pass starts autograd's device threads, and then PyTorch refuses backward in every
    process forked from this one ("Unable to handle autograd's threading in combination with
    fork-based multiprocessing"). A first backward pass costs about a millisecond anyway.

    Likewise, where a GPU is visible, every optimizer step asks CUDA whether a CUDA graph is being
    captured, and that question starts the CUDA driver: every process forked after it fails its
    first use of CUDA, and its first optimizer step even on the CPU ("Cannot re-initialize CUDA in
    forked subprocess"). This step is on the CPU, where nothing is ever captured: it is not asked."""
    import torch

    model = torch.nn.Linear(2, 1)
    with _graph_capture_not_asked(torch):
        for optimizer in (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                          torch.optim.Adam(model.parameters())):
            for parameter in model.parameters():
                parameter.grad = torch.ones_like(parameter)
            optimizer.step()


def _graph_capture_not_asked(torch):
    """The two ways torch's optimizers ask whether a graph is being captured, answered "no" without
    CUDA: torch.cuda.is_current_stream_capturing() (torch 2.11 and before), and the current
    accelerator's stream (later versions; no accelerator means no question)."""
    answers = [(torch.cuda, "is_current_stream_capturing", lambda: False)]
    if hasattr(torch, "accelerator"):
        answers.append((torch.accelerator, "current_accelerator", lambda *args, **kwargs: None))
    return _answered(answers)


@contextlib.contextmanager
def _answered(answers):
    """Each (module, name, stand_in): the module's function replaced by the stand-in meanwhile."""
    saved = [(module, name, getattr(module, name)) for module, name, _ in answers]
    for module, name, stand_in in answers:
        setattr(module, name, stand_in)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def tensorboard_crc_in_c() -> None:
    """TensorBoard without TensorFlow checksums every record it writes or reads in pure Python,
    about a second per megabyte of images and histograms. Its writer and its loader look the
    CRC-32C up by name at each record, so the same function from google-crc32c's C code (a course
    dependency) takes its place, where it is installed with its C code."""
    try:
        import google_crc32c
        from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
    except ImportError:
        return
    if google_crc32c.implementation == "c":
        pywrap_tensorflow.crc32c = google_crc32c.value


def _tensorboard(folder: str) -> None:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(folder) as writer:
        writer.add_scalar("warm", 1.0, 0)
        writer.add_image("warm", torch.zeros(3, 4, 4), 0)


def _figure(folder: str) -> None:
    import matplotlib.pyplot as plt
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(folder) as writer:
        figure = plt.figure(figsize=(1, 1))
        figure.add_subplot(1, 1, 1).set_title("warm")
        writer.add_figure("warm", figure, 0)


def _wandb(folder: str) -> None:
    import wandb

    wandb.init(mode="offline", dir=folder, project="warm-up", settings=wandb.Settings(silent=True, console="off")).finish()
    wandb.teardown()


def _onnx_exporter(folder: str) -> None:
    import torch

    _keep_torchlib_functions()
    if _gpu_visible():  # the export itself would start CUDA, which no process forked from here could use then
        return
    with _no_gpu_told(torch):
        torch.onnx.export(torch.nn.Linear(2, 1).eval(), (torch.zeros(1, 2),), os.path.join(folder, "warm.onnx"),
                          external_data=False, verbose=False)
    _stop_progress_bar_monitor()


def _no_gpu_told(torch):
    """Where no GPU is visible, torch's questions about CUDA answered "none" without asking the
    driver: asking it marks every process forked from this one as unable to use CUDA."""
    return _answered([(torch.cuda, "is_available", lambda: False), (torch.cuda, "device_count", lambda: 0)])


def _gpu_visible() -> bool:
    """Whether a GPU is there, told by its device files: torch.cuda.is_available() asks the driver
    where NVML is missing, and a process forked after that cannot use CUDA."""
    return os.path.exists("/dev/nvidiactl") and os.environ.get("CUDA_VISIBLE_DEVICES") not in ("", "-1")


def _stop_progress_bar_monitor() -> None:
    """The export's progress bars start tqdm's monitor thread, which wakes every 10 s and takes
    tqdm's lock for a moment: a process forked at that moment would find the lock taken for good,
    and its first progress bar would hang. Others fork from here, so the thread is stopped; a
    process's next progress bar starts its own."""
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)
    monitor = getattr(tqdm, "monitor", None)
    if monitor is not None:
        monitor.exit()
        tqdm.monitor = None


def _keep_torchlib_functions() -> None:
    """At every export, torch.onnx rebuilds its registry from onnxscript's list of torchlib
    functions, which parses the source of about 500 functions again (0.8 s of a 1.5 s export),
    and infers each one's signature again (0.4 s). Both are the same every time in a process, so
    the first ones are kept (tests/test_library_imports.py: an export gives the same bytes)."""
    import functools

    from torch.onnx._internal.exporter import _registration, _schemas

    for module, name in ((getattr(_registration, "onnxscript_apis", None), "get_torchlib_ops"),
                         (_schemas, "op_signature_from_function")):
        function = getattr(module, name, None)
        if function is not None and not hasattr(function, "cache_info"):
            setattr(module, name, functools.cache(function))
