"""Checker side: the learner worker, started and spoken to from the grading process.

    worker = LearnerWorker.start(submission, data, workspace)  # at pytest_configure, before collection
    answer = worker.call("04_training_run", "accuracy", args, kwargs, timeout=120)
    worker.layers                                        # which isolation layers are active
    worker.close()

The worker answers in plain data that `answers.load_answer` reads with
`torch.load(weights_only=True)`; nothing it sends is unpickled or executed here.
"""
from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import signal
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Callable

from watchtrain.classroom.isolation.budget import out_of_memory_kills, refused_forks, remove_budget, worker_budget
from watchtrain.classroom.isolation.jail import SANDBOX_MARKER, WORKER_UID_BASE, in_grading_sandbox
from watchtrain.course import EXERCISE_FILE
from watchtrain.library_imports import imported_libraries
from watchtrain.worker.host import (ChannelClosed, FrameTooLarge, backward_works_in_forks, cuda_started, receive_frame,
                                   run_spawner, send_frame)

SUBMISSION_COPY = ".submission"  # in the work folder, owned by root: what the worker imports
HOST_START_TIMEOUT_S = 120.0
MAX_ANSWER_BYTES = 256 * 2**20  # far above any lesson's answer (a few MB of weights), far below harm
WORKER_ENVIRONMENT_PREFIXES = ("WANDB_",)
WORKER_ENVIRONMENT = (SANDBOX_MARKER, "MPLBACKEND", "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                      "LANG", "LC_ALL", "TZ")
CREDENTIAL_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
DATA_BYTES, FILE_BYTES = 6 * 2**30, 1 * 2**30
SPAWNER_EXIT_S = 0.5  # for the spawner to exit by itself, removing what it made in /tmp; then it is killed
BATCH_CORES = 1  # in a batch (runs side by side, OMP_NUM_THREADS=1), a worker's processes together use one core at most


class WorkerFailed(Exception):
    """The worker did not answer (timeout, crash, malformed answer); the message says what happened."""


class AnswerTooLarge(WorkerFailed):
    """The call's answer was over MAX_ANSWER_BYTES; the message says how large, and what to do."""


class MalformedAnswer(Exception):
    """The worker's answer is not what the harness sends: the learner's code interfered."""


class LearnerWorker:
    """The spawner process (forked now, pristine) and the jailed host it starts on first use."""

    def __init__(self, spawner_pid: int, control: socket.socket, submission: Path, data: Path,
                 workspace: Callable[[], Path]):
        self._spawner_pid, self._control = spawner_pid, control
        self.submission, self.data, self.workspace = submission, data, workspace
        self._host: tuple[int, socket.socket] | None = None
        self._submission_seen: Path | None = None
        self._requested: Path | None = None  # the work folder of a host asked for, not yet received
        self.layers: dict | None = None
        self.uid = WORKER_UID_BASE + os.getpid() % 100_000  # used only when the checker is root
        self.budget = worker_budget(os.getpid())  # its processes' cgroup, as root (isolation/budget.py)
        self._counts_before_call: tuple[int | None, int | None] = (None, None)  # the budget's, see _budget_counts
        self._counts_at_stop: tuple[int | None, int | None] | None = None  # read before a stopped host's budget went
        self._handed_over: set[str] = set()
        self._lessons: set[str] | None = None  # None: every lesson of the submission

    def prepare(self, lessons: set[str] | None = None) -> None:
        """Start the host if needed, and let it write in the run's work folder: when the checker is
        root the worker runs as another uid, which must own the tmp dirs it is asked to write into.
        Each folder the checker made at the top of the work folder (a test's tmp_path, a fixture's)
        is handed over once, with all it holds. `lessons`: the lessons this run grades (the host
        imports the libraries their files import), when known."""
        if lessons is not None:
            self._lessons = lessons
        self._running_host()
        if os.geteuid() != 0 or not (self.layers or {}).get("separate_uid"):
            return
        if not self.layers.get("mount_namespace"):  # no jail: the real folders above it must let the worker through
            _let_through(self._workspace.parent)
        for entry in os.scandir(self._workspace):
            if entry.name != SUBMISSION_COPY and entry.name not in self._handed_over and not entry.is_symlink():
                for path in [entry.path, *(inner.path for inner in _tree(entry.path))]:
                    os.lchown(path, self.uid, self.uid)
                self._handed_over.add(entry.name)

    def remove_links(self) -> list[str]:
        """Remove the symbolic links the last call left in the work folder (W&B makes some; an
        attacker could point one at the grader's own files), and any FIFO, socket or device:
        the checker never follows a link or blocks on a pipe."""
        found = []
        for entry in _tree(str(self._workspace)):
            if _unsafe(entry, self._workspace):
                found.append(os.path.relpath(entry.path, self._workspace))
                os.unlink(entry.path)
        return found

    @classmethod
    def start(cls, submission: Path, data: Path, workspace: Callable[[], Path],
              libraries: tuple[str, ...] = (), *, fresh: bool = False) -> "LearnerWorker":
        """The spawner, started now; it imports the heavy `libraries` the graded lessons use.

        Forked by default: it shares what this process has imported, and its memory is a copy of
        this one's. `fresh`: a new interpreter with a scrubbed environment instead, for a process
        whose memory holds what a submission must not read (an instructor's environment, which a
        forked process could read back from /proc/self/environ)."""
        checker_end, spawner_end = socket.socketpair()
        if fresh:
            pid = _start_fresh_spawner(spawner_end, libraries)
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                checker_end.close()
                try:
                    # this process started CUDA, or ran autograd's threads (pytest.main() after training in a notebook)
                    if cuda_started() or not backward_works_in_forks():
                        _become_fresh_spawner(spawner_end, libraries)
                    run_spawner(spawner_end, libraries)
                finally:
                    os._exit(0)
        spawner_end.close()
        return cls(pid, checker_end, submission, data, workspace)

    def call(self, lesson_dir: str, function: str, args: tuple, kwargs: dict, timeout: float,
             harness: dict | None = None) -> bytes:
        """The worker's raw answer to one call; raises WorkerFailed (and stops the host) when none comes."""
        pid, channel = self._running_host()
        self._counts_before_call, self._counts_at_stop = self._budget_counts(), None
        request = _request(self._submission_seen, lesson_dir, function, args, kwargs, harness)
        try:
            channel.settimeout(timeout)
            send_frame(channel, request)
            return receive_frame(channel, limit=MAX_ANSWER_BYTES, deadline=time.monotonic() + timeout)
        except socket.timeout:
            self._stop_host()
            raise WorkerFailed(f"{function}() did not return within {timeout:g} s") from None
        except FrameTooLarge as error:
            self._stop_host()
            raise AnswerTooLarge(f"{function}() sent back {error.length / 2**20:,.0f} MB (what it returned, and the "
                                 f"arguments it changed), over the {error.limit / 2**20:,.0f} MB a call may send: "
                                 f"return what the exercise asks for, not a large tensor or list besides") from None
        except (ChannelClosed, OSError) as error:
            self._stop_host()
            raise WorkerFailed(f"the process running {function}() ended without an answer ({error})") from None
        except BaseException:  # the test's own time limit, or Ctrl-C: that call's host is of no further use
            self._stop_host()
            raise

    def ran_out_of_memory(self) -> bool | None:
        """Whether the kernel has killed one of the worker's processes for memory since the last
        call began; None where that cannot be known (no budget: not root, no memory controller)."""
        return self._grew_since_call(0)

    def hit_process_limit(self) -> bool | None:
        """Whether the worker's processes, since the last call began, tried to start more than their
        budget allows at once (MAX_PROCESSES), and were refused; None where that cannot be known."""
        return self._grew_since_call(1)

    def _budget_counts(self) -> tuple[int | None, int | None]:
        """The budget's kills for memory and its refused forks so far."""
        return out_of_memory_kills(self.budget), refused_forks(self.budget)

    def _grew_since_call(self, which: int) -> bool | None:
        before = self._counts_before_call[which]
        now = (self._counts_at_stop or self._budget_counts())[which]
        if before is None or now is None:
            return None
        return now > before

    def request_host(self, lessons: set[str] | None = None) -> None:
        """Ask the spawner for the host now, without waiting: it starts the host once its own
        imports are done, while the checker collects the tests. `lessons`: as for prepare()."""
        if lessons is not None:
            self._lessons = lessons
        if self._host is None and self._requested is None:
            try:
                self._requested = self._send_host_request()
            except WorkerFailed:
                pass  # the first call asks again, and its test reports the failure

    def _running_host(self) -> tuple[int, socket.socket]:
        if self._host is None:
            requested, self._requested = self._requested, None
            self._host = self._receive_host(requested or self._send_host_request())
        return self._host

    def _send_host_request(self) -> Path:
        """Send the spawner what the host needs; returns the work folder it will write in."""
        workspace = self.workspace()
        workspace.mkdir(parents=True, exist_ok=True)
        self._submission_seen = self._readable_submission(workspace)
        if os.geteuid() == 0:
            os.chmod(workspace, 0o711)  # the worker, another uid, may pass through, not list it
        fallback = {"HOME": workspace / "learner-home", "TMPDIR": workspace / "learner-tmp"}
        for folder in fallback.values():  # used only where no private HOME and /tmp can be made
            folder.mkdir(exist_ok=True)
            if os.geteuid() == 0:
                os.chown(folder, self.uid, self.uid)
        request = {"read_only": [str(p) for p in (self._submission_seen, self.data, *_python_folders())],
                   "read_write": [str(workspace)], "environment": _host_environment(self.data),
                   "fallback_folders": {"HOME": str(fallback["HOME"]), "TMPDIR": str(fallback["TMPDIR"]),
                                        "MPLCONFIGDIR": str(fallback["HOME"] / ".matplotlib")},
                   "gpu_devices": _gpu_devices(), "uid": self.uid, "budget": self.budget,
                   "cpu_cores": BATCH_CORES if in_grading_sandbox() else None,
                   "preload": _imported_by(self.submission, self._lessons), "data_bytes": DATA_BYTES, "file_bytes": FILE_BYTES}
        try:
            self._control.settimeout(HOST_START_TIMEOUT_S)
            send_frame(self._control, json.dumps(request).encode())
        except OSError as error:
            raise WorkerFailed(f"the learner worker could not start: {error}") from None
        return workspace

    def _receive_host(self, workspace: Path) -> tuple[int, socket.socket]:
        """The host the spawner started for the last request, once it says it is ready."""
        self._workspace = workspace
        try:
            self._control.settimeout(HOST_START_TIMEOUT_S)
            message, fds, _, _ = socket.recv_fds(self._control, 1024, 1)
            if not fds:
                raise ChannelClosed("the spawner sent no socket")
            pid = json.loads(message)["pid"]
            channel = socket.socket(fileno=fds[0])
            channel.settimeout(HOST_START_TIMEOUT_S)
            ready = json.loads(receive_frame(channel, limit=1 << 16))
            if "layers" not in ready:
                raise ChannelClosed(str(ready.get("error", "no answer"))[:500])
            self.layers = ready["layers"]
        except (ChannelClosed, OSError, ValueError, KeyError) as error:
            raise WorkerFailed(f"the learner worker could not start: {error}") from None
        return pid, channel

    def _readable_submission(self, workspace: Path) -> Path:
        """The submission as the worker reads it. As root the worker is another uid, which may not
        read the submission's own folders (a 0700 temporary folder, a umask of 077): it gets a copy
        of each lesson's exercise.py, owned by root and readable by all, outside its writable folder."""
        if os.geteuid() != 0:
            return self.submission
        copy = workspace / SUBMISSION_COPY
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir()
        copy.chmod(0o755)
        _copy_exercises(self.submission, copy)
        return copy

    def refresh_submission(self) -> None:
        """After the host started: the worker sees the submission's files as they are now. Only the
        copy needs it (the worker reads the submission itself otherwise); it is updated in place,
        since the jail holds its folder."""
        if self._submission_seen is not None and self._submission_seen != self.submission:
            _copy_exercises(self.submission, self._submission_seen)

    def _stop_host(self) -> None:
        if self._host is None:
            return
        pid, channel = self._host
        self._host = None
        channel.close()
        _kill(pid)
        # What the host's processes left in its budget dies too, so that the next host can start (a
        # fork bomb's would hold every process the budget allows); its counts are read first.
        self._counts_at_stop = self._budget_counts()
        remove_budget(self.budget)

    def close(self) -> None:
        self._stop_host()
        self._control.close()  # the spawner sees the end of its channel, removes what it made in /tmp and exits
        _kill(self._spawner_pid, grace=SPAWNER_EXIT_S)
        remove_budget(self.budget)



def _copy_exercises(submission: Path, copy: Path) -> None:
    """Each lesson's exercise.py (a regular file, not reached through a link), readable by all."""
    for source in sorted(submission.glob(f"*/{EXERCISE_FILE}")):
        if source.is_file() and not source.is_symlink() and not source.parent.is_symlink():
            target = copy / source.parent.name / EXERCISE_FILE
            target.parent.mkdir(exist_ok=True)
            target.parent.chmod(0o755)
            shutil.copyfile(source, target)
            target.chmod(0o644)
    for stale in copy.glob(f"*/{EXERCISE_FILE}"):
        if not (submission / stale.parent.name / EXERCISE_FILE).is_file():
            stale.unlink()


def _tree(folder: str):
    """Every entry below `folder`, links not followed; its type comes with the directory listing,
    so a walk costs no system call per file. Without recursion: a learner's folders may nest
    thousands of levels deep (as deep as a path can reach)."""
    folders = [folder]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:
            continue
        for entry in entries:
            yield entry
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)


