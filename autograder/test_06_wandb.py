"""Lesson 06 autograder: Weights & Biases runs, written offline and read back from their run files.

W&B is forced offline for the whole session (watchtrain.grading.wandb_fixtures: its own WANDB_DIR,
quiet settings, every WANDB_* variable of your shell hidden, API key included). Each test grades
the runs its own call wrote, with the course's reader of `run-<id>.wandb` files. Training gets a
criterion that records every loss it computes (RecordingLoss), so the logged losses are compared
with the ones your loop really computed, exactly.
"""
import copy
import math
import re
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.onnx import read_onnx, run_onnx
from watchtrain.data import fashion_mnist, normalize_transform
from watchtrain.grading.crashes import call_with_advice
from watchtrain.grading import Described, exercise, expect, expect_close, expect_equal, fail
from watchtrain.grading.recording import RecordingLoss
from watchtrain.models import Net

GRADER_PROJECT = "watchtrain-grader"

# make: odd sizes, so that a hard-coded value cannot pass by chance.
MAKE_CONFIG = {"kernels": [3, 5], "classes": 7, "slice": 40, "batch_size": 12, "learning_rate": 0.0025}

# train: 36 images in batches of 8 (the last batch of each epoch holds 4), 2 epochs, a log every
# 3 batches: the logs come after 3, 6 and 9 batches, at 24, 44 and 68 images seen.
TRAIN_IMAGES, TRAIN_BATCH = 36, 8
TRAIN_CONFIG = {"epochs": 2, "log_interval": 3}

# test: 120 test images, so that an accuracy kept as a float32 tensor shows its rounding.
TEST_IMAGES, TEST_BATCH = 120, 32

# model_pipeline: every 50th image (120 to train on, 20 to test), 2 epochs of 8 batches.
PIPELINE_PROJECT = "watchtrain-pipeline"
PIPELINE_CONFIG = {"kernels": [4, 8], "classes": 10, "slice": 50, "batch_size": 16, "learning_rate": 0.005,
                   "epochs": 2, "log_interval": 4}

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


def _accuracy(model: nn.Module, loader: DataLoader, device: str) -> float:
    correct = total = 0
    for images, labels in loader:
        predicted = _forward(model, images.to(device)).argmax(dim=1).cpu()
        correct += int((predicted == labels).sum())
        total += len(labels)
    return correct / total


def _example_counts(dataset_size: int, batch_size: int, epochs: int) -> list[int]:
    """Images seen after each batch, across epochs (the last batch of an epoch may be smaller)."""
    sizes = [min(batch_size, dataset_size - start) for start in range(0, dataset_size, batch_size)] * epochs
    return list(np.cumsum(sizes).tolist())


