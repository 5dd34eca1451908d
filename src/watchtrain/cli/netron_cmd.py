"""`watchtrain netron FILE`: show a saved model (an ONNX export, say) in Netron, served on 127.0.0.1."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("netron", help="serve a model file (e.g. an ONNX export) in Netron on 127.0.0.1",
                                   description=__doc__)
    parser.add_argument("file", type=Path, help="the model file, e.g. runs/08_model_visualisation/net.onnx")
    parser.add_argument("--port", type=int, help="port to serve on (default: a free one)")
    parser.add_argument("--browse", action="store_true", help="also open the page in your web browser")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.servers.errors import ServerError
    from watchtrain.servers.netron import stale_warning, start_netron

    for note in filter(None, (stale_warning(), _incomplete_onnx_warning(args.file))):
        print(f"watchtrain: warning: {note}", file=sys.stderr)
    try:
        server = start_netron(args.file, args.port)
    except ServerError as err:
        print(f"watchtrain: error: {err}", file=sys.stderr)
        return 1
    try:
        print(f"Netron is showing {server.model_path}\n  open {server.url}\n  (bound to this machine only; "
              f"Ctrl-C stops it)", flush=True)
        if args.browse:
            import webbrowser

            webbrowser.open(server.url)
        code = server.wait()
    except KeyboardInterrupt:
        print("\nstopped Netron")
        return 0
    finally:
        output = server.output()
        server.stop()
    print(f"watchtrain: error: Netron stopped by itself (exit code {code}); it printed:\n{output}", file=sys.stderr)
    return 1

def _incomplete_onnx_warning(path: Path) -> str | None:
    """Netron shows an ONNX graph even when its weights file is missing; say so before it does."""
    if path.suffix != ".onnx" or not path.is_file():
        return None
    from watchtrain.artifacts import ArtifactError
    from watchtrain.artifacts.onnx import external_data_files

    try:
        missing = [file.name for file in external_data_files(path) if not file.is_file()]
    except ArtifactError as err:
        return err.problem
    if missing:
        return (f"{path.name} keeps its weights in {', '.join(missing)}, which is not beside it: Netron will show "
                f"the graph without the weights")
    return None
