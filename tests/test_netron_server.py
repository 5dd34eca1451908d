"""Netron serving an exported model: start, stop, ports, errors, the CLI, and the graph view in a real
headless Chromium. The screenshot is kept under test-artifacts/ (or $WATCHTRAIN_TEST_ARTIFACTS)."""
import datetime as dt
import signal
import socket
import urllib.request

import pytest
import torch

from browser_pages import artifacts_dir, headless_page, record_requests_leaving, require_chromium
from watchtrain.models import Net
from watchtrain.servers.errors import ServerError
from watchtrain.servers.netron import netron_build_date, stale_warning, start_netron
from watchtrain.servers.ports import LOCALHOST, port_answers

from serving_cli import assert_port_closes, serve_then_interrupt

# What the graph view must show for Net: its input and output names and its operators.
EXPECTED_NODES = ("images", "Conv", "Relu", "MaxPool", "Reshape", "Gemm", "logits")
# Netron replaces window.eval with a function that throws; Playwright's queries need the real one.
KEEP_EVAL = "const e = window.eval; Object.defineProperty(window, 'eval', {get: () => e, set: () => {}});"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tutorial CNN exported as lesson 08 asks: net.onnx (the graph) and net.onnx.data (the weights)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("netron") / "net.onnx"
    torch.onnx.export(Net().eval(), (torch.zeros(2, 1, 28, 28),), str(path), dynamo=True, input_names=["images"],
                      output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    assert path.with_name("net.onnx.data").is_file()
    return path


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_serves_the_app_and_the_model_on_localhost_then_stops(exported):
    with start_netron(exported) as server:
        assert server.url.startswith(f"http://{LOCALHOST}:")
        page = _get(server.url).decode("utf-8")
        assert '<meta name="file" content="/data/net.onnx">' in page
        assert _get(f"{server.url}data/net.onnx") == exported.read_bytes()
        assert _get(f"{server.url}data/net.onnx.data") == exported.with_name("net.onnx.data").read_bytes()
    assert not server.running() and not port_answers(server.port)


def test_a_chosen_port_that_is_taken_is_refused(exported):
    with socket.socket() as squatter:
        squatter.bind((LOCALHOST, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} on 127.0.0.1 is already taken"):
            start_netron(exported, port)


def test_a_missing_model_file_is_refused(tmp_path):
    with pytest.raises(ServerError, match="there is no model file at .*nothing.onnx"):
        start_netron(tmp_path / "nothing.onnx")


def test_stale_netron_builds_are_announced():
    built = netron_build_date()
    assert built is not None, "netron's index.html has no date meta tag any more"
    assert stale_warning(today=built) is None
    assert "pip install -U netron" in stale_warning(today=built + dt.timedelta(days=181))


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_cli_serves_until_interrupted_killed_or_hung_up(exported, stop_with):
    port = socket.socket()
    with port:
        port.bind((LOCALHOST, 0))
        number = port.getsockname()[1]

    def while_serving(banner: str) -> None:
        assert banner.startswith("Netron is showing"), banner
        assert b"/data/net.onnx" in _get(f"http://{LOCALHOST}:{number}/")

    code, stdout, stderr = serve_then_interrupt(["netron", str(exported), "--port", str(number)], number,
                                                "Ctrl-C stops it", while_serving, stop_with)
    assert code == 0, stderr
    assert f"open http://{LOCALHOST}:{number}/" in stdout and "stopped Netron" in stdout
    assert_port_closes(number, "the Netron process")


def test_cli_reports_a_missing_file(tmp_path):
    from watchtrain.cli import main

    assert main(["netron", str(tmp_path / "nothing.onnx")]) == 1


def test_graph_view_shows_the_model_in_chromium(exported):
    require_chromium()
    screenshot = artifacts_dir() / "netron_graph.png"
    with start_netron(exported) as server, headless_page(width=1000, height=1300) as page:
        # A fresh browser profile, as a learner's first visit: the page the course serves asks no
        # IP-lookup service, shows no consent dialog and sends no usage report. Any request that
        # would leave 127.0.0.1 is recorded (and cut off) instead.
        outside = record_requests_leaving(page, server.url)
        # Netron's page refuses to work 180 days after its build; run it on its build day, not today.
        page.clock.set_fixed_time(dt.datetime.combine(netron_build_date(), dt.time(12)))
        page.add_init_script(KEEP_EVAL)
        page.goto(server.url)
        page.locator("#canvas g.node").first.wait_for(timeout=30_000)
        texts = page.locator("#canvas g.node").all_text_contents()
        dialog = page.get_by_text("This app uses cookies").is_visible()
        page.wait_for_timeout(1500)  # time for any late call out (usage reports go after the model opens)
        page.screenshot(path=str(screenshot))
    assert outside == [], f"Netron's page called out of the machine: {outside}"
    assert not dialog, "Netron's consent dialog covers the model"
    for expected in EXPECTED_NODES:
        assert any(text.startswith(expected) for text in texts), f"no {expected} node in Netron's graph: {texts}"
    assert sum(text.startswith("Gemm") for text in texts) == 3 and sum(text.startswith("Conv") for text in texts) == 2
    assert screenshot.stat().st_size > 10_000
