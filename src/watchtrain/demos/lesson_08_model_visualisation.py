"""Lesson 08's demo: torchinfo summaries of the tutorial CNN and of VGG16, the CNN's autograd graph
rendered as SVG and PNG, and its ONNX export, checked with onnxruntime on real test images."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch


def run(solution, out: Path) -> str:
    from torchvision.models import vgg16

    from watchtrain.data import first_images
    from watchtrain.models import Net

    out.mkdir(parents=True, exist_ok=True)
    images, _ = first_images(False, 8)
    torch.manual_seed(0)
    net = Net().eval()

    net_stats = solution.summarize_model(net, (1, 28, 28), 4, str(out / "net_summary.txt"), "cpu")
    vgg_stats = solution.summarize_model(vgg16(), (3, 224, 224), 1, str(out / "vgg16_summary.txt"), "cpu")
    if shutil.which("dot"):
        solution.draw_autograd_graph(net, images[:2], str(out))
        graph = "autograd_graph.svg and .png"
    else:
        graph = "NO autograd graph (Graphviz `dot` is missing: `sudo apt-get install graphviz`)"
    onnx_path = out / "net.onnx"
    solution.export_onnx(net, images[:2], str(onnx_path))
    with torch.no_grad():
        expected = net(images).numpy()
    difference = abs(solution.onnx_predict(str(onnx_path), images) - expected).max()
    return (f"Net {net_stats.total_params:,} and VGG16 {vgg_stats.total_params:,} parameters (net_summary.txt, "
            f"vgg16_summary.txt); {graph}; net.onnx + net.onnx.data, onnxruntime agrees with torch to "
            f"{difference:.1e}; view it: watchtrain netron {onnx_path}")
