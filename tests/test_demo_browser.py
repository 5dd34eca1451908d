"""The demo's training run, seen through TensorBoard's scalars dashboard in a real headless Chromium,
and its lesson-02 hparams sweep in the HParams dashboard.

The screenshots are kept under test-artifacts/ (or $WATCHTRAIN_TEST_ARTIFACTS) for a person to look at.
"""
from pathlib import Path

import numpy
import pytest
import torch
from PIL import Image

from browser_pages import artifacts_dir, headless_page, record_requests_leaving, require_chromium
from watchtrain.servers.tensorboard import start_tensorboard
from watchtrain.course import load_course
from watchtrain.demos import lesson_demo
from watchtrain.reference import load_reference

LESSON = "04_training_run"  # the demo's training run of the tutorial CNN
LOSS_TAG = "training loss"  # what it logs every 250 mini-batches
SWEEP_LESSON = "02_tensorboard_media"


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory) -> Path:
    """The demo's training run, exactly as `watchtrain demo` runs it: one epoch of the tutorial CNN."""
    out = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny CNN: one thread is as fast, and far faster on a busy machine
    try:
        solutions = load_course().root / "solutions"
        lesson_demo(LESSON).run(load_reference(solutions, LESSON), out / LESSON)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def sweep_runs(tmp_path_factory) -> Path:
    """Lesson 02's demo, as `watchtrain demo` runs it: its hparams sweep included."""
    out = tmp_path_factory.mktemp("runs")
    solutions = load_course().root / "solutions"
    lesson_demo(SWEEP_LESSON).run(load_reference(solutions, SWEEP_LESSON), out / SWEEP_LESSON)
    return out


def coloured_pixels(image: Image.Image) -> numpy.ndarray:
    """A mask of the pixels with a clear colour: the run's line, not the white, grey or black of the axes."""
    rgb = numpy.asarray(image.convert("RGB")).astype(int)
    return (rgb.max(axis=2) - rgb.min(axis=2)) > 60


def test_training_loss_chart_renders_in_the_scalars_dashboard(demo_runs):
    require_chromium()
    artifacts = artifacts_dir()
    with start_tensorboard(demo_runs) as server:
        assert server.wait_for_tag(LOSS_TAG) == LESSON
        with headless_page() as page:
            outside = record_requests_leaving(page, server.url)
            page.goto(f"{server.url}/#scalars", wait_until="networkidle")
            card = page.locator("tf-scalar-card", has_text=LOSS_TAG)
            card.locator("svg path.line").first.wait_for(timeout=30_000)
            chart = card.locator("vz-line-chart2")
            page.screenshot(path=str(artifacts / "tensorboard_scalars.png"))
            chart.screenshot(path=str(artifacts / "tensorboard_training_loss_chart.png"))
            paths = card.locator("svg path.line").evaluate_all("lines => lines.map(l => l.getAttribute('d'))")
    assert outside == [], f"TensorBoard's page called out of the machine: {outside}"
    # The plotted line has a point per logged value (6 for 1,500 mini-batches, one every 250).
    assert any(d and d.count("L") >= 5 for d in paths), f"no line with the logged points: {paths}"
    mask = coloured_pixels(Image.open(artifacts / "tensorboard_training_loss_chart.png"))
    columns = numpy.flatnonzero(mask.any(axis=0))
    assert mask.sum() > 200, "the training-loss chart is blank where the plot should be"
    assert columns.size and columns[-1] - columns[0] > mask.shape[1] // 2, \
        "the coloured pixels do not run across the chart, so no loss curve was drawn"


def test_hparams_dashboard_lists_the_demos_sweep(sweep_runs):
    from watchtrain.demos.lesson_02_tensorboard_media import SWEEP

    require_chromium()
    with start_tensorboard(sweep_runs) as server, headless_page() as page:
        outside = record_requests_leaving(page, server.url)
        page.goto(f"{server.url}/#hparams", wait_until="networkidle")
        trials = [f"{SWEEP_LESSON}/hparams/trial_{index}" for index in range(len(SWEEP))]
        for trial in trials:  # a row of the table view per trial, found through the dashboard's shadow DOM
            page.get_by_text(trial, exact=True).wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts_dir() / "tensorboard_hparams.png"))
        headers = page.get_by_text("hparam/accuracy", exact=True).count()
    assert headers >= 1, "the sweep's accuracy column is missing from the HParams table"
    assert outside == [], f"TensorBoard's page called out of the machine: {outside}"
