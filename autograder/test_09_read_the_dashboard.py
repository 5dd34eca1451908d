"""Lesson 09 autograder: the instrumented loop, replayed exactly, and diagnoses of freshly trained runs.

train_and_instrument: the grader trains the same network, from the same weights, on the same
mini-batches, with the same optimizer, and notes every number the contract asks for. Each check
then compares one part of the learner's event files with those numbers, step by step. The network
notes how each of its forward passes ran, so the validation passes can be seen to build no graph.

diagnose: each check trains one run with watchtrain.failure_runs, from a seed drawn from
os.urandom while grading, and asks the learner's diagnose what went wrong in it. Which check
gets which failure mode is drawn while grading too, so neither a check's name nor its folder
gives the answer away, and only a diagnose that reads the run can pass.
"""
import copy
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from watchtrain.artifacts.tensorboard import find_runs, read_histograms, read_scalars
from watchtrain.data import first_images
from watchtrain.failure_runs import MODES, write_failure_run
from watchtrain.grading import (NotStarted, WatchedNet, exercise, expect, expect_close, expect_equal, expect_list,
                                call_once, expect_writers_closed, fail, read_run)

# train_and_instrument: the tutorial's CNN (noting how each forward pass ran), 3 epochs of 8 mini-batches, the
# rate halved after each epoch. The validation set's last batch is smaller (20, 20, 10), so a mean of per-batch
# means differs from the mean per picture.
TRAIN_IMAGES, VAL_IMAGES, BATCH_SIZE, EPOCHS = 160, 50, 20, 3
BATCHES = TRAIN_IMAGES // BATCH_SIZE
STEPS = EPOCHS * BATCHES
LR, MOMENTUM, LR_DECAY, HISTOGRAM_EVERY = 0.1, 0.9, 0.5, 8
TOL = 1e-4  # the event files hold float32; the learner may add the squares in another order
CLIP_LIMITS = (0.5, 1.0, 2.0, 5.0, 10.0)  # the round max_norm values a loop that clips its gradients is replayed with

CRASH_ADVICE = {  # a crash whose message holds a key fails with its advice (the lesson fixture)
    "'NoneType' object has no attribute": (
        "A gradient is None: gradients exist only once loss.backward() has run, and optimizer.zero_grad() "
        "sets them back to None. Measure them between loss.backward() and optimizer.step()."),
    "unexpected keyword argument": (
        "Keep the signature of the stub: train_and_instrument(log_dir, model, train_loader, val_loader, criterion, "
        "optimizer, epochs=3, lr_decay=0.5, histogram_every=50, device=\"cpu\")."),
}


def _dataset(train: bool, count: int) -> TensorDataset:
    return TensorDataset(*first_images(train, count))


@dataclass
class Replay:
    """What a correct loop logs, step by step, from the grader's own run of it."""
    lr: list[float] = field(default_factory=list)
    total_norm: list[float] = field(default_factory=list)
    layer_norms: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)
    ratios_to_after: dict[str, list[float]] = field(default_factory=dict)  # divided by the weight after the step
    summed_norms: list[float] = field(default_factory=list)  # every parameter's gradient norm, added up
    value_norms: list[dict[str, float]] = field(default_factory=list)  # each step's parameter norms (not gradients')
    value_norms_after: list[dict[str, float]] = field(default_factory=list)  # the same, once the step is done
    lr_times_gradient: dict[str, list[float]] = field(default_factory=dict)  # what plain SGD's ratio would be
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    val_batch_means: list[float] = field(default_factory=list)  # the mean of the validation batches' mean losses
    val_losses_before: list[float] = field(default_factory=list)  # the validation loss before each epoch's training
    weights: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # at the histogram steps, after the step
    weights_before: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    grads: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    final_state: dict[str, torch.Tensor] = field(default_factory=dict)


def _val_loss(model: torch.nn.Module, val_set: TensorDataset, device: str) -> tuple[float, float]:
    """The mean loss per picture over the validation set, and the mean of its batches' mean losses."""
    losses, sizes = [], []
    with torch.no_grad():
        for images, labels in DataLoader(val_set, batch_size=BATCH_SIZE):
            losses.append(F.cross_entropy(model(images.to(device)), labels.to(device)).item())
            sizes.append(len(labels))
    return sum(loss * size for loss, size in zip(losses, sizes)) / sum(sizes), sum(losses) / len(losses)


