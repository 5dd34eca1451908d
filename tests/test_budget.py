"""The learner worker's memory and process budget (classroom/isolation/budget.py): a cgroup that
holds all its processes together. The attack `hogs_memory` shows it at work in a whole batch."""
import os
import signal
import time

import pytest

from watchtrain.classroom.isolation.budget import (CPU_PERIOD_US, WORKER_MEMORY_BYTES, _budget_folders, join_budget,
                                                   remove_budget, remove_stale_budgets, worker_budget)
from watchtrain.classroom.isolation.jail import MAX_PROCESSES

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not _budget_folders("probe"),
                                reason="needs root and a writable cgroup memory controller")


def test_a_budget_holds_its_processes_and_removing_it_kills_them():
    name = worker_budget(os.getpid())
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(writer, b"1" if join_budget(name, cores=1) else b"0")
        time.sleep(60)
        os._exit(0)
    assert os.read(reader, 1) == b"1"
    folders = [folder for folder, _ in _budget_folders(name, cores=1)]
    settings = {path.name: path.read_text().strip() for folder in folders for path in folder.iterdir()
                if path.name in ("memory.limit_in_bytes", "memory.max", "pids.max", "cpu.cfs_quota_us", "cpu.max")}
    assert settings.get("memory.limit_in_bytes", settings.get("memory.max")) == str(WORKER_MEMORY_BYTES)
    assert settings["pids.max"] == str(MAX_PROCESSES)
    if "cpu.cfs_quota_us" in settings or "cpu.max" in settings:  # one core, where a cpu controller is there to use
        assert settings.get("cpu.cfs_quota_us", settings.get("cpu.max", "").split(" ")[0]) == str(CPU_PERIOD_US)
    assert all(str(pid) in (folder / "cgroup.procs").read_text().split() for folder in folders)
    remove_budget(name)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert not any(folder.exists() for folder in folders)


def test_a_batch_removes_the_budgets_of_checkers_that_are_gone():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # a pid that was a checker's and is gone now
    name = worker_budget(pid)
    folders = [folder for folder, _ in _budget_folders(name, cores=1)]
    for folder in folders:
        folder.mkdir()
    remove_stale_budgets()
    assert not any(folder.exists() for folder in folders)
