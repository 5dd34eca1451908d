"""A memory and process budget for all the processes of one learner worker together.

The per-process limits (launch.apply_limits) stop one process. A submission that starts many
could still take the machine's memory from its classmates' runs, and the kernel's OOM killer
would then pick anyone. A cgroup of the worker's own holds its processes together: past
WORKER_MEMORY_BYTES the kernel kills one of *them*, and past MAX_PROCESSES a fork fails. This is
how IOI's isolate bounds a submission.

Root only, on Linux, with cgroup v1's memory and pids controllers, or with cgroup v2 where this
process's cgroup already hands both to its children (a delegated subtree). Elsewhere the worker
runs without one, and `watchtrain doctor` says so.

    join_budget(worker_budget(checker_pid))    # in the worker's first process, as root
    out_of_memory_kills(worker_budget(checker_pid))  # the kernel's kills for memory there so far
    refused_forks(worker_budget(checker_pid))  # the forks refused there for want of processes so far
    remove_budget(worker_budget(checker_pid))  # when the run ends: kills what is left, removes it
"""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from watchtrain.classroom.isolation.jail import MAX_PROCESSES

CGROUP_ROOT = Path("/sys/fs/cgroup")
WORKER_MEMORY_BYTES = 6 * 2**30  # one worker's processes together, their tmpfs files included
CPU_PERIOD_US = 100_000
WORKER_BUDGET_PREFIX = "watchtrain-worker-"
_V1_LIMITS = {"memory": {"memory.limit_in_bytes": WORKER_MEMORY_BYTES, "memory.memsw.limit_in_bytes": WORKER_MEMORY_BYTES},
              "pids": {"pids.max": MAX_PROCESSES},
              "cpu": {"cpu.cfs_period_us": CPU_PERIOD_US}}
_V2_LIMITS = {"memory.max": WORKER_MEMORY_BYTES, "memory.swap.max": 0, "pids.max": MAX_PROCESSES}


def worker_budget(checker_pid: int) -> str:
    """The name of the budget of the worker that the checker with this pid starts."""
    return f"{WORKER_BUDGET_PREFIX}{checker_pid}"


def join_budget(name: str, cores: float | None = None) -> bool:
    """Put the calling process (and so all it starts) in the budget `name`, made now if need be;
    with `cores`, its processes together also get at most that much CPU time (a batch grades
    submissions side by side: a busy one must not slow its neighbour past its time limits).
    False, with nothing changed, where that is not possible."""
    if os.geteuid() != 0:
        return False
    folders = _budget_folders(name, cores)
    if not folders:
        return False
    try:
        for folder, limits in folders:
            folder.mkdir(exist_ok=True)
            for setting, value in limits.items():
                if (folder / setting).exists():
                    (folder / setting).write_text(str(value))
        for folder, _ in folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return False
    return True


def remove_budget(name: str) -> None:
    """Kill whatever is still in the budget `name`, then remove it (nothing to do where it was
    never made)."""
    if os.geteuid() != 0:
        return
    for folder, _ in _budget_folders(name, cores=1):
        if not folder.is_dir():
            continue
        for _ in range(50):  # killed processes leave their cgroup within milliseconds
            try:
                pids = [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                folder.rmdir()
                break
            except (ProcessLookupError, OSError, ValueError):
                time.sleep(0.02)


def out_of_memory_kills(name: str) -> int | None:
    """How many processes of the budget `name` the kernel has killed for running out of memory:
    the count cgroup v2 keeps in memory.events and v1 in memory.oom_control. 0 while the budget is
    not made yet; None where there is none to read (not root, no memory controller)."""
    return _count(name, ("memory.events", "memory.oom_control"), "oom_kill")


def refused_forks(name: str) -> int | None:
    """How many times a process of the budget `name` could not start another because the budget
    held MAX_PROCESSES already (pids.events, cgroup v1 and v2). 0 while the budget is not made
    yet; None where there is none to read."""
    return _count(name, ("pids.events",), "max")


def _count(name: str, files: tuple[str, ...], key: str) -> int | None:
    """The `key N` line of the first of `files` in the budget's folders that has one."""
    if os.geteuid() != 0:
        return None
    folders = _budget_folders(name)
    for folder, _ in folders:
        for counts in files:
            found = re.search(rf"^{key} (\d+)$", _read(folder / counts), re.MULTILINE)
            if found:
                return int(found[1])
    return 0 if folders and not any(folder.is_dir() for folder, _ in folders) else None


def remove_stale_budgets() -> None:
    """Remove the budgets of checkers that are gone (a batch killed outright), whatever they left."""
    for folder, _ in _budget_folders(worker_budget(0), cores=1):
        for stale in folder.parent.glob(WORKER_BUDGET_PREFIX + "*"):
            pid = stale.name.removeprefix(WORKER_BUDGET_PREFIX)
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                remove_budget(stale.name)


def _budget_folders(name: str, cores: float | None = None) -> list[tuple[Path, dict]]:
    """Where the budget's cgroup folders go (beside this process's own cgroup, so that any limit
    above it still holds), with the limits to write in each (the CPU's only with `cores`); []
    when no memory controller can be used."""
    quota = int(cores * CPU_PERIOD_US) if cores else None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    v1, v2 = {}, []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            mount = next((m for m in (CGROUP_ROOT, CGROUP_ROOT / "unified") if (m / "cgroup.controllers").is_file()), None)
            own = _inside(mount, path) if mount else None
            delegated = set(_read(own / "cgroup.subtree_control").split()) if own is not None else set()
            if {"memory", "pids"} <= delegated:
                cpu = {"cpu.max": f"{quota} {CPU_PERIOD_US}"} if quota and "cpu" in delegated else {}
                v2.append((own / name, _V2_LIMITS | cpu))
        for controller in ("memory", "pids", "cpu"):
            own = _inside(CGROUP_ROOT / controllers, path) if controller in controllers.split(",") else None
            if own is not None and (controller != "cpu" or quota):
                limits = _V1_LIMITS[controller] | ({"cpu.cfs_quota_us": quota} if controller == "cpu" else {})
                v1[controller] = (own / name, limits)
    if v2:
        return v2
    return list(v1.values()) if "memory" in v1 else []


def _inside(mount: Path, path: str) -> Path | None:
    """This process's cgroup folder under `mount`: the path /proc/self/cgroup gives, or the mount
    itself where a cgroup namespace makes that path the root."""
    if not (mount / "cgroup.procs").is_file():
        return None
    folder = mount / path.lstrip("/")
    return folder if folder.is_dir() else mount


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
