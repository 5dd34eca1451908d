"""Lesson 06: Weights & Biases. Track a run offline, watch gradients, save the model with the run.

Fill in each function below. Its docstring says exactly what to log, save and return; the
autograder runs your code with W&B forced offline, opens the run file it leaves behind
(wandb/offline-run-*/run-<id>.wandb) and checks the config, the history, the histograms, the
summary, the saved files and the exit code. Check your work with:

    pytest autograder/test_06_wandb.py

Everything works without an account or a network: run `export WANDB_MODE=offline` in your shell
before trying the functions yourself (the lesson's README says more).
"""
import os

import torch
import wandb
from torch import nn
from torch.utils.data import DataLoader, Subset

from watchtrain.data import fashion_mnist, normalize_transform


class ConvNet(nn.Module):
    """The W&B walkthrough's CNN for 1x28x28 images: two 5x5 convolutions (with ReLU and 2x2
    max pooling), then one linear layer, with `kernels[0]` and `kernels[1]` channels. The
    walkthrough's version hard-codes 16 input channels for the second convolution, so any
    `kernels[0]` other than 16 crashes; this one uses `kernels[0]`. Given, not an exercise."""

    def __init__(self, kernels, classes=10):
        super().__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, kernels[0], kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.layer2 = nn.Sequential(
            nn.Conv2d(kernels[0], kernels[1], kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.fc = nn.Linear(7 * 7 * kernels[1], classes)

    def forward(self, x):
        out = self.layer1(x)  # (N, kernels[0], 14, 14)
        out = self.layer2(out)  # (N, kernels[1], 7, 7)
        out = out.reshape(out.size(0), -1)
        return self.fc(out)


def make(config, device="cpu"):
    """Build everything a run needs from its config. Return (model, train_loader, test_loader, criterion, optimizer).

    `config` is a mapping (a dict, or `run.config`); read it with `config["key"]`. Its keys:
    "kernels" (two channel counts), "classes", "slice", "batch_size" and "learning_rate".

    - Data: `fashion_mnist(train=True, transform=normalize_transform())` and the same with
      `train=False` (both from `watchtrain.data`). Keep every `config["slice"]`-th image of each:
      `Subset(dataset, range(0, len(dataset), config["slice"]))`.
    - Loaders: `DataLoader(subset, batch_size=config["batch_size"], shuffle=True)` for training,
      and the same with `shuffle=False` for testing.
    - Model: `ConvNet(config["kernels"], config["classes"])`, moved to `device`.
    - Loss: `nn.CrossEntropyLoss()`.
    - Optimizer: `torch.optim.Adam(model.parameters(), lr=config["learning_rate"])`.
    """
    def loader(train):
        dataset = fashion_mnist(train=train, transform=normalize_transform())
        subset = Subset(dataset, range(0, len(dataset), config["slice"]))
        return DataLoader(subset, batch_size=config["batch_size"], shuffle=train)

    model = ConvNet(config["kernels"], config["classes"]).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    return model, loader(True), loader(False), criterion, optimizer


def train(model, loader, criterion, optimizer, config, device="cpu"):
    """Train for `config["epochs"]` epochs inside the current run, logging as the W&B walkthrough does.

    A run is already started (`wandb.run`); do not start or finish one here.

    1. `wandb.watch(model, criterion, log="all", log_freq=config["log_interval"])`: histograms
       of every parameter and every gradient, every `log_interval` batches. (The default
       log_freq=1000 logs nothing in a run shorter than 1000 batches.)
    2. `model.train()`. Keep two counters, starting at 0: `example_count` (images seen) and
       `batch_count` (batches done, across epochs).
    3. For each epoch `e` in `range(config["epochs"])`, for each `(images, labels)` of `loader`:
       move both to `device`; `loss = criterion(model(images), labels)`; `zero_grad()`,
       `backward()`, `step()`; then `example_count += len(images)` and `batch_count += 1`.
    4. After every `log_interval`-th batch (`batch_count % config["log_interval"] == 0`):
       `wandb.log({"epoch": e, "loss": loss.item()}, step=example_count)`. The step is the
       number of images seen, so runs with different batch sizes line up on one chart.
    """
    wandb.watch(model, criterion, log="all", log_freq=config["log_interval"])
    model.train()
    example_count = batch_count = 0
    for epoch in range(config["epochs"]):
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            example_count += len(images)
            batch_count += 1
            if batch_count % config["log_interval"] == 0:
                wandb.log({"epoch": epoch, "loss": loss.item()}, step=example_count)


def test(model, test_loader, device="cpu"):
    """Measure accuracy on `test_loader`, write it to the run's summary, and return it.

    A run is already started (`wandb.run`). `model.eval()`, then under `torch.no_grad()`: for
    each batch, the predicted class is the index of the largest output (`outputs.argmax(dim=1)`);
    count the correct predictions as a Python int (`.sum().item()`) and the images seen.

    accuracy = correct / total, a Python float. Store it with
    `wandb.run.summary["test_accuracy"] = accuracy`, and return it.
    """
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    accuracy = correct / total
    wandb.run.summary["test_accuracy"] = accuracy
    return accuracy


def save_model_onnx(model, example_input):
    """Export `model` to ONNX in the current run's folder and save the file with the run. Return its path.

    A run is already started (`wandb.run`), and `model` may still be watched.

    1. `wandb.unwatch(model)`: the exporter traces the model, and wandb's hooks inside that trace
       make it fail.
    2. `model.eval()`.
    3. `path = os.path.join(wandb.run.dir, "model.onnx")`, then
       `torch.onnx.export(model, (example_input,), path, input_names=["images"],
       output_names=["logits"], external_data=False, verbose=False)`. `external_data=False` keeps
       the weights inside model.onnx; otherwise they go to a second file, model.onnx.data, that
       the run would not carry. `verbose=False` keeps the exporter quiet.
    4. `wandb.save(path, base_path=wandb.run.dir, policy="now")`, then return `path`.
    """
    wandb.unwatch(model)
    model.eval()
    path = os.path.join(wandb.run.dir, "model.onnx")
    torch.onnx.export(model, (example_input,), path, input_names=["images"], output_names=["logits"],
                      external_data=False, verbose=False)
    wandb.save(path, base_path=wandb.run.dir, policy="now")
    return path


def model_pipeline(project, hyperparameters, criterion=None, device="cpu"):
    """One complete, tracked run, as in the W&B walkthrough. Return the trained model.

    `hyperparameters` is a dict with the keys `make` and `train` read.

    1. Start the run as a context manager, so it finishes (exit code 0) even if you return early:
       `with wandb.init(project=project, config=hyperparameters) as run:`. Inside it:
    2. `config = run.config`: from here on, read every setting from `config`, the copy W&B
       records (never assign `wandb.config = ...`: that replaces the recorded config).
    3. `model, train_loader, test_loader, made_criterion, optimizer = make(config, device)`.
       Train with `criterion` when one is given (the autograder passes its own, which
       records every loss), else with `made_criterion`:
       `train(model, train_loader, criterion, optimizer, config, device)`.
    4. `test(model, test_loader, device)`.
    5. Export: take the first batch of test images, `images, _ = next(iter(test_loader))`, and
       call `save_model_onnx(model, images.to(device))`.
    """
    with wandb.init(project=project, config=hyperparameters) as run:
        config = run.config
        model, train_loader, test_loader, made_criterion, optimizer = make(config, device)
        train(model, train_loader, criterion if criterion is not None else made_criterion, optimizer, config, device)
        test(model, test_loader, device)
        images, _ = next(iter(test_loader))
        save_model_onnx(model, images.to(device))
    return model


def compare_learning_rates(project, x, y, learning_rates, epochs, criterion, device="cpu"):
    """Fit a line once per learning rate, one W&B run per rate, grouped so they chart together.

    `x` and `y` are float tensors of shape (N, 1); `criterion` is the loss to use (an MSE loss).
    Move `x` and `y` to `device` first. Then for each `lr` in `learning_rates`:

    1. `run = wandb.init(project=project, group="learning-rates", name=f"lr_{lr}",
       config={"learning_rate": lr, "epochs": epochs})`.
    2. `torch.manual_seed(0)`, then `model = nn.Linear(1, 1).to(device)` and
       `torch.optim.SGD(model.parameters(), lr=lr)`.
    3. For each epoch `e` in `range(epochs)`: `loss = criterion(model(x), y)`;
       `run.log({"loss": loss.item()}, step=e)`; then `zero_grad()`, `backward()`, `step()`.
    4. `run.finish()` before the next rate: while a run is open, `wandb.init` hands back that
       same run instead of starting a new one.
    """
    x, y = x.to(device), y.to(device)
    for lr in learning_rates:
        run = wandb.init(project=project, group="learning-rates", name=f"lr_{lr}",
                         config={"learning_rate": lr, "epochs": epochs})
        torch.manual_seed(0)
        model = nn.Linear(1, 1).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for epoch in range(epochs):
            loss = criterion(model(x), y)
            run.log({"loss": loss.item()}, step=epoch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        run.finish()
