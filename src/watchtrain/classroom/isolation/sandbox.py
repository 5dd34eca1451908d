"""One graded run's sandbox: its own HOME and tmp, a scrubbed environment, resource limits, a
process group, and a clean-up that also finds the processes that left that group.

This wraps the grading process (the checker), which never runs a student's code itself: that code
runs in the learner worker, jailed in namespaces of its own (jail.py, worker/). The sandbox keeps a
misbehaving run (the checker's, and through it the worker's) inside its limits and cleans up after it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from watchtrain.classroom.isolation.forking import PRELOAD, ForkedProcess, Zygote, ZygoteUnavailable
from watchtrain.classroom.isolation.budget import remove_budget, worker_budget
from watchtrain.classroom.isolation.jail import SANDBOX_MARKER

LAUNCHER = Path(__file__).with_name("launch.py")
SITE_CUSTOMIZE = ("# Written by watchtrain's grading sandbox: keep this run's network on this machine.\n"
                  "from watchtrain.classroom.isolation.network import confine_to_loopback\n"
                  "confine_to_loopback()\n")

# The only variables a graded run inherits; API keys, tokens and the grader's own settings stay out.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")
PASSED_THROUGH_PREFIXES = ("PLAYWRIGHT_", "WATCHTRAIN_CHROMIUM")
FIXED = {
    "PYTHONHASHSEED": "0",              # the same set/dict order on every run: the same grade
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "PYTHONUNBUFFERED": "1",            # a crash loses no output that was already printed
    "MPLBACKEND": "Agg",
    "OMP_NUM_THREADS": "1",             # one thread per job: --jobs N uses N cores, no oversubscription
    "MKL_NUM_THREADS": "1",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # grading needs only our plugin: installed ones cost imports
}


@dataclass(frozen=True)
class Limits:
    """How much one submission may use. Times in seconds, sizes in MiB/KiB as named."""
    test_timeout: float = 60.0         # per test phase; past it the test is an error and grading goes on
    submission_timeout: float = 900.0  # the whole submission, crashes and restarts included
    memory_mb: int = 4096              # per process (RLIMIT_DATA): a bigger allocation fails in the learner's code
    file_size_mb: int = 1024           # the largest file a process may write (RLIMIT_FSIZE)
    output_kb: int = 256               # console output kept per submission (head and tail)

    @property
    def hard_test_timeout(self) -> float:
        """When a test that ignored its time limit (a C call, a bare `except:`) is killed from outside."""
        return self.test_timeout + max(5.0, self.test_timeout / 2)


@dataclass(frozen=True)
class Sandbox:
    root: Path
    marker: str

    @classmethod
    def create(cls, root: Path) -> "Sandbox":
        for folder in ("home", "tmp", "site"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "site" / "sitecustomize.py").write_text(SITE_CUSTOMIZE, encoding="utf-8")
        return cls(root=root, marker=uuid.uuid4().hex)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def environment(self, python_path: list[Path], extra: dict[str, str], *, gpu: bool = False) -> dict[str, str]:
        from watchtrain.grading.wandb_fixtures import QUIET_OFFLINE  # W&B offline, whatever a submission asks for

        env = {key: value for key, value in os.environ.items()
               if key in PASSED_THROUGH or key.startswith(PASSED_THROUGH_PREFIXES)}
        env.setdefault("LANG", "C.UTF-8")
        env |= FIXED | QUIET_OFFLINE | {
            "HOME": str(self.home), "TMPDIR": str(self.tmp), "TEMP": str(self.tmp), "TMP": str(self.tmp),
            "XDG_CACHE_HOME": str(self.home / ".cache"), "XDG_CONFIG_HOME": str(self.home / ".config"),
            "MPLCONFIGDIR": str(self.home / ".matplotlib"), "WANDB_DIR": str(self.tmp),
            "PYTHONPATH": os.pathsep.join(str(path) for path in [*python_path, self.root / "site"]),
            SANDBOX_MARKER: self.marker,  # inherited by every process the run starts: how clean-up finds them
        }
        if not gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""  # GPU checks carry no points; jobs must not share a GPU
        return env | extra

    def command(self, argv: list[str], limits: Limits) -> list[str]:
        """`argv`, started through the launcher that applies the limits."""
        return [sys.executable, "-I", "-S", str(LAUNCHER), str(limits.memory_mb * 2**20),
                str(limits.file_size_mb * 2**20), "--", *argv]

    def start(self, argv: list[str], *, env: dict[str, str], limits: Limits, cwd: Path, output: Path,
              zygote: Zygote | None = None) -> subprocess.Popen | ForkedProcess:
        """Start `argv` in this sandbox. A `python -m pytest` run is forked from `zygote` when one is
        given and running (the same run, without importing torch & co. again)."""
        if zygote is not None and argv[:3] == [sys.executable, "-m", "pytest"]:
            output.touch()  # there when start returns, as with a plain process, even if the fork dies at once
            try:
                return zygote.spawn(argv[3:], env=env, cwd=cwd, output=output,
                                    python_path=[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p],
                                    data_bytes=limits.memory_mb * 2**20, file_bytes=limits.file_size_mb * 2**20)
            except ZygoteUnavailable:
                pass  # a plain process: slower, the same run
        with output.open("ab") as sink:
            return subprocess.Popen(self.command(argv, limits), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)

    def kill_all(self, process: subprocess.Popen | ForkedProcess | None = None) -> None:
        """Kill the run's process group and every process that still carries this sandbox's marker
        (servers and daemons that started their own session)."""
        if process is not None:
            for kill in (os.killpg, os.kill):  # the run's group; the run itself, if a fork has not made its group yet
                try:
                    kill(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass  # a zygote that no longer reports (stopped, say): the run is killed, its exit status is lost
            remove_budget(worker_budget(process.pid))  # a checker killed before it could remove it
        deadline = time.monotonic() + 5
        while (stragglers := _marked_processes(self.marker)) and time.monotonic() < deadline:
            for pid in stragglers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)  # SIGKILL takes effect asynchronously; look again once it has


def _marked_processes(marker: str) -> list[int]:
    """Processes whose environment holds this sandbox's marker (Linux /proc; nothing elsewhere)."""
    needle = f"{SANDBOX_MARKER}={marker}".encode()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start_zygote(folder: Path, *, gpu: bool = False, preload: tuple[str, ...] = PRELOAD) -> Zygote:
    """A zygote for a batch's runs, started by the first run that needs it, in its own sandbox folder
    with a run's scrubbed environment minus PYTHONPATH: each run imports watchtrain from its own
    grader copy. `preload`: what it imports (forking.preload_for the graded lessons' libraries)."""
    sandbox = Sandbox.create(folder)
    env = sandbox.environment([], {}, gpu=gpu)
    env.pop("PYTHONPATH", None)
    return Zygote(env, sandbox.tmp, preload)
