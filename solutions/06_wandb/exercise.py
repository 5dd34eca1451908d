"""Lesson 06: Weights & Biases. Track a run offline, watch gradients, save the model with the run.

Write the six functions below; `ConvNet` is given. Each docstring is a contract: it says what the
run must hold when the function returns (its config, history, histograms, summary, saved files and
exit code) and why that matters. It does not say how: the lesson's README.md teaches W&B's API,
with examples you adapt.

The autograder runs your code with W&B forced offline, opens the run file it leaves behind
(wandb/offline-run-*/run-<id>.wandb) with the course's reader, and checks every record. Four
commands help:

    watchtrain check 06                  grade this lesson: points, and the first problem of each exercise
    watchtrain hint 06 [FUNCTION]        one more hint each time: the idea, the API, an example, the code
    watchtrain watch                     re-check every time you save this file
    pytest autograder/test_06_wandb.py   the same checks, as plain pytest

Everything works without an account or a network: run `export WANDB_MODE=offline` in your shell
before you try the functions yourself (the README says more).
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
    """Build everything one run needs from its config. Return a tuple of five:
    (network, training batches, test batches, loss function, optimiser).

    `config` is a mapping (a plain dict, or a W&B run's config) with the keys "kernels" (two
    channel counts), "classes", "slice", "batch_size" and "learning_rate". Read every size from
    it: the autograder passes odd values, so a hard-coded number shows.

    - The network: a `ConvNet` (given above) with config["kernels"] channels and
      config["classes"] outputs, its weights on `device`.
    - The data: the course's bundled Fashion-MNIST, training set and test set, each with the
      course's normalisation (pixels in [-1, 1]; both come from `watchtrain.data`,
      imported above). Of each set keep every config["slice"]-th image, starting with the first:
      images 0, slice, 2 * slice, ... in that order.
    - The batches: two `DataLoader`s of config["batch_size"] images each. The training one
      draws its images in a new random order every epoch; the test one keeps their order.
    - The loss function: PyTorch's cross-entropy loss module.
    - The optimiser: Adam, over exactly the network's weights and biases, at the learning rate
      config["learning_rate"].

    Why: when every choice comes from the config, the config that W&B records is the run's true
    recipe, and a sweep can change any value without a change in your code.
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
    """Run config["epochs"] epochs of training inside the W&B run that is already open, and record
    what the W&B walkthrough records.

    Do not start or finish a run here: this run is not yours. Compute each batch's loss with the
    `criterion` you are given, once per batch and for nothing else (the autograder's criterion
    remembers every loss it computes). Each batch goes onto `device` first, and the optimiser
    updates the weights once per batch, as in any training loop.

    When the function returns, the run holds:

    - History rows: one after every config["log_interval"]-th batch, with batches counted across
      epochs (1, 2, 3, ... with no restart at a new epoch), and no other rows. Each row has
      "epoch" (the index of the current epoch, from 0) and "loss" (the loss of that very batch,
      a Python float, not an average).
    - The step of each row: the number of examples seen so far, counted batch by batch. The last
      batch of an epoch may hold fewer examples than the others.
    - Histograms: for every parameter of `model`, one of its values (parameters/<name>) and one of
      its gradient (gradients/<name>), recorded every config["log_interval"] batches. By default
      W&B records them once every 1000 batches, which in a short run means never.

    Why: with examples seen as the step, runs with different batch sizes line up on one chart.
    The histograms show whether the gradients vanish or explode.
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
    """Measure how often `model` is right on `test_loader`, write it into the open run's summary,
    and return it.

    A run is already open; do not start or finish one. Each batch goes onto `device`. A
    prediction is the class with the largest output, and the model runs in evaluation mode,
    without autograd. The accuracy is the number of right predictions divided by the number of
    examples, over every batch of `test_loader`: a fraction between 0 and 1, not a count or a
    percentage.

    When the function returns:

    - the run's summary holds it under "test_accuracy";
    - the function returns the same value, a Python float.

    Both are compared with the autograder's own count, digit for digit. Count with Python
    numbers: a float32 tensor rounds the result (0.57 becomes 0.5699999928474426).

    Why: the summary holds one number per key for the whole run. The W&B runs table shows it and
    sorts by it.
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
    """Write `model` as an ONNX file into the open run's files folder and keep it with the run.
    Return where the file is.

    A run is already open, and `model` may still carry W&B's gradient hooks from training: the
    autograder leaves them on, and exporting must work anyway. Do not start or finish a run.

    When the function returns:

    - The file model.onnx lies in the run's files folder (the folder the run object gives as its
      directory).
    - Its weights travel with it: only the files saved with the run travel with the run, and
      model.onnx opens with its weights from those alone. The weights are inside model.onnx, or in
      the external-data file the exporter wrote beside it, then saved with the run as well.
    - Its input is named "images" and its output "logits". Fed `example_input`, it computes what
      `model` computes in evaluation mode.
    - It is in the run's list of saved files as plain model.onnx (not under a folder),
      marked complete at once, not at the end of the run.
    - The return value is the file's full location, a str: <the run's files folder>/model.onnx.

    Why: a model saved with its run stays next to the config and the metrics that produced it,
    and Netron or onnxruntime open it without PyTorch.
    """
    wandb.unwatch(model)
    model.eval()
    path = os.path.join(wandb.run.dir, "model.onnx")
    torch.onnx.export(model, (example_input,), path, input_names=["images"], output_names=["logits"],
                      external_data=False, verbose=False)
    wandb.save(path, base_path=wandb.run.dir, policy="now")
    return path


