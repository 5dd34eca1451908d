"""A Ctrl-C (or any error) while a server is still starting must not leave the server running.

The servers run in their own session so that the terminal's Ctrl-C reaches only our command; the
price is that nothing else stops them. Here the wait for the port is interrupted, as a learner
pressing Ctrl-C during start-up does, and the server process must be gone afterwards.
"""
import pytest
import torch

from watchtrain.models import Net
from watchtrain.servers import netron, tensorboard, visdom


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
