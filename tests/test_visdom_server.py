"""The offline Visdom server: start, stop, ports, errors, the CLI, its web files, and its page showing
a plotted line, and the demo's env, in a real headless Chromium. The screenshots are kept under
test-artifacts/ (or $WATCHTRAIN_TEST_ARTIFACTS)."""
import os
import signal
import socket
import urllib.request

import pytest

from browser_pages import artifacts_dir, headless_page, record_requests_leaving, require_chromium
from watchtrain.servers import visdom as visdom_module
from watchtrain.servers.errors import ServerError
from watchtrain.servers.ports import LOCALHOST, port_answers
from watchtrain.servers.visdom import start_visdom
from watchtrain.servers.visdom_assets import ASSETS, BUILT_MARKER, AssetError, install_assets, missing_assets

from serving_cli import assert_port_closes, serve_then_interrupt

# Four points that no straight line joins, so that plotly draws every one of them.
LINE_X, LINE_Y = [0, 1, 2, 3], [3.0, 1.0, 2.0, 0.5]
PLOTTED_LINE = ".js-plotly-plot .scatterlayer .trace path.js-line"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with start_visdom(tmp_path_factory.mktemp("visdom-envs")) as server:
        yield server


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def _require(condition: bool, reason: str) -> None:
    """A check that needs set-up (Chromium, the web files): skipped on a laptop without it, failed in CI."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run this check)")
        pytest.skip(reason)


def _squat() -> socket.socket:
    squatter = socket.socket()
    squatter.bind((LOCALHOST, 0))
    squatter.listen()
    return squatter


def test_starts_on_localhost_serves_the_page_and_the_api_then_stops(tmp_path):
    with start_visdom(tmp_path / "envs") as server:
        assert server.url.startswith(f"http://{LOCALHOST}:") and server.running()
        # The page renders (tornado >= 6.6 answers 403 for visdom's own server unless patched, see serve()).
        status, page = _get(server.url)
        assert status == 200 and b'<div id="app">' in page
        viz = server.client(env="round_trip")
        viz.line(X=LINE_X, Y=LINE_Y, opts=dict(title="saved"))
        assert viz.save(["round_trip"]) == '["round_trip"]'
        assert server.env_file("round_trip").is_file()
    assert not server.running() and not port_answers(server.port)
    # The env outlives the server: a new server on the same folder serves it again.
    with start_visdom(tmp_path / "envs") as again:
        assert "round_trip" in again.client().get_env_list()


def test_listens_on_this_machine_only(server):
    # On Linux all of 127.0.0.0/8 reaches this machine: a server on every interface would answer
    # 127.0.0.2 too; one bound to 127.0.0.1 does not. Checked against a control socket first.
    with socket.socket() as control:
        control.bind(("0.0.0.0", 0))
        control.listen()
        if not port_answers(control.getsockname()[1], "127.0.0.2"):
            pytest.skip("127.0.0.2 does not reach this machine (not Linux?)")
    assert port_answers(server.port, LOCALHOST)
    assert not port_answers(server.port, "127.0.0.2")


def test_a_chosen_port_that_is_taken_is_refused(tmp_path):
    with _squat() as squatter:
        port = squatter.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} on 127.0.0.1 is already taken.*--port N"):
            start_visdom(tmp_path, port)


def test_missing_visdom_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(visdom_module, "visdom_installed", lambda: False)
    with pytest.raises(ServerError, match=r"visdom is not installed .*make setup.*--no-build-isolation visdom==0.2.4"):
        start_visdom(tmp_path)


def test_a_server_that_dies_at_start_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(visdom_module, "_SERVER_CODE", "import sys; print('cannot start: no env folder'); sys.exit(3)")
    with pytest.raises(ServerError, match=r"exited with code 3 before opening port(.|\n)*cannot start: no env folder"):
        start_visdom(tmp_path)


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_cli_serves_until_interrupted_killed_or_hung_up(tmp_path, stop_with):
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        port = probe.getsockname()[1]

    def while_serving(banner: str) -> None:
        assert banner.startswith("Visdom is running"), banner

    code, stdout, stderr = serve_then_interrupt(["visdom", "--port", str(port), "--env-path", str(tmp_path / "envs")],
                                                port, "Ctrl-C stops it", while_serving, stop_with)
    assert code == 0, stderr
    assert f"open http://{LOCALHOST}:{port}" in stdout and "stopped Visdom" in stdout
    assert_port_closes(port, "the Visdom server")


def test_cli_reports_a_taken_port(tmp_path, capsys):
    from watchtrain.cli import main

    with _squat() as squatter:
        port = squatter.getsockname()[1]
        assert main(["visdom", "--port", str(port), "--env-path", str(tmp_path)]) == 1
    assert f"port {port} on 127.0.0.1 is already taken" in capsys.readouterr().err


def test_assets_are_exactly_the_files_visdoms_own_download_fetches(tmp_path, monkeypatch):
    """Run visdom's download_scripts with its network calls answered locally, and compare file lists."""
    import requests
    import urllib.request as urllib_request
    from visdom.server import build

    class Answer:
        content = b"x"

        def read(self):
            return self.content

    class Opener:
        def open(self, request):
            return Answer()

    monkeypatch.setattr(urllib_request, "build_opener", lambda *handlers: Opener())
    monkeypatch.setattr(urllib_request, "install_opener", lambda opener: None)
    monkeypatch.setattr(requests, "get", lambda url, **kwargs: Answer())
    build.download_scripts(install_dir=str(tmp_path))
    static = tmp_path / "static"
    fetched = {path.relative_to(static).as_posix() for path in static.rglob("*") if path.is_file()}
    # download_scripts names the SVG font after its URL, '#fragment' included; browsers ask for the plain name.
    plain_svg = "fonts/glyphicons-halflings-regular.svg"
    assert fetched - {BUILT_MARKER} | {plain_svg} == {asset.target for asset in ASSETS}


