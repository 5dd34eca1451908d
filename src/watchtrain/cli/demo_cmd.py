"""`watchtrain demo`: train on the bundled data, run every lesson's reference code, offline.

With --serve, also start TensorBoard, Visdom and Netron on 127.0.0.1 and show their URLs until Ctrl-C.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

TENSORBOARD_HINT = "tensorboard --logdir {out} --host 127.0.0.1 --port 6006"


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the course's demo: train the tutorial CNN and every "
                                                "lesson's reference code on the bundled data, offline",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs"), help="where to write everything (default: runs)")
    parser.add_argument("--device", default="cpu", help="torch device for training (default: cpu)")
    parser.add_argument("--serve", action="store_true",
                        help="then serve the dashboards (TensorBoard, Visdom, Netron) on 127.0.0.1 until Ctrl-C")
    parser.add_argument("--no-run", action="store_true",
                        help="with --serve: serve what is already under --out, without running the demo again")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = args.out.resolve()
    if args.no_run and not args.serve:
        print("watchtrain: error: --no-run only makes sense with --serve (serve what an earlier demo wrote)",
              file=sys.stderr)
        return 2
    ok = True
    if not args.no_run:
        ok = _run_demo(out, args.device)
        if ok is None:
            return 1
    elif not out.is_dir():
        print(f"watchtrain: error: {out} does not exist; run `watchtrain demo --out {_relative(out)}` first, "
              f"or leave out --no-run", file=sys.stderr)
        return 1
    if args.serve:
        return _serve(out) or (0 if ok else 1)
    from watchtrain.demo import tensorboard_page

    print(f"\nOpen it in TensorBoard (bound to this machine only):\n  {TENSORBOARD_HINT.format(out=_relative(out))}\n"
          f"  then browse http://127.0.0.1:6006{tensorboard_page(out)[0]}\n"
          f"Or let the demo serve every dashboard: `watchtrain demo --serve --no-run"
          f"{'' if args.out == Path('runs') else ' --out ' + str(args.out)}`")
    return 0 if ok else 1


def _run_demo(out: Path, device: str) -> bool | None:
    """Whether every step ran; None when the demo cannot run at all (it has said why)."""
    from watchtrain.course import load_course
    from watchtrain.demo import run_demo

    course = load_course()
    if not (course.root / "solutions").is_dir():
        print(f"watchtrain: error: the demo runs the course's reference solutions, and this copy of the course has "
              f"no solutions/ folder (a student handout has none), so it has nothing to run. It needs the full "
              f"course, the one your instructor handed out from. To see runs of your own on the dashboards: "
              f"`watchtrain demo --serve --no-run --out FOLDER`, with the folder your exercises wrote to.",
              file=sys.stderr)
        return None
    print(f"Watch It Train demo: writing under {out}")
    outputs = run_demo(course, out, device=device)
    print(f"\nSummary\n  {'time':>6}  step, where it wrote, what")
    for output in outputs:
        print(f"  {output.seconds:5.1f}s  {output.name}\n  {'':6}    {_relative(output.path)}\n"
              f"  {'':6}    {output.what}")
    failed = [o.name for o in outputs if not o.ok]
    if failed:
        print(f"\n{len(failed)} step(s) failed: {', '.join(failed)}. The rest of the demo is complete.")
    return not failed


def _serve(out: Path) -> int:
    from watchtrain.demo import serve_dashboards

    print(f"\nStarting the dashboards for {_relative(out)} ...", flush=True)
    try:
        with serve_dashboards(out) as dashboards:
            for problem in dashboards.problems:
                print(f"  note: {problem}")
            if not dashboards.running:
                print("watchtrain: error: no dashboard could start (see above)", file=sys.stderr)
                return 1
            width = max(len(name) for name, _, _ in dashboards.running)
            print("\nDashboards, bound to this machine only (Ctrl-C stops them):")
            for name, url, what in dashboards.running:
                print(f"  {name:<{width}}  {url:<24}  {what}")
            print(flush=True)
            while dashboards.all_running():
                time.sleep(0.5)
            print("watchtrain: error: a dashboard server stopped by itself; stopping the others", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nStopped the dashboards.")
        return 0


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
