"""Lesson 09's runs to read: small networks trained on the bundled Fashion-MNIST, one TensorBoard
run per way training goes wrong (and one healthy run), the same bytes for the same seed.

    write_failure_runs("runs/09_read_the_dashboard/failure_runs", seed=0)   # one folder per mode
    write_failure_run("overfitting", "somewhere/run", seed=1234)       # -> FailureRun(..., signal=...)
    python -m watchtrain.failure_runs OUT [--seed N] [--mode MODE ...]   # mode i with seed N + i

Every run is laid out as the contract of lesson 09's `train_and_instrument` lays out its own,
plus the hidden layers' activations:
- scalars at every step: "lr" (read from the optimizer), "grad_norm/total" and
  "grad_norm/<weight>", "update_ratio/<weight>" (|change of the step| / |weight before it|);
- the chart "loss": the run loss_train holds every mini-batch's loss, the run loss_val the
  validation loss after each epoch (at the step of the epoch's last mini-batch);
- histograms every HISTOGRAM_EVERY steps, of 64 equal buckets: "weights/<parameter>",
  "grads/<parameter>" and "activations/<layer>" (what a hidden layer outputs for that step's
  mini-batch). A run whose weights became NaN has no histograms from then on.

Each run takes a fraction of a second on one CPU thread, so that a grader can write a fresh set
for every grading (benchmarks/bench.py measures it). The `signal` of a FailureRun says, with the
run's own numbers, what gives its mode away: the grader's feedback quotes it.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from watchtrain.run_writer import FixedTimeWriter

MODES = ("healthy", "lr_too_high", "lr_too_low", "overfitting", "vanishing_gradients", "exploding_gradients",
         "dead_relus", "shuffled_labels")
HISTOGRAM_EVERY = 20
VAL_IMAGES = 250
PIXELS = 14 * 14
START_TIME = 1_700_000_000.0  # the wall time of every run's first event (2023-11-14), so the bytes never vary
SECONDS_PER_STEP = 0.02
LN_10 = math.log(10)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one mode's run is trained."""
    sizes: tuple[int, ...]
    activation: str = "relu"
    optimizer: str = "sgd"  # "sgd" (with momentum) or "adam"
    lr: float = 0.05
    momentum: float = 0.9
    lr_decay: float = 1.0  # the scheduler's factor after each epoch
    train_images: int = 640
    batch_size: int = 32
    epochs: int = 5
    weight_std: float | None = None  # every weight drawn from N(0, weight_std**2) (None: PyTorch's default)
    hidden_bias: float | None = None  # the hidden layers' biases start at this value (None: the default)
    shuffle_labels: bool = False  # the data-pipeline bug: labels shuffled apart from their images


HEALTHY = Recipe((PIXELS, 64, 10), lr=0.02, lr_decay=0.8)
RECIPES = {
    "healthy": HEALTHY,
    "lr_too_high": Recipe((PIXELS, 64, 64, 10), activation="leaky_relu", lr=0.5),
    "lr_too_low": dataclasses.replace(HEALTHY, lr=1e-5),
    "overfitting": Recipe((PIXELS, 256, 10), optimizer="adam", lr=5e-3, train_images=64, epochs=60),
    "vanishing_gradients": Recipe((PIXELS,) + (32,) * 5 + (10,), activation="sigmoid"),
    "exploding_gradients": Recipe((PIXELS,) + (32,) * 5 + (10,), lr=1e-4, momentum=0.0, weight_std=1.0),
    "dead_relus": Recipe((PIXELS, 64, 10), hidden_bias=-1.5),
    "shuffled_labels": dataclasses.replace(HEALTHY, shuffle_labels=True),
}


@dataclasses.dataclass(frozen=True)
class FailureRun:
    mode: str
    seed: int
    path: Path
    signal: str  # what gives the mode away, in this run's numbers