def test_asset_install_without_npm_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm there
    with pytest.raises(AssetError, match="npm is not on PATH.*watchtrain visdom --install-assets"):
        install_assets(tmp_path)


def _require_a_browser_page() -> None:
    _require(not missing_assets(), "Visdom's web files are not installed: `watchtrain visdom --install-assets`")
    require_chromium()


def test_web_page_shows_a_plotted_line_in_chromium(server):
    _require_a_browser_page()
    viz = server.client(env="ui_check")
    viz.text("the page renders offline", opts=dict(title="note"))
    viz.line(X=LINE_X, Y=LINE_Y, opts=dict(title="ui check"))
    screenshot = artifacts_dir() / "visdom_line.png"
    broken = []
    with headless_page(width=1000, height=700) as page:
        # Everything the page needs comes from the local server: any other request is recorded and cut off.
        outside = record_requests_leaving(page, server.url)
        page.on("response", lambda response: response.status >= 400 and broken.append(
            f"{response.status} {response.url}"))
        page.on("pageerror", lambda error: broken.append(f"page error: {error}"))
        page.goto(server.env_url("ui_check"))
        line = page.wait_for_selector(PLOTTED_LINE, timeout=30_000)
        path = line.get_attribute("d")
        titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
        text = page.get_by_text("the page renders offline").count()
        page.screenshot(path=str(screenshot))
    assert outside == [] and broken == []
    assert titles == ["ui check"]
    assert path.startswith("M") and path.count("L") == len(LINE_X) - 1, f"not a {len(LINE_X)}-point line: {path}"
    assert text == 1
    assert screenshot.stat().st_size > 10_000


def test_the_demos_first_image_is_readable_in_chromium(tmp_path):
    """Visdom sizes an image window to its picture; the demo shows its 28-pixel first image larger."""
    from watchtrain.course import load_course
    from watchtrain.demos import lesson_demo
    from watchtrain.demos.lesson_07_visdom import ENV, FIRST_IMAGE_PX
    from watchtrain.reference import load_reference

    _require_a_browser_page()
    lesson = "07_visdom"
    lesson_demo(lesson).run(load_reference(load_course().root / "solutions", lesson), tmp_path)
    with start_visdom(tmp_path) as server, headless_page(width=1200, height=800) as page:
        page.goto(server.env_url(ENV))
        window = page.locator(".window", has_text="first image")
        picture = window.locator("img.content-image")
        picture.wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts_dir() / "visdom_demo_env.png"))
        width, natural_width = picture.evaluate("image => [image.width, image.naturalWidth]")
    assert natural_width == 28, "the picture itself stays the 28 x 28 image"
    assert width >= FIRST_IMAGE_PX * 0.8, f"the 'first image' window shows it {width} px wide: unreadable"
