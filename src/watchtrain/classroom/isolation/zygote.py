"""A Python that has imported torch & co. once and forks a graded run from itself on request.

    python zygote.py MODULE [MODULE ...]     (stdlib only; run by path, never imported by the grader)

Every graded run is a fresh process, and each one used to spend about 3 s of its 11 importing
torch, torchvision, matplotlib, wandb and the ONNX exporter again. This process imports them once;
each run is then a fork of it that gets its own session, resource limits, environment, working
folder and output file before pytest starts. A fork shares nothing it can change with the zygote
or with other runs (memory is copy-on-write), so runs stay as separate as before.

The watchtrain package is never imported here: each run imports it from its own pristine grader copy.

Protocol, one JSON object per line. In, on stdin:
    {"id": 7, "args": [pytest args], "env": {...}, "cwd": "...", "output": "...",
     "python_path": [...], "data_bytes": N, "file_bytes": N}
Out, on stdout: {"ready": [modules], "failed": {module: error}} once, then
    {"id": 7, "pid": 1234} when run 7 started, or {"id": 7, "error": "..."},
    {"exited": 1234, "returncode": 0} when it ended (minus the signal number when killed, as Popen).
End of stdin: the runs still going are killed and the zygote exits.
"""
import gc
import importlib
import json
import os
import selectors
import signal
import sys
import traceback

from huge_pages import back_with_huge_pages  # beside this file (this folder is sys.path[0] here)
from launch import apply_limits
from warm_up import ask_cuda_through_nvml, warm_up

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS_BEFORE_HUGE_PAGES = 2  # collapsing costs 1 to 2 s of kernel time, once; each later fork saves a little


def main(modules: list[str]) -> None:
    gc.disable()  # no full collection each time the imports grow the heap by a quarter; one at the end
    ask_cuda_through_nvml()  # runs are forked from here
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # a missing optional library: its runs import it themselves
            failed[name] = f"{type(error).__name__}: {error}"
    warm_up(modules)  # the first uses that cost seconds, once for every run and worker forked from here
    # The libraries' objects (about a million) live as long as this process. Frozen, they are left out
    # of every garbage collection in the forks, which would otherwise walk them all and, by marking
    # each one, copy nearly every page the fork shares with this process.
    gc.collect()
    gc.freeze()
    gc.enable()
    requests, replies = sys.stdin.buffer.raw, sys.stdout
    send(replies, {"ready": [name for name in modules if name not in failed], "failed": failed})
    children: set[int] = set()
    forked = 0
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ)
    pending = b""
    while True:
        if selector.select(timeout=0.05):
            chunk = os.read(requests.fileno(), 1 << 16)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in filter(None, lines):
                request = json.loads(line)
                try:
                    pid = os.fork()
                except OSError as error:
                    send(replies, {"id": request["id"], "error": f"fork failed: {error}"})
                    continue
                if pid == 0:
                    run_child(request)  # never returns
                children.add(pid)
                send(replies, {"id": request["id"], "pid": pid})
                forked += 1
                if forked == RUNS_BEFORE_HUGE_PAGES:
                    # A zygote asked for a second run is serving a batch (or a `watchtrain watch`):
                    # from the next run on, every fork, and every process forked from a fork, starts
                    # and ends cheaper. A single check never pays the collapse.
                    back_with_huge_pages()
        reap(children, replies)
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    while children:
        reap(children, replies, block=True)


def reap(children: set[int], replies, *, block: bool = False) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        if pid not in children:  # a helper process of the warm-up, not a run
            continue
        children.discard(pid)
        send(replies, {"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})
        if block:
            return


def send(replies, message: dict) -> None:
    replies.write(json.dumps(message) + "\n")
    replies.flush()


def run_child(request: dict) -> None:
    """In the fork: become the graded run (what launch.py and `python -m pytest` did), then exit."""
    code = 1
    try:
        os.setsid()  # its own process group: the supervisor kills the run with everything it started
        apply_limits(request["data_bytes"], request["file_bytes"])
        null = os.open(os.devnull, os.O_RDONLY)
        output = os.open(request["output"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(null, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(null)
        os.close(output)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        # As `python -m pytest` with PYTHONPATH would have it: the folder first, then PYTHONPATH.
        sys.path[:] = [request["cwd"], *request["python_path"], *[p for p in sys.path if p != HERE]]
        sys.dont_write_bytecode = bool(request["env"].get("PYTHONDONTWRITEBYTECODE"))
        import tempfile

        tempfile.tempdir = None  # found again from TMPDIR
        for own in ("sitecustomize", "launch", "warm_up"):  # a run finds its own modules of these names, if any
            sys.modules.pop(own, None)
        try:
            import sitecustomize  # noqa: F401  the sandbox's own, as a fresh interpreter would run it
        except ImportError:
            pass
        import pytest

        sys.argv = [pytest.__file__, *request["args"]]
        code = int(pytest.main(request["args"]))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
