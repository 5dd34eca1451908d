"""Worker side: the learner worker's long-lived process, and the spawner that starts it.

    checker ──(socket)── spawner   forked from the checker before any test is collected: it holds
                                   no test, no hidden test and no result; it imports the heavy
                                   libraries once and starts a jailed host on request
    checker ──(socket)── host      PID 1 of the jail (see classroom/isolation/jail.py); per call it
                                   forks a child that imports exercise.py, runs the function and
                                   answers (call.py); then it kills whatever that call left running

Frames on a socket: 8 bytes of length (big-endian), then the bytes. The checker bounds every wait
with a timeout and kills the host when it does not answer: a worker can cost its own calls, never
the checker or another submission.
"""
from __future__ import annotations

import gc
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from watchtrain.classroom.isolation.warm_up import ask_cuda_through_nvml
from watchtrain.library_imports import HEAVY

MAX_FRAME = 1 << 30
# What every worker needs, imported once by the spawner (free when the checker has them already).
# The heavy libraries the graded lessons use come on top (watchtrain.library_imports).
# torch.utils.serialization.config: what torch.load reads its settings from, imported at the first
# load (a call's arguments), so in every call's process otherwise: about 3 ms a call.
PRELOAD = ("numpy", "torch", "torch.utils.serialization.config", "torch.utils.tensorboard", "watchtrain.worker.call",
           "watchtrain.worker.describe", "watchtrain.worker.harnesses", "watchtrain.grading.recording",
           "watchtrain.models", "watchtrain.data", "watchtrain.artifacts.tensorboard")


class ChannelClosed(Exception):
    pass


class FrameTooLarge(ChannelClosed):
    """The other side announced a frame over the limit; nothing of it was read."""

    def __init__(self, length: int, limit: int):
        super().__init__(f"a frame of {length} bytes is over the limit of {limit}")
        self.length, self.limit = length, limit


def send_frame(sock: socket.socket, data: bytes) -> None:
    sock.sendall(struct.pack(">Q", len(data)) + data)


def receive_frame(sock: socket.socket, limit: int = MAX_FRAME, deadline: float | None = None) -> bytes:
    """One frame; with a `deadline` (time.monotonic()), socket.timeout once it passes, however
    slowly the other side trickles its bytes."""
    (length,) = struct.unpack(">Q", _receive_exactly(sock, 8, deadline))
    if length > limit:
        raise FrameTooLarge(length, limit)
    return _receive_exactly(sock, length, deadline)


def _receive_exactly(sock: socket.socket, count: int, deadline: float | None) -> bytes:
    chunks, left = [], count
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("the frame did not arrive in time")
            sock.settimeout(remaining)
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ChannelClosed("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- the spawner (outside the jail)

def run_spawner(control: socket.socket, libraries: tuple[str, ...] = ()) -> None:
    """In the process forked from the checker: preload (with the heavy `libraries` the graded
    lessons use), then start one jailed host per request ({"submission", "workspace",
    "environment", "limits"} as JSON), sending back its pid, its socket and the layers that are
    active."""
    from watchtrain.classroom.isolation.jail import die_with_parent

    die_with_parent()
    ask_cuda_through_nvml()  # before any import asks whether CUDA is there
    _close_other_files(keep={control.fileno()})
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the checker's to handle; it stops us
    preload = PRELOAD + tuple(name for name in libraries if name in HEAVY)
    gc.disable()  # no full collections while the heap grows by imports (see the plugin's pytest_configure)
    inherited = _import_time_folders()  # the process we were forked from made these, and removes them
    _import_quietly(preload)
    from watchtrain.classroom.isolation.warm_up import warm_up

    warm_up(preload)  # here, once: a host restarted after a time-out must start in well under a second
    made_here = _import_time_folders() - inherited
    gc.freeze()  # as in the zygote: the forks' garbage collections leave the preloaded objects alone
    gc.enable()
    while True:
        try:
            request = json.loads(receive_frame(control))
        except (ChannelClosed, OSError):
            for folder in made_here:  # os._exit runs no finalizer: without this, wandb's stay in /tmp
                shutil.rmtree(folder, ignore_errors=True)
            os._exit(0)
        checker_end, host_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            control.close()
            checker_end.close()
            _become_host(host_end, request)  # never returns
        host_end.close()
        socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [checker_end.fileno()])
        checker_end.close()
        _reap()


