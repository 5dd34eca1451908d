"""`watchtrain demo`: train on the bundled data, run every lesson's reference code, offline."""
from __future__ import annotations

import argparse
from pathlib import Path

TENSORBOARD_HINT = "tensorboard --logdir {out} --host 127.0.0.1 --port 6006"


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the course's demo: train the tutorial CNN and every "
                                                "lesson's reference code on the bundled data, offline",
                                   description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs"), help="where to write everything (default: runs)")
    parser.add_argument("--device", default="cpu", help="torch device for training (default: cpu)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.course import load_course
    from watchtrain.demo import run_demo

    course = load_course()
    out = args.out.resolve()
    print(f"Watch It Train demo: writing under {out}")
    outputs = run_demo(course, out, device=args.device)
    width = max(len(o.name) for o in outputs)
    print("\nWritten:")
    for output in outputs:
        print(f"  {output.name:<{width}}  {output.seconds:5.1f}s  {_relative(output.path)}\n"
              f"  {'':<{width}}         {output.what}")
    print(f"\nOpen it in TensorBoard (bound to this machine only):\n  {TENSORBOARD_HINT.format(out=_relative(out))}\n"
          f"  then browse http://127.0.0.1:6006")
    return 0


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
