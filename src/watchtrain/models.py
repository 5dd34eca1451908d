"""The models the lessons train and look at: the tutorial's CNN, and a plain MLP for lesson 09's runs.

`Net` is the small CNN from the PyTorch tutorial "Visualizing Models, Data, and Training with
TensorBoard" (pytorch.org/tutorials/intermediate/tensorboard_tutorial.html), layer for layer:
two 5x5 convolutions with 2x2 max pooling, then three fully connected layers, for 1x28x28
Fashion-MNIST images and 10 classes. It has 44,426 parameters.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """The TensorBoard tutorial's CNN: (N, 1, 28, 28) images -> (N, 10) class scores (logits)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))  # (N, 6, 12, 12)
        x = self.pool(F.relu(self.conv2(x)))  # (N, 16, 4, 4)
        x = x.view(-1, 16 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class DropoutNet(Net):
    """`Net` with dropout (p=0.5) after fc1 and fc2: the same 44,426 parameters, but train() and eval()
    compute different things, so a model exported or summarised in the wrong mode shows (lesson 08)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.dropout = nn.Dropout(p)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 4 * 4)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


class MLP(nn.Module):
    """A fully connected network for flattened 28x28 images: fc1, fc2, ... with `activation`
    ("relu", "leaky_relu" or "sigmoid") between them and none after the last. Lesson 09's runs
    train it shallow and healthy, or deep and sigmoid so that the gradients vanish.

        MLP([784, 64, 10])                             # fc1: 784 -> 64, ReLU, fc2: 64 -> 10
        MLP([784] + [32] * 8 + [10], "sigmoid")       # fc1 ... fc9
    """

    ACTIVATIONS = {"relu": F.relu, "leaky_relu": F.leaky_relu, "sigmoid": torch.sigmoid}

    def __init__(self, sizes=(784, 64, 10), activation: str = "relu"):
        super().__init__()
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(self.ACTIVATIONS)}, not {activation!r}")
        self.sizes, self.activation = tuple(sizes), activation
        for index, (fan_in, fan_out) in enumerate(zip(self.sizes, self.sizes[1:]), 1):
            setattr(self, f"fc{index}", nn.Linear(fan_in, fan_out))

    @property
    def layers(self) -> list[nn.Linear]:
        return [getattr(self, f"fc{index}") for index in range(1, len(self.sizes))]

    def hidden_activations(self, x) -> list:
        """What each hidden layer outputs, after its activation, for the batch x."""
        outputs, x = [], x.flatten(1)
        for layer in self.layers[:-1]:
            x = self.ACTIVATIONS[self.activation](layer(x))
            outputs.append(x)
        return outputs

    def forward(self, x):
        hidden = self.hidden_activations(x)
        return self.layers[-1](hidden[-1] if hidden else x.flatten(1))
