"""Lesson 01 autograder: scalars, steps, runs and flushing, read back with TensorBoard's own reader."""

import difflib

import numpy as np
import torch
from torch import nn

from watchtrain.artifacts.tensorboard import find_runs, read_scalars, read_scalars_tree
from watchtrain.grading import (StepMistake, call_once, exercise, expect, expect_close, expect_equal,
                                expect_writers_closed, fail, read_run, step_mistake)

# log_batch_losses: 3 epochs of 5 batches, every loss different so that order mistakes show.
EPOCHS, BATCHES = 3, 5
EPOCH_LOSSES = [[round(2.3 * 0.9 ** (epoch * BATCHES + batch) + 0.01 * batch, 4) for batch in range(BATCHES)]
                for epoch in range(EPOCHS)]
BATCH_TAG = "Loss/train"

# log_train_and_test: 4 epochs of metrics.
HISTORY = [
    {"train_loss": 1.20, "test_loss": 1.31, "train_accuracy": 0.52, "test_accuracy": 0.49},
    {"train_loss": 0.81, "test_loss": 0.95, "train_accuracy": 0.68, "test_accuracy": 0.63},
    {"train_loss": 0.62, "test_loss": 0.83, "train_accuracy": 0.77, "test_accuracy": 0.70},
    {"train_loss": 0.50, "test_loss": 0.80, "train_accuracy": 0.82, "test_accuracy": 0.72},
]

# compare_learning_rates: the recipe's straight line, with a fixed wiggle instead of random noise.
LEARNING_RATES = (0.1, 0.01, 0.001)
LR_EPOCHS = 12
X = torch.arange(-5, 5, 0.1).view(-1, 1)
Y = -5 * X + 0.1 * torch.sin(7 * X)


def _global_step_advice(steps: list[int], per_epoch: int, epochs: int) -> str | None:
    """The usual global_step mistake these steps show, in this lesson's words, or None when none fits."""
    total = per_epoch * epochs
    advice = {
        StepMistake.ALL_AT_ZERO: f"All {len(steps)} points are at step 0: each point needs its own step, passed as "
                                 f"global_step (the third argument of add_scalar).",
        StepMistake.RESTARTS_EVERY_EPOCH: "The steps restart at 0 every epoch, so each epoch is drawn over the "
                                          "previous one: use global_step = epoch * batches_per_epoch + batch_index.",
        StepMistake.EPOCH_AS_STEP: "You used the epoch as the step, so all batches of an epoch share one x position: "
                                   "use global_step = epoch * batches_per_epoch + batch_index.",
        StepMistake.ONE_TOO_FAR: "The steps start at 1, one past where they belong: the first point is at step 0 "
                                 "(where enumerate starts by default).",
    }.get(step_mistake(steps, list(range(total)), per_epoch))
    if advice is None and len(steps) != total:
        return (f"{total} points were expected and {len(steps)} were written: log once per "
                f"{'batch' if per_epoch > 1 else 'epoch'}.")
    return advice


def _points(scalars: dict, tag: str, where: str) -> list[tuple[int, float]]:
    """The points of `tag`, or a failure that lists the tags that are there."""
    if tag in scalars:
        return scalars[tag]
    found = sorted(scalars)
    close = difflib.get_close_matches(tag, found, n=1, cutoff=0.85)  # a typo, not a sibling tag (train for test)
    advice = (f"Tags are matched exactly, case and slashes included: the tag must be {tag!r}, not {close[0]!r}."
              if close else f"No tag here is {tag!r} or close to it: it was not logged at all.")
    if not found:
        advice = "Nothing there was logged with add_scalar; `watchtrain hint 01` walks through the API."
    elif any(name.lower() == tag.lower() for name in found):
        advice = f"Only the case differs: the tag must be exactly {tag!r}."
    elif "training loss" in found:
        advice = (f"'training loss' is the classic tutorial's tag; this exercise asks for {tag!r} "
                  f"(the part before the slash groups charts into one section).")
    fail(f"No scalars with the tag {tag!r} in {where}.", expected=tag, found=found or "no scalar tags at all",
         advice=advice)


# log_batch_losses