def _expect_training_logged(run, losses: list[float], dataset_size: int, batch_size: int, config: dict) -> None:
    """The run's "loss" rows: one after every log_interval-th batch, at the images seen, with the
    epoch and the loss that batch computed."""
    epochs, interval = config["epochs"], config["log_interval"]
    counts = _example_counts(dataset_size, batch_size, epochs)
    batches_per_epoch = len(counts) // epochs
    expect_equal(len(losses), len(counts), "How many losses your loop computed with criterion",
                 advice=f"Call criterion once per batch ({batches_per_epoch} batches an epoch, {epochs} epochs), "
                        f"and for nothing else.")
    logged = [batch for batch in range(1, len(counts) + 1) if batch % interval == 0]
    rows = run.values("loss")
    if not rows:
        keys = sorted({key for row in run.history for key in row.values})
        fail("The run's history has no 'loss'.", expected=["epoch", "loss"], found=keys or "an empty history",
             advice='Log with wandb.log({"epoch": epoch, "loss": loss.item()}, step=example_count).')
    steps = [step for step, _ in rows]
    expected_steps = [counts[batch - 1] for batch in logged]
    expect_equal(steps, expected_steps, "The steps of the 'loss' rows (images seen when each was logged)",
                 advice=_step_advice(steps, expected_steps, counts, logged, batch_size))
    epochs_logged = [run_row.values.get("epoch") for run_row in run.history if "loss" in run_row.values]
    expect_equal(epochs_logged, [(batch - 1) // batches_per_epoch for batch in logged],
                 "The 'epoch' logged with each loss", advice="Log the epoch counter of the loop, counting from 0.")
    values = [value for _, value in rows]
    _expect_numbers(values, "'loss'")
    expect_equal(values, [losses[batch - 1] for batch in logged],
                 "The logged losses, against the losses your loop computed for those batches",
                 advice=_loss_advice(values, losses, logged, interval))


def _step_advice(steps, expected, counts, logged, batch_size) -> str | None:
    if len(steps) != len(expected):
        return (f"Log once after every log_interval-th batch: `if batch_count % config['log_interval'] == 0`, "
                f"after incrementing batch_count ({len(expected)} logs in this run).")
    if steps == list(range(steps[0], steps[0] + len(steps))):
        return ("W&B numbered your log calls 0, 1, 2, ...: that is what wandb.log does without step=. "
                "Pass step=example_count, the number of images seen so far.")
    if steps == logged:
        return "These are batch counts. The step must be the number of images seen: example_count += len(images)."
    if steps == [batch * batch_size for batch in logged]:
        return ("batch_count * batch_size overcounts: the last batch of each epoch is smaller. "
                "Add len(images) to example_count after every batch.")
    for shift in (-1, 1):
        if all(0 < batch + shift <= len(counts) for batch in logged) and \
                steps == [counts[batch + shift - 1] for batch in logged]:
            return ("Your logs are one batch off. Increment batch_count first, then log when "
                    "batch_count % log_interval == 0 (the walkthrough's `(batch_ct + 1) % 25` is off by one).")
    return None


def _loss_advice(values, losses, logged, interval) -> str | None:
    averages = [sum(losses[batch - interval:batch]) / interval for batch in logged]
    if all(math.isclose(value, average, rel_tol=1e-6) for value, average in zip(values, averages)):
        return "You logged the average of the last log_interval losses; log the loss of the batch itself, loss.item()."
    return "Log loss.item() of the batch you just trained on, right after optimizer.step()."


def _expect_numbers(values: list, what: str) -> None:
    wrong = [value for value in values if isinstance(value, bool) or not isinstance(value, (int, float))]
    expect(not wrong, f"Every {what} in the run must be a number.", expected="numbers", found=wrong[:3],
           advice="Log Python numbers: loss.item(), float(...). A tensor with more than one element is "
                  "stored as a list or a histogram.")


def _watched_names(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_parameters()]


def _expect_histograms(run, model: nn.Module, batches: int) -> None:
    """gradients/<name> and parameters/<name> histograms for every parameter, of the right size."""
    keys = run.histogram_keys()
    names = _watched_names(model)
    if not keys:
        fail("The run holds no histograms: wandb.watch logged nothing.",
             expected=f"gradients/<name> and parameters/<name> for each of the {len(names)} parameters",
             found="no histograms",
             advice=f"wandb.watch logs once every log_freq batches, and log_freq is 1000 unless you say otherwise: "
                    f"this run had {batches} batches, so nothing was logged. Pass "
                    f"log_freq=config['log_interval'] (and log='all').")
    for kind, advice in (("gradients", "log='all' records gradients and parameters; log='parameters' omits gradients."),
                         ("parameters", "log='all' records parameters too; the default, log='gradients', omits them.")):
        found = {name: _histogram_key(keys, kind, name) for name in names}
        missing = [f"{kind}/{name}" for name, key in found.items() if key is None]
        expect(not missing, f"Every parameter needs {kind} histograms.", expected=[f"{kind}/{n}" for n in names],
               found=sorted(key for key in keys if key.startswith(kind + "/")) or f"no {kind}/ histograms",
               advice=advice)
        sizes = dict((name, parameter.numel()) for name, parameter in model.named_parameters())
        for name, key in found.items():
            for step, histogram in run.histograms(key):
                expect(len(histogram.bins) == len(histogram.counts) + 1 and histogram.total == sizes[name],
                       f"The histogram {key} at step {step} should count every element of {name}.",
                       expected=sizes[name], found=histogram.total,
                       advice="Watch the model you train: wandb.watch(model, criterion, ...).")


def _histogram_key(keys: set[str], kind: str, name: str) -> str | None:
    """wandb names the histograms of the second model a process watches "gradients/graph_1<name>"."""
    pattern = re.compile(rf"{kind}/(graph_\d+)?{re.escape(name)}")
    return next((key for key in sorted(keys) if pattern.fullmatch(key)), None)


def _expect_summary_accuracy(run, expected: float) -> float:
    if "test_accuracy" not in run.summary:
        fail("The run's summary has no 'test_accuracy'.", expected="test_accuracy",
             found=sorted(run.summary) or "an empty summary",
             advice='Store it with wandb.run.summary["test_accuracy"] = accuracy.')
    found = run.summary["test_accuracy"]
    _expect_numbers([found], "summary['test_accuracy']")
    advice = None
    if found == float(np.float32(expected)):
        advice = ("This is the accuracy rounded to float32: it was a tensor. Count with .sum().item(), so that "
                  "correct / total is a Python float.")
    elif found == expected * TEST_IMAGES or (expected and found > 1):
        advice = "Store the fraction correct / total, not the count of correct predictions."
    # Shown with every digit: a float32 rounding hides in the seventh.
    expect(found == expected, f"summary['test_accuracy'] is {found!r}, not correct / total = {expected!r} "
                              f"(recomputed by the autograder).", advice=advice)
    return found


def _expect_onnx_saved(run, model: nn.Module, images: torch.Tensor, scratch: Path) -> None:
    """model.onnx is saved with the run, complete on its own, and computes what the model computes."""
    saved = [file.path for file in run.files if file.kind == "other"]
    if "model.onnx" not in saved:
        advice = "Save it with wandb.save(path, base_path=wandb.run.dir, policy='now')."
        if any(path.endswith("model.onnx") for path in saved):
            advice = "Pass base_path=wandb.run.dir to wandb.save, so the file is saved as model.onnx, not under a folder."
        fail("model.onnx is not among the files saved with the run.", expected="model.onnx",
             found=saved or "no saved files", advice=advice)
    # `wandb sync` uploads the saved files and nothing else: check model.onnx alone, as it would arrive.
    uploaded = scratch / "uploaded"
    uploaded.mkdir()
    shutil.copyfile(run.files_dir / "model.onnx", uploaded / "model.onnx")
    try:
        info = read_onnx(uploaded / "model.onnx")
    except ArtifactError as error:
        advice = None
        if "is not beside it" in error.problem:
            advice = ("Only model.onnx travels with the run. Export with external_data=False so the weights are "
                      "inside it, not in model.onnx.data.")
        fail(f"The model.onnx saved with the run is not usable on its own: {error.problem}", advice=advice)
    expect_equal(list(info.input_names), ["images"], "The ONNX model's input names",
                 advice="Pass input_names=['images'] to torch.onnx.export.")
    expect_equal(list(info.output_names), ["logits"], "The ONNX model's output names",
                 advice="Pass output_names=['logits'] to torch.onnx.export.")
    try:
        outputs = run_onnx(uploaded / "model.onnx", {"images": images.cpu().numpy()})
    except ArtifactError as error:
        fail(f"onnxruntime could not run the model.onnx saved with the run: {error.problem}",
             advice="Export with the example batch you were given: torch.onnx.export(model, (example_input,), ...).")
    expected = _forward(model, images).cpu().numpy()
    expect(outputs[0].shape == expected.shape and np.allclose(outputs[0], expected, atol=1e-4),
           "onnxruntime's logits for the example batch should match the model's.",
           expected=expected.ravel()[:4].tolist(), found=outputs[0].ravel()[:4].tolist(),
           advice="Export the trained model itself, after model.eval().")


# ---------------------------------------------------------------- make


@exercise("make")
def test_make_builds_model_data_loss_and_optimizer_from_config(lesson, device):
    made = lesson.make(dict(MAKE_CONFIG), device)
    expect(isinstance(made, tuple) and len(made) == 5, "make() returns five things.",
           expected="(model, train_loader, test_loader, criterion, optimizer)",
           found=f"{type(made).__name__} of {len(made)}" if isinstance(made, (tuple, list)) else _type_name(made))
    model, train_loader, test_loader, criterion, optimizer = made
    expect(_is(model, "Module"), "The model is an nn.Module.", expected="ConvNet", found=_type_name(model))
    channels = [m["attributes"].get("out_channels") for m in model.modules if _layer_is(m, "Conv2d")]
    expect_equal(channels, MAKE_CONFIG["kernels"], "The model's convolution channels (config['kernels'])",
                 advice="Build the model from config['kernels'] and config['classes'], not with fixed channel "
                        "counts such as the walkthrough's [16, 32].")
    classes = [m["attributes"].get("out_features") for m in model.modules if _layer_is(m, "Linear")][-1:]
    expect_equal(classes, [MAKE_CONFIG["classes"]], "The model's number of outputs (config['classes'])")
    devices = sorted({parameter["device"] for parameter in model.parameters})
    expect_equal(devices, [torch.device(device).type], "Where the model's parameters live",
                 advice="Move the model to the device you were given.")
    for loader, train, size in ((train_loader, True, 6000), (test_loader, False, 1000)):
        name = "train_loader" if train else "test_loader"
        expect(_is(loader, "DataLoader"), f"{name} is a DataLoader.", expected="DataLoader", found=_type_name(loader))
        expect_equal(loader.dataset_length, math.ceil(size / MAKE_CONFIG["slice"]), f"How many images {name} holds",
                     advice="Keep every config['slice']-th image of the set (a Subset over a range with a step).")
        full = fashion_mnist(train=train, transform=normalize_transform())
        sample = loader.samples[1] if len(loader.samples) > 1 else None
        image, label = sample if isinstance(sample, tuple) and len(sample) == 2 else (None, None)
        expected_image, expected_label = full[MAKE_CONFIG["slice"]]
        expect(torch.is_tensor(image) and image.shape == expected_image.shape and torch.equal(image, expected_image)
               and label == expected_label, f"{name}'s second image should be image {MAKE_CONFIG['slice']} of the "
               f"{'training' if train else 'test'} set, normalised.",
               advice="Use the course's fashion_mnist with the lessons' normalisation, then keep every "
                      "config['slice']-th image.")
        expect_equal(loader.batch_size, MAKE_CONFIG["batch_size"], f"{name}'s batch size (config['batch_size'])")
        sampler = "RandomSampler" if train else "SequentialSampler"
        expect(sampler in [t.rsplit(".", 1)[-1] for t in loader.sampler_types],
               f"{name} should {'shuffle' if train else 'not shuffle'}.",
               expected=sampler, found=loader.sampler_types[0].rsplit(".", 1)[-1],
               advice="shuffle=True for training, shuffle=False for testing.")
    expect(_is(criterion, "CrossEntropyLoss"), "The criterion is nn.CrossEntropyLoss().",
           expected="CrossEntropyLoss", found=_type_name(criterion))
    expect(_is(optimizer, "Adam"), "The optimizer is torch.optim.Adam.", expected="Adam", found=_type_name(optimizer))
    expect_equal(optimizer.groups[0]["hyperparameters"].get("lr"), MAKE_CONFIG["learning_rate"],
                 "The optimizer's learning rate", advice="Give the optimizer lr=config['learning_rate'].")
    optimized = {name for group in optimizer.groups for name in group["params"]}
    expect(optimized == {p["owner"] for p in model.parameters} and "" not in optimized,
           "The optimizer updates exactly the model's parameters.",
           advice="Build the optimizer from the parameters of the model you return.")


def _is(value, class_name: str) -> bool:
    return isinstance(value, Described) and value.is_a(class_name)


def _type_name(value) -> str:
    return value.type_name if isinstance(value, Described) else type(value).__name__


def _layer_is(module: dict, class_name: str) -> bool:
    return any(name.rsplit(".", 1)[-1] == class_name for name in module["types"])


# ---------------------------------------------------------------- train


def _train_with_grader_run(lesson, device, wandb_runs):
    torch.manual_seed(0)
    model = Net().to(device)
    loader = _subset_loader(True, TRAIN_IMAGES, TRAIN_BATCH, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = RecordingLoss(nn.CrossEntropyLoss())
    lesson.train.inside("wandb_run", project=GRADER_PROJECT, config=dict(TRAIN_CONFIG))(
        model, loader, criterion, optimizer, dict(TRAIN_CONFIG), device)
    return _the_run(wandb_runs, "train()"), model, criterion.values


@exercise("train")
def test_train_logs_the_loss_at_images_seen(lesson, device, wandb_runs):
    run, _, losses = _train_with_grader_run(lesson, device, wandb_runs)
    _expect_training_logged(run, losses, TRAIN_IMAGES, TRAIN_BATCH, TRAIN_CONFIG)


@exercise("train")
def test_train_watches_every_gradient_and_parameter(lesson, device, wandb_runs):
    run, model, losses = _train_with_grader_run(lesson, device, wandb_runs)
    _expect_histograms(run, model, len(losses))


# ---------------------------------------------------------------- test


@exercise("test")
def test_test_writes_the_accuracy_to_the_summary(lesson, device, wandb_runs):
    torch.manual_seed(0)
    model = Net().to(device)
    loader = _subset_loader(False, TEST_IMAGES, TEST_BATCH, shuffle=False)
    expected = _accuracy(model, loader, device)
    returned, _ = lesson.test.inside("wandb_run", project=GRADER_PROJECT, config={})(model, loader, device)
    run = _the_run(wandb_runs, "test()")
    _expect_summary_accuracy(run, expected)
    expect(isinstance(returned, float), "test() returns the accuracy as a Python float.", expected="float",
           found=type(returned).__name__, advice="Count with .sum().item(); correct / total is then a float.")
    expect_equal(returned, expected, "The accuracy test() returns")


# ---------------------------------------------------------------- save_model_onnx

EXPORT_CRASHES = {
    "wandb_torch": ("wandb's hooks ran inside the ONNX exporter's trace of your model and broke it. Call "
                    "wandb.unwatch(model) before torch.onnx.export."),
    "log_tensor_stats": ("wandb's hooks ran inside the ONNX exporter's trace of your model and broke it. Call "
                         "wandb.unwatch(model) before torch.onnx.export."),
}


def _call_recognising_crashes(function, *args):
    return call_with_advice(function, *args, crashes=EXPORT_CRASHES)


@exercise("save_model_onnx")
def test_save_model_onnx_saves_a_complete_model_with_the_run(lesson, device, wandb_runs, tmp_path):
    torch.manual_seed(0)
    model = Net().to(device)
    images, _ = next(iter(_subset_loader(False, 4, 4, shuffle=False)))
    images = images.to(device)
    reference = copy.deepcopy(model)
    # As after train(): the model is watched, with hooks on every forward pass.
    returned, run = _call_recognising_crashes(
        lesson.save_model_onnx.inside("wandb_run", project=GRADER_PROJECT, config={}, watch=True), model, images)
    expected_path = Path(run["run_dir"]) / "model.onnx"
    saved = _the_run(wandb_runs, "save_model_onnx()")
    expect(isinstance(returned, (str, Path)) and Path(returned) == expected_path,
           "save_model_onnx() returns the path it exported to.", expected=str(expected_path), found=returned,
           advice='path = os.path.join(wandb.run.dir, "model.onnx"); export there and return it.')
    _expect_onnx_saved(saved, reference, images, tmp_path)


# ---------------------------------------------------------------- model_pipeline


@exercise("model_pipeline")
def test_model_pipeline_records_one_complete_run(lesson, device, wandb_runs, tmp_path):
    criterion = RecordingLoss(nn.CrossEntropyLoss())
    torch.manual_seed(0)
    returned = _call_recognising_crashes(lesson.model_pipeline, PIPELINE_PROJECT, dict(PIPELINE_CONFIG),
                                         criterion, device)
    runs = wandb_runs.read()
    expect(len(runs) == 1, "model_pipeline() writes exactly one run.", expected=1, found=len(runs),
           advice="One `with wandb.init(project=project, config=hyperparameters) as run:` around everything.")
    run = runs[0]
    _expect_finished(run, "The pipeline's run")
    expect_equal(run.project, PIPELINE_PROJECT, "The run's project", advice="wandb.init(project=project, ...).")
    if not run.config:
        advice = ("The run recorded no config. `wandb.config = {...}` after wandb.init replaces W&B's config object "
                  "with a plain dict, so nothing reaches the run: pass config=hyperparameters to wandb.init "
                  "(or call run.config.update(hyperparameters)).")
    else:
        advice = "Pass the whole dict: wandb.init(project=project, config=hyperparameters)."
    recorded = {key: run.config[key] for key in PIPELINE_CONFIG if key in run.config}
    expect(recorded == PIPELINE_CONFIG, "The run's config should hold every hyperparameter.",
           expected=PIPELINE_CONFIG, found=run.config or "an empty config", advice=advice)
    expect(_is(returned, "Module"), "model_pipeline() returns the trained model.", expected="an nn.Module",
           found=_type_name(returned), advice="Return the model after the with-block.")
    model = _rebuilt_pipeline_model(returned, device)
    train_size = math.ceil(6000 / PIPELINE_CONFIG["slice"])
    _expect_training_logged(run, criterion.values, train_size, PIPELINE_CONFIG["batch_size"], PIPELINE_CONFIG)
    _expect_histograms(run, model, len(criterion.values))
    test_set = fashion_mnist(train=False, transform=normalize_transform())
    test_subset = Subset(test_set, range(0, len(test_set), PIPELINE_CONFIG["slice"]))
    test_loader = DataLoader(test_subset, batch_size=PIPELINE_CONFIG["batch_size"])
    _expect_summary_accuracy(run, _accuracy(model, test_loader, device))
    images, _ = next(iter(test_loader))
    _expect_onnx_saved(run, model, images.to(device), tmp_path)


class WalkthroughConvNet(nn.Module):
    """The checker's own copy of the exercise's given ConvNet, to load a returned model's weights into."""

    def __init__(self, kernels, classes=10):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, kernels[0], 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.layer2 = nn.Sequential(nn.Conv2d(kernels[0], kernels[1], 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.fc = nn.Linear(7 * 7 * kernels[1], classes)

    def forward(self, x):
        return self.fc(self.layer2(self.layer1(x)).flatten(1))


def _rebuilt_pipeline_model(described, device: str) -> nn.Module:
    """The trained model, rebuilt in the checker from its weights: the config's ConvNet."""
    model = WalkthroughConvNet(PIPELINE_CONFIG["kernels"], PIPELINE_CONFIG["classes"]).to(device)
    try:
        model.load_state_dict(described.state)
    except RuntimeError:
        fail("model_pipeline() returns a model that is not the config's ConvNet.",
             expected=f"ConvNet({PIPELINE_CONFIG['kernels']}, {PIPELINE_CONFIG['classes']})",
             found=described.type_name, advice="Return the model that make() built and train() trained.")
    return model.eval()


# ---------------------------------------------------------------- compare_learning_rates


def _sweep_losses(lr: float, device: str) -> list[float]:
    torch.manual_seed(0)
    model = nn.Linear(1, 1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x, y, losses = SWEEP_X.to(device), SWEEP_Y.to(device), []
    for _ in range(SWEEP_EPOCHS):
        loss = nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses


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
        fail("compare_learning_rates() writes one run per learning rate.", expected=len(SWEEP_RATES),
             found=len(runs), advice=advice)
    expect_equal(len(criterion.values), len(SWEEP_RATES) * SWEEP_EPOCHS, "How many losses your loops computed",
                 advice="Call criterion once per epoch of each run, and for nothing else.")
    for index, (lr, run) in enumerate(zip(SWEEP_RATES, runs)):
        what = f"The run for lr={lr}"
        _expect_finished(run, what)
        expect_equal(run.name, f"lr_{lr}", f"{what}: its name", advice='wandb.init(..., name=f"lr_{lr}").')
        expect_equal(run.group, "learning-rates", f"{what}: its group", advice='wandb.init(..., group="learning-rates").')
        expect_equal(run.project, SWEEP_PROJECT, f"{what}: its project")
        expect_equal(run.config, {"learning_rate": lr, "epochs": SWEEP_EPOCHS}, f"{what}: its config")
        rows = run.values("loss")
        expect_equal([step for step, _ in rows], list(range(SWEEP_EPOCHS)), f"{what}: the steps of 'loss'",
                     advice="run.log({'loss': loss.item()}, step=epoch), once per epoch.")
        own = criterion.values[index * SWEEP_EPOCHS:(index + 1) * SWEEP_EPOCHS]
        expect_equal([value for _, value in rows], own, f"{what}: the logged losses, against the ones your loop "
                                                        f"computed", advice="Log loss.item() before the update.")
        expect_close(own, _sweep_losses(lr, device), f"{what}: your losses, against the autograder's own training",
                     tol=1e-5, advice="Seed with torch.manual_seed(0) right before nn.Linear(1, 1), and use "
                                      "SGD(model.parameters(), lr=lr) with this run's lr.")
