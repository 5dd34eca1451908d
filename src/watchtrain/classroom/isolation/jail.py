"""The learner worker's jail: Linux namespaces, a read-only view of only what it needs, another uid.

    layers = enter_jail(JailPlan(...))   # in a freshly forked, single-threaded child; returns in the
                                         # jail's first process (PID 1 of its own PID namespace)

What the worker sees after `enter_jail` (each layer where the kernel and our privileges allow it):
- **PID namespace**: it is PID 1 of its own; it cannot see or signal the checker, the zygote or
  other submissions' runs, and every process it starts dies when it does.
- **Mount namespace and a new root**: the system folders, Python and its packages, the watchtrain
  package and the bundled data, all read-only; the submission read-only; the grading run's work
  folder read-write; a private /tmp, /dev/shm and HOME. Nothing else exists: not `solutions/`, not
  the hidden tests, not other submissions, not the instructor's HOME.
- **Another uid** when the grader is root, with no capabilities and `no_new_privs`, so the
  read-only mounts cannot be remounted and nothing of the grader's can be signalled or ptraced.
- **Network**: the worker shares the grading run's network namespace, which the checker made for
  itself (`isolate_network`): loopback only, with only that run's own servers on it.

The same layers as bubblewrap or `unshare(1)` build, made with the same system calls from the
forked worker, so that it keeps the imports its parent already paid for.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import resource  # here, not in drop_privileges: once the jail's root is built, the interpreter's own folder may be out of sight
import socket
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE = 1024, 2048, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/sys")
MAX_PROCESSES = 256  # per worker uid and per worker budget (budget.py): DataLoader workers and wandb's service fit, a fork bomb does not
SANDBOX_MARKER = "WATCHTRAIN_SANDBOX"  # in every graded run's environment (sandbox.py): how clean-up finds its processes
WORK_FOLDER_BYTES = 2 * 2**30  # a whole course's artifacts take about 10 MB
WORKER_UID_BASE = 200_000
# Set, grading runs as where the kernel or a container forbids namespaces (for tests of that path).
NO_NAMESPACES_ENV = "WATCHTRAIN_NO_NAMESPACES"  # far from any real account: the worker owns nothing of the grader's
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)


def in_grading_sandbox() -> bool:
    """Whether this process is a batch's graded run (`watchtrain grade`, Gradescope), which starts
    with a scrubbed environment holding the marker, or one of its processes."""
    return bool(os.environ.get(SANDBOX_MARKER))


class JailUnavailable(Exception):
    """A layer could not be set up; the message says which and why."""


@dataclass(frozen=True)
class JailPlan:
    """What the worker may see: `read_only` and `read_write` folders appear at their own paths."""
    read_only: tuple[Path, ...]
    read_write: tuple[Path, ...]
    home: str = "/home/learner"
    uid: int | None = None  # the uid to become when we are root (None: WORKER_UID_BASE + our pid)
    gpu_devices: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class Layers:
    """Which protections are active, for `watchtrain doctor` and the first lines of a grading run."""
    pid_namespace: bool = False
    mount_namespace: bool = False
    separate_uid: bool = False
    network_namespace: bool = False
    work_folder_capped: bool = False
    memory_budget: bool = False
    problems: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        return [
            _layer("own PID namespace (cannot see or signal the grader; its processes die with it)", self.pid_namespace),
            _layer("own filesystem view (course read-only; solutions, hidden tests, HOME and other "
                   "submissions absent)", self.mount_namespace),
            _layer("separate uid without capabilities", self.separate_uid),
            _layer("own network namespace (loopback only, this run's servers only)", self.network_namespace),
            _layer(f"work folder of its own, at most {WORK_FOLDER_BYTES // 2**30} GiB (cannot fill the grader's disk)",
                   self.work_folder_capped),
            _layer("memory and process budget of its own, for all its processes together, and one core in a "
                   "batch (cannot starve classmates' runs)", self.memory_budget),
            *(f"  note: {problem}" for problem in self.problems),
        ]


def _layer(what: str, active: bool) -> str:
    return f"  [{'on ' if active else 'off'}] {what}"


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise JailUnavailable(f"{what}: {os.strerror(code)} (errno {errno.errorcode.get(code, code)})")


def _unshare(flags: int, what: str) -> None:
    _check(_libc.unshare(flags), what)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)),
           f"mount {source or fstype} on {target}")


def _bytes(value: str | None):
    return None if value is None else os.fsencode(value)


def isolate_network() -> bool:
    """Put the calling process (the checker) in a network namespace of its own, loopback up: the
    grading run's servers and its worker then share a network nobody else can reach. Root only;
    False where it is not possible."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    try:
        _unshare(CLONE_NEWNET, "new network namespace")
        _loopback_up()
    except (JailUnavailable, OSError):
        return False
    return True


