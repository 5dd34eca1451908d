"""A Visdom server that starts offline: bound to 127.0.0.1, on a chosen or free port, envs kept on disk.

`python -m visdom.server` first downloads its web assets from CDNs and crashes without internet.
We start visdom's own `run_server.main()` instead, which skips that download; the web page's
JS/CSS files come from npm once, at set-up time (`watchtrain.servers.visdom_assets`). The server
process also fixes visdom 0.2.4's page for tornado >= 6.6 (see `serve`).

    with start_visdom(env_path="runs/visdom") as server:
        viz = server.client(env="lesson07")
        viz.line(X=[0, 1], Y=[1.0, 0.5])
        print(server.url)
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from watchtrain.servers.errors import ServerError
from watchtrain.servers.ports import LOCALHOST, free_port, port_is_free, wait_for_port
from watchtrain.servers.processes import exit_when_orphaned, lives_for_this_process, ready_or_stopped, stop_process

DEFAULT_PORT = 8097  # Visdom's own default
ALL_INTERFACES = "0.0.0.0"
LOG_NAME = "visdom-server.log"
INSTALL_VISDOM = 'pip install "setuptools<81" wheel && pip install --no-build-isolation visdom==0.2.4'
_SERVER_CODE = "from watchtrain.servers.visdom import serve; serve()"


@dataclass
class VisdomServer:
    """A running Visdom server process. Stop it with `stop()`, or use it as a context manager."""

    port: int
    host: str
    env_path: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST if self.host == ALL_INTERFACES else self.host}:{self.port}"

    def env_url(self, env: str) -> str:
        """The page that shows one env."""
        return f"{self.url}/env/{env}"

    def env_file(self, env: str) -> Path:
        """Where `viz.save([env])` writes the env."""
        return self.env_path / f"{env}.json"

    def running(self) -> bool:
        return self.process.poll() is None

    def client(self, env: str = "main", **options):
        """A `visdom.Visdom` client connected to this server, with `env` as its default env.

        It raises on connection errors (visdom's default only prints them) and opens no
        websocket back-channel, which scripts that only send plots do not need.
        """
        from visdom import Visdom

        options = {"use_incoming_socket": False, "raise_exceptions": True, **options}
        try:
            client = Visdom(server=f"http://{LOCALHOST}", port=self.port, env=env, **options)
            connected = client.check_connection()
        except ConnectionError:
            connected = False
        if not connected:
            raise ServerError(f"the Visdom server at {self.url} does not answer; is it still running? "
                              f"Its log is {self.log_path}")
        return client

    def stop(self) -> None:
        """Stop the server and wait for the process to end (killed if it does not end in 5 s)."""
        stop_process(self.process)

    def __enter__(self) -> "VisdomServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def visdom_installed() -> bool:
    return importlib.util.find_spec("visdom") is not None


def start_visdom(env_path: str | os.PathLike | None = None, port: int | None = None, *,
                 all_interfaces: bool = False, timeout: float = 30.0) -> VisdomServer:
    """Start a Visdom server and wait until its port answers.

    `env_path`: the folder where envs are saved and loaded (created; default: a new temporary
    folder). `port`: None picks a free port. The server listens on 127.0.0.1 only, unless
    `all_interfaces` (then anyone who can reach this machine sees your plots).
    Raises ServerError, saying why and what to do, when visdom is missing, the port is taken,
    or the server does not come up within `timeout` seconds.
    """
    if not visdom_installed():
        raise ServerError(f"visdom is not installed in {sys.executable}; install it with `make setup`, "
                          f"or by hand: {INSTALL_VISDOM}")
    host = ALL_INTERFACES if all_interfaces else LOCALHOST
    if port is None:
        port = free_port(host)
    elif not port_is_free(port, host):
        raise ServerError(port_taken_message(port, host))
    env_path = Path(env_path if env_path is not None else tempfile.mkdtemp(prefix="watchtrain-visdom-")).resolve()
    env_path.mkdir(parents=True, exist_ok=True)
    log_path = env_path / LOG_NAME
    command = [sys.executable, "-c", _SERVER_CODE, "-port", str(port), "-env_path", str(env_path),
               "-logging_level", "WARNING"]
    if not all_interfaces:
        command.append("-bind_local")
    environment = lives_for_this_process()
    # Its own session: a Ctrl-C meant for us (the CLI) does not hit the server before we stop it.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=environment, start_new_session=True)
    server = VisdomServer(port=port, host=host, env_path=env_path, log_path=log_path, process=process)
    return ready_or_stopped(server, lambda: wait_for_port(port, LOCALHOST, timeout=timeout, alive=server.running),
                            lambda: _failure_message(server, timeout))


def port_taken_message(port: int, host: str = LOCALHOST) -> str:
    return (f"port {port} on {host} is already taken: another program (maybe a Visdom server you started "
            f"earlier) listens there. Stop it, choose another port (--port N), or leave the port out "
            f"to get a free one.")


def _failure_message(server: VisdomServer, timeout: float) -> str:
    log = server.log_path.read_text(encoding="utf-8", errors="replace") if server.log_path.is_file() else ""
    tail = "\n".join("    " + line for line in log.strip().splitlines()[-8:])
    if "Address already in use" in log:
        return port_taken_message(server.port, server.host)
    if "No module named" in log:
        return f"the Visdom server could not import what it needs:\n{tail}\n  Reinstall it: {INSTALL_VISDOM}"
    if server.process.returncode is None or server.process.returncode < 0:
        what = f"did not open port {server.port} within {timeout:g} s (stopped it)"
    else:
        what = f"exited with code {server.process.returncode} before opening port {server.port}"
    return f"the Visdom server {what}. Its log ({server.log_path}) ends with:\n{tail or '    (nothing)'}"


def serve() -> None:
    """The server process: visdom's `run_server.main()`, which reads visdom's own command-line flags.

    visdom.server's `__main__` calls download_scripts() (the CDN download) first; main() is the
    server alone. Its page template asks for `static_url("../user/style.css")`, a file outside the
    static folder, which tornado >= 6.6 refuses with 403 for the whole page; older tornado just
    left the version hash off. The handler below restores that for such paths.

    The server also ends when the process that started it is gone (a killed test run, a closed
    notebook kernel), so no server outlives its user.
    """
    exit_when_orphaned()
    # The server never touches a tensor, but `import visdom` imports torch when it can: seconds saved.
    sys.modules["torch"] = None
    import tornado.web
    from visdom.server import app, run_server

    class StaticFiles(tornado.web.StaticFileHandler):
        @classmethod
        def make_static_url(cls, settings, path, include_version=True):
            if path.startswith("../"):
                return settings.get("static_url_prefix", "/static/") + path
            return super().make_static_url(settings, path, include_version)

    app.tornado_settings["static_handler_class"] = StaticFiles
    run_server.main()