def _replay(initial: torch.nn.Module, train_set: TensorDataset, val_set: TensorDataset, device: str, *,
            zero_grad: bool = True, decay: str = "after each epoch", clip: float | None = None) -> Replay:
    """Train a copy of the learner's starting network as the contract says, noting every number. `zero_grad`,
    `decay` ("after each epoch", "after each mini-batch", "before each epoch", "never") and `clip` (a max_norm the
    gradients are clipped to before each step) give the usual mistakes."""
    model = copy.deepcopy(initial).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    named = dict(model.named_parameters())
    layers = [name for name in named if name.endswith("weight")]
    replay = Replay(layer_norms={name: [] for name in layers}, ratios={name: [] for name in layers},
                    ratios_to_after={name: [] for name in layers}, lr_times_gradient={name: [] for name in layers})

    def decay_rate():
        for group in optimizer.param_groups:
            group["lr"] *= LR_DECAY

    for epoch in range(EPOCHS):
        replay.val_losses_before.append(_val_loss(model, val_set, device)[0])
        if decay == "before each epoch":
            decay_rate()
        for batch, (images, labels) in enumerate(DataLoader(train_set, batch_size=BATCH_SIZE)):
            step = epoch * BATCHES + batch
            if zero_grad:
                optimizer.zero_grad()
            loss = F.cross_entropy(model(images.to(device)), labels.to(device))
            loss.backward()
            rate = optimizer.param_groups[0]["lr"]
            norms = {name: parameter.grad.norm().item() for name, parameter in named.items()}
            replay.lr.append(rate)
            replay.total_norm.append(math.sqrt(sum(norm ** 2 for norm in norms.values())))
            replay.summed_norms.append(sum(norms.values()))
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
            previous = {name: parameter.detach().clone() for name, parameter in named.items()}
            replay.value_norms.append({name: value.norm().item() for name, value in previous.items()})
            optimizer.step()
            replay.value_norms_after.append({name: value.detach().norm().item() for name, value in named.items()})
            for name in layers:
                replay.layer_norms[name].append(norms[name])
                step_size = (named[name].detach() - previous[name]).norm()
                replay.ratios[name].append((step_size / previous[name].norm()).item())
                replay.ratios_to_after[name].append((step_size / named[name].detach().norm()).item())
                replay.lr_times_gradient[name].append(rate * norms[name] / previous[name].norm().item())
            replay.train_losses.append(loss.item())
            if step % HISTOGRAM_EVERY == 0:
                replay.weights[step] = {name: parameter.detach().cpu().clone() for name, parameter in named.items()}
                replay.weights_before[step] = {name: value.cpu() for name, value in previous.items()}
                replay.grads[step] = {name: parameter.grad.detach().cpu().clone() for name, parameter in named.items()}
            if decay == "after each mini-batch":
                decay_rate()
        if decay == "after each epoch":
            decay_rate()
        per_picture, batch_means = _val_loss(model, val_set, device)
        replay.val_losses.append(per_picture)
        replay.val_batch_means.append(batch_means)
    replay.final_state = {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}
    return replay


@dataclass
class InstrumentedRun:
    log_dir: Path
    replay: Replay
    returned: Any
    trained_like_the_replay: bool  # the learner's final weights are the grader's
    passes: list[tuple[bool, bool]]  # (training, autograd) of every forward pass the learner's loop made
    trained: dict[str, torch.Tensor] = field(default_factory=dict)  # the learner's final weights
    replay_again: Any = None  # (zero_grad, decay, clip) -> the final weights of that variant of the training
    diverged: str | None = None  # why the learner's network ends elsewhere, once worked out
    schedulers: dict = field(default_factory=dict)  # the learning-rate schedulers the call built (the worker's facts)


def _instrumented_run(lesson, tmp_path_factory, device: str) -> InstrumentedRun:
    """Train once per submission and device; every train_and_instrument check reads the same run (or crash)."""
    return call_once((lesson.train_and_instrument.key, device), tmp_path_factory, "train_and_instrument",
                     lambda folder: _train(lesson, folder, device))