def cap_work_folder(folder: Path, size: int | None = None) -> bool:
    """Mount a tmpfs of `size` bytes (WORK_FOLDER_BYTES) on `folder`, in a mount namespace of the
    calling process (the checker of one run) and of those it starts: a submission that writes
    without end fills it, never the grader's disk, and it vanishes with the run. Root only; False
    where it is not possible."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    try:
        _unshare(CLONE_NEWNS, "new mount namespace")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the machine
        folder.mkdir(parents=True, exist_ok=True)
        _mount("tmpfs", str(folder), "tmpfs", MS_NOSUID | MS_NODEV, f"size={size or WORK_FOLDER_BYTES},mode=0755")
    except (JailUnavailable, OSError):
        return False
    return True


def _loopback_up() -> None:
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def in_own_network_namespace() -> bool:
    """True when this process's network namespace is not the machine's (init's)."""
    try:
        return os.readlink("/proc/self/ns/net") != os.readlink("/proc/1/ns/net")
    except OSError:
        return False  # cannot tell (no /proc, or PID 1 is not ours to read): claim nothing


def enter_jail(plan: JailPlan, on_child_pid=None) -> Layers:
    """Build the jail around this (forked, single-threaded) process. In the new PID namespace the
    caller's process becomes a waiter and the jail's PID 1 returns from here; `on_child_pid(pid)`
    is called in the waiter with PID 1's pid as the grader sees it. Raises JailUnavailable (before
    anything changed) when no namespace can be made; then the caller runs unjailed."""
    if os.environ.get(NO_NAMESPACES_ENV):
        raise JailUnavailable(f"{NO_NAMESPACES_ENV} is set")
    layers = Layers(network_namespace=in_own_network_namespace())
    root = os.geteuid() == 0
    outer_uid, outer_gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _unshare(flags if root else flags | CLONE_NEWUSER, "new namespaces")
    if not root:
        _map_to_self(outer_uid, outer_gid)
    layers.pid_namespace = True
    pid = os.fork()
    if pid:  # the waiter: outside the PID namespace, it only reports PID 1's exit
        die_with_parent()
        if on_child_pid is not None:
            on_child_pid(pid)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    try:
        _new_root(plan)
        layers.mount_namespace = True
    except (JailUnavailable, OSError) as error:
        layers.problems.append(f"no private filesystem view: {error}")
    if not drop_privileges(plan.uid, layers):
        layers.problems.append("not root, so the worker keeps your uid (its view of the files is still private)")
    return layers


def reachable_as(uid: int | None, paths: list[str]) -> bool:
    """Whether `uid` (when we are root) could read every one of `paths`: asked of a throwaway child."""
    if os.geteuid() != 0 or uid is None:
        return True
    paths = [path for path in paths if os.path.exists(path)]  # as root, before the child drops it
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os._exit(0 if all(os.access(path, os.R_OK | os.X_OK) for path in paths) else 1)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def drop_privileges(uid: int | None, layers: Layers) -> bool:
    """As root, become `uid` (the run's own), with no groups, no capabilities, no way back and a
    process limit; also where no namespace could be made (a container that forbids them), so the
    learner's code never runs as root. False when we are not root."""
    if os.geteuid() != 0:
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        return False
    uid = uid if uid is not None else WORKER_UID_BASE + os.getpid() % 100_000
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    # The uid is this run's alone, so its process count is too: no fork bomb.
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    layers.separate_uid = True
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # after setuid, which clears it: the checker kills the waiter, so us
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return True


def die_with_parent() -> None:
    """SIGKILL this process when the one that forked it ends: the checker, then the spawner, then
    the jail's waiter and PID 1 go down in a chain, so nothing a submission started outlives it."""
    if sys.platform.startswith("linux"):
        _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def _map_to_self(uid: int, gid: int) -> None:
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _new_root(plan: JailPlan) -> None:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the machine
    new_root = Path("/mnt")  # any existing folder will do: the tmpfs on it is seen by the jail alone
    if not new_root.is_dir():
        new_root = Path("/tmp")
    _mount("tmpfs", str(new_root), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m")
    for folder in SYSTEM_FOLDERS:
        _bind_or_link(Path(folder), new_root, read_only=True)
    for folder in ("tmp", "dev/shm"):
        (new_root / folder).mkdir(parents=True, exist_ok=True)
        _mount("tmpfs", str(new_root / folder), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1g")  # RAM: kept well below the worker's own limit
    for device in (*DEVICES, *plan.gpu_devices):
        source = Path("/dev") / device
        if source.is_dir():  # /dev/nvidia-caps: a folder of device nodes (MIG's capabilities)
            (new_root / "dev" / device).mkdir(parents=True, exist_ok=True)
            _mount(str(source), str(new_root / "dev" / device), None, MS_BIND | MS_REC)
        elif source.exists():
            target = new_root / "dev" / device
            target.touch()
            _mount(str(source), str(target), None, MS_BIND)
    for source in sorted(set(plan.read_only), key=lambda p: len(p.parts)):
        _bind_or_link(source, new_root, read_only=True)
    for source in plan.read_write:
        _bind_or_link(source, new_root, read_only=False)
    (new_root / "proc").mkdir()
    _mount("proc", str(new_root / "proc"), "proc", MS_NOSUID | MS_NODEV)
    home = new_root / plan.home.lstrip("/")
    home.mkdir(parents=True, mode=0o777)
    os.chmod(home, 0o777)
    os.chroot(new_root)
    os.chdir("/")


def _bind_or_link(source: Path, new_root: Path, *, read_only: bool) -> None:
    if not source.exists():
        return
    target = new_root / str(source).lstrip("/")
    if source.is_symlink() and str(source) in SYSTEM_FOLDERS:  # /bin -> usr/bin on merged-/usr systems
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.readlink(source), target)
        return
    source = source.resolve()
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    _mount(str(source), str(target), None, MS_BIND | MS_REC)
    if read_only:
        # A remount must keep the flags the source mount already has (a user namespace may not drop them).
        kept = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
        _mount(None, str(target), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | kept)


def probe_layers() -> Layers:
    """Which layers a learner worker started from this process would get, found by building a jail
    in a throwaway child (network as the checker would make it: its own namespace when root)."""
    import json
    import tempfile

    from watchtrain.classroom.isolation.budget import join_budget, remove_budget

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        layers = Layers()
        try:
            budgeted = join_budget(f"watchtrain-probe-{os.getpid()}")
            network = isolate_network()
            capped = cap_work_folder(Path(tempfile.gettempdir()), 1 << 20)  # in this child's own mount namespace
            layers = enter_jail(JailPlan(read_only=(), read_write=()), on_child_pid=lambda _: os.close(writer))
            layers.network_namespace, layers.work_folder_capped, layers.memory_budget = network, capped, budgeted
        except JailUnavailable as error:
            layers.problems.append(f"no namespaces: {error}")
        except Exception as error:  # noqa: BLE001  a probe reports, never raises
            layers.problems.append(f"{type(error).__name__}: {error}")
        os.write(writer, json.dumps(vars(layers)).encode())
        os._exit(0)
    os.close(writer)
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    os.close(reader)
    os.waitpid(pid, 0)
    remove_budget(f"watchtrain-probe-{pid}")
    try:
        return Layers(**json.loads(b"".join(chunks)))
    except (ValueError, TypeError):
        return Layers(problems=["the isolation probe did not answer"])


def unprotected(layers: Layers) -> list[str]:
    """What grading does not protect, in a learner's or instructor's words, for the layers missing."""
    missing = []
    if not layers.pid_namespace:
        missing.append("a submission can see and signal the grader's processes")
    if not layers.mount_namespace:
        missing.append("a submission can read the files your user can read (solutions/, hidden tests, HOME)")
    if not layers.separate_uid:
        missing.append("a submission runs as your user")
    if not layers.network_namespace:
        missing.append("a submission can reach other local services and the network")
    if not layers.work_folder_capped:
        missing.append("a submission can fill the disk that its work folder is on")
    if not layers.memory_budget:
        missing.append("a submission's processes together can take the machine's memory and cores from classmates' runs")
    return missing