def cuda_started() -> bool:
    """Whether this process has started the CUDA driver: a process forked from it cannot use CUDA."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_initialized()


def backward_works_in_forks() -> bool:
    """Whether a process forked from this one can run autograd's backward pass. PyTorch refuses
    it ("Unable to handle autograd's threading in combination with fork-based multiprocessing")
    below a process whose autograd engine has started threads: a backward pass with a GPU
    visible, or a deeply nested one, before pytest.main() in the same process. Asked of a child,
    which inherits this process's state and changes nothing here."""
    try:
        import torch
    except ImportError:  # nothing to ask; the learner's import will say what is missing
        return True
    pid = os.fork()
    if pid == 0:
        try:
            torch.ones(1, requires_grad=True).sum().backward()
        except BaseException:  # noqa: BLE001  that refusal, or anything else: not a process to fork from
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def spawner_main(argv: list[str]) -> None:
    """The spawner as a fresh interpreter (`LearnerWorker.start(fresh=True)`); `argv`: the
    checker's pid, the descriptor of the control socket, then the libraries to preload."""
    from watchtrain.classroom.isolation.jail import die_with_parent

    die_with_parent()
    if os.getppid() != int(argv[0]):  # the checker ended before we could ask to die with it
        os._exit(0)
    run_spawner(socket.socket(fileno=int(argv[1])), tuple(argv[2:]))
    os._exit(0)