def _log_batch_losses(lesson, tmp_path_factory):
    """The log_dir of the one call of log_batch_losses that the exercise's checks read."""
    def call(folder):
        log_dir = folder / "logs"
        lesson.log_batch_losses(str(log_dir), [list(losses) for losses in EPOCH_LOSSES])
        return log_dir
    return call_once((lesson.log_batch_losses.key,), tmp_path_factory, "log_batch_losses", call)


def _add_scalars_curves(log_dir) -> dict[str, list[tuple[int, float]]]:
    """The curves that add_scalars wrote under log_dir, by run: add_scalars(main_tag, {key: value})
    writes each key's curve into a run folder of its own, <main_tag>_<key>, under the tag main_tag."""
    runs = read_run(read_scalars_tree, log_dir, what="Reading the runs your code wrote under log_dir.")
    return {run: points for run, tags in runs.items() for tag, points in tags.items()
            if run.startswith(tag.replace("/", "_") + "_")}


def _expect_not_in_add_scalars_runs(log_dir) -> None:
    """Fail, saying where they went, when the batch losses were logged with add_scalars."""
    curves = _add_scalars_curves(log_dir)
    if curves:
        run = sorted(curves)[0]
        fail(f"No scalars with the tag {BATCH_TAG!r} in log_dir itself: the points went into the run {run}, a "
             f"sub-folder of log_dir.", expected=f"{BATCH_TAG!r} in log_dir", found=sorted(curves),
             advice=f"add_scalars writes each curve into a run folder of its own, named <main_tag>_<key> (here "
                    f"{run}); log_batch_losses wants add_scalar({BATCH_TAG!r}, loss, step), in log_dir itself.")


def _batch_points(lesson, tmp_path_factory):
    """The learner's batch losses. Only the tag test insists on the tag: the others grade the one
    curve there is (in log_dir, or in the one run that add_scalars made), so that a wrong tag costs
    one check, not all of them."""
    log_dir = _log_batch_losses(lesson, tmp_path_factory)
    scalars = read_run(read_scalars, log_dir, what="Reading the scalars your code wrote to log_dir.")
    if BATCH_TAG not in scalars and len(scalars) == 1:
        return next(iter(scalars.values()))
    if not scalars:
        curves = _add_scalars_curves(log_dir)
        if len(curves) == 1:
            return next(iter(curves.values()))
        _expect_not_in_add_scalars_runs(log_dir)
    return _points(scalars, BATCH_TAG, "log_dir")


@exercise("log_batch_losses")
def test_log_batch_losses_writes_the_tag_in_log_dir(lesson, tmp_path_factory):
    log_dir = _log_batch_losses(lesson, tmp_path_factory)
    scalars = read_run(read_scalars, log_dir, what="Reading the scalars your code wrote to log_dir.")
    if BATCH_TAG not in scalars:
        _expect_not_in_add_scalars_runs(log_dir)
    _points(scalars, BATCH_TAG, "log_dir")
    others = sorted(tag for tag in scalars if tag != BATCH_TAG)
    advice = None
    if others:
        advice = (f"Besides {BATCH_TAG!r}, log_dir holds {', '.join(map(repr, others))}: the exercise asks for the "
                  f"batch losses alone, so log nothing else here.")
    expect_equal(sorted(scalars), [BATCH_TAG], "The scalar tags in log_dir", advice=advice)
    runs = read_run(find_runs, log_dir, what="Looking for the runs your code wrote under log_dir.")
    expect_equal(runs, ["."], "The runs (directories of event files) under log_dir",
                 advice="Everything goes into log_dir itself: one SummaryWriter(log_dir), and no writer in a "
                        "sub-folder of it." if len(runs) > 1 else None)


@exercise("log_batch_losses")
def test_log_batch_losses_steps_continue_across_epochs(lesson, tmp_path_factory):
    steps = [step for step, _ in _batch_points(lesson, tmp_path_factory)]
    expect_equal(steps, list(range(EPOCHS * BATCHES)),
                 f"The global_step of each {BATCH_TAG!r} point, in the order written",
                 advice=_global_step_advice(steps, BATCHES, EPOCHS))