def _unsafe(entry: os.DirEntry, workspace: Path) -> bool:
    """A link (but pytest's own), FIFO, socket or device: a reader could be sent elsewhere, or block."""
    if entry.is_symlink():
        return not _pytest_link(entry.path, workspace)
    return not (entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False))


def _let_through(folder: Path) -> None:
    """Let others pass through `folder` and the folders above it (not list them): without a jail
    the worker, another uid, reaches its work folder through the real ones."""
    for path in (folder, *folder.parents):
        mode = path.stat().st_mode
        if not mode & 0o001:
            os.chmod(path, (mode | 0o001) & 0o7777)


def _pytest_link(path: str, workspace: Path) -> bool:
    """pytest's own `<name>current` links at the top of its basetemp, pointing at a sibling folder
    (by its full path, as pytest writes it, or by its name). Read without resolving the target:
    resolving costs a system call per folder above it, for each of a run's dozens of links, after
    every call."""
    top = str(workspace)
    if not path.endswith("current") or os.path.dirname(path) != top:
        return False
    target = os.readlink(path)
    folder, name = os.path.split(target)
    if folder not in ("", top) or name in ("", ".", ".."):
        return False
    try:
        return stat.S_ISDIR(os.lstat(os.path.join(top, name)).st_mode)
    except OSError:
        return False


