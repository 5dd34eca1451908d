"""No server outlives its user.

The servers run in their own session so that the terminal's Ctrl-C reaches only our command; the
price is that nothing else stops them. So:
- a Ctrl-C (or any error) while a server is still starting must not leave it running: here the wait
  for the port is interrupted, as a learner pressing Ctrl-C during start-up does;
- a server ends by itself once the process that started it is gone, however that one ended (a test
  run killed half-way, a closed notebook kernel, `kill -9` on `watchtrain demo --serve`), and frees
  its port.
"""
import os
import subprocess
import sys
import time

import pytest
import torch

from watchtrain.models import Net
from watchtrain.servers import netron, tensorboard, visdom
from watchtrain.servers.ports import port_answers


class _Interrupted:
    """Stands in for the wait on the port: notes which server was starting, then 'presses Ctrl-C'."""

    def __init__(self):
        self.server = None

    def __call__(self, port, host=None, *, timeout=30.0, alive=None):
        self.server = alive.__self__
        assert self.server.running(), "the server process should be running while we wait for it"
        raise KeyboardInterrupt


def _start_netron(tmp_path):
    path = tmp_path / "net.pt"
    torch.save(Net().state_dict(), path)
    return netron.start_netron(path)


START = {
    "netron": (netron, _start_netron),
    "tensorboard": (tensorboard, lambda tmp_path: tensorboard.start_tensorboard(tmp_path)),
    "visdom": (visdom, lambda tmp_path: visdom.start_visdom(tmp_path / "envs")),
}


@pytest.mark.parametrize("name", sorted(START))
def test_ctrl_c_during_start_up_stops_the_server(name, tmp_path, monkeypatch):
    module, start = START[name]
    interrupted = _Interrupted()
    monkeypatch.setattr(module, "wait_for_port", interrupted)
    with pytest.raises(KeyboardInterrupt):
        start(tmp_path)
    assert interrupted.server is not None, f"start_{name} never waited for its port"
    try:
        assert not interrupted.server.running(), f"the {name} process outlived the interrupted start-up"
    finally:
        interrupted.server.stop()


@pytest.mark.parametrize("name", sorted(START))
def test_a_server_ends_with_the_process_that_started_it(name, tmp_path):
    script = ("import os, sys, pathlib; sys.path.insert(0, sys.argv[1]); import test_server_lifetimes as t; "
              f"server = t.START[{name!r}][1](pathlib.Path({str(tmp_path)!r})); "
              "print(server.process.pid, server.port, flush=True); os._exit(0)")
    pid, port = map(int, subprocess.run([sys.executable, "-c", script, os.path.dirname(__file__)], capture_output=True,
                                        text=True, check=True, timeout=120).stdout.split())
    deadline = time.monotonic() + 10
    while (_alive(pid) or port_answers(port)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid) and not port_answers(port), f"the orphaned {name} server is still running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # an ended process that nobody reaped yet (a container without an init) is a zombie: gone
        return open(f"/proc/{pid}/stat", encoding="ascii").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
