"""Lesson 03's demo: the tutorial CNN's graph traced on a real batch, and 100 random training
images in the embedding projector, labelled with their class names and drawn as thumbnails."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

EMBEDDED_IMAGES = 100


def run(solution, out: Path) -> str:
    from watchtrain.artifacts.tensorboard import read_graph
    from watchtrain.data import fashion_mnist, normalize_transform
    from watchtrain.models import Net

    torch.manual_seed(0)
    loader = DataLoader(fashion_mnist(train=True, transform=normalize_transform()), batch_size=4, shuffle=True)
    solution.log_model_graph(str(out / "graph"), Net(), loader)
    operations = sum(node.op.startswith("aten::") for node in read_graph(out / "graph").nodes)
    raw = fashion_mnist(train=True)
    solution.log_embedding(str(out / "projector"), raw.data, raw.targets, EMBEDDED_IMAGES)
    return (f"graph/: Net traced on a batch of 4 ({operations} operations, Graphs tab); projector/: "
            f"{EMBEDDED_IMAGES} random training images with class names and a sprite (Projector tab)")