@exercise("log_batch_losses")
def test_log_batch_losses_values_in_order(lesson, tmp_path_factory):
    values = [value for _, value in _batch_points(lesson, tmp_path_factory)]
    expected = [loss for losses in EPOCH_LOSSES for loss in losses]
    advice = None
    if len(values) == EPOCHS and values != expected[:EPOCHS]:
        advice = "There is one point per epoch: log every batch's loss, not an epoch summary."
    expect_close(values, expected, f"The {BATCH_TAG!r} values, in the order written", tol=1e-6, advice=advice)


@exercise("log_batch_losses")
def test_log_batch_losses_closes_the_writer(lesson, tmp_path_factory):
    """Closing: the writers closed, and their event files whole and readable (a writer that stopped
    mid-record leaves a damaged one). What was logged, and where, is graded by the other checks."""
    log_dir = _log_batch_losses(lesson, tmp_path_factory)
    expect_writers_closed(log_dir)
    read_run(read_scalars, log_dir, what="Reading the scalars your code wrote to log_dir.")


# log_train_and_test

def _train_and_test_runs(lesson, tmp_path_factory):
    def call(folder):
        log_dir = folder / "logs"
        lesson.log_train_and_test(str(log_dir), [dict(metrics) for metrics in HISTORY])
        return log_dir
    log_dir = call_once((lesson.log_train_and_test.key,), tmp_path_factory, "log_train_and_test", call)
    runs = read_run(read_scalars_tree, log_dir, what="Reading the runs your code wrote under log_dir.")
    return log_dir, runs


def _loss_run(runs: dict, split: str) -> list[tuple[int, float]]:
    run = f"Loss_{split}"
    if run not in runs:
        main = runs.get(".", {})
        advice = "add_scalars('Loss', {'train': ..., 'test': ...}, epoch) writes the runs Loss_train and Loss_test."
        chart_runs = sorted(name for name in runs if name.endswith(("_train", "_test")))
        # A writer per split (log_dir/train, log_dir/test), each with a "Loss" tag: another idiom, which TensorBoard
        # draws on one chart too, but not the layout asked for.
        split_runs = sorted(name for name, tags in runs.items() if name.rsplit("/", 1)[-1] in ("train", "test")
                            and any(tag.lower().startswith("loss") for tag in tags))
        if chart_runs and not any(name.startswith("Accuracy_") for name in chart_runs):
            advice = (f"add_scalars wrote the runs {', '.join(chart_runs)}: a run is named <main_tag>_<key>, so the "
                      f"chart's tag must be 'Loss' and the keys 'train' and 'test'.")
        elif split_runs:
            advice = (f"Your writers into {' and '.join(name + '/' for name in split_runs)} also put both losses on "
                      f"one chart in TensorBoard, but the exercise asks for the layout add_scalars writes, the runs "
                      f"Loss_train and Loss_test: one writer.add_scalars('Loss', {{'train': ..., 'test': ...}}, "
                      f"epoch) writes it, with no second writer to close.")
        elif any(tag.lower().startswith("loss") for tag in main):
            advice = ("The losses were logged with add_scalar, which draws two separate charts; "
                      "add_scalars('Loss', {'train': ..., 'test': ...}, epoch) draws both on one chart.")
        fail(f"No run {run!r} under log_dir: the {split} loss of the 'Loss' chart is missing.",
             expected=["Loss_train", "Loss_test"], found=sorted(runs), advice=advice)
    return _points(runs[run], "Loss", f"the run {run}")


@exercise("log_train_and_test")
def test_log_train_and_test_losses_share_one_chart(lesson, tmp_path_factory):
    _, runs = _train_and_test_runs(lesson, tmp_path_factory)
    for split, other in (("train", "test"), ("test", "train")):
        values = [value for _, value in _loss_run(runs, split)]
        expected = [metrics[f"{split}_loss"] for metrics in HISTORY]
        advice = None
        if len(values) == len(HISTORY) and all(abs(v - m[f"{other}_loss"]) < 1e-6 for v, m in zip(values, HISTORY)):
            advice = f"These are the {other} losses: the keys of the add_scalars dict are swapped."
        expect_close(values, expected, f"The {split} losses on the 'Loss' chart (run Loss_{split})",
                     tol=1e-6, advice=advice)
    # Two curves and no more: the 'Loss' chart's runs hold the tag 'Loss' and nothing else.
    loss_runs = {run: sorted(tags) for run, tags in runs.items() if run.startswith("Loss")}
    expect_equal(loss_runs, {"Loss_test": ["Loss"], "Loss_train": ["Loss"]},
                 "The runs of the 'Loss' chart under log_dir, with their tags",
                 advice="The 'Loss' chart has two curves, train and test: one add_scalars('Loss', {'train': ..., "
                        "'test': ...}, epoch) per epoch writes them, and nothing else." if len(loss_runs) > 2 else None)


