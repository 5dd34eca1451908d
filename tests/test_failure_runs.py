"""Lesson 09's generated runs: the same bytes for the same seed, the layout the lesson describes, and
each failure mode's signature, read back with TensorBoard's own reader. (Their time is measured by
benchmarks/bench.py, not asserted here.)"""
import math
import re
import statistics
from pathlib import Path

import pytest

from watchtrain.artifacts.tensorboard import event_files, find_runs, read_histograms, read_scalars, verify_event_file
from watchtrain.failure_runs import HISTOGRAM_EVERY, MODES, write_failure_run, write_failure_runs

SEED = 20240
LN_10 = math.log(10)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    return {run.mode: run for run in write_failure_runs(tmp_path_factory.mktemp("failure_runs"), seed=SEED)}


def files_of(run_dir: Path) -> dict[str, bytes]:
    return {path.relative_to(run_dir).as_posix(): path.read_bytes() for path in sorted(run_dir.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("mode", ["healthy", "lr_too_high", "dead_relus"])
def test_the_same_seed_gives_the_same_bytes(runs, mode, tmp_path):
    again = write_failure_run(mode, tmp_path / mode, seed=runs[mode].seed)
    assert files_of(again.path) == files_of(runs[mode].path)
    assert again.signal == runs[mode].signal


def test_another_seed_gives_another_run(runs, tmp_path):
    other = write_failure_run("healthy", tmp_path / "healthy", seed=runs["healthy"].seed + 1)
    assert files_of(other.path) != files_of(runs["healthy"].path)


def test_every_run_has_the_lessons_layout(runs):
    for mode, run in runs.items():
        assert find_runs(run.path) == [".", "loss_train", "loss_val"], mode
        for folder in find_runs(run.path):
            for path in event_files(run.path / folder):
                verify_event_file(path)  # framing and checksums, record by record
        scalars = read_scalars(run.path)
        layers = sorted({tag.split("/", 1)[1] for tag in scalars if tag.startswith("update_ratio/")})
        assert layers and all(re.fullmatch(r"fc\d+\.weight", layer) for layer in layers), (mode, layers)
        steps = [step for step, _ in scalars["lr"]]
        assert steps == list(range(len(steps))), mode
        for tag in ["grad_norm/total"] + [f"{kind}/{layer}" for kind in ("grad_norm", "update_ratio") for layer in layers]:
            assert [step for step, _ in scalars[tag]] == steps, (mode, tag)
        assert [step for step, _ in read_scalars(run.path / "loss_train")["loss"]] == steps, mode
        histograms = read_histograms(run.path)
        kinds = {tag.split("/", 1)[0] for tag in histograms}
        assert kinds == {"weights", "grads", "activations"}, (mode, kinds)
        logged = [event.step for event in histograms[f"weights/{layers[0]}"]]
        expected = [step for step in steps if step % HISTOGRAM_EVERY == 0]
        # Once a run's weights are NaN it has no histogram: TensorBoard refuses one of NaNs.
        assert logged == (expected[:len(logged)] if mode == "lr_too_high" else expected), mode


def values(run_dir: Path, tag: str) -> list[float]:
    return [value for _, value in read_scalars(run_dir)[tag]]


def losses(run) -> tuple[list[float], list[float]]:
    return values(run.path / "loss_train", "loss"), values(run.path / "loss_val", "loss")


def median_ratio(run) -> float:
    scalars = read_scalars(run.path)
    return statistics.median(value for tag, points in scalars.items() if tag.startswith("update_ratio/")
                             for _, value in points)


def share_at_zero(run, tag: str) -> float:
    last = read_histograms(run.path)[tag][-1]
    return float(next(count for limit, count in zip(last.bucket_limits, last.bucket_counts) if limit > 0) / last.num)


def test_healthy(runs):
    run = runs["healthy"]
    train, val = losses(run)
    assert abs(train[0] - LN_10) < 0.3 and val[-1] < 0.5 * LN_10 and val[-1] <= 1.05 * min(val)
    assert 1e-4 < median_ratio(run) < 1e-1


def test_lr_too_high_diverges_then_nan(runs):
    run = runs["lr_too_high"]
    train, _ = losses(run)
    first_nan = next(step for step, loss in enumerate(train) if math.isnan(loss))
    assert max(train[:first_nan]) > 1e6 * train[0]
    assert f"became NaN at step {first_nan}" in run.signal
    assert values(run.path, "grad_norm/total")[0] < 10  # the gradients start normal: the steps are too big


def test_lr_too_low_barely_moves(runs):
    run = runs["lr_too_low"]
    train, _ = losses(run)
    assert abs(train[-1] - train[0]) < 0.1 * train[0]
    assert median_ratio(run) < 1e-4


def test_overfitting_validation_turns_up(runs):
    run = runs["overfitting"]
    train, val = losses(run)
    assert train[-1] < 0.05 and val[-1] > 1.3 * min(val) and min(val) < 0.7 * LN_10
    assert "the validation loss was lowest at step" in run.signal


def test_vanishing_gradients_die_out_towards_the_input(runs):
    run = runs["vanishing_gradients"]
    scalars = read_scalars(run.path)
    layers = sorted((tag for tag in scalars if tag.startswith("grad_norm/fc")), key=lambda t: int(t[len("grad_norm/fc"):].split(".")[0]))
    medians = [statistics.median(value for _, value in scalars[tag]) for tag in layers]
    assert medians == sorted(medians) and medians[0] < 1e-2 * medians[-1]
    grads = read_histograms(run.path)["grads/fc1.weight"][-1]
    assert max(abs(grads.min), abs(grads.max)) < 1e-3  # a spike at 0


def test_exploding_gradients_from_the_first_step(runs):
    run = runs["exploding_gradients"]
    train, _ = losses(run)
    assert values(run.path, "grad_norm/total")[0] > 1e3 and train[0] > 100 * LN_10


def test_dead_relus_activations_spike_at_zero(runs):
    assert share_at_zero(runs["dead_relus"], "activations/fc1") > 0.95
    assert share_at_zero(runs["healthy"], "activations/fc1") < 0.8


def test_shuffled_labels_stay_at_chance_while_the_weights_move(runs):
    run = runs["shuffled_labels"]
    train, val = losses(run)
    assert min(val) > 0.95 * LN_10 and statistics.median(train[-10:]) > 0.9 * LN_10
    assert median_ratio(run) > 1e-3


def test_every_mode_has_a_signal_in_its_own_numbers(runs):
    assert sorted(runs) == sorted(MODES)
    assert all(run.signal and re.search(r"\d", run.signal) for run in runs.values())