def _kill(pid: int, grace: float = 0.0) -> None:
    """SIGKILL `pid` and reap it if it is our child; a child given a `grace` of seconds may exit by itself first."""
    deadline = time.monotonic() + grace
    try:
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return
            time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError, PermissionError):
        pass


def _request(submission: Path, lesson_dir: str, function: str, args: tuple, kwargs: dict, harness: dict | None) -> bytes:
    import numpy
    import torch

    from watchtrain.grading.crossing import pickle_arguments

    return pickle.dumps({
        "submission": str(submission), "lesson": lesson_dir, "function": function, "cwd": os.getcwd(),
        "environment": _call_environment(), "arguments": pickle_arguments(args, kwargs), "harness": harness,
        "random_state": random.getstate(), "numpy_state": numpy.random.get_state(),
        "torch_state": torch.get_rng_state(),
        "cuda_states": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    })


def _imported_by(submission: Path, lessons: set[str] | None) -> list[str]:
    """The heavy libraries the submission's files import, for the host to import before the first
    call. Read with ast, never run; the host imports only names on its own list."""
    return imported_libraries(path for path in submission.glob(f"*/{EXERCISE_FILE}")
                              if lessons is None or path.parent.name in lessons)


def _python_folders() -> list[Path]:
    """Python, its packages, and the watchtrain package itself (read-only in the jail)."""
    import watchtrain

    folders = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix), Path(watchtrain.__file__).parents[1]}
    folders |= {Path(p) for p in sys.path if p and "site-packages" in p and Path(p).is_dir()}
    return sorted(folders)