@functools.lru_cache(maxsize=1)
def _images() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The bundled training and test images, normalised to [-1, 1] as in the lessons and shrunk to
    14x14 (the mean of each 2x2 block), flattened, and their labels. A quarter of the pixels makes
    every run four times cheaper, and the classes stay as easy to tell apart."""
    from watchtrain.data import fashion_mnist

    def split(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        dataset = fashion_mnist(train=train)
        pixels = (dataset.data.float() / 255 - 0.5) / 0.5
        return F.avg_pool2d(pixels.unsqueeze(1), 2).flatten(1), dataset.targets.clone()

    return (*split(True), *split(False))


def write_failure_runs(out: str | Path, *, seed: int = 0, modes=MODES) -> list[FailureRun]:
    """One run per mode, in out/<mode>; mode i is trained with seed + i."""
    return [write_failure_run(mode, Path(out) / mode, seed=seed + index) for index, mode in enumerate(modes)]


def write_failure_run(mode: str, run_dir: str | Path, *, seed: int = 0) -> FailureRun:
    """Train `mode`'s recipe with `seed` and write its run into `run_dir` (which should be empty)."""
    if mode not in RECIPES:
        raise ValueError(f"unknown mode {mode!r}; the modes are: {', '.join(MODES)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is fastest, and the bytes do not depend on the machine's cores
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            history = _train(RECIPES[mode], Path(run_dir), seed)
    finally:
        torch.set_num_threads(threads)
    return FailureRun(mode, seed, Path(run_dir), SIGNALS[mode](history))


@dataclasses.dataclass
class History:
    """What a run logged, kept to word its signal."""
    losses: list[float]
    val_losses: list[tuple[int, float]]
    grad_norms: list[float]
    layer_grad_norms: list[list[float]]  # per step, one per layer
    ratios: list[list[float]]  # per step, one per layer
    zero_fractions: list[float]  # per hidden layer, at the last histogram step
    layers: list[str]


def _model(recipe: Recipe):
    from watchtrain.models import MLP

    model = MLP(recipe.sizes, recipe.activation)
    with torch.no_grad():
        if recipe.weight_std is not None:
            for layer in model.layers:
                layer.weight.normal_(0.0, recipe.weight_std)
        if recipe.hidden_bias is not None:
            for layer in model.layers[:-1]:
                layer.bias.fill_(recipe.hidden_bias)
    return model


def _optimizer(recipe: Recipe, model):
    if recipe.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=recipe.lr)
    return torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)


def _train(recipe: Recipe, run_dir: Path, seed: int) -> History:
    train_x, train_y, test_x, test_y = _images()
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(train_x), generator=generator)[:recipe.train_images]
    x, y = train_x[chosen], train_y[chosen]
    if recipe.shuffle_labels:
        y = y[torch.randperm(len(y), generator=generator)]
    val_x, val_y = test_x[:VAL_IMAGES], test_y[:VAL_IMAGES]
    model = _model(recipe)
    optimizer = _optimizer(recipe, model)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=recipe.lr_decay)
    weights = [(name, parameter) for name, parameter in model.named_parameters() if name.endswith("weight")]
    history = History([], [], [], [], [], [], [name.removesuffix(".weight") for name, _ in weights])
    batches = math.ceil(recipe.train_images / recipe.batch_size)
    step = 0
    with FixedTimeWriter(run_dir, start_time=START_TIME) as writer:
        for _ in range(recipe.epochs):
            order = torch.randperm(len(x), generator=generator)
            for batch in range(batches):
                walltime = START_TIME + SECONDS_PER_STEP * (step + 1)
                indices = order[batch * recipe.batch_size:(batch + 1) * recipe.batch_size]
                inputs, labels = x[indices], y[indices]
                before = [parameter.detach().clone() for _, parameter in weights]
                optimizer.zero_grad()
                loss = F.cross_entropy(model(inputs), labels)
                loss.backward()
                layer_norms = [parameter.grad.norm().item() for _, parameter in weights]
                total = torch.linalg.vector_norm(
                    torch.stack([p.grad.norm() for p in model.parameters()])).item()
                writer.add_scalar("lr", optimizer.param_groups[0]["lr"], step, walltime=walltime)
                optimizer.step()
                ratios = [((parameter.detach() - old).norm() / old.norm()).item()
                          for (_, parameter), old in zip(weights, before)]
                writer.add_scalars("loss", {"train": loss.item()}, step, walltime=walltime)
                writer.add_scalar("grad_norm/total", total, step, walltime=walltime)
                for (name, _), norm, ratio in zip(weights, layer_norms, ratios):
                    writer.add_scalar(f"grad_norm/{name}", norm, step, walltime=walltime)
                    writer.add_scalar(f"update_ratio/{name}", ratio, step, walltime=walltime)
                if step % HISTOGRAM_EVERY == 0:
                    history.zero_fractions = _histograms(writer, model, inputs, step, walltime)
                history.losses.append(loss.item())
                history.grad_norms.append(total)
                history.layer_grad_norms.append(layer_norms)
                history.ratios.append(ratios)
                step += 1
            scheduler.step()
            with torch.no_grad():
                val_loss = F.cross_entropy(model(val_x), val_y).item()
            writer.add_scalars("loss", {"val": val_loss}, step - 1, walltime=START_TIME + SECONDS_PER_STEP * step)
            history.val_losses.append((step - 1, val_loss))
    return history


