"""Lesson 06 autograder: Weights & Biases runs, written offline and read back from their run files.

W&B is forced offline for the whole session (the `wandb_offline` fixture: its own WANDB_DIR,
quiet settings, every WANDB_* variable of your shell hidden, API key included). Each test grades
the runs its own call wrote, with the course's reader of `run-<id>.wandb` files. Training gets a
criterion that records every loss it computes (RecordingLoss), so the logged losses are compared
with the ones your loop really computed, exactly.

model_pipeline() calls your other four functions. A mistake in one of them costs that function's
checks, not the pipeline's: where the pipeline's run differs from the contract, the autograder
calls your own make/train/test/save_model_onnx with the inputs the pipeline should have given
them, and the pipeline fails only if it left behind something else than they do.
"""
import copy
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.onnx import read_onnx, run_onnx
from watchtrain.artifacts.wandb import as_histogram
from watchtrain.artifacts.wandb.framing import read_frames
from watchtrain.data import fashion_mnist, normalize_transform
from watchtrain.grading import (Described, GradingFailure, KnownCrash, LearnerCrash, NewRuns, NotStarted,
                                RecordingLoss, WandbWatchedNet, WatchedNet, call_explaining, exercise, expect,
                                expect_close, expect_equal, expect_tuple, fail, run_once, type_name)
from watchtrain.models import Net

GRADER_PROJECT = "watchtrain-grader"
# train() is handed a config with only the settings its contract reads (TRAIN_CONFIG below): no batch size.
BATCH_SIZE_ADVICE = ("train() is given a config with only \"epochs\" and \"log_interval\", the two settings its "
                     "contract reads: there is no \"batch_size\" in it (make() reads that one, to build the loaders). "
                     "A batch's size is len(images), which is right for the last batch of an epoch too, often a "
                     "smaller one.")
CRASH_ADVICE = {
    "train() raised KeyError: 'batch_size'": BATCH_SIZE_ADVICE,
    "train() raised AttributeError: 'dict' object has no attribute 'batch_size'": BATCH_SIZE_ADVICE,
    # The W&B walkthrough reads its settings as attributes (config.epochs) of wandb.config; make and
    # train are handed a plain dict too, which has none.
    "'dict' object has no attribute": "config can be a plain dict, which has no attributes: read each setting as "
                                      "config[\"epochs\"]. A W&B run's config answers that way too, so the same "
                                      "code serves model_pipeline.",
    # The autograder forces W&B offline; only a run that insists on going online asks for a key.
    "No API key configured": "W&B asked for an account's API key because your code asks it to go online "
                             "(mode=\"online\", say). The autograder records every run offline, where no account is "
                             "needed and nothing leaves the machine: leave the mode out, and W&B follows WANDB_MODE, "
                             "which the autograder sets to offline (lesson 06, section 1, \"Offline first\").",
    # pydantic's words for a setting that wandb.Settings does not have
    "validation error for Settings": "wandb.Settings refused a setting that the wandb of this course (0.31) does not "
                                     "have: older posts pass some, such as start_method=\"thread\", that newer "
                                     "versions dropped. Leave settings= out: the defaults work, offline too.",
}

# make: odd sizes, so that a hard-coded value cannot pass by chance.
MAKE_CONFIG = {"kernels": [3, 5], "classes": 7, "slice": 40, "batch_size": 12, "learning_rate": 0.0025}
TRAIN_SET_SIZE, TEST_SET_SIZE = 6000, 1000  # the course's bundled Fashion-MNIST

# train: 36 images in batches of 8 (the last batch of each epoch holds 4), 2 epochs, a log every
# 3 batches: the logs come after 3, 6 and 9 batches, at 24, 44 and 68 images seen. The batches
# keep their order, so that the autograder can train the same model the same way and compare.
TRAIN_IMAGES, TRAIN_BATCH, TRAIN_LR = 36, 8, 0.005
TRAIN_CONFIG = {"epochs": 2, "log_interval": 3}

# test: 120 test images, so that an accuracy kept as a float32 tensor shows its rounding.
TEST_IMAGES, TEST_BATCH = 120, 32

# model_pipeline: every 50th image (120 to train on, 20 to test), 2 epochs of 8 batches.
PIPELINE_PROJECT = "watchtrain-pipeline"
PIPELINE_CONFIG = {"kernels": [4, 8], "classes": 10, "slice": 50, "batch_size": 16, "learning_rate": 0.005,
                   "epochs": 2, "log_interval": 4}
# ... and once as a W&B sweep would run it: these values replace the dict's in the recorded config.
SWEEP_OVERRIDE = {"kernels": [3, 6], "classes": 12, "epochs": 1, "log_interval": 3}
PARTS = ("make", "train", "test", "save_model_onnx")  # what model_pipeline calls, in order

# compare_learning_rates: a straight line with a fixed wiggle, three rates, one run each.
SWEEP_PROJECT = "watchtrain-sweep"
SWEEP_RATES, SWEEP_EPOCHS = (0.3, 0.1, 0.01), 6
SWEEP_X = torch.linspace(-2, 2, 40).view(-1, 1)
SWEEP_Y = 1.5 * SWEEP_X - 0.5 + 0.1 * torch.sin(5 * SWEEP_X)

FINISH_ADVICE = ("Start the run with `with wandb.init(...) as run:` so it finishes (exit code 0) when the block "
                 "ends, or call run.finish() yourself.")


# ---------------------------------------------------------------- shared helpers


def _subset_loader(train: bool, count: int, batch_size: int, shuffle: bool) -> DataLoader:
    dataset = fashion_mnist(train=train, transform=normalize_transform())
    return DataLoader(Subset(dataset, range(count)), batch_size=batch_size, shuffle=shuffle)


def _the_run(wandb_runs, what: str):
    runs = wandb_runs.read()
    expect(len(runs) == 1, f"{what} should write into the run the autograder started, and no other.",
           expected="1 run", found=f"{len(runs)} runs",
           advice="Do not call wandb.init() or wandb.finish() inside this function: the run is already started.")
    return runs[0]


def _expect_finished(run, what: str) -> None:
    expect(run.finished, f"{what} was never finished: its run file has no exit record.",
           expected="a finished run (exit code 0)", found="a run still open", advice=FINISH_ADVICE)
    expect_equal(run.exit_code, 0, f"The exit code of {what}",
                 advice="A non-zero exit code means the code inside the run raised an exception.")