def _start_fresh_spawner(spawner_end: socket.socket, libraries: tuple[str, ...]) -> int:
    """A new interpreter running the spawner on `spawner_end`: it starts with the worker's
    variables only, in /, and without the current folder on its import path."""
    argv, env = _fresh_spawner_command(os.getpid(), spawner_end, libraries)
    os.set_inheritable(spawner_end.fileno(), True)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return os.posix_spawn(sys.executable, argv, env)
    finally:
        os.set_inheritable(spawner_end.fileno(), False)


def _become_fresh_spawner(spawner_end: socket.socket, libraries: tuple[str, ...]) -> None:
    """In the forked spawner: the same process (the checker keeps its pid) becomes a new
    interpreter running the spawner, as `_start_fresh_spawner` starts one. Never returns."""
    argv, env = _fresh_spawner_command(os.getppid(), spawner_end, libraries)
    os.set_inheritable(spawner_end.fileno(), True)
    os.execve(sys.executable, argv, env)


def _fresh_spawner_command(checker_pid: int, spawner_end: socket.socket,
                           libraries: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    import watchtrain

    package_root = str(Path(watchtrain.__file__).resolve().parents[1])
    env = _scrubbed_environment() | _call_environment()
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    code = "import sys; from watchtrain.worker.host import spawner_main; spawner_main(sys.argv[1:])"
    return [sys.executable, "-P", "-c", code, str(checker_pid), str(spawner_end.fileno()), *libraries], env


def _scrubbed_environment() -> dict[str, str]:
    from watchtrain.classroom.isolation.sandbox import PASSED_THROUGH

    env = {key: value for key, value in os.environ.items() if key in PASSED_THROUGH}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    return env


def _call_environment() -> dict[str, str]:
    """The checker's variables a call runs with (W&B's settings, the seed of hashes), never a
    credential: an instructor's WANDB_API_KEY stays with the checker."""
    return {name: value for name, value in os.environ.items()
            if (name in WORKER_ENVIRONMENT or name.startswith(WORKER_ENVIRONMENT_PREFIXES))
            and not any(word in name for word in CREDENTIAL_WORDS)}


def _host_environment(data: Path) -> dict[str, str]:
    from watchtrain.classroom.isolation.sandbox import FIXED

    env = _scrubbed_environment()
    return env | FIXED | {
        "HOME": "/home/learner", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/home/learner/.matplotlib",
        "XDG_CACHE_HOME": "/home/learner/.cache", "XDG_CONFIG_HOME": "/home/learner/.config",
        "WATCHTRAIN_DATA_DIR": str(data),
    }


def _gpu_devices() -> list[str]:
    try:
        return [name for name in os.listdir("/dev") if name.startswith("nvidia")]
    except OSError:
        return []
