"""Lesson 09's pictures: each failure run (seed 0, as `watchtrain demo` writes them) in TensorBoard's
own dashboards, shot in a real headless Chromium.

    .venv/bin/python tools/screenshot_failure_runs.py            # -> lessons/09_read_the_dashboard/images/
    .venv/bin/python tools/screenshot_failure_runs.py --out DIR --mode overfitting

Needs Chromium and playwright (see `watchtrain doctor`). Each run gets a TensorBoard of its own, so
the colours are the same in every picture: the main run orange, loss_train blue, loss_val red.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "lessons" / "09_read_the_dashboard" / "images"
SEED = 0
# mode -> (dashboard, what to shoot, which): a card by its tag (enlarged), or the cards whose tags match a regex.
SHOTS = {
    "healthy": ("scalars", "card", "loss"),
    "lr_too_high": ("scalars", "card", "loss"),
    "lr_too_low": ("scalars", "section", "^update_ratio/"),
    "overfitting": ("scalars", "card", "loss"),
    "vanishing_gradients": ("scalars", "section", "^grad_norm/fc"),
    "exploding_gradients": ("scalars", "card", "grad_norm/total"),
    "dead_relus": ("histograms", "card", "activations/fc1"),
    "shuffled_labels": ("scalars", "card", "loss"),
}
CARDS = {"scalars": "tf-scalar-card", "histograms": "tf-histogram-loader"}
SETTLE_S = 1.5  # the charts animate in once their data arrives


def shoot(run_dir: Path, mode: str, image: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))  # the project's browser helpers: a maintainer's tool, not the handout's
    from browser_pages import headless_page
    from watchtrain.servers.tensorboard import start_tensorboard

    dashboard, kind, name = SHOTS[mode]
    with start_tensorboard(run_dir) as server:
        server.wait_for_tag("loss")
        with headless_page(1300, 1000) as page:
            page.goto(f"{server.url}/#{dashboard}&_smoothingWeight=0", wait_until="networkidle")
            if kind == "card":
                card = page.locator(CARDS[dashboard], has_text=f"tag: {name}").first
                card.wait_for(timeout=30_000)
                card.locator("paper-icon-button").first.click()  # the first button enlarges the card
                target = card
            else:  # the tag filter shows the section's cards, and only them, in one pane
                page.locator("tf-tag-filterer input").fill(name)
                target = page.locator("tf-category-paginated-view").first
                target.wait_for(timeout=30_000)
            page.locator(f"{CARDS[dashboard]} svg path").first.wait_for(timeout=30_000)
            time.sleep(SETTLE_S)
            target.screenshot(path=str(image))
    _shrink(image)


def _shrink(image: Path) -> None:
    """Charts have few colours: a 64-colour palette keeps them sharp at a third of the size."""
    from PIL import Image

    with Image.open(image) as picture:
        small = picture.convert("RGB").quantize(colors=64)
    small.save(image, optimize=True)


def main(argv: list[str] | None = None) -> int:
    from watchtrain.failure_runs import MODES, write_failure_runs

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help=f"where the PNGs go (default: {IMAGES.relative_to(ROOT)})")
    parser.add_argument("--mode", dest="modes", action="append", choices=MODES, help="only these modes")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="watchtrain-failure-runs-") as scratch:
        for run in write_failure_runs(scratch, seed=SEED):
            if args.modes and run.mode not in args.modes:
                continue
            image = args.out / f"{run.mode}.png"
            shoot(run.path, run.mode, image)
            print(f"{image}: {run.signal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