@exercise("log_train_and_test")
def test_log_train_and_test_accuracy_charts(lesson, tmp_path_factory):
    _, runs = _train_and_test_runs(lesson, tmp_path_factory)
    if any(run.startswith("Accuracy_") for run in runs):
        fail("The accuracies were logged with add_scalars, which writes runs Accuracy_train and Accuracy_test.",
             expected=["Accuracy/train", "Accuracy/test"], found=sorted(runs),
             advice="Log each accuracy with add_scalar('Accuracy/train', ...) and add_scalar('Accuracy/test', ...).")
    main = runs.get(".", {})
    for split in ("train", "test"):
        values = [value for _, value in _points(main, f"Accuracy/{split}", "log_dir itself (run '.')")]
        expect_close(values, [metrics[f"{split}_accuracy"] for metrics in HISTORY],
                     f"The 'Accuracy/{split}' values", tol=1e-6)
    others = sorted(set(main) - {"Accuracy/train", "Accuracy/test"})
    advice = None
    if others and any(tag.lower().startswith("loss") for tag in others) and "Loss_train" in runs:
        advice = (f"log_dir itself also holds {', '.join(map(repr, others))}: the losses are drawn twice, on the "
                  f"'Loss' chart (add_scalars) and on charts of their own (add_scalar). Keep add_scalars only.")
    elif others:
        advice = f"log_dir itself holds tags the exercise does not ask for: {', '.join(map(repr, others))}."
    expect_equal(sorted(main), ["Accuracy/test", "Accuracy/train"], "The tags in log_dir itself (your own run)",
                 advice=advice)


@exercise("log_train_and_test")
def test_log_train_and_test_steps_are_epochs_and_writer_closed(lesson, tmp_path_factory):
    log_dir, runs = _train_and_test_runs(lesson, tmp_path_factory)
    expect_writers_closed(log_dir)
    series = {f"'Loss' in the run Loss_{split}": runs[f"Loss_{split}"]["Loss"]
              for split in ("train", "test") if "Loss" in runs.get(f"Loss_{split}", {})}
    series.update({repr(tag): points for tag, points in runs.get(".", {}).items() if tag.startswith("Accuracy/")})
    expect(bool(series), "None of the four curves (Loss_train, Loss_test, Accuracy/train, Accuracy/test) was found.",
           expected="4 curves", found={run: sorted(tags) for run, tags in runs.items()})
    for name, points in sorted(series.items()):
        steps = [step for step, _ in points]
        expect_equal(steps, list(range(len(HISTORY))), f"The steps of {name} (one point per epoch, from 0)",
                     advice=_global_step_advice(steps, 1, len(HISTORY)))


# compare_learning_rates

def _run_name(lr: float) -> str:
    return f"lr_{lr}"