def _import_quietly(names) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # an optional library: the learner's import will say what is missing
            pass


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_host(channel: socket.socket, request: dict) -> None:
    code = 0
    try:
        os.setsid()
        _close_other_files(keep={channel.fileno()})
        from watchtrain.classroom.isolation.jail import (JailPlan, JailUnavailable, Layers, drop_privileges, enter_jail,
                                                         reachable_as)
        from watchtrain.classroom.isolation.budget import join_budget
        from watchtrain.classroom.isolation.launch import apply_limits

        budgeted = join_budget(request["budget"], request.get("cpu_cores")) if request.get("budget") else False  # before the jail's forks
        plan = JailPlan(read_only=tuple(Path(p) for p in request["read_only"]),
                        read_write=tuple(Path(p) for p in request["read_write"]),
                        gpu_devices=tuple(request.get("gpu_devices", ())), uid=request.get("uid"))
        try:
            layers = enter_jail(plan)
        except JailUnavailable as error:
            layers = Layers(problems=[f"no namespaces: {error}"])
            if reachable_as(request.get("uid"), [sys.base_prefix, sys.prefix, *request["read_only"]]):
                drop_privileges(request.get("uid"), layers)
            elif os.geteuid() == 0:
                layers.problems.append("the worker runs as root: Python or the course is in a folder another "
                                       "uid cannot read (under /root, say)")
        layers.memory_budget = budgeted
        os.environ.clear()
        os.environ.update(request["environment"])
        if not layers.mount_namespace:  # no private HOME and /tmp: the run's own folders (the checker made them)
            os.environ.update(request["fallback_folders"])
        apply_limits(request["data_bytes"], request["file_bytes"])
        import tempfile

        tempfile.tempdir = None
        _remake_import_time_folders()
        preload = [name for name in request.get("preload", ()) if name in HEAVY]  # what the submission imports
        _import_quietly(preload)
        from watchtrain.classroom.isolation.warm_up import warm_up

        warm_up(preload)  # done already by the spawner or the zygote, unless the submission imports more
        send_frame(channel, json.dumps({"layers": vars(layers), "pid_one": os.getpid() == 1}).encode())
        serve(channel)
    except BaseException as error:  # noqa: BLE001  the checker reports it as the worker not starting
        code = 1
        try:
            send_frame(channel, json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
        except OSError:
            pass
    os._exit(code)


# Temporary folders that libraries make once, when imported (module, attribute holding a TemporaryDirectory).
# Imported by the spawner or the zygote outside the jail, they are missing from the jail's own /tmp.
IMPORT_TIME_FOLDERS = (("wandb.sdk.data_types._private", "MEDIA_TMP"),  # wandb.watch(log_graph=True), wandb.Image
                       ("wandb.sdk.artifacts.artifact", "Artifact._TMP_DIR"))  # wandb.Artifact


def _import_time_folder(module_name: str, attribute: str):
    """The TemporaryDirectory a library made when imported, if it is imported."""
    found = sys.modules.get(module_name)
    for name in attribute.split("."):
        found = getattr(found, name, None)
    return found if isinstance(getattr(found, "name", None), str) else None


def _import_time_folders() -> set[str]:
    """The paths of the import-time folders of the libraries imported so far."""
    folders = (_import_time_folder(module_name, attribute) for module_name, attribute in IMPORT_TIME_FOLDERS)
    return {folder.name for folder in folders if folder is not None}


def _remake_import_time_folders() -> None:
    """Give the folders that preloaded libraries made in the temporary folder when imported a new
    one here, in the jail's own (the object is shared by every module that imported it), so that a
    learner's wandb.watch(..., log_graph=True) runs in the jail as it does on their own machine."""
    import tempfile

    for module_name, attribute in IMPORT_TIME_FOLDERS:
        folder = _import_time_folder(module_name, attribute)
        if folder is not None and not os.path.isdir(folder.name):
            try:
                folder.name = tempfile.mkdtemp(suffix=f"-{attribute.rsplit('.', 1)[-1].strip('_').lower()}")
            except OSError:  # the learner's call will say what it could not write
                pass


def _close_other_files(keep: set[int]) -> None:
    """Nothing of the checker's (its results log, its terminal, its reports) stays open here, and
    sys.stdin/stdout/stderr are files on descriptors 0, 1 and 2 again: under pytest's capture the
    checker's were its capture files, whose descriptor numbers a later file would otherwise reuse."""
    null = os.open(os.devnull, os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(null, standard)
    os.close(null)
    for fd in _open_descriptors():
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout, sys.stderr = (open(fd, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
                              for fd in (1, 2))


def _open_descriptors() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))


# ---------------------------------------------------------------- the host (inside the jail)

def serve(channel: socket.socket) -> None:
    """Answer calls one at a time until the checker closes the channel."""
    while True:
        try:
            request = receive_frame(channel)
        except (ChannelClosed, OSError):
            return
        answer, pid = _one_call(channel, request)
        send_frame(channel, answer)
        if pid is not None:
            _end_call(pid)  # before the next call: the call's process and every process it started are gone


def _one_call(channel: socket.socket, request: bytes) -> tuple[bytes, int | None]:
    """The answer of a call run in a child of its own, and the child's pid while the call has not
    ended (its process may still be exiting, and processes it started may still run)."""
    reader, writer = os.pipe()
    gc.freeze()  # what the host added since the spawner froze its own
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        channel.close()
        answer = b""
        try:
            os.setpgid(0, 0)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            from watchtrain.worker.call import run_call

            answer = run_call(request)
        finally:
            try:
                _write_all(writer, answer)
                os.close(writer)  # the answer is complete now, not once this big process has been torn down
            finally:
                os._exit(0)
    os.close(writer)
    answer = _read_answer(reader, pid)
    os.close(reader)
    if not answer:
        return _death_notice(_end_call(pid)), None
    return answer, pid


def _death_notice(status: int) -> bytes:
    """The answer for a call whose process ended without one (os._exit, a signal, a crash in C)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"status": "died", "exit_code": os.waitstatus_to_exitcode(status)}, buffer)
    return buffer.getvalue()


_exit_statuses: dict[int, int] = {}  # calls whose process was reaped before their call ended


def _read_answer(reader: int, pid: int) -> bytes:
    """The child's answer; stops at end of file, or once the child has exited and the processes it
    left behind (which may hold the pipe open) are killed."""
    chunks, size = [], 0
    selector = selectors.DefaultSelector()
    selector.register(reader, selectors.EVENT_READ)
    while True:
        if selector.select(timeout=0.05):
            chunk = os.read(reader, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_FRAME:
                break
            chunks.append(chunk)
            continue
        if pid not in _exit_statuses:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                _exit_statuses[pid] = status
                _kill_leftovers(pid)
    selector.close()
    return b"".join(chunks)


def _end_call(pid: int) -> int:
    """Wait for the call's process, kill what it left running; its exit status."""
    status = _exit_statuses.pop(pid) if pid in _exit_statuses else os.waitpid(pid, 0)[1]
    _kill_leftovers(pid)
    return status


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _kill_leftovers(call_pid: int) -> None:
    """Every process a call started dies with the call. As PID 1 of the jail, every other process
    in /proc is the learner's; unjailed, the call's process group is all we can reach."""
    if os.getpid() == 1:
        try:  # all at once: a process listed in /proc and killed one by one could fork meanwhile
            os.kill(-1, signal.SIGKILL)
        except OSError:  # none left
            pass
    else:
        try:
            os.killpg(call_pid, signal.SIGKILL)
        except OSError:
            pass
    _reap()