def _histograms(writer: FixedTimeWriter, model, inputs: torch.Tensor, step: int, walltime: float) -> list[float]:
    """Weights, gradients and hidden activations of this step (the finite ones: TensorBoard refuses
    a histogram of NaNs); returns the fraction of each hidden layer's activations that are exactly 0."""
    for name, parameter in model.named_parameters():
        for tag, values in ((f"weights/{name}", parameter.detach()), (f"grads/{name}", parameter.grad)):
            if torch.isfinite(values).all():
                writer.add_histogram(tag, values, step, walltime=walltime)
    fractions = []
    with torch.no_grad():
        for index, activations in enumerate(model.hidden_activations(inputs), 1):
            if torch.isfinite(activations).all():
                writer.add_histogram(f"activations/fc{index}", activations, step, walltime=walltime)
            fractions.append((activations == 0).float().mean().item())
    return fractions


# The signals: what gives each mode away, in the run's own numbers.

def _loss_change(history: History) -> str:
    return f"the training loss went from {history.losses[0]:.3g} to {history.losses[-1]:.3g}"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _healthy(history: History) -> str:
    return (f"{_loss_change(history)} and the validation loss followed it down to {history.val_losses[-1][1]:.3g}, "
            f"with steady gradient norms and update-to-weight ratios near {_median_ratio(history):.0e}")


def _median_ratio(history: History) -> float:
    return _median([ratio for step in history.ratios for ratio in step])


def _lr_too_high(history: History) -> str:
    first = next((step for step, loss in enumerate(history.losses) if not math.isfinite(loss)), None)
    highest = max(loss for loss in history.losses if math.isfinite(loss))
    rise = f"the training loss rose from {history.losses[0]:.3g} to {highest:.3g}"
    return rise if first is None else f"{rise} and became NaN at step {first}"


def _lr_too_low(history: History) -> str:
    return (f"{_loss_change(history)} in {len(history.losses)} steps, and the update-to-weight ratios stayed "
            f"near {_median_ratio(history):.0e} (a healthy run's are 1e-3 to 1e-2)")


def _overfitting(history: History) -> str:
    best_step, best = min(history.val_losses, key=lambda point: point[1])
    last_step, last = history.val_losses[-1]
    return (f"the validation loss was lowest at step {best_step} ({best:.3g}) and rose to {last:.3g} by step "
            f"{last_step}, while the training loss fell to {history.losses[-1]:.3g}")


def _first_and_last_layer(history: History) -> tuple[float, float]:
    return (_median([norms[0] for norms in history.layer_grad_norms]),
            _median([norms[-1] for norms in history.layer_grad_norms]))


def _vanishing(history: History) -> str:
    first, last = _first_and_last_layer(history)
    return (f"{history.layers[0]}'s gradient norm stayed near {first:.1e}, {last / first:,.0f} times smaller than "
            f"{history.layers[-1]}'s ({last:.2g}): the gradients shrink on their way back to the input, and "
            f"{history.layers[0]}'s gradient histogram is a spike at 0")


def _exploding(history: History) -> str:
    return (f"the gradient norm was {history.grad_norms[0]:.1e} at the very first step (a healthy run's starts "
            f"near 1), and the first loss was {history.losses[0]:.2g}, where an untrained 10-class classifier "
            f"starts near ln 10 = {LN_10:.2f}")


def _dead_relus(history: History) -> str:
    layer, fraction = max(enumerate(history.zero_fractions, 1), key=lambda item: item[1])
    return (f"{fraction:.0%} of fc{layer}'s activations are exactly 0: its activation histogram is one spike at 0, "
            f"and a unit that outputs 0 for every input gets no gradient, so it never recovers")


def _shuffled_labels(history: History) -> str:
    best = min(loss for _, loss in history.val_losses)
    return (f"the training loss ended at {_median(history.losses[-10:]):.3g} and the validation loss never went "
            f"below {best:.3g}, both near ln 10 = {LN_10:.2f} (a uniform guess over 10 classes), although the weights "
            f"moved normally (update-to-weight ratios near {_median_ratio(history):.0e})")


SIGNALS = {"healthy": _healthy, "lr_too_high": _lr_too_high, "lr_too_low": _lr_too_low, "overfitting": _overfitting,
           "vanishing_gradients": _vanishing, "exploding_gradients": _exploding, "dead_relus": _dead_relus,
           "shuffled_labels": _shuffled_labels}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write lesson 09's runs, one per failure mode.")
    parser.add_argument("out", type=Path, help="the folder to write the runs into, one sub-folder per mode")
    parser.add_argument("--seed", type=int, default=0, help="mode i is trained with seed + i (default: 0)")
    parser.add_argument("--mode", dest="modes", action="append", choices=MODES, help="only these modes")
    args = parser.parse_args(argv)
    for run in write_failure_runs(args.out, seed=args.seed, modes=args.modes or MODES):
        print(f"{run.path}: {run.mode} (seed {run.seed}): {run.signal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