def _train(model: nn.Module, lr: float, device: str, *, momentum: float = 0.0, reduction: str = "mean",
           logged_after_update: bool = False) -> list[float]:
    """The loss of each epoch, before its update, of `model` trained as the exercise says (or with
    one of the usual departures, to recognise them: `logged_after_update`, the loss of the model
    that the epoch's update left)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    x, y = X.to(device), Y.to(device)
    curve = []
    for _ in range(LR_EPOCHS):
        loss = nn.functional.mse_loss(model(x), y, reduction=reduction)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if logged_after_update:
            with torch.no_grad():
                loss = nn.functional.mse_loss(model(x), y, reduction=reduction)
        curve.append(loss.item())
    return curve


def _expected_curve(lr: float, device: str, *, bias: bool = True, **departures) -> list[float]:
    torch.manual_seed(0)
    return _train(nn.Linear(1, 1, bias=bias).to(device), lr, device, **departures)


def _starts_of_usual_mistakes(device: str) -> dict[str, list[float]]:
    """The first loss of each run for the usual ways of not starting every run from the same weights."""
    torch.manual_seed(0)
    once = [nn.Linear(1, 1).to(device) for _ in LEARNING_RATES]  # seeded once, a new model per rate
    x, y = X.to(device), Y.to(device)
    with torch.no_grad():
        seeded_once = [nn.functional.mse_loss(model(x), y).item() for model in once]
    torch.manual_seed(0)
    model = nn.Linear(1, 1).to(device)  # built once, right after seeding, and reused by every rate
    reused = [_train(model, lr, device)[0] for lr in LEARNING_RATES]
    return {"seeded once": seeded_once, "reused": reused}


def _same_curve(found: list[float], expected: list[float]) -> bool:
    """Equal curves, as the event file stores them (float32: a diverging run's overflow is inf there too)."""
    expected_32 = np.asarray(expected, dtype=np.float32).astype(np.float64)
    return len(found) == len(expected) and bool(np.allclose(found, expected_32, rtol=1e-5, atol=1e-5, equal_nan=True))


def _start_advice(firsts: list[float], expected: list[float], device: str) -> str:
    """Why the runs do not share their first loss, when the evidence says it."""
    candidates = _starts_of_usual_mistakes(device)
    if _same_curve(firsts, candidates["reused"]):
        return ("Each run goes on from where the previous one stopped: the model is built once and reused. Build "
                "a fresh nn.Linear(1, 1) for every rate, right after torch.manual_seed(0).")
    if _same_curve(firsts, candidates["seeded once"]):
        return ("Only the first run starts from the seeded weights: torch.manual_seed(0) runs once, before the loop, "
                "and every later nn.Linear draws new numbers. Seed again right before building each model.")
    if not _same_curve(firsts[:1], expected[:1]) and _same_curve(firsts[1:], expected[1:]):
        return ("Only the first run starts elsewhere: its model was built before torch.manual_seed(0) ran, from "
                "whatever state the random generator was in. Seed first, then build the model.")
    return ("A run's first point is the loss of its untrained model, logged before any update, and with "
            "torch.manual_seed(0) right before each nn.Linear(1, 1), every run starts from the same one. "
            "`watchtrain hint 01` shows where the seed goes.")


def _curve_advice(curve: list[float], lr: float, device: str) -> str | None:
    """The one usual departure from the recipe that gives exactly this curve, if any."""
    departures = {
        "The curve is the one of SGD with momentum: the exercise asks for plain SGD, with no momentum.":
            {"momentum": 0.9},
        "The curve is the one of a linear layer without a bias: nn.Linear(1, 1) has one (bias=True).": {"bias": False},
        "The losses are sums over the points, not means: the loss is the mean squared error, nn.MSELoss().":
            {"reduction": "sum"},
        "Each point is the loss after that epoch's update, so the untrained model's loss is missing: log the loss "
        "that the update is computed from, before optimizer.step().": {"logged_after_update": True},
    }
    for advice, change in departures.items():
        if _same_curve(curve, _expected_curve(lr, device, **change)):
            return advice
    return None


# Losses other than the mean squared error that the untrained model's first point may be, each with its advice.
# `outputs` is model(x), of shape (N, 1), like `targets`.
WRONG_LOSSES = {
    "The first point is the mean absolute error of the untrained model (nn.L1Loss): the loss is the mean squared "
    "error, nn.MSELoss().": lambda outputs, targets: nn.functional.l1_loss(outputs, targets),
    "The first point is the square root of the untrained model's mean squared error: the loss is the mean squared "
    "error itself, without torch.sqrt.": lambda outputs, targets: nn.functional.mse_loss(outputs, targets).sqrt(),
    "The first point is the mean of N x N squared differences: a prediction of shape (N,) and targets of shape "
    "(N, 1) (or the other way round) broadcast against each other, so every prediction is compared with every "
    "target. Keep model(x) and y both (N, 1), without squeeze().":
        lambda outputs, targets: ((outputs.view(-1) - targets) ** 2).mean(),
    "The first point is the sum of the untrained model's squared errors, not their mean: the loss is the mean "
    "squared error, nn.MSELoss().": lambda outputs, targets: nn.functional.mse_loss(outputs, targets, reduction="sum"),
}


def _first_point_advice(first: float, device: str) -> str:
    """Why a run's first point is not the untrained model's mean squared error: another loss of the
    same seeded model when one gives it, else the model did not start from the seeded weights."""
    torch.manual_seed(0)
    model = nn.Linear(1, 1).to(device)
    with torch.no_grad():
        outputs, targets = model(X.to(device)), Y.to(device)
        for advice, loss in WRONG_LOSSES.items():
            if _same_curve([first], [loss(outputs, targets).item()]):
                return advice
    return ("The first point is no loss of the weights nn.Linear(1, 1) gets right after torch.manual_seed(0): the "
            "model did not start from them, or the first point was logged after an update.")


def _compare(lesson, tmp_path_factory, device):
    """The log_root of the one call of compare_learning_rates (per device) that the exercise's checks read."""
    def call(folder):
        log_root = folder / "lr_sweep"
        lesson.compare_learning_rates(str(log_root), X.clone(), Y.clone(), list(LEARNING_RATES), LR_EPOCHS,
                                      device=device)
        return log_root
    return call_once((lesson.compare_learning_rates.key, device), tmp_path_factory, "compare_learning_rates",
                     call)


@exercise("compare_learning_rates")
def test_compare_learning_rates_one_run_per_rate(lesson, tmp_path_factory, device):
    log_root = _compare(lesson, tmp_path_factory, device)
    runs = read_run(find_runs, log_root, what="Looking for the runs your code wrote under log_root.")
    expected = sorted(_run_name(lr) for lr in LEARNING_RATES)
    advice = None
    if runs == ["."]:
        advice = ("Everything went into one run, log_root itself, so TensorBoard draws one tangled line: each rate "
                  "needs its own SummaryWriter(os.path.join(log_root, f'lr_{lr}')), closed after its run.")
    elif len(runs) == len(expected) and all(run.endswith(name) for run, name in zip(runs, expected)):
        advice = "The runs are nested one level too deep: write to os.path.join(log_root, f'lr_{lr}') directly."
    elif len(runs) == len(expected):
        advice = ("There is one run per rate, under other names: each is 'lr_' followed by the rate as Python prints "
                  "it, f'lr_{lr}' (str(0.001) is '0.001').")
    expect_equal(runs, expected, "The runs (directories of event files) under log_root", advice=advice)
    expect_writers_closed(log_root)


@exercise("compare_learning_rates")
def test_compare_learning_rates_loss_curves(lesson, tmp_path_factory, device):
    log_root = _compare(lesson, tmp_path_factory, device)
    curves = {}
    for lr in LEARNING_RATES:
        run = _run_name(lr)
        scalars = read_run(read_scalars, log_root / run, what=f"Reading the run {run} under log_root.")
        points = _points(scalars, "Loss/train", f"the run {run}")
        steps = [step for step, _ in points]
        expect_equal(steps, list(range(LR_EPOCHS)), f"The steps of 'Loss/train' in {run} (one per epoch, from 0)",
                     advice=_global_step_advice(steps, 1, LR_EPOCHS))
        curves[lr] = [value for _, value in points]
    expected = {lr: _expected_curve(lr, device) for lr in LEARNING_RATES}
    firsts = [curves[lr][0] for lr in LEARNING_RATES]
    expected_firsts = [expected[lr][0] for lr in LEARNING_RATES]
    if max(firsts) - min(firsts) > 1e-6 * max(1.0, abs(firsts[0])) and not all(  # a loss logged late: told below
            _same_curve(curves[lr], _expected_curve(lr, device, logged_after_update=True)) for lr in LEARNING_RATES):
        fail("The runs do not start from the same loss.", expected=expected_firsts, found=firsts,
             advice=_start_advice(firsts, expected_firsts, device))
    for lr in LEARNING_RATES:
        # The usual departures are recomputed only for a curve that differs from the contract's.
        advice = None if _same_curve(curves[lr], expected[lr]) else _curve_advice(curves[lr], lr, device)
        if advice is None and abs(curves[lr][0] - expected[lr][0]) > 1e-5 * max(1.0, abs(expected[lr][0])):
            advice = _first_point_advice(curves[lr][0], device)
        expect_close(curves[lr], expected[lr], f"The 'Loss/train' curve of {_run_name(lr)}", tol=1e-5, advice=advice)
