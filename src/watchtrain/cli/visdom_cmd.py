"""`watchtrain visdom`: a Visdom server that works offline, on 127.0.0.1, envs kept under runs/visdom.

`python -m visdom.server` downloads its web page's files from CDNs at every start and crashes
without internet. This starts the same server without that step. `--install-assets` puts those
files in place once, from the npm registry (`make setup` does it when npm is there).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_ENV_DIR = Path("runs") / "visdom"


def register(subparsers) -> None:
    parser = subparsers.add_parser("visdom", help="start a Visdom server that works offline (127.0.0.1), "
                                                  "or install its web page's files", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, help="port to listen on (default: 8097, Visdom's own, or a free "
                                                 "one when 8097 is taken; 0: always a free one)")
    parser.add_argument("--env-path", type=Path, help="where envs are saved and loaded "
                                                      "(default: runs/visdom in the course folder)")
    parser.add_argument("--all-interfaces", action="store_true",
                        help="listen on every network interface, not only 127.0.0.1: anyone who can reach this "
                             "machine then sees (and can change) your plots")
    parser.add_argument("--install-assets", action="store_true",
                        help="install the web page's JS/CSS/font files into visdom's static folder with npm, "
                             "then exit")
    parser.add_argument("--force", action="store_true", help="with --install-assets: reinstall every file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.servers.errors import ServerError

    try:
        if args.install_assets:
            return _install_assets(args.force)
        return _serve(args)
    except ServerError as err:
        print(f"watchtrain: error: {err}", file=sys.stderr)
        return 1


def _install_assets(force: bool) -> int:
    from watchtrain.servers.visdom_assets import install_assets

    written = install_assets(force=force)
    if written:
        print(f"installed {written} files: Visdom's web page now works offline")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from watchtrain.servers.ports import LOCALHOST, port_is_free
    from watchtrain.servers.visdom import ALL_INTERFACES, DEFAULT_PORT, start_visdom
    from watchtrain.servers.visdom_assets import missing_assets

    env_path = args.env_path or _default_env_path()
    port = args.port
    if port is None:
        host = ALL_INTERFACES if args.all_interfaces else LOCALHOST
        port = DEFAULT_PORT if port_is_free(DEFAULT_PORT, host) else None
        if port is None:
            print(f"port {DEFAULT_PORT} is taken; using a free port instead")
    server = start_visdom(env_path, port or None, all_interfaces=args.all_interfaces)
    try:
        print(f"Visdom is running: open {server.url}\n  envs are saved in {server.env_path}\n"
              f"  connect from Python: Visdom(server='http://127.0.0.1', port={server.port})\n  Ctrl-C stops it")
        if args.all_interfaces:
            print("  warning: listening on every network interface; anyone who can reach this machine sees your plots")
        if missing_assets():
            print("  note: the web page's files are missing, so the page will stay blank (the Python API works); "
                  "install them with `watchtrain visdom --install-assets` (needs npm)")
        code = server.process.wait()
    except KeyboardInterrupt:
        print("\nstopped Visdom")
        return 0
    finally:
        server.stop()
    print(f"watchtrain: error: the Visdom server stopped by itself (exit code {code}); see {server.log_path}",
          file=sys.stderr)
    return 1


def _default_env_path() -> Path:
    from watchtrain.course import ManifestError, find_course_root

    try:
        return find_course_root() / DEFAULT_ENV_DIR
    except ManifestError:
        return Path.cwd() / DEFAULT_ENV_DIR
