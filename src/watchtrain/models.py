"""The tutorial model the lessons train and look at.

`Net` is the small CNN from the PyTorch tutorial "Visualizing Models, Data, and Training with
TensorBoard" (pytorch.org/tutorials/intermediate/tensorboard_tutorial.html), layer for layer:
two 5x5 convolutions with 2x2 max pooling, then three fully connected layers, for 1x28x28
Fashion-MNIST images and 10 classes. It has 44,426 parameters.
"""
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