def _train(lesson, folder: Path, device: str) -> InstrumentedRun:
    train_set, val_set = _dataset(True, TRAIN_IMAGES), _dataset(False, VAL_IMAGES)
    torch.manual_seed(9)
    model = WatchedNet()
    initial = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    log_dir = folder / "instrumented"
    returned, schedulers = lesson.train_and_instrument.inside("lr_schedulers")(
        str(log_dir), model, DataLoader(train_set, batch_size=BATCH_SIZE), DataLoader(val_set, batch_size=BATCH_SIZE),
        torch.nn.CrossEntropyLoss(), optimizer, epochs=EPOCHS, lr_decay=LR_DECAY, histogram_every=HISTOGRAM_EVERY,
        device=device)
    replay = _replay(initial, train_set, val_set, device)
    trained = {name: value.detach().cpu() for name, value in model.state_dict().items()}

    def replay_again(zero_grad: bool, decay: str, clip: float | None = None) -> dict[str, torch.Tensor]:
        return _replay(initial, train_set, val_set, device, zero_grad=zero_grad, decay=decay, clip=clip).final_state

    return InstrumentedRun(log_dir, replay, returned, _same_weights(trained, replay.final_state), list(model.passes),
                           trained, replay_again, schedulers=schedulers)


def _same_weights(found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> bool:
    return all(torch.allclose(found[name], value, rtol=1e-4, atol=1e-6) for name, value in expected.items())


def _scalars(run: InstrumentedRun, tag: str) -> list[tuple[int, float]]:
    scalars = read_run(read_scalars, run.log_dir, what="Reading the scalars your loop wrote to log_dir.")
    if tag not in scalars:
        fail(f"No scalars with the tag {tag!r} in log_dir.", expected=tag, found=sorted(scalars) or "no scalar tags",
             advice="Tags are matched exactly, case and slashes included; a layer's name is the parameter's name "
                    "from model.named_parameters(), e.g. 'grad_norm/fc1.weight'.")
    return scalars[tag]


def _expect_every_step(points: list[tuple[int, float]], tag: str) -> list[float]:
    steps = [step for step, _ in points]
    advice = None
    if steps == [step % BATCHES for step in range(STEPS)]:
        advice = "The step restarts every epoch: count the mini-batches since training began (step += 1 after each)."
    elif steps == list(range(1, STEPS + 1)):
        advice = "The steps start at 1: the first mini-batch is step 0."
    elif steps == [(epoch + 1) * BATCHES - 1 for epoch in range(EPOCHS)] or steps == list(range(EPOCHS)):
        advice = f"{tag!r} was logged once per epoch: log it at every mini-batch, at that mini-batch's step."
    elif len(steps) != STEPS:
        advice = f"Log {tag!r} once per mini-batch: {BATCHES} mini-batches an epoch, {EPOCHS} epochs."
    expect_equal(steps, list(range(STEPS)), f"The steps of {tag!r} (one per mini-batch, from 0)", advice=advice)
    return [value for _, value in points]


def _close(found: list[float], expected: list[float], tol: float = TOL) -> bool:
    return len(found) == len(expected) and all(math.isclose(f, e, rel_tol=tol, abs_tol=1e-9) for f, e in zip(found, expected))


# train_and_instrument

@exercise("train_and_instrument")
def test_train_and_instrument_logs_the_learning_rate_from_the_optimizer(lesson, tmp_path_factory, device):
    run = _instrumented_run(lesson, tmp_path_factory, device)
    values = _expect_every_step(_scalars(run, "lr"), "lr")
    expected = run.replay.lr
    advice = None
    if run.schedulers.get("scheduler_steps_given_an_epoch") and not _close(values, expected, 1e-6):
        advice = ("scheduler.step(epoch) was given the epoch: a scheduler then sets the rate of that epoch number "
                  f"(ExponentialLR: {LR} * lr_decay ** epoch), which after epoch 0 is still the first rate, so every "
                  "epoch trains one decay late. That argument is deprecated: call scheduler.step(), with none, once "
                  "after each epoch.")
    elif _close(values, [LR] * STEPS):
        if run.trained_like_the_replay:
            advice = (f"The learning rate stays at {LR} although the scheduler multiplied it by {LR_DECAY} after the "
                      f"first epoch (step {BATCHES} trained at {LR * LR_DECAY}): read it from the optimizer, "
                      f"optimizer.param_groups[0]['lr'], at every step. The value the optimizer was built with "
                      f"(optimizer.defaults['lr'], or a variable of yours) never changes.")
        elif _same_weights(run.trained, run.replay_again(True, "never")):
            advice = _never_decayed_advice(run.schedulers)
        else:
            advice = _diverged_advice(run)
    elif _close(values, [LR * LR_DECAY ** step for step in range(STEPS)]):
        advice = "The rate falls at every mini-batch: call scheduler.step() once per epoch, after its last mini-batch."
    elif _close(values, [LR * LR_DECAY ** (step // BATCHES + 1) for step in range(STEPS)]):
        if run.trained_like_the_replay:
            advice = ("Your network trained at the right rates (it ends where the contract's training takes it), but "
                      "every 'lr' logged is the next epoch's: it was read after scheduler.step() had lowered it, or "
                      "from scheduler.get_lr(), which computes the next rate. Log optimizer.param_groups[0]['lr'] "
                      "at the step itself.")
        else:
            advice = ("Every epoch trains at the next epoch's rate: scheduler.step() runs before the epoch's "
                      "mini-batches; call it after them.")
    expect_close(values, expected, "The 'lr' of every step (the rate the optimizer used for it)", tol=1e-6,
                 advice=advice)


def _never_decayed_advice(schedulers: dict) -> str:
    """Why the rate never changed, from the schedulers the worker saw the call build and step."""
    if schedulers.get("schedulers_on_the_optimizer"):
        return (f"The learning rate never changes although a scheduler ({schedulers.get('scheduler_names')}) is "
                f"attached to the optimizer: its step() is never called. Call it once after each epoch.")
    if schedulers.get("schedulers_on_other_optimizers"):
        return ("The learning rate never changes: the scheduler is attached to another optimizer than the one "
                "train_and_instrument receives. Attach it to `optimizer`.")
    return ("The learning rate never changes: attach a scheduler that multiplies it by lr_decay, "
            "torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay), and call its step() once after "
            "each epoch.")


@exercise("train_and_instrument")
def test_train_and_instrument_lets_a_scheduler_on_the_optimizer_change_the_rate(lesson, tmp_path_factory, device):
    run = _instrumented_run(lesson, tmp_path_factory, device)
    facts = run.schedulers  # seen in the worker: the schedulers the call built, and on which optimizer
    attached, names = facts.get("schedulers_on_the_optimizer", 0), facts.get("scheduler_names", "")
    steps, elsewhere = facts.get("scheduler_steps", 0), facts.get("schedulers_on_other_optimizers", 0)
    # The learner's weights are the contract's: the rate that trained them was multiplied by lr_decay after each epoch.
    decayed = run.trained_like_the_replay
    where = ("README section 2 (\"Instruments\") attaches a scheduler to its optimizer, and `watchtrain hint 09` "
             "names the one that multiplies the rate by the same factor at each of its steps.")
    if not attached:
        if elsewhere:
            found = f"no scheduler on optimizer; {elsewhere} scheduler(s) on another optimizer that the call built"
            advice = ("A scheduler changes the rate of the optimizer it is attached to, and no other: attach it to "
                      "`optimizer`, the one train_and_instrument receives and trains the model with.")
        elif decayed:
            found = "the learning rate was changed by hand in optimizer.param_groups; no scheduler was attached"
            advice = "The contract leaves the multiplying to a scheduler attached to `optimizer`: " + where
        else:
            found = "no learning-rate scheduler was attached to optimizer"
            advice = where
    elif not steps:
        found = f"a scheduler ({names}) was attached to optimizer, but its step() was never called"
        advice = "A scheduler changes the rate only when its step() is called: once, after each epoch's last mini-batch."
        if decayed:
            found += "; the learning rate was changed by hand in optimizer.param_groups instead"
            advice += " Then it does the multiplying, in place of your own code."
    else:
        return
    fail("After each epoch, a learning-rate scheduler attached to `optimizer` must multiply the rate by lr_decay.",
         expected="a scheduler on optimizer that steps during training", found=found, advice=advice)


@exercise("train_and_instrument")
def test_train_and_instrument_logs_global_and_per_layer_gradient_norms(lesson, tmp_path_factory, device):
    run = _instrumented_run(lesson, tmp_path_factory, device)
    replay = run.replay
    values = _expect_every_step(_scalars(run, "grad_norm/total"), "grad_norm/total")
    layer_values = {name: _expect_every_step(_scalars(run, f"grad_norm/{name}"), f"grad_norm/{name}")
                    for name in replay.layer_norms}
    expect_close(values, replay.total_norm, "The 'grad_norm/total' of every step", tol=TOL,
                 advice=_norm_advice(values, replay) or _diverged_advice(run))
    for name, expected in replay.layer_norms.items():
        found = layer_values[name]
        advice = None
        if found and all(value == 0 for value in found):
            advice = "Every norm is 0: measure the gradients after loss.backward(), not after zero_grad()."
        elif _close(found[1:], expected[:-1]):
            advice = "These are the previous mini-batch's gradients: measure them right after loss.backward()."
        elif _are_value_norms(found, replay, name):
            advice = (f"These are the norms of {name} itself, its values, not of its gradient: measure "
                      f"the gradient that loss.backward() left in it, its .grad.")
        expect_close(found, expected, f"The 'grad_norm/{name}' of every step", tol=TOL,
                     advice=advice or _diverged_advice(run))


def _norm_advice(values: list[float], replay: Replay) -> str | None:
    if values and all(value == 0 for value in values):
        return "Every norm is 0: the gradients were measured before loss.backward() filled them, or after zero_grad()."
    if _close(values[1:], replay.total_norm[:-1]):
        return "These are the previous mini-batch's gradients: measure them right after loss.backward()."
    weights_only = [math.sqrt(sum(norms[step] ** 2 for norms in replay.layer_norms.values())) for step in range(STEPS)]
    if _close(values, weights_only):
        return "Only the weights' gradients are counted: the global norm takes every parameter's gradient, biases too."
    if _close(values, replay.summed_norms):
        return ("This is the sum of the parameters' gradient norms. The global norm is the norm of all the gradients "
                "as one vector: the square root of the sum of their squared norms.")
    if _are_value_norms(values, replay):
        return ("This is the norm of the parameters themselves, their values, not of their gradients: measure the "
                "gradients that loss.backward() left in them, each parameter's .grad.")
    return None


def _are_value_norms(found: list[float], replay: Replay, name: str | None = None) -> bool:
    """Whether `found` holds, at every step, the norm of the values of the parameter `name` (of all the parameters
    as one vector, when None) instead of its gradient's, measured before the step's update or after it."""
    def norms(steps: list[dict[str, float]]) -> list[float]:
        if name is not None:
            return [step[name] for step in steps]
        return [math.sqrt(sum(norm ** 2 for norm in step.values())) for step in steps]
    return _close(found, norms(replay.value_norms)) or _close(found, norms(replay.value_norms_after))


def _diverged_advice(run: InstrumentedRun) -> str | None:
    """Why the learner's network does not end where the contract's training takes it, when one usual mistake
    (replayed here) ends exactly where it does."""
    if run.trained_like_the_replay:
        return None
    if run.diverged is None:
        variants = [
            ((False, "after each epoch"), "the gradients pile up from one mini-batch to the next: call "
                                          "optimizer.zero_grad() before each loss.backward()"),
            ((True, "after each mini-batch"), "the rate falls after every mini-batch: call scheduler.step() once "
                                              "per epoch, after its last mini-batch"),
            ((True, "before each epoch"), "every epoch trains at the next epoch's rate: call scheduler.step() after "
                                          "the epoch's mini-batches, not before them"),
            ((True, "never"), "the rate never falls: attach a scheduler that multiplies it by lr_decay, "
                              "ExponentialLR(optimizer, gamma=lr_decay), and call its step() after each epoch"),
        ]
        variants += [((True, "after each epoch", limit), _clipped_advice(limit, run.replay.total_norm))
                     for limit in CLIP_LIMITS if limit < max(run.replay.total_norm)]
        found = next((advice for options, advice in variants if _same_weights(run.trained, run.replay_again(*options))),
                     None)
        run.diverged = ("Your network did not end where the contract's training takes it, so the numbers drift "
                              "apart: " + (found + "." if found else
                                           "each mini-batch is one optimizer step on its own loss, and the rate is "
                                           "multiplied by lr_decay after each epoch (watchtrain hint 09)."))
    return run.diverged


def _clipped_advice(limit: float, total_norms: list[float]) -> str:
    """Why a network whose gradients were clipped to `limit` ends elsewhere; `total_norms` are the contract's."""
    first = next(step for step, norm in enumerate(total_norms) if norm > limit)
    return (f"the gradients were clipped to a total norm of {limit:g} before optimizer.step() (from step {first} on, "
            f"the first whose norm exceeds it), as clip_grad_norm_(..., max_norm={limit:g}) does. The contract's "
            f"training steps on the gradients as they are: measure their total norm without changing them, with "
            f"torch.nn.utils.get_total_norm(gradients), or clip_grad_norm_ with max_norm=float('inf'), which only "
            f"measures")


@exercise("train_and_instrument")
def test_train_and_instrument_logs_the_update_to_weight_ratios(lesson, tmp_path_factory, device):
    run = _instrumented_run(lesson, tmp_path_factory, device)
    for name, expected in run.replay.ratios.items():
        tag = f"update_ratio/{name}"
        found = _expect_every_step(_scalars(run, tag), tag)
        advice = None
        if found and all(value == 0 for value in found):
            advice = ("Every ratio is 0: the copy of the weights taken before the step changed with them. "
                      "weight.detach() shares the weight's memory; weight.detach().clone() copies it.")
        elif _close(found, run.replay.ratios_to_after[name]):
            advice = ("The step is divided by the size of the weight after the step: divide it by the size of the "
                      "weight before it, the copy taken just before optimizer.step().")
        elif _close([abs(value) for value in found], _size_changes(run.replay, name), 1e-2):
            advice = ("That is how much the layer's norm changed, (|after| - |before|) / |before|. The ratio takes "
                      "the norm of the change itself, |after - before|, which counts every element's move.")
        elif _close(found, run.replay.lr_times_gradient[name], 1e-3):
            advice = ("That is lr x |gradient| / |weight|, the step plain SGD would take. This optimizer uses "
                      "momentum, so measure the step itself: the weights after optimizer.step() minus a copy "
                      "taken just before it.")
        expect_close(found, expected, f"The {tag!r} of every step (|weight after - weight before| / "
                                      f"|weight before|)", tol=TOL, advice=advice or _diverged_advice(run))


def _size_changes(replay: Replay, name: str) -> list[float]:
    """How much the layer's norm changed at each step, relative to its norm before the step (a change of size,
    not the size of the change); the tolerance allows for float32 subtracting two close norms."""
    return [abs(after[name] - before[name]) / before[name]
            for before, after in zip(replay.value_norms, replay.value_norms_after)]


@exercise("train_and_instrument")
def test_train_and_instrument_draws_train_and_val_loss_on_one_chart(lesson, tmp_path_factory, device):
    run = _instrumented_run(lesson, tmp_path_factory, device)
    runs = read_run(find_runs, run.log_dir, what="Looking for the runs your loop wrote under log_dir.")
    for split in ("train", "val"):
        if f"loss_{split}" not in runs:
            main = read_run(read_scalars, run.log_dir, what="Reading the scalars your loop wrote to log_dir.")
            advice = ("writer.add_scalars('loss', {'train': ...}, step) and writer.add_scalars('loss', {'val': ...}, "
                      "step) draw both curves on the chart 'loss', in the runs loss_train and loss_val.")
            if any(tag.lower().startswith("loss") for tag in main):
                advice = ("The losses were logged with add_scalar, which draws separate charts; " + advice)
            fail(f"No run 'loss_{split}' under log_dir: the {split} curve of the chart 'loss' is missing.",
                 expected=["loss_train", "loss_val"], found=runs, advice=advice)
    train = read_run(read_scalars, run.log_dir / "loss_train", what="Reading the run loss_train.")
    val = read_run(read_scalars, run.log_dir / "loss_val", what="Reading the run loss_val.")
    for name, scalars in (("loss_train", train), ("loss_val", val)):
        expect("loss" in scalars, f"The run {name} must hold the tag 'loss'.", expected="loss", found=sorted(scalars),
               advice="The chart's name is add_scalars' first argument: 'loss'.")
    train_values = _expect_every_step(train["loss"], "loss (run loss_train)")
    expect_close(train_values, run.replay.train_losses, "The training loss of every mini-batch (run loss_train)",
                 tol=TOL, advice=_diverged_advice(run))
    epoch_ends = [(epoch + 1) * BATCHES - 1 for epoch in range(EPOCHS)]
    steps = [step for step, _ in val["loss"]]
    advice = None
    if steps == list(range(EPOCHS)):
        advice = ("The validation points use the epoch as their step, so they sit at the far left of the training "
                  "curve: log them at the step of the epoch's last mini-batch.")
    elif steps == [step + 1 for step in epoch_ends]:
        advice = "One step too far: the epoch's last mini-batch is at step (epoch + 1) * len(train_loader) - 1."
    expect_equal(steps, epoch_ends, "The steps of the validation loss (run loss_val): each epoch's last mini-batch",
                 advice=advice)
    values = [value for _, value in val["loss"]]
    expect_close(values, run.replay.val_losses, "The validation loss after each epoch (run loss_val)", tol=TOL,
                 advice=_val_advice(values, run))
    returned = expect_list(run.returned, "train_and_instrument", "val_losses", "the validation losses it logged")
    expect_close(returned, values, "What train_and_instrument returned (the validation losses it logged)",
                 tol=TOL)
    with_graph = sum(grad for _, grad in run.passes)
    expect(with_graph <= STEPS, "The validation loss must be computed without autograd.",
           expected=f"{STEPS} forward passes with autograd on, one per training mini-batch",
           found=f"{with_graph} forward passes with autograd on",
           advice=f"The {with_graph - STEPS} passes beyond the training mini-batches' (the validation passes) built "
                  f"an autograd graph nobody uses: run them inside `with torch.no_grad():`.")


def _val_advice(values: list[float], run: InstrumentedRun) -> str | None:
    diverged = _diverged_advice(run)
    if diverged:
        return diverged
    replay = run.replay
    if _close(values, replay.val_batch_means):
        return (f"That is the mean of the validation batches' mean losses; the last batch holds "
                f"{VAL_IMAGES % BATCH_SIZE} pictures, not {BATCH_SIZE}, so each of them counts too much. Add up loss x batch size over the "
                f"batches, then divide by the number of pictures.")
    if _close(values, replay.val_losses_before):
        return "These are the validation losses before each epoch's training: measure after its last mini-batch."
    if _close(values, [loss * VAL_IMAGES for loss in replay.val_losses]):
        return "These are sums over the pictures: divide by the number of pictures, len(val_loader.dataset)."
    if _close(values, [mean * -(-VAL_IMAGES // BATCH_SIZE) for mean in replay.val_batch_means]):
        return "These are sums of the batches' mean losses: weigh each by its batch's size and divide by the pictures."
    return ("The mean loss per picture over all of val_loader, measured with criterion after the epoch's training, "
            "without autograd.")


@exercise("train_and_instrument")
def test_train_and_instrument_histograms_every_parameter_at_the_interval(lesson, tmp_path_factory, device):
    run = _instrumented_run(lesson, tmp_path_factory, device)
    expect_writers_closed(run.log_dir)
    histograms = read_run(read_histograms, run.log_dir, what="Reading the histograms your loop wrote to log_dir.")
    replay = run.replay
    names = list(replay.weights[0])
    expected_tags = sorted(f"{kind}/{name}" for kind in ("weights", "grads") for name in names)
    missing = sorted(set(expected_tags) - set(histograms))  # other histograms of the learner's own may be there too
    if all(tag.endswith("bias") for tag in missing):
        advice = "Every parameter gets two histograms, its values and its gradient: biases too."
    elif all(tag.startswith("grads/") for tag in missing):
        advice = "The gradients' histograms are missing: grads/<name> of parameter.grad, for every parameter."
    elif all(tag.startswith("weights/") for tag in missing):
        advice = "The values' histograms are missing: weights/<name> of the parameter itself, for every parameter."
    else:
        advice = (f"These histograms are missing: {missing[:6]}. Tags are matched exactly: weights/<name> and "
                  f"grads/<name>, with each name as model.named_parameters() gives it.")
    expect(not missing, "log_dir lacks histograms of the parameters (weights/<name> and grads/<name>).",
           expected=expected_tags, found=sorted(histograms) or "no histogram tags", advice=advice)
    expected_steps = sorted(replay.weights)
    for tag in expected_tags:
        steps = [event.step for event in histograms[tag]]
        advice = None
        if steps == [step for step in range(STEPS) if (step + 1) % HISTOGRAM_EVERY == 0]:
            advice = "The first histogram belongs at step 0: log when step % histogram_every == 0."
        elif len(steps) == STEPS:
            advice = "A histogram at every step costs more than the step itself: log when step % histogram_every == 0."
        expect_equal(steps, expected_steps, f"The steps of the {tag!r} histograms (every {HISTOGRAM_EVERY} steps, "
                                            f"from 0)", advice=advice)
    for tag in expected_tags:
        kind, name = tag.split("/", 1)
        for event in histograms[tag]:
            wanted = (replay.weights if kind == "weights" else replay.grads)[event.step][name]
            found = (event.num, event.min, event.max, event.sum_squares)
            advice = None
            if kind == "grads" and _same_statistics(found, replay.weights[event.step][name]):
                advice = "This histogram holds the parameter's values: the gradient is parameter.grad."
            elif kind == "weights" and _same_statistics(found, replay.weights_before[event.step][name]):
                advice = "These are the values before the step's update: log them once optimizer.step() has run."
            expect_close(found, _statistics(wanted), f"The (count, min, max, sum of squares) of {tag!r} at step "
                                                     f"{event.step}", tol=TOL, advice=advice or _diverged_advice(run))


def _statistics(values: torch.Tensor) -> tuple[float, float, float, float]:
    values = values.double()
    return float(values.numel()), float(values.min()), float(values.max()), float((values ** 2).sum())


def _same_statistics(found: tuple, values: torch.Tensor) -> bool:
    return all(math.isclose(f, e, rel_tol=TOL, abs_tol=1e-12) for f, e in zip(found, _statistics(values)))


# diagnose: one failure mode per check, in an order drawn while grading.

_ORDER = random.Random(os.urandom(16)).sample(MODES, len(MODES))
WHERE_TO_LOOK = {
    "healthy": "Nothing is wrong in this run: which of your rules fired, and on what number?",
    "lr_too_high": "Look at the training loss (run loss_train): does it stay finite, and near where it started?",
    "lr_too_low": "Look at the update_ratio/<layer> scalars: how far does one step move the weights?",
    "overfitting": "Compare the validation loss's lowest point with its last one (run loss_val).",
    "vanishing_gradients": "Compare grad_norm/<first layer> with grad_norm/<last layer>, step by step.",
    "exploding_gradients": "Look at the very first point of grad_norm/total, and at the first training loss.",
    "dead_relus": "Look at the activations/<layer> histograms: how much of each lies in the bucket that holds 0?",
    "shuffled_labels": "Look at both losses (runs loss_train and loss_val): does either get clearly below ln 10?",
}


_NOT_STARTED: dict = {}  # submission -> the stub's NotStarted: no run to train for the other checks


def _label_advice(found) -> str:
    """What to change in a value diagnose returned that is not one of the labels."""
    if isinstance(found, (list, tuple)) and any(item in MODES for item in found):
        label = next(item for item in found if item in MODES)
        return f"It returned a {type(found).__name__} holding the label {label!r}: return the label alone, one string."
    if isinstance(found, str):
        spelled = found.strip().lower().replace(" ", "_").replace("-", "_")
        if spelled in MODES:
            return f"{found!r} is the label {spelled!r} spelled another way: return it exactly as LABELS spells it."
    return "Return the label itself, a string spelled as in LABELS."


@exercise("diagnose")
@pytest.mark.parametrize("index", range(len(MODES)), ids=[f"run{number}" for number in range(1, len(MODES) + 1)])
def test_diagnose_names_what_went_wrong(lesson, tmp_path, index):
    if lesson.diagnose.key in _NOT_STARTED:
        raise _NOT_STARTED[lesson.diagnose.key]
    mode, seed = _ORDER[index], int.from_bytes(os.urandom(4), "little")
    run = write_failure_run(mode, tmp_path / "run", seed=seed)
    try:
        found = lesson.diagnose(str(run.path))
    except NotStarted as not_started:
        _NOT_STARTED[lesson.diagnose.key] = not_started
        raise
    if found not in MODES:
        fail("diagnose must return one of the labels.", expected=f"one of {', '.join(MODES)}", found=found,
             advice=_label_advice(found))
    if found != mode:
        fail(f"This run is {mode!r}: {run.signal}.", expected=mode, found=found,
             advice=f"{WHERE_TO_LOOK[mode]} To see this run: python -m watchtrain.failure_runs "
                    f"runs/09_run --mode {mode} --seed {seed}, then tensorboard --logdir runs/09_run")