def model_pipeline(project, hyperparameters, criterion=None, device="cpu"):
    """One complete, tracked run, as in the W&B walkthrough. Return the trained network.

    `hyperparameters` is a dict with every key that your functions above read.

    When the function returns, exactly one W&B run exists, in the project `project`, finished
    with exit code 0. It holds:

    - Config: every key and value of `hyperparameters`. From the start of the run on, every
      setting your code reads comes from the config W&B recorded, not from the dict you were
      given, so that the run records what it really ran with (a sweep, for one, changes values
      in the recorded config: the autograder runs your pipeline as a sweep would, too).
    - Everything your functions above leave behind, all built from that recorded config:
      - the history and histograms that `train` describes. Train with `criterion` when it is not
        None (the autograder passes its own, which remembers every loss), else with the loss
        function that `make` built;
      - the summary's "test_accuracy", measured on the test batches that `make` built;
      - the ONNX file saved with the run, exported with the first batch of those test batches
        (on `device`) as its example input.

    Return the trained network, the same `ConvNet` the run trained.

    Why: one run that holds its settings, its curves, its result and its network can be compared
    with every other run, weeks later.
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
    """Fit a straight line once per learning rate: one W&B run per rate, grouped so that they
    chart together.

    `x` and `y` are float tensors of shape (N, 1), the points of the line. `criterion` is the loss (a
    mean squared error): compute every loss with it, once per epoch of each rate, and for nothing
    else. Move `x` and `y` onto `device`.

    For each rate of `learning_rates`, in order, there is one run. When the function returns,
    each is finished (exit code 0) and has:

    - the project `project`; named "lr_<rate>" ("lr_0.1" for the rate 0.1); grouped under
      "learning-rates";
    - exactly this config: {"learning_rate": <rate>, "epochs": <epochs>};
    - history: "loss" at steps 0, 1, ..., epochs - 1. Each value is the loss over all N points at
      the start of that epoch, before that epoch's update, as a Python float.

    The losses must equal the autograder's own training: a fresh linear layer with one input and
    one output, created right after seeding PyTorch's random generator with 0, on `device`,
    updated by plain stochastic gradient descent (no momentum) at that rate, once per epoch.

    Why: runs grouped together that differ only in the rate show as one chart in the W&B app,
    so you see which rate wins. A run left open swallows the next one: W&B hands back the open
    run instead of starting a new one.
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