def _forward(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The model's outputs, bypassing module hooks (a model still watched by wandb would log)."""
    with torch.no_grad():
        return model.forward(images)


@dataclass(frozen=True)
class Counted:
    """What the autograder's own count of a test set gives: the accuracy, and the wrong ways to it."""

    correct: int
    total: int
    batch_accuracies: tuple[float, ...]
    batch_size: int  # the loader's (its first batch's size)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total


def _count(model: nn.Module, loader: DataLoader, device: str) -> Counted:
    correct, total, batches, batch_size = 0, 0, [], 0
    for images, labels in loader:
        right = int((_forward(model, images.to(device)).argmax(dim=1).cpu() == labels).sum())
        correct, total = correct + right, total + len(labels)
        batches.append(right / len(labels))
        batch_size = batch_size or len(labels)
    return Counted(correct, total, tuple(batches), batch_size)


def _accuracy(model: nn.Module, loader: DataLoader, device: str) -> float:
    return _count(model, loader, device).accuracy


def _example_counts(dataset_size: int, batch_size: int, epochs: int, drop_last: bool = False) -> list[int]:
    """Images seen after each batch, across epochs (the last batch of an epoch may be smaller)."""
    sizes = [min(batch_size, dataset_size - start) for start in range(0, dataset_size, batch_size)]
    if drop_last and sizes and sizes[-1] < batch_size:
        sizes = sizes[:-1]
    return list(np.cumsum(sizes * epochs).tolist())


def _expect_loss_count(losses: list[float], counts: list[int], epochs: int) -> None:
    """The criterion ran once per batch, and for nothing else."""
    expected, per_epoch = len(counts), len(counts) // epochs
    advice = f"Call criterion once per batch ({per_epoch} batches an epoch, {epochs} epochs), and for nothing else."
    if not losses:
        advice = "Your loop never called criterion: compute each batch's loss with the criterion you were given."
    elif len(losses) == per_epoch and epochs > 1:
        advice = f"That is one epoch's worth: run config['epochs'] = {epochs} epochs."
    elif len(losses) % expected == 0:
        advice = (f"That is {len(losses) // expected} calls per batch: compute each batch's loss once, and use that "
                  f"value (loss.item()) for the log.")
    expect_equal(len(losses), expected, "How many losses your loop computed with criterion", advice=advice)


def _loss_rows(run) -> list:
    return [row for row in run.history if "loss" in row.values]


def _other_rows(run) -> list:
    """History rows with a value that is not a histogram, and no 'loss'."""
    return [row for row in run.history if "loss" not in row.values
            and any(as_histogram(value) is None for value in row.values.values())]


def _expect_training_logged(run, losses: list[float], counts: list[int], config: dict) -> None:
    """The run's "loss" rows: one after every log_interval-th batch, at the images seen, with the
    epoch and the loss that batch computed, and no other rows."""
    epochs, interval = config["epochs"], config["log_interval"]
    _expect_loss_count(losses, counts, epochs)
    batches_per_epoch = len(counts) // epochs
    logged = [batch for batch in range(1, len(counts) + 1) if batch % interval == 0]
    rows = run.values("loss")
    if not rows:
        keys = sorted({key for row in run.history for key, value in row.values.items() if as_histogram(value) is None})
        advice = 'Log with wandb.log({"epoch": epoch, "loss": loss.item()}, step=example_count).'
        if keys:
            advice = f"The rows hold {', '.join(keys)}: log the batch's loss under the key 'loss'."
        fail("The run's history has no 'loss'.", expected=["epoch", "loss"], found=keys or "an empty history",
             advice=advice)
    steps = [step for step, _ in rows]
    expected_steps = [counts[batch - 1] for batch in logged]
    expect_equal(steps, expected_steps, "The steps of the 'loss' rows (images seen when each was logged)",
                 advice=_example_count_advice(steps, expected_steps, counts, logged, batches_per_epoch, interval,
                                              [value for _, value in rows], losses))
    epochs_logged = [row.values.get("epoch") for row in _loss_rows(run)]
    expected_epochs = [(batch - 1) // batches_per_epoch for batch in logged]
    advice = "Log the index of the current epoch of the loop, counting from 0."
    if None in epochs_logged:
        advice = "Every row needs 'epoch' as well: wandb.log({'epoch': epoch, 'loss': loss.item()}, step=...)."
    elif epochs_logged == [epoch + 1 for epoch in expected_epochs]:
        advice = "These count epochs from 1: log the loop's index, which counts from 0."
    expect_equal(epochs_logged, expected_epochs, "The 'epoch' logged with each loss", advice=advice)
    values = [value for _, value in rows]
    _expect_numbers(values, "'loss'")
    expect_equal(values, [losses[batch - 1] for batch in logged],
                 "The logged losses, against the losses your loop computed for those batches",
                 advice=_loss_advice(values, losses, logged, interval))
    others = _other_rows(run)
    expect(not others, "The run's history has rows without 'loss': train() logs only its rows of 'epoch' and 'loss'.",
           expected=f"{len(rows)} rows, each with 'loss'",
           found=[f"step {row.step}: {sorted(k for k, v in row.values.items() if as_histogram(v) is None)}"
                  for row in others],
           advice="Log one row after every log_interval-th batch and nothing else: another wandb.log call (at the "
                  "end of an epoch, say) adds a row of its own.")


def _example_count_advice(steps, expected, counts, logged, batches_per_epoch, interval, values,
                          losses) -> str | None:
    """What went wrong with W&B steps that count the images seen (example_count), or None."""
    if len(steps) != len(expected):
        epochs = len(counts) // batches_per_epoch
        if len(steps) == len(counts):
            return "That is one row per batch: log only after every log_interval-th batch."
        if len(steps) == epochs * (batches_per_epoch // interval) != len(expected):
            return ("Your batch counter restarts every epoch: count batches across epochs (1, 2, 3, ... with no "
                    "restart), then log when batch_count % log_interval == 0.")
        if len(steps) == epochs:
            return "That is one row per epoch: log after every log_interval-th batch, counted across epochs."
        return (f"Log once after every log_interval-th batch: `if batch_count % config['log_interval'] == 0`, "
                f"after incrementing batch_count ({len(expected)} logs in this run).")
    if steps == list(range(steps[0], steps[0] + len(steps))):
        return ("W&B numbered your log calls 0, 1, 2, ...: that is what wandb.log does without step=. "
                "Pass step=example_count, the number of images seen so far.")
    if steps == logged:
        return "These are batch counts. The step must be the number of images seen: example_count += len(images)."
    batch_size = counts[0]
    if steps == [batch * batch_size for batch in logged]:
        return ("batch_count * batch_size overcounts: the last batch of each epoch is smaller. "
                "Add len(images) to example_count after every batch.")
    for shift in (-1, 1):
        if all(0 < batch + shift <= len(counts) for batch in logged) and \
                steps == [counts[batch + shift - 1] for batch in logged]:
            return _shifted_example_count_advice(shift, values, losses, logged)
    return None


def _shifted_example_count_advice(shift: int, values, losses, logged) -> str:
    """The steps are those of one batch earlier (shift -1) or later (+1): the logged losses tell whether
    the rows come after other batches, or after the right ones with the images counted at another time."""
    batches = ", ".join(str(batch) for batch in logged)
    if values == [losses[batch - 1] for batch in logged]:
        if shift == -1:
            return (f"Your rows come after the right batches (their losses are those of batches {batches}), but each "
                    f"step leaves out the images of the batch just trained on: add len(images) to example_count "
                    f"before you log, not after.")
        return (f"Your rows come after the right batches (their losses are those of batches {batches}), but each "
                f"step already counts the images of the next batch: the step is the number of images seen so far.")
    if values == [losses[batch + shift - 1] for batch in logged]:
        if shift == -1:
            return ("Your logs are one batch off: they come one batch early. Increment batch_count first, then log "
                    "when batch_count % log_interval == 0 (the walkthrough's `(batch_ct + 1) % 25` is off by one).")
        return ("Your logs are one batch off: they come one batch late. Increment batch_count first, then log when "
                "batch_count % log_interval == 0.")
    return (f"Each step is the images seen one batch {'earlier' if shift == -1 else 'later'} than it should be: log "
            f"after batches {batches} of those counted across epochs, with step=example_count, the images seen so "
            f"far.")


def _loss_advice(values, losses, logged, interval) -> str:
    averages = [sum(losses[batch - interval:batch]) / interval for batch in logged]
    if all(math.isclose(value, average, rel_tol=1e-6) for value, average in zip(values, averages)):
        return "You logged the average of the last log_interval losses; log the loss of the batch itself, loss.item()."
    if all(batch >= 2 for batch in logged) and values == [losses[batch - 2] for batch in logged]:
        return "Each logged value is the previous batch's loss: log the loss of the batch you just trained on."
    return ("These are not the losses your loop computed for those batches: log loss.item() of the batch you just "
            "trained on.")


def _expect_numbers(values: list, what: str) -> None:
    wrong = [value for value in values if isinstance(value, bool) or not isinstance(value, (int, float))]
    expect(not wrong, f"Every {what} in the run must be a number.", expected="numbers", found=wrong[:3],
           advice="Log Python numbers: loss.item(), float(...). A tensor with more than one element is "
                  "stored as a list or a histogram.")


def _parameter_sizes(model) -> dict[str, int]:
    """{name: number of elements} of a model's parameters (a module, or a described one)."""
    if isinstance(model, nn.Module):
        return {name: parameter.numel() for name, parameter in model.named_parameters()}
    return {p["name"]: int(np.prod(p.get("shape") or [0])) for p in model.parameters}


def _watch_telemetry(run) -> int | None:
    """How many history rows the run file held when wandb.watch was first called in the run, or
    None when it never was (wandb records the call as a telemetry record, in order)."""
    from wandb.proto import wandb_internal_pb2 as pb

    rows = 0
    for _, payload in read_frames(run.path).records:
        record = pb.Record.FromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            rows += 1
        elif kind == "telemetry" and record.telemetry.feature.watch:
            return rows
    return None


@dataclass(frozen=True)
class Hooks:
    """What the autograder's model saw of wandb.watch's hooks: at each forward pass, and at the end."""

    passes: tuple[dict, ...]
    at_end: dict

    @property
    def log_freq(self) -> int | None:
        freqs = [freq for hooks in self.passes for freq in hooks.values()]
        return max(freqs) if freqs else None


def _no_histograms_advice(run, batches: int, hooks: Hooks | None) -> str:
    """Why wandb.watch recorded nothing, from what the model saw and from the run's own records."""
    watch = "wandb.watch(model, criterion, log='all', log_freq=config['log_interval'])"
    if hooks is not None and hooks.log_freq is not None:
        freq = hooks.log_freq
        if freq > batches:
            return (f"wandb.watch was on the model during training, with log_freq={freq}"
                    f"{' (the default, when log_freq is not given)' if freq == 1000 else ''}: it records once every "
                    f"{freq} batches, and this run had {batches}, so it recorded nothing. "
                    f"Pass log_freq=config['log_interval'].")
        return (f"wandb.watch's hooks were on the model during training (log_freq={freq}), yet no histogram reached "
                f"the run: keep logging into the run that is open, and do not call wandb.unwatch before training ends.")
    called_after = _watch_telemetry(run)
    if hooks is not None and hooks.at_end:
        return (f"wandb.watch was called after the training loop: its hooks were on the model only once it had "
                f"finished training, so they recorded nothing. Call {watch} before the loop.")
    if called_after is None:
        return f"wandb.watch was never called in this run: call {watch} before the loop."
    if hooks is not None:
        return (f"wandb.watch was called (the run records it), but none of its hooks was ever on `model`: it watched "
                f"another model, or was called with log=None. Call {watch} on the model you train.")
    if called_after > 0:
        return (f"wandb.watch was called after the loop had logged {called_after} rows: it only records the batches "
                f"that follow it. Call {watch} before the loop.")
    return (f"wandb.watch was called before the loop, yet recorded nothing in these {batches} batches: either "
            f"log_freq was more than {batches} (it is 1000 when not given), or log=None, or it watched another model. "
            f"Call {watch}.")


def _expect_histograms(run, sizes: dict[str, int], batches: int, interval: int, hooks: Hooks | None = None) -> None:
    """gradients/<name> and parameters/<name> histograms for every parameter, of the right size,
    recorded every `interval` batches."""
    keys = run.histogram_keys()
    names = list(sizes)
    if not keys:
        fail("The run holds no histograms: wandb.watch logged nothing.",
             expected=f"gradients/<name> and parameters/<name> for each of the {len(names)} parameters",
             found="no histograms", advice=_no_histograms_advice(run, batches, hooks))
    found = {kind: {name: _histogram_key(keys, kind, name) for name in names} for kind in ("gradients", "parameters")}
    for kind, other in (("gradients", "parameters"), ("parameters", "gradients")):
        missing = [f"{kind}/{name}" for name, key in found[kind].items() if key is None]
        present = len(names) - len(missing)
        if present:
            advice = (f"Only some parameters have {kind} histograms: wandb.watch records every parameter of the model "
                      f"it watches, so watch `model` itself, not one of its layers.")
        elif kind == "gradients":
            advice = ("Only parameters/ histograms were recorded, which is what log='parameters' does: log='all' "
                      "records both.")
        else:
            advice = ("Only gradients/ histograms were recorded, which is what wandb.watch's default, log='gradients', "
                      "does: log='all' records both.")
        if not present and not any(found[other].values()):
            advice = "wandb.watch records gradients/<name> and parameters/<name>: watch `model` with log='all'."
        expect(not missing, f"Every parameter needs {kind} histograms.", expected=[f"{kind}/{n}" for n in names],
               found=sorted(key for key in keys if key.startswith(kind + "/")) or f"no {kind}/ histograms",
               advice=advice)
        for name, key in found[kind].items():
            for step, histogram in run.histograms(key):
                expect(len(histogram.bins) == len(histogram.counts) + 1 and histogram.total == sizes[name],
                       f"The histogram {key} at step {step} should count every element of {name}.",
                       expected=sizes[name], found=histogram.total,
                       advice="Watch the model you train: wandb.watch(model, criterion, ...).")
    _expect_histogram_rate(run, found, batches, interval, hooks)


def _expect_histogram_rate(run, found: dict, batches: int, interval: int, hooks: Hooks | None) -> None:
    """One histogram of each kind per log_interval batches. wandb.watch records into the history row
    that is open when it fires, so its histograms land in as many rows as it fired times."""
    expected = batches // interval
    for kind, keys in found.items():
        key = next(iter(keys.values()))
        rows = len(run.histograms(key))
        if rows == expected:
            continue
        freq = hooks.log_freq if hooks is not None else None
        passes = len(hooks.passes) if hooks is not None else batches
        if freq == interval and passes == batches:
            continue  # recorded every interval batches: rows merged where the loop logged at other steps
        advice = "Record the histograms every config['log_interval'] batches: log_freq=config['log_interval']."
        if freq is not None and freq != interval:
            advice = (f"wandb.watch's log_freq is {freq}, not config['log_interval'] ({interval}): pass "
                      f"log_freq=config['log_interval'].")
        elif passes != batches:
            advice = (f"The model ran {passes} forward passes in {batches} batches, and wandb.watch counts forward "
                      f"passes: run the model once per batch (an extra pass, for an accuracy say, shifts its count).")
        fail(f"{key} was recorded in {rows} history rows; once every {interval} batches of these {batches} makes "
             f"{expected}.", expected=expected, found=rows, advice=advice)


def _histogram_key(keys: set[str], kind: str, name: str) -> str | None:
    """wandb names the histograms of the second model a process watches "gradients/graph_1<name>"."""
    pattern = re.compile(rf"{kind}/(graph_\d+)?{re.escape(name)}")
    return next((key for key in sorted(keys) if pattern.fullmatch(key)), None)


def _accuracy_advice(found, counted: Counted) -> str | None:
    """Which wrong way to an accuracy gives the value found."""
    expected = counted.accuracy
    if not isinstance(found, (int, float)) or isinstance(found, bool):
        return None
    if found == float(np.float32(expected)) and found != expected:
        return ("This is the accuracy rounded to float32: it was a tensor. Count with .sum().item(), so that "
                "correct / total is a Python float.")
    if found == counted.correct:
        return f"This is the number of right predictions ({counted.correct}): store the fraction correct / total."
    if math.isclose(found, 100 * expected):
        return "This is a percentage: store the fraction correct / total, between 0 and 1."
    if math.isclose(found, sum(counted.batch_accuracies) / len(counted.batch_accuracies)):
        return ("This is the mean of the batches' accuracies, which weighs the smaller last batch too much: divide "
                "the right predictions of all batches by the number of all examples.")
    if math.isclose(found, counted.batch_accuracies[-1]):
        return "This is the last batch's accuracy alone: count over every batch of test_loader."
    full = len(counted.batch_accuracies) * counted.batch_size
    if full != counted.total and math.isclose(found, counted.correct / full):
        return (f"This is correct / {full}: the total counted every one of the {len(counted.batch_accuracies)} "
                f"batches as a full batch of {counted.batch_size}, but the last one holds fewer and there are "
                f"{counted.total} examples. Add each batch's own size, labels.size(0), to the total.")
    return None


def _expect_summary_accuracy(run, counted: Counted) -> float:
    expected = counted.accuracy
    if "test_accuracy" not in run.summary:
        fail("The run's summary has no 'test_accuracy'.", expected="test_accuracy",
             found=sorted(run.summary) or "an empty summary",
             advice='Store it with wandb.run.summary["test_accuracy"] = accuracy.')
    found = run.summary["test_accuracy"]
    _expect_numbers([found], "summary['test_accuracy']")
    # Shown with every digit: a float32 rounding hides in the seventh.
    expect(found == expected, f"summary['test_accuracy'] is {found!r}, not correct / total = {expected!r} "
                              f"(recomputed by the autograder).", advice=_accuracy_advice(found, counted))
    return found


def _expect_onnx_saved(run, model: nn.Module, images: torch.Tensor, scratch: Path,
                       example: str = "example_input") -> None:
    """model.onnx is saved with the run, at once, opens with its weights from the saved files alone,
    and computes what the model computes for `images` (which the exporter was to be given: `example`)."""
    saved = {file.path: file for file in run.files if file.kind == "other"}
    if "model.onnx" not in saved:
        advice = "Save it with wandb.save(path, base_path=wandb.run.dir, policy='now')."
        if any(path.endswith("model.onnx") for path in saved):
            advice = "Pass base_path=wandb.run.dir to wandb.save, so the file is saved as model.onnx, not under a folder."
        fail("model.onnx is not among the files saved with the run.", expected="model.onnx",
             found=sorted(saved) or "no saved files", advice=advice)
    policy = saved["model.onnx"].policy
    advice = "wandb.save(path, base_path=wandb.run.dir, policy='now') marks it complete at once."
    if policy == "live":
        advice = f"policy='live' is wandb.save's default, for files that keep changing: {advice}"
    expect(policy == "now", "model.onnx should be saved with the run at once, complete (policy 'now').",
           expected="now", found=policy, advice=advice)
    expect((run.files_dir / "model.onnx").is_file(), "model.onnx is saved with the run, but not in its files folder.",
           expected=str(run.files_dir / "model.onnx"), found="no such file",
           advice="Export into the run's own folder, wandb.run.dir, then save it from there.")
    # `wandb sync` uploads the saved files and nothing else: check model.onnx with them alone, as it would arrive.
    uploaded = scratch / "uploaded"
    uploaded.mkdir(parents=True)
    for path in saved:
        source = run.files_dir / path
        if source.is_file() and not source.is_symlink():
            (uploaded / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, uploaded / path)
    try:
        info = read_onnx(uploaded / "model.onnx")
    except ArtifactError as error:
        advice = None
        if "is not beside it" in error.problem:
            advice = ("Only the files saved with the run travel with it, and the weights file is not among them. "
                      "Export with external_data=False so the weights are inside model.onnx, or save the weights "
                      "file with the run as well.")
        fail(f"The model.onnx saved with the run is not usable with the run's files alone: {error.problem}",
             advice=advice)
    expect_equal(list(info.input_names), ["images"], "The ONNX model's input names",
                 advice="Pass input_names=['images'] to torch.onnx.export.")
    expect_equal(list(info.output_names), ["logits"], "The ONNX model's output names",
                 advice="Pass output_names=['logits'] to torch.onnx.export.")
    try:
        outputs = run_onnx(uploaded / "model.onnx", {"images": images.cpu().numpy()})
    except ArtifactError as error:
        batch = info.inputs[0].shape[0] if info.inputs and info.inputs[0].shape else None
        advice = f"Export with the example batch, {example}: torch.onnx.export(model, (example_input,), ...)."
        if isinstance(batch, int) and batch != len(images):
            advice = (f"The file takes batches of {batch} only, but the example batch, {example}, holds {len(images)}: "
                      f"export with that batch itself.")
        fail(f"onnxruntime could not run the model.onnx saved with the run: {error.problem}", advice=advice)
    expected = _forward(model, images).cpu().numpy()
    advice = ("The file computes something else than the model: export `model` itself, as trained."
              if not info.training_nodes else "Export the model in evaluation mode: model.eval() first.")
    expect(outputs[0].shape == expected.shape and np.allclose(outputs[0], expected, atol=1e-4),
           "onnxruntime's logits for the example batch should match the model's.",
           expected=expected.ravel()[:4].tolist(), found=outputs[0].ravel()[:4].tolist(), advice=advice)


# ---------------------------------------------------------------- make


def _channels_advice(channels) -> str:
    if channels == [16, 32]:
        return ("These are the walkthrough's fixed channel counts, [16, 32]: build the model from config['kernels'] "
                "and config['classes'], not with fixed channel counts.")
    if channels == MAKE_CONFIG["kernels"][::-1]:
        return "The two counts are swapped: kernels[0] channels first, then kernels[1]."
    return "Build the model from config['kernels']: ConvNet(config['kernels'], config['classes'])."


def _subset_advice(length: int, train: bool) -> str:
    size, other = (TRAIN_SET_SIZE, TEST_SET_SIZE) if train else (TEST_SET_SIZE, TRAIN_SET_SIZE)
    if length == size:
        return "That is the whole set: keep only every config['slice']-th image (a Subset over a range with a step)."
    if length == math.ceil(other / MAKE_CONFIG["slice"]):
        return f"That is the {'test' if train else 'training'} set's count: use fashion_mnist(train={train}, ...)."
    return "Keep every config['slice']-th image of the set (a Subset over a range with a step)."


def _sample_advice(image, label, train: bool) -> str:
    slice_ = MAKE_CONFIG["slice"]
    plain = fashion_mnist(train=train)
    if torch.is_tensor(image):
        from torchvision.transforms.functional import pil_to_tensor

        raw, raw_label = plain[slice_]
        unnormalised = pil_to_tensor(raw).float() / 255
        if image.shape == unnormalised.shape and torch.allclose(image, unnormalised) and label == raw_label:
            return "This image is not normalised: pass transform=normalize_transform(), which maps pixels to [-1, 1]."
        full = fashion_mnist(train=train, transform=normalize_transform())
        for index in (slice_ - 1, 1, 2 * slice_):
            other, other_label = full[index]
            if other.shape == image.shape and torch.equal(other, image) and other_label == label:
                return (f"This is image {index} of the set: keep images 0, slice, 2 * slice, ... "
                        f"(range(0, len(dataset), config['slice'])).")
        other_set = fashion_mnist(train=not train, transform=normalize_transform())[slice_]
        if other_set[0].shape == image.shape and torch.equal(other_set[0], image):
            return (f"This image comes from the {'test' if train else 'training'} set: use "
                    f"fashion_mnist(train={train}, ...).")
    return "Use the course's fashion_mnist with the lessons' normalisation, then keep every config['slice']-th image."


def _setting_advice(config: dict):
    """For call_explaining: a KeyError raised where the learner's line reads a setting the config it
    was handed does not hold (config["lr"] for "learning_rate", "epoch" for "epochs") names the
    settings it does hold."""
    def explain(message: str) -> str | None:
        found = re.search(r"raised KeyError: '([^']*)'", message)
        if found is None or found.group(1) in config:
            return None
        key = found.group(1)
        if f'["{key}"]' not in message and f"['{key}']" not in message:  # a dict of the learner's own, say
            return None
        return (f"The config your function was handed has no setting {key!r}; it holds "
                f"{', '.join(repr(name) for name in config)}. Read each setting by the name the docstring "
                f"gives it: the same names are the keys of a W&B run's config.")
    return explain


@exercise("make")
def test_make_builds_model_data_loss_and_optimizer_from_config(lesson, device):
    made = call_explaining(lesson.make, dict(MAKE_CONFIG), device, explain=_setting_advice(MAKE_CONFIG))
    model, train_loader, test_loader, criterion, optimizer = expect_tuple(
        made, "make", ("model", "train_loader", "test_loader", "criterion", "optimizer"))
    expect(_is(model, "Module"), "The model is an nn.Module.", expected="ConvNet", found=type_name(model))
    channels = [m["attributes"].get("out_channels") for m in model.modules if _layer_is(m, "Conv2d")]
    expect_equal(channels, MAKE_CONFIG["kernels"], "The model's convolution channels (config['kernels'])",
                 advice=_channels_advice(channels))
    classes = [m["attributes"].get("out_features") for m in model.modules if _layer_is(m, "Linear")][-1:]
    expect_equal(classes, [MAKE_CONFIG["classes"]], "The model's number of outputs (config['classes'])",
                 advice="ConvNet(config['kernels'], config['classes']): the classes set its number of outputs.")
    devices = sorted({parameter["device"] for parameter in model.parameters})
    expect_equal(devices, [torch.device(device).type], "Where the model's parameters live",
                 advice="Move the model to the device you were given.")
    for loader, train, size in ((train_loader, True, TRAIN_SET_SIZE), (test_loader, False, TEST_SET_SIZE)):
        name = "train_loader" if train else "test_loader"
        expect(_is(loader, "DataLoader"), f"{name} is a DataLoader.", expected="DataLoader", found=type_name(loader))
        expect_equal(loader.dataset_length, math.ceil(size / MAKE_CONFIG["slice"]), f"How many images {name} holds",
                     advice=_subset_advice(loader.dataset_length, train))
        full = fashion_mnist(train=train, transform=normalize_transform())
        sample = loader.samples[1] if len(loader.samples) > 1 else None
        image, label = sample if isinstance(sample, tuple) and len(sample) == 2 else (None, None)
        expected_image, expected_label = full[MAKE_CONFIG["slice"]]
        if not (torch.is_tensor(image) and image.shape == expected_image.shape and torch.equal(image, expected_image)
                and label == expected_label):
            fail(f"{name}'s second image should be image {MAKE_CONFIG['slice']} of the "
                 f"{'training' if train else 'test'} set, normalised.", advice=_sample_advice(image, label, train))
        expect_equal(loader.batch_size, MAKE_CONFIG["batch_size"], f"{name}'s batch size (config['batch_size'])",
                     advice="DataLoader(..., batch_size=config['batch_size']).")
        sampler = "RandomSampler" if train else "SequentialSampler"
        expect(sampler in [t.rsplit(".", 1)[-1] for t in loader.sampler_types],
               f"{name} should {'shuffle' if train else 'not shuffle'}.",
               expected=sampler, found=loader.sampler_types[0].rsplit(".", 1)[-1],
               advice="Pass shuffle=True to the training DataLoader: a new order every epoch." if train else
                      "The test DataLoader keeps the order: shuffle=False (its default).")
    expect(_is(criterion, "CrossEntropyLoss"), "The criterion is nn.CrossEntropyLoss().",
           expected="CrossEntropyLoss", found=type_name(criterion))
    expect(_is(optimizer, "Adam"), "The optimizer is torch.optim.Adam.", expected="Adam", found=type_name(optimizer))
    lr = optimizer.groups[0]["hyperparameters"].get("lr")
    expect_equal(lr, MAKE_CONFIG["learning_rate"], "The optimizer's learning rate",
                 advice="0.001 is Adam's default: give it lr=config['learning_rate']." if lr == 0.001 else
                        "Give the optimizer lr=config['learning_rate'].")
    optimized = {name for group in optimizer.groups for name in group["params"]}
    own = {p["owner"] for p in model.parameters}
    advice = "Build the optimizer from the parameters of the model you return: model.parameters()."
    if "" in optimized:
        advice = ("The optimizer updates parameters of no model that make() returns: build it from the parameters of "
                  "the model you return, after building that model.")
    elif optimized < own:
        advice = (f"The optimizer leaves out {len(own - optimized)} of the model's parameters: give it all of them, "
                  f"model.parameters().")
    expect(optimized == own and "" not in optimized, "The optimizer updates exactly the model's parameters.",
           advice=advice)


def _is(value, class_name: str) -> bool:
    return isinstance(value, Described) and value.is_a(class_name)


def _layer_is(module: dict, class_name: str) -> bool:
    return any(name.rsplit(".", 1)[-1] == class_name for name in module["types"])


# ---------------------------------------------------------------- train


@dataclass(frozen=True)
class Trained:
    run: object
    model: nn.Module
    initial: dict
    optimizer: torch.optim.Optimizer
    losses: list[float]
    loader: DataLoader
    hooks: Hooks
    harness: dict  # what the run's harness saw: the run finished, or another started, by train()


def _trained(lesson, device, wandb_runs) -> Trained:
    """One training run in a run the autograder started, shared by the checks of train()."""
    return run_once((lesson.train.key, device), lambda: _train_with_grader_run(lesson, device, wandb_runs))


def _train_with_grader_run(lesson, device, wandb_runs) -> Trained:
    torch.manual_seed(0)
    model = WandbWatchedNet().to(device)
    initial = {key: value.detach().clone() for key, value in model.state_dict().items()}
    loader = _subset_loader(True, TRAIN_IMAGES, TRAIN_BATCH, shuffle=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=TRAIN_LR)
    criterion = RecordingLoss(nn.CrossEntropyLoss())
    _, harness = call_explaining(lesson.train.inside("wandb_run", project=GRADER_PROJECT, config=dict(TRAIN_CONFIG)),
                                 model, loader, criterion, optimizer, dict(TRAIN_CONFIG), device,
                                 explain=_setting_advice(TRAIN_CONFIG))
    return Trained(_the_run(wandb_runs, "train()"), model, initial, optimizer, list(criterion.values), loader,
                   Hooks(tuple(model.passes), dict(model.at_end)), harness)


def _expect_run_left_alone(function: str, harness: dict) -> None:
    """The contract's "do not start or finish a run": the run the caller opened is the caller's."""
    started = harness.get("runs_started_by_the_call", 0)
    expect(not started, f"{function} started a run of its own ({started} new run folder(s)).",
           expected="no new run: write into the run that is open (wandb.run, wandb.log)", found=f"{started} new",
           advice="A run is already open when it is called: use it (wandb.log, wandb.run.summary, wandb.run.dir) "
                  "instead of calling wandb.init, which would also finish the caller's run.")
    expect(not harness.get("finished_by_the_call"), f"{function} finished the run it was given.",
           expected="the caller's run still open", found="finished",
           advice="Remove wandb.finish() (or the `with wandb.init(...)` block): the caller opened the run and "
                  "logs more into it afterwards; model_pipeline finishes it when everything is logged.")


def _train_counts() -> list[int]:
    return _example_counts(TRAIN_IMAGES, TRAIN_BATCH, TRAIN_CONFIG["epochs"])


@exercise("train")
def test_train_logs_the_loss_at_images_seen(lesson, device, wandb_runs):
    trained = _trained(lesson, device, wandb_runs)
    _expect_training_logged(trained.run, trained.losses, _train_counts(), TRAIN_CONFIG)


@exercise("train")
def test_train_leaves_the_run_open(lesson, device, wandb_runs):
    _expect_run_left_alone("train()", _trained(lesson, device, wandb_runs).harness)


@exercise("train")
def test_train_watches_every_gradient_and_parameter(lesson, device, wandb_runs):
    trained = _trained(lesson, device, wandb_runs)
    _expect_histograms(trained.run, _parameter_sizes(trained.model), len(_train_counts()),
                       TRAIN_CONFIG["log_interval"], trained.hooks)


def _replayed_losses(trained: Trained, device: str, zero_grad: bool = True) -> list[float]:
    """The losses of the same training, done here: zero the gradients, backward, one step per batch."""
    model = Net().to(device)
    model.load_state_dict(trained.initial)
    optimizer = torch.optim.Adam(model.parameters(), lr=TRAIN_LR)
    threads, losses = torch.get_num_threads(), []
    torch.set_num_threads(1)  # as in the learner worker, so that the sums come out the same
    try:
        for _ in range(TRAIN_CONFIG["epochs"]):
            for images, labels in trained.loader:
                loss = nn.functional.cross_entropy(model(images.to(device)), labels.to(device))
                losses.append(loss.item())
                if zero_grad:
                    optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return losses


def _optimizer_steps(optimizer: torch.optim.Optimizer) -> int:
    """How many times Adam stepped (it counts them, per parameter)."""
    state = optimizer.state_dict()["state"]
    return int(state[0]["step"]) if 0 in state and "step" in state[0] else 0


@exercise("train")
def test_train_updates_the_weights_once_per_batch(lesson, device, wandb_runs):
    trained = _trained(lesson, device, wandb_runs)
    counts = _train_counts()
    _expect_loss_count(trained.losses, counts, TRAIN_CONFIG["epochs"])
    steps = _optimizer_steps(trained.optimizer)
    advice = "Call optimizer.step() once per batch, after loss.backward()."
    if steps == 0:
        advice = ("The optimizer never stepped, so the weights never changed: call optimizer.step() after "
                  "loss.backward().")
    elif steps % len(counts) == 0:
        advice = f"That is {steps // len(counts)} steps per batch: step once per batch."
    expect_equal(steps, len(counts), "How many times the optimizer updated the weights", advice=advice)
    expected = _replayed_losses(trained, device)
    advice = ("Each batch: optimizer.zero_grad(), the loss with criterion, loss.backward(), optimizer.step(). "
              "These losses differ from such a loop's, given the same model, batches and optimizer.")
    if trained.losses[1:] and np.allclose(trained.losses, _replayed_losses(trained, device, zero_grad=False),
                                          rtol=1e-4, atol=1e-6):
        advice = ("The gradients add up from batch to batch: call optimizer.zero_grad() every batch, before "
                  "loss.backward(), so each step uses that batch's gradients only.")
    expect_close(trained.losses, expected, "The losses your loop computed, against the same training done by the "
                                           "autograder", tol=1e-4, advice=advice)


# ---------------------------------------------------------------- test


@exercise("test")
def test_test_writes_the_accuracy_to_the_summary(lesson, device, wandb_runs):
    torch.manual_seed(0)
    model = WatchedNet().to(device)
    loader = _subset_loader(False, TEST_IMAGES, TEST_BATCH, shuffle=False)
    counted = _count(model, loader, device)
    model.passes.clear()
    returned, harness = lesson.test.inside("wandb_run", project=GRADER_PROJECT, config={})(model, loader, device)
    _expect_run_left_alone("test()", harness)
    run = _the_run(wandb_runs, "test()")
    _expect_summary_accuracy(run, counted)
    advice = None
    if returned is None:
        advice = "test() returned None: return the accuracy as well as storing it."
    elif isinstance(returned, torch.Tensor):
        advice = "It returned a tensor: return the Python float that its .item() gives."
    elif isinstance(returned, np.generic):
        advice = f"It returned NumPy's {type(returned).__name__}: convert it with float(...)."
    elif isinstance(returned, int):
        advice = "It returned a whole number: the accuracy is the fraction correct / total, a float."
    expect(isinstance(returned, float), "test() returns the accuracy as a Python float.", expected="float",
           found=type_name(returned), advice=advice)
    expect_equal(returned, counted.accuracy, "The accuracy test() returns", advice=_accuracy_advice(returned, counted))
    training = sum(mode for mode, _ in model.passes)
    expect(model.passes and not training, "test() should run the model in evaluation mode.",
           expected="every forward pass in eval mode", found=f"{training} of {len(model.passes)} in train mode",
           advice="Call model.eval() before the loop: a model in train mode would drop values (Dropout) and update "
                  "its BatchNorm statistics while you measure it.")
    with_grad = sum(grad for _, grad in model.passes)
    expect(not with_grad, "test() should run the model without autograd.",
           expected="every forward pass under torch.no_grad()",
           found=f"{with_grad} of {len(model.passes)} with autograd",
           advice="Wrap the loop in `with torch.no_grad():`: without it, every forward pass records a graph for a "
                  "backward pass that never comes.")


# ---------------------------------------------------------------- save_model_onnx

def _export_crash_advice(message: str) -> str | None:
    """The advice when wandb.watch's hooks (wandb_torch's log_tensor_stats) broke the export, or wandb.save refused
    a file outside its base_path. For this call only, not in CRASH_ADVICE: when model_pipeline's export crashes so,
    its checks tell whose mistake it is."""
    if "wandb_torch" in message or "log_tensor_stats" in message:
        return ("wandb's hooks ran inside the ONNX exporter's trace of your model and broke it. Call "
                "wandb.unwatch(model) before torch.onnx.export.")
    if "Glob may not walk above the base path" in message:
        return ("wandb.save refused the file because it does not lie inside base_path, the folder that its saved "
                "name is taken relative to. The file belongs in the run's files folder: export it to "
                "os.path.join(wandb.run.dir, \"model.onnx\"), which base_path=wandb.run.dir holds.")
    return None


def _path_advice(returned, expected_path: Path) -> str:
    if returned is None:
        return 'save_model_onnx() returned None: return where the file is, os.path.join(wandb.run.dir, "model.onnx").'
    if isinstance(returned, Described) and str(expected_path) in getattr(returned, "repr", ""):
        return "It returned a pathlib.Path: return the location as a str, str(path)."
    return 'path = os.path.join(wandb.run.dir, "model.onnx"); export there and return it.'


@exercise("save_model_onnx")
def test_save_model_onnx_saves_a_complete_model_with_the_run(lesson, device, wandb_runs, tmp_path):
    torch.manual_seed(0)
    model = Net().to(device)
    images, _ = next(iter(_subset_loader(False, 4, 4, shuffle=False)))
    images = images.to(device)
    reference = copy.deepcopy(model)
    # As after train(): the model is watched, with hooks on every forward pass.
    returned, run = call_explaining(
        lesson.save_model_onnx.inside("wandb_run", project=GRADER_PROJECT, config={}, watch=True), model, images,
        explain=_export_crash_advice)
    _expect_run_left_alone("save_model_onnx()", run)
    expected_path = Path(run["run_dir"]) / "model.onnx"
    saved = _the_run(wandb_runs, "save_model_onnx()")
    expect(isinstance(returned, str) and Path(returned) == expected_path,
           "save_model_onnx() returns the path it exported to.", expected=str(expected_path),
           found=type_name(returned) if isinstance(returned, Described) else returned,
           advice=_path_advice(returned, expected_path))
    _expect_onnx_saved(saved, reference, images, tmp_path)


# ---------------------------------------------------------------- model_pipeline


def walkthrough_convnet(kernels, classes=10) -> nn.Sequential:
    """The checker's own copy of the exercise's given ConvNet, to load a returned model's weights into:
    the same layers, computation and parameter names (layer1.0.weight, ..., fc.bias), built from
    torch's own classes only, so that it can also be handed to the learner's functions."""
    from collections import OrderedDict

    return nn.Sequential(OrderedDict([
        ("layer1", nn.Sequential(nn.Conv2d(1, kernels[0], 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2))),
        ("layer2", nn.Sequential(nn.Conv2d(kernels[0], kernels[1], 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2))),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(7 * 7 * kernels[1], classes)),
    ]))


def _convnet_shape(described) -> tuple[list[int], int] | None:
    """(kernels, classes) of a described ConvNet, read from its weights; None for another model."""
    state = getattr(described, "state", None)
    if not isinstance(state, dict) or not {"layer1.0.weight", "layer2.0.weight", "fc.weight"} <= set(state):
        return None
    kernels = [int(state["layer1.0.weight"].shape[0]), int(state["layer2.0.weight"].shape[0])]
    return kernels, int(state["fc.weight"].shape[0])


def _rebuilt_convnet(described, device: str) -> nn.Module | None:
    """A returned ConvNet, rebuilt in the checker from its weights; None when it is not one."""
    shape = _convnet_shape(described)
    if shape is None:
        return None
    model = walkthrough_convnet(*shape).to(device)
    try:
        model.load_state_dict(described.state)
    except RuntimeError:
        return None
    return model.eval()


def _contract_loader(train: bool, config: dict) -> DataLoader:
    """The loader that make()'s contract describes for `config`."""
    dataset = fashion_mnist(train=train, transform=normalize_transform())
    subset = Subset(dataset, range(0, len(dataset), config["slice"]))
    return DataLoader(subset, batch_size=config["batch_size"], shuffle=train)


def _same_sample(found, expected) -> bool:
    if not (isinstance(found, tuple) and len(found) == 2):
        return False
    image, label = found
    return torch.is_tensor(image) and image.shape == expected[0].shape and torch.equal(image, expected[0]) \
        and label == expected[1]


def _rebuilt_loader(described, train: bool) -> DataLoader | None:
    """A loader holding what a described one holds, in its batches: the contract's, when make() built
    that, else every n-th image or the first images of a set, normalised or not; None when none fits."""
    if not _is(described, "DataLoader") or not described.batch_size:
        return None
    length = described.dataset_length
    shuffle = any(t.endswith("RandomSampler") for t in described.sampler_types)
    from torchvision import transforms

    for transform in (normalize_transform(), transforms.ToTensor()):
        full = fashion_mnist(train=train, transform=transform)
        steps = {PIPELINE_CONFIG["slice"], max(1, len(full) // max(length, 1))}
        for indices in [range(0, len(full), step) for step in sorted(steps)] + [range(length)]:
            subset = Subset(full, indices)
            if len(subset) == length and all(_same_sample(sample, subset[index])
                                             for index, sample in enumerate(described.samples)):
                return DataLoader(subset, batch_size=described.batch_size, shuffle=shuffle,
                                  drop_last=bool(getattr(described, "drop_last", False)))
    return None


class OwnParts:
    """The learner's own make/train/test/save_model_onnx, called with what model_pipeline should give
    them: what the pipeline's run is compared with wherever it differs from the contract, so that a
    mistake of those functions does not cost the pipeline too. Each is called at most once; one that crashes
    (with CRASH_ADVICE's advice or without) gives None, and its own checks report the crash."""

    def __init__(self, lesson, device: str, wandb_runs, scratch: Path):
        self.lesson, self.device, self.roots, self.scratch = lesson, device, wandb_runs.roots, scratch
        self._cache: dict = {}

    def _once(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def made(self):
        """make(config)'s five results, as described, or None when it does not give them."""
        def call():
            torch.manual_seed(0)  # as before the pipeline: the same first weights
            try:
                made = self.lesson.make(dict(PIPELINE_CONFIG), self.device)
            except (LearnerCrash, KnownCrash):
                return None
            return made if isinstance(made, tuple) and len(made) == 5 else None
        return self._once("made", call)

    def loader(self, train: bool) -> DataLoader | None:
        made = self.made()
        return self._once(("loader", train), lambda: _rebuilt_loader(made[1 if train else 2], train) if made else None)

    def training_batches(self) -> DataLoader:
        """make()'s training batches; when they cannot be rebuilt, as many batches of the same size: the same
        records, other pictures. Only once make() gave its five results."""
        made = self.made()
        return self.loader(True) or DataLoader(Subset(fashion_mnist(train=True, transform=normalize_transform()),
                                                      range(made[1].dataset_length)), batch_size=made[1].batch_size)

    def initial_model(self) -> nn.Module | None:
        made = self.made()
        return _rebuilt_convnet(made[0], self.device) if made else None

    def _in_a_run(self, function, *args, watch: bool = False, config: dict = PIPELINE_CONFIG):
        runs = NewRuns(*self.roots)
        call = function.inside("wandb_run", project=GRADER_PROJECT, config=dict(config), watch=watch)
        value, _ = call(*args)
        found = runs.read()
        return value, (found[0] if len(found) == 1 else None)

    def trained(self):
        """(run, losses) of the learner's train on make()'s training batches, or None when it cannot run."""
        def call():
            made = self.made()
            if made is None or _convnet_shape(made[0]) is None:
                return None
            loader = self.training_batches()
            model = self.initial_model()
            criterion = RecordingLoss(nn.CrossEntropyLoss())
            optimizer = torch.optim.Adam(model.parameters(), lr=PIPELINE_CONFIG["learning_rate"])
            try:
                _, run = self._in_a_run(self.lesson.train, model, loader, criterion, optimizer, dict(PIPELINE_CONFIG),
                                        self.device)
            except (LearnerCrash, KnownCrash):
                return None
            return (run, list(criterion.values)) if run is not None else None
        return self._once("trained", call)

    def logged_rows(self, config: dict):
        """The (step, epoch) of the 'loss' rows that the learner's train logs with `config`, in a run with
        that config, on batches the size of make()'s training batches; None when it cannot run."""
        def call():
            made = self.made()
            if made is None or _convnet_shape(made[0]) is None:
                return None
            loader = self.training_batches()
            model = walkthrough_convnet(config["kernels"], config["classes"]).to(self.device)
            optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
            try:
                _, run = self._in_a_run(self.lesson.train, model, loader, nn.CrossEntropyLoss(), optimizer,
                                        dict(config), self.device, config=config)
            except (LearnerCrash, KnownCrash):
                return None
            return _logged_rows(run) if run is not None else None
        return self._once(("logged rows", str(config)), call)

    def tested(self, model: nn.Module):
        """The test_accuracy the learner's test() stores for `model` on make()'s test batches, or None."""
        def call():
            loader = self.loader(False)
            if loader is None:
                return None
            try:
                _, run = self._in_a_run(self.lesson.test, copy.deepcopy(model), loader, self.device)
            except (LearnerCrash, KnownCrash):
                return None
            return run.summary.get("test_accuracy") if run is not None else None
        return self._once("tested", call)

    def saved(self, model: nn.Module, images: torch.Tensor):
        """The run into which the learner's save_model_onnx saved `model`, or None."""
        def call():
            try:
                _, run = self._in_a_run(self.lesson.save_model_onnx, copy.deepcopy(model), images, watch=True)
            except (LearnerCrash, KnownCrash):
                return None
            return run
        return self._once("saved", call)

    def crashes_alike(self, part: str, crash: LearnerCrash, criterion) -> bool:
        """Whether `part`, called as its contract says, crashes as it did inside the pipeline."""
        model = walkthrough_convnet(PIPELINE_CONFIG["kernels"], PIPELINE_CONFIG["classes"]).to(self.device)
        train_loader, test_loader = _contract_loader(True, PIPELINE_CONFIG), _contract_loader(False, PIPELINE_CONFIG)
        calls = {
            "make": lambda: self.lesson.make(dict(PIPELINE_CONFIG), self.device),
            "train": lambda: self._in_a_run(self.lesson.train, model, train_loader, criterion or nn.CrossEntropyLoss(),
                                            torch.optim.Adam(model.parameters()), dict(PIPELINE_CONFIG), self.device),
            "test": lambda: self._in_a_run(self.lesson.test, model, test_loader, self.device),
            "save_model_onnx": lambda: self._in_a_run(self.lesson.save_model_onnx, model,
                                                      next(iter(test_loader))[0].to(self.device), watch=True),
        }
        try:
            calls[part]()
        except LearnerCrash as own:
            return own.exception_types[:1] == crash.exception_types[:1]
        except NotStarted:  # still its stub: its own checks say so, as for a part that crashes by itself
            return crash.raised("NotImplementedError")
        return False


def _crashed_part(crash: LearnerCrash) -> str | None:
    """The exercise function the crash happened in: the innermost of the learner's own lines."""
    functions = re.findall(r"exercise\.py, line \d+, in (\w+)", str(crash))
    return next((name for name in reversed(functions) if name in PARTS + ("model_pipeline",)), None)


def _call_pipeline(lesson, own: OwnParts, hyperparameters: dict, criterion, device: str):
    """model_pipeline's returned value and, when it crashed inside one of the functions it calls
    in a way that function crashes by itself too, that function's name (its own mistake)."""
    torch.manual_seed(0)
    try:
        return lesson.model_pipeline(PIPELINE_PROJECT, hyperparameters, criterion, device), None
    except LearnerCrash as crash:
        part = _crashed_part(crash)
        if part not in PARTS:
            raise
        if own.crashes_alike(part, crash, criterion):
            return None, part
        headline = str(crash).splitlines()[0][:300]
        advice = (f"{part}() crashes when model_pipeline calls it, but not when it is called as its contract says: "
                  f"check what model_pipeline gives it.")
        if part == "make":
            advice = ("make() crashes when model_pipeline calls it, but not when given a plain dict: either "
                      "model_pipeline gives it something else than the run's config, or make() does not work with "
                      "a W&B config (read it with config[key], as a mapping).")
        elif criterion is None and part == "train" and "NoneType" in str(crash):
            advice = ("criterion was None, and train() got None as its loss function: when criterion is None, train "
                      "with the loss function that make() built.")
        fail(f"Your code crashed inside {part}(), called by model_pipeline(): {headline}", advice=advice)


def _loss_index(value, losses: list[float]):
    return next((index for index, loss in enumerate(losses) if loss == value), "not a computed loss")


def _training_record(run, losses: list[float]) -> dict:
    """What a training left in a run, as far as it depends on how train() was called. The histograms
    count up to the last loss row, which stays open after training: a watched model's later forward
    passes (test()'s) record into it."""
    rows = [row for row in run.history if any(as_histogram(value) is None for value in row.values.values())]
    end = max((row.step for row in rows if "loss" in row.values), default=math.inf)
    histograms = {}
    for key in run.histogram_keys():
        short = re.sub(r"^(gradients|parameters)/graph_\d+", r"\1/", key)
        histograms[short] = sum(step < end for step, _ in run.histograms(key))
    return {"criterion calls": len(losses),
            "rows (step, keys, epoch, which batch's loss)": [
                (row.step, sorted(k for k, v in row.values.items() if as_histogram(v) is None),
                 row.values.get("epoch"), _loss_index(row.values.get("loss"), losses)) for row in rows],
            "histograms (name: rows)": histograms}


def _judge_training(run, losses: list[float], sizes: dict[str, int], own: OwnParts) -> None:
    counts = _example_counts(math.ceil(TRAIN_SET_SIZE / PIPELINE_CONFIG["slice"]), PIPELINE_CONFIG["batch_size"],
                             PIPELINE_CONFIG["epochs"])
    try:
        _expect_training_logged(run, losses, counts, PIPELINE_CONFIG)
        _expect_histograms(run, sizes, len(losses), PIPELINE_CONFIG["log_interval"])
        return
    except GradingFailure as failure:
        replay = own.trained()
        if replay is None:
            return  # make() or train() cannot run as their contracts say: their own checks report it
        found, expected = _training_record(run, losses), _training_record(*replay)
        if found == expected:
            return  # what the learner's own train() records, given make()'s batches: its own checks judge it
        differs = next(key for key in found if found[key] != expected[key])
        advice = "model_pipeline gives train() other inputs than make()'s training batches and the recorded config."
        if not losses and expected["criterion calls"]:
            advice = ("It never trained with the criterion it was given: pass `criterion` to train() when it is not "
                      "None.")
        elif differs == "criterion calls":
            advice = ("It trained on other batches or for another number of epochs: train on make()'s training "
                      "loader, with the recorded config.")
        fail(f"The pipeline's training is not what your own train() records when given make()'s training batches, "
             f"the recorded config and the criterion; its {differs} differ. ({failure.what})",
             expected=expected[differs], found=found[differs], advice=advice)


def _judge_summary(run, model: nn.Module, own: OwnParts, device: str) -> None:
    counted = _count(model, _contract_loader(False, PIPELINE_CONFIG), device)
    try:
        _expect_summary_accuracy(run, counted)
        return
    except GradingFailure as failure:
        own_value = own.tested(model)
        found = run.summary.get("test_accuracy")
        if own_value is None or found == own_value:
            return  # your test() stores this value too (or cannot be run as its contract says): its checks judge it
        advice = "Measure with test(model, test_loader, device), on the test batches that make() built, after training."
        train_loader, initial = own.loader(True), own.initial_model()
        if train_loader is not None and found == _accuracy(model, train_loader, device):
            advice = "This is the accuracy on the training batches: test on the test loader that make() built."
        elif initial is not None and found == _accuracy(initial, own.loader(False), device):
            advice = "This is the accuracy of the model before training: call test() after train()."
        fail(f"The pipeline's summary['test_accuracy'] is {found!r}, but your own test() stores {own_value!r} for the "
             f"returned model on make()'s test batches. ({failure.what})", advice=advice)


def _judge_onnx(run, model: nn.Module, images: torch.Tensor, own: OwnParts, scratch: Path) -> None:
    example = "the first batch of make()'s test loader"
    try:
        _expect_onnx_saved(run, model, images, scratch / "pipeline", example)
        return
    except GradingFailure as failure:
        own_run = own.saved(model, images)
        if own_run is None:
            return  # save_model_onnx cannot run as its contract says: its own check reports it
        try:
            _expect_onnx_saved(own_run, model, images, scratch / "own", example)
        except GradingFailure as own_failure:
            if own_failure.what == failure.what:
                return  # your save_model_onnx does the same by itself: its own check reports it
        advice = (f"Your save_model_onnx, given the returned model and {example}, does not do this: model_pipeline "
                  f"gives it something else. {failure.advice or ''}").strip()
        if example in (failure.advice or ""):
            advice = f"{failure.advice} model_pipeline gives save_model_onnx its example input."
        elif "logits" in failure.what and "match" in failure.what:
            advice = ("The run saved another model than the one returned: save the model that train() trained, and "
                      "return that same model.")
        fail(failure.what, expected=failure.expected, found=failure.found, advice=advice)


def _pipeline_run(wandb_runs, crashed_in: str | None):
    """The pipeline's one run. The grader's own calls of a part that crashed (OwnParts) leave runs of
    their own, in the grader's project: they are not the learner's."""
    runs = [run for run in wandb_runs.read() if run.project != GRADER_PROJECT]
    expect(len(runs) == 1, "model_pipeline() writes exactly one run.", expected=1, found=len(runs),
           advice="One `with wandb.init(project=project, config=hyperparameters) as run:` around everything.")
    run = runs[0]
    if crashed_in is None:
        _expect_finished(run, "The pipeline's run")
    expect_equal(run.project, PIPELINE_PROJECT, "The run's project", advice="wandb.init(project=project, ...).")
    return run


@exercise("model_pipeline")
def test_model_pipeline_records_one_complete_run(lesson, device, wandb_runs, tmp_path):
    criterion = RecordingLoss(nn.CrossEntropyLoss())
    own = OwnParts(lesson, device, wandb_runs, tmp_path)
    returned, crashed_in = _call_pipeline(lesson, own, dict(PIPELINE_CONFIG), criterion, device)
    run = _pipeline_run(wandb_runs, crashed_in)
    if not run.config:
        advice = ("The run recorded no config. `wandb.config = {...}` after wandb.init replaces W&B's config object "
                  "with a plain dict, so nothing reaches the run: pass config=hyperparameters to wandb.init "
                  "(or call run.config.update(hyperparameters)).")
    else:
        advice = "Pass the whole dict: wandb.init(project=project, config=hyperparameters)."
    recorded = {key: run.config[key] for key in PIPELINE_CONFIG if key in run.config}
    expect(recorded == PIPELINE_CONFIG, "The run's config should hold every hyperparameter.",
           expected=PIPELINE_CONFIG, found=run.config or "an empty config", advice=advice)
    done = PARTS if crashed_in is None else PARTS[:PARTS.index(crashed_in)]  # a part's crash is its own mistake
    if crashed_in is None:
        expect(_is(returned, "Module"), "model_pipeline() returns the trained model.", expected="an nn.Module",
               found=type_name(returned), advice="Return the model after the with-block.")
    model = _rebuilt_convnet(returned, device) if crashed_in is None else None
    if crashed_in is None and model is None:
        made = own.made()
        if made is None or _convnet_shape(made[0]) is not None:  # make() builds a ConvNet: this is not it
            fail("model_pipeline() returns a model that is not the ConvNet that make() builds.",
                 expected=f"ConvNet({PIPELINE_CONFIG['kernels']}, {PIPELINE_CONFIG['classes']})",
                 found=type_name(returned), advice="Return the model that make() built and train() trained.")
        return  # make() builds no ConvNet: its own check says so, and nothing here can be rebuilt
    # A call that crashed sends back no argument's state, so the criterion's record of the losses is
    # missing then: the training is judged only when the pipeline returned.
    if "train" in done and crashed_in is None:
        shapes = returned if model is not None else (own.made() or [None])[0]
        if shapes is not None:
            _judge_training(run, criterion.values, _parameter_sizes(model if model is not None else shapes), own)
    if "test" in done and model is not None:
        _judge_summary(run, model, own, device)
    if "save_model_onnx" in done and model is not None:
        loader = own.loader(False) or _contract_loader(False, PIPELINE_CONFIG)
        images, _ = next(iter(loader))
        _judge_onnx(run, model, images.to(device), own, tmp_path)


@exercise("model_pipeline")
def test_model_pipeline_reads_its_settings_from_the_run(lesson, device, wandb_runs, tmp_path, monkeypatch):
    # A sweep's values replace the dict's in the run's config: the network must be built from those.
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("".join(f"{key}:\n  value: {value}\n" for key, value in SWEEP_OVERRIDE.items()), encoding="utf-8")
    own = OwnParts(lesson, device, wandb_runs, tmp_path)
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(sweep))
    try:
        returned, crashed_in = _call_pipeline(lesson, own, dict(PIPELINE_CONFIG), None, device)
    finally:
        monkeypatch.delenv("WANDB_SWEEP_PARAM_PATH")
    if crashed_in is not None:
        return  # the part that crashed by itself is graded on its own
    run = _pipeline_run(wandb_runs, crashed_in)  # one run, in the project given
    recorded = PIPELINE_CONFIG | SWEEP_OVERRIDE
    shape = _convnet_shape(returned) if isinstance(returned, Described) else None
    expect(shape is not None, "model_pipeline() returns the trained ConvNet.", expected="a ConvNet",
           found=type_name(returned), advice="Return the model that make() built and train() trained.")
    given = (PIPELINE_CONFIG["kernels"], PIPELINE_CONFIG["classes"])
    expect(tuple(shape) != given,
           f"model_pipeline() built its network from the dict it was given, not from the run's config: a sweep "
           f"changed the recorded config to kernels={recorded['kernels']}, classes={recorded['classes']}.",
           expected=f"ConvNet({recorded['kernels']}, {recorded['classes']})", found=f"ConvNet({shape[0]}, {shape[1]})",
           advice="Read every setting back from the run once it has started: config = run.config, then "
                  "make(config, device) and train(..., config, ...).")
    _judge_sweep_training(run, own, recorded)


def _logged_rows(run) -> list[tuple]:
    """(step, epoch) of each 'loss' row of a run."""
    return [(row.step, row.values.get("epoch")) for row in _loss_rows(run)]


def _contract_rows(config: dict) -> list[tuple]:
    """(step, epoch) of the 'loss' rows that train's contract asks for, on make()'s training batches."""
    counts = _example_counts(math.ceil(TRAIN_SET_SIZE / config["slice"]), config["batch_size"], config["epochs"])
    per_epoch = len(counts) // config["epochs"]
    return [(counts[batch - 1], (batch - 1) // per_epoch) for batch in range(1, len(counts) + 1)
            if batch % config["log_interval"] == 0]


def _judge_sweep_training(run, own: OwnParts, recorded: dict) -> None:
    """The sweep's run trained with the recorded epochs and log_interval: its 'loss' rows are those the
    contract asks for, or those the learner's own train() logs with the recorded config."""
    found = _logged_rows(run)
    if found == _contract_rows(recorded) or found == own.logged_rows(recorded):
        return
    expected = own.logged_rows(recorded)
    if expected is None:
        return  # make() or train() cannot run as their contracts say: their own checks report it
    settings = {key: recorded[key] for key in ("epochs", "log_interval")}
    if found in (_contract_rows(PIPELINE_CONFIG), own.logged_rows(PIPELINE_CONFIG)):
        given = {key: PIPELINE_CONFIG[key] for key in settings}
        fail(f"model_pipeline() trained with the settings of the dict it was given, not with the run's config: a "
             f"sweep changed the recorded config to {settings}, but the run's 'loss' rows (step, epoch) are those of "
             f"{given}.", expected=expected, found=found,
             advice="Read every setting back from the run once it has started: config = run.config, then give that "
                    "same config to make(config, device) and to train(..., config, ...).")
    fail(f"The 'loss' rows (step, epoch) of the sweep's run are not what your own train() logs with the recorded "
         f"config ({settings}) on make()'s training batches.", expected=expected, found=found,
         advice="Give train() make()'s training batches and the run's config, config = run.config.")


# ---------------------------------------------------------------- compare_learning_rates


def _sweep_losses(lr: float, device: str, momentum: float = 0.0, seed: bool = True) -> list[float]:
    if seed:
        torch.manual_seed(0)
    model = nn.Linear(1, 1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    x, y, losses = SWEEP_X.to(device), SWEEP_Y.to(device), []
    for _ in range(SWEEP_EPOCHS):
        loss = nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses


def _sweep_advice(own: list[float], lr: float, device: str) -> str:
    expected = _sweep_losses(lr, device)
    if own and not math.isclose(own[0], expected[0], rel_tol=1e-5, abs_tol=1e-5):
        return ("The first loss already differs, so the line started from other weights: seed with "
                "torch.manual_seed(0) right before nn.Linear(1, 1), for every rate.")
    for other in SWEEP_RATES:
        if other != lr and np.allclose(own, _sweep_losses(other, device), rtol=1e-5, atol=1e-5):
            return f"These are the losses of lr={other}: train each run with its own rate, SGD(..., lr=lr)."
    if np.allclose(own, _sweep_losses(lr, device, momentum=0.9), rtol=1e-5, atol=1e-5):
        return "This is SGD with momentum 0.9: use plain SGD, torch.optim.SGD(model.parameters(), lr=lr)."
    return ("The first loss matches, the next ones do not: one update per epoch with "
            "torch.optim.SGD(model.parameters(), lr=lr), zeroing the gradients each epoch.")


@exercise("compare_learning_rates")
def test_compare_learning_rates_writes_one_finished_run_per_rate(lesson, device, wandb_runs):
    criterion = RecordingLoss(nn.MSELoss())
    lesson.compare_learning_rates(SWEEP_PROJECT, SWEEP_X.clone(), SWEEP_Y.clone(), list(SWEEP_RATES), SWEEP_EPOCHS,
                                  criterion, device)
    runs = wandb_runs.read()
    if len(runs) != len(SWEEP_RATES):
        advice = None
        if len(runs) < len(SWEEP_RATES) and any(not run.finished for run in runs):
            advice = ("A run was still open when the next wandb.init() came, so wandb.init() handed back that "
                      "same run and the next rates logged into it (their steps went backwards and were dropped). "
                      "Call run.finish() at the end of each rate's run.")
        elif len(runs) > len(SWEEP_RATES):
            advice = "Start exactly one run per learning rate, and no other."
        fail("compare_learning_rates() writes one run per learning rate.", expected=len(SWEEP_RATES),
             found=len(runs), advice=advice)
    calls = len(criterion.values)
    advice = "Call criterion once per epoch of each run, and for nothing else."
    if calls == 2 * len(SWEEP_RATES) * SWEEP_EPOCHS:
        advice = "That is two calls per epoch: compute the loss once, log loss.item() and backpropagate that same loss."
    expect_equal(calls, len(SWEEP_RATES) * SWEEP_EPOCHS, "How many losses your loops computed", advice=advice)
    for index, (lr, run) in enumerate(zip(SWEEP_RATES, runs)):
        what = f"The run for lr={lr}"
        _expect_finished(run, what)
        expect_equal(run.name, f"lr_{lr}", f"{what}: its name", advice='wandb.init(..., name=f"lr_{lr}").')
        expect_equal(run.group, "learning-rates", f"{what}: its group", advice='wandb.init(..., group="learning-rates").')
        expect_equal(run.project, SWEEP_PROJECT, f"{what}: its project", advice="wandb.init(project=project, ...).")
        expect_equal(run.config, {"learning_rate": lr, "epochs": SWEEP_EPOCHS}, f"{what}: its config",
                     advice='wandb.init(..., config={"learning_rate": lr, "epochs": epochs}), and nothing more.')
        rows = run.values("loss")
        steps = [step for step, _ in rows]
        advice = "run.log({'loss': loss.item()}, step=epoch), once per epoch."
        if steps == list(range(1, SWEEP_EPOCHS + 1)):
            advice = "These count epochs from 1: the step is the epoch's index, from 0."
        elif steps and steps[0] == index * SWEEP_EPOCHS:
            advice = "The steps go on from the previous run: each run counts its own epochs from 0."
        expect_equal(steps, list(range(SWEEP_EPOCHS)), f"{what}: the steps of 'loss'", advice=advice)
        own = criterion.values[index * SWEEP_EPOCHS:(index + 1) * SWEEP_EPOCHS]
        expect_equal([value for _, value in rows], own, f"{what}: the logged losses, against the ones your loop "
                                                        f"computed",
                     advice="Log loss.item() of the loss that epoch computed, before the update.")
        expect_close(own, _sweep_losses(lr, device), f"{what}: your losses, against the autograder's own training",
                     tol=1e-5, advice=_sweep_advice(own, lr, device))
