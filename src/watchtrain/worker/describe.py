"""Worker side: what a learner's function returned, and what it did to its arguments, as plain data.

Only these cross back to the checker, and only through `torch.save` of dicts, lists, tuples,
strings, numbers and tensors, which the checker reads with `torch.load(weights_only=True)`:
nothing the learner made can run in the checker. Objects that cannot cross (a matplotlib figure,
a graphviz graph, torchinfo's statistics, a Visdom client, a model, a DataLoader) are described
by this harness code, and the checker inspects the description (`watchtrain.grading.described`).

Every description is a dict with a "kind" key; a plain value travels as itself.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

MAX_DEPTH = 6
MAX_ITEMS = 10_000
MAX_TEXT = 200_000
MAX_RENDERED_PIXELS = 8_000_000  # a figure larger than 4000 x 2000 pixels crosses as its description alone
PLAIN = (bool, int, float, str, type(None))
_AS_ITS_BASE = {int: int.__int__, float: float.__float__, str: str.__str__}


def _exactly_plain(value):
    """A plain value as its base type: a subclass (np.float64, np.str_, an IntEnum) would cross as
    its own class, which the checker refuses to rebuild."""
    if type(value) in PLAIN:
        return value
    return next(convert(value) for base, convert in _AS_ITS_BASE.items() if isinstance(value, base))


def type_names(value: Any) -> list[str]:
    """The class and its bases, most specific first: enough for isinstance-style checks."""
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(value).__mro__ if cls is not object]


class Describer:
    """Describes one call's values; parameters are named by the module and name they belong to, so
    the checker can tell which model an optimizer updates."""

    def __init__(self):
        self.parameter_names: dict[int, str] = {}

    def name_parameters(self, path: str, value: Any, depth: int = 0) -> None:
        """Walks what `describe` describes, no deeper and no wider (a list inside itself ends too)."""
        if depth > MAX_DEPTH:
            return
        if isinstance(value, nn.Module):
            for name, parameter in value.named_parameters():
                self.parameter_names.setdefault(id(parameter), f"{path}:{name}")
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(list(value)[:MAX_ITEMS]):
                self.name_parameters(f"{path}.{index}", item, depth + 1)
        elif isinstance(value, dict):
            for key, item in list(value.items())[:MAX_ITEMS]:
                self.name_parameters(f"{path}.{key}", item, depth + 1)

    def describe(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":  # before PLAIN: np.float64 is a float
            item = value.item()  # a Python number, except for np.longdouble's own
            return {"kind": "numpy_scalar", "dtype": str(value.dtype),
                    "value": item if type(item) in PLAIN else float(item) if value.dtype.kind == "f" else int(item)}
        if isinstance(value, PLAIN):
            value = _exactly_plain(value)
            return value[:MAX_TEXT] if isinstance(value, str) else value
        if depth > MAX_DEPTH:
            return _other(value)
        if isinstance(value, torch.Tensor):
            # as_subclass: a tensor subclass (torchvision's tv_tensors.Image, say) would cross as its own class
            return {"kind": "tensor", "tensor": value.detach().clone().as_subclass(torch.Tensor),
                    "requires_grad": bool(value.requires_grad),
                    "grad_fn": type(value.grad_fn).__name__ if value.grad_fn is not None else None}
        if isinstance(value, np.ndarray):
            try:  # np.array, not np.ascontiguousarray: that makes a 0-d array 1-d
                return {"kind": "ndarray", "tensor": torch.from_numpy(np.array(value, order="C", copy=True))}
            except TypeError:  # a dtype torch lacks (objects, strings, records, float128)
                return _other(value)
        if isinstance(value, (list, tuple)):
            items = [self.describe(item, depth + 1) for item in list(value)[:MAX_ITEMS]]
            return items if isinstance(value, list) else {"kind": "tuple", "items": items}
        if isinstance(value, dict) and all(isinstance(key, (str, int, np.integer)) for key in value):
            return {"kind": "dict", "keys": [int(key) if isinstance(key, np.integer) else _exactly_plain(key)
                                             for key in list(value)[:MAX_ITEMS]],
                    "values": [self.describe(item, depth + 1) for item in list(value.values())[:MAX_ITEMS]]}
        for kind, test, describe in self._describers():
            if test(value):
                return {"kind": kind, "types": type_names(value), **describe(value)}
        return _other(value)

    def _describers(self):
        return (
            ("module", lambda v: isinstance(v, nn.Module), self._module),
            ("optimizer", lambda v: isinstance(v, torch.optim.Optimizer), self._optimizer),
            ("dataloader", lambda v: isinstance(v, torch.utils.data.DataLoader), self._loader),
            ("figure", _is_figure, _figure),
            ("graphviz", _is_graphviz, _graphviz),
            ("torchinfo", _is_torchinfo, _torchinfo),
            ("visdom", _is_visdom, _visdom),
        )

    def _module(self, module: nn.Module) -> dict:
        return {"state": {k: v.detach().clone() for k, v in module.state_dict().items()},
                "modules": [{"name": name, "types": type_names(sub), "training": sub.training,
                             "attributes": _simple_attributes(sub)} for name, sub in module.named_modules()],
                "parameters": [{"name": name, "device": p.device.type, "requires_grad": p.requires_grad,
                                "shape": list(p.shape), "owner": self.parameter_names.get(id(p), "")}
                               for name, p in module.named_parameters()],
                "recorded": _recorded(module)}

    def _optimizer(self, optimizer: torch.optim.Optimizer) -> dict:
        groups = [{"hyperparameters": {k: _exactly_plain(v) for k, v in group.items()
                                       if k != "params" and isinstance(v, PLAIN)},
                   "params": [self.parameter_names.get(id(p), "") for p in group["params"]]}
                  for group in optimizer.param_groups]
        return {"groups": groups, "state": optimizer.state_dict()["state"]}

    def _loader(self, loader) -> dict:
        dataset = loader.dataset
        samples = []
        for index in range(min(2, len(dataset))):
            try:
                samples.append(self.describe(dataset[index], 1))
            except Exception as error:  # a dataset the learner built can fail: the checker says so
                samples.append({"kind": "error", "message": f"{type(error).__name__}: {error}"[:2000]})
        return {"batch_size": loader.batch_size, "dataset_length": len(dataset), "dataset_types": type_names(dataset),
                "sampler_types": type_names(loader.sampler), "drop_last": loader.drop_last,
                "num_workers": loader.num_workers, "samples": samples}


def _other(value: Any) -> dict:
    try:
        text = repr(value)[:2000]
    except BaseException:  # the learner's own __repr__, whatever it raises
        text = "(repr failed)"
    return {"kind": "object", "types": type_names(value), "repr": text}


def _simple_attributes(module: nn.Module) -> dict:
    """The layer's settings: out_channels, out_features, kernel_size, p, ..."""
    found = {}
    for key, value in vars(module).items():
        if key.startswith("_") or key == "training":
            continue
        if isinstance(value, PLAIN) or (isinstance(value, tuple) and all(isinstance(v, PLAIN) for v in value)):
            found[key] = [_exactly_plain(v) for v in value] if isinstance(value, tuple) else _exactly_plain(value)
    return found


def _recorded(module: nn.Module) -> dict:
    """What a grader's recording module noted (RecordingLoss.values, WatchedNet.passes)."""
    report = getattr(module, "worker_record", None)
    return report() if callable(report) else {}


def _is_figure(value) -> bool:
    return _class_path(value) in {"matplotlib.figure.Figure", "matplotlib.figure.SubFigure"}


def _figure(figure) -> dict:
    from matplotlib.colors import to_rgba

    axes = []
    for ax in figure.axes:
        axes.append({"title": ax.get_title(), "title_color": list(to_rgba(ax.title.get_color())),
                     # where the subplot lies: (left, bottom, width, height) in fractions of the figure
                     "position": [float(v) for v in ax.get_position(original=True).bounds],
                     "xticks": [float(t) for t in ax.get_xticks()], "yticks": [float(t) for t in ax.get_yticks()],
                     "images": [torch.from_numpy(np.array(image.get_array(), dtype=np.float64))
                                for image in ax.get_images()],
                     "image_cmaps": [image.get_cmap().name for image in ax.get_images()]})
    pixels, boxes = _rendered(figure)
    return {"size_inches": [float(v) for v in figure.get_size_inches()], "axes": axes, "pixels": pixels,
            "boxes": boxes}


def _rendered(figure) -> tuple[torch.Tensor | None, list[list[float]]]:
    """The figure drawn as TensorBoard's add_figure draws it (Agg, at the figure's own dpi): its pixels,
    height x width x 3 uint8, and each subplot's box in them (x0, y0, x1, y1 from the bottom left). So
    the checker compares a logged figure with the learner's own drawing, whatever its fonts and
    spacing. (None, []) when it cannot be drawn alone (a sub-figure), is too large to send, or fails."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    width, height = figure.get_size_inches() * figure.dpi
    if _class_path(figure) != "matplotlib.figure.Figure" or width * height > MAX_RENDERED_PIXELS:
        return None, []
    canvas = figure.canvas
    agg = canvas if isinstance(canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    try:
        agg.draw()
        pixels = torch.from_numpy(np.asarray(agg.buffer_rgba())[..., :3].copy())
        boxes = [[float(v) for v in ax.get_window_extent().extents] for ax in figure.axes]
    except Exception:  # the learner's figure: whatever fails in drawing it, the description goes without
        return None, []
    finally:
        if agg is not canvas:
            figure.set_canvas(canvas)
    return pixels, boxes


def _is_graphviz(value) -> bool:
    return any(name.startswith("graphviz.") for name in type_names(value))


def _graphviz(graph) -> dict:
    return {"source": str(graph.source), "format": str(getattr(graph, "format", "")),
            "filename": str(getattr(graph, "filename", "") or ""), "directory": str(getattr(graph, "directory", ""))}


def _is_torchinfo(value) -> bool:
    return _class_path(value) == "torchinfo.model_statistics.ModelStatistics"


def _torchinfo(stats) -> dict:
    layers = [{"class_name": layer.class_name, "output_size": [int(v) for v in layer.output_size],
               "is_leaf_layer": bool(layer.is_leaf_layer), "num_params": int(layer.num_params),
               "depth": int(layer.depth)} for layer in stats.summary_list]
    return {"total_params": int(stats.total_params), "trainable_params": int(stats.trainable_params),
            "total_mult_adds": int(stats.total_mult_adds), "text": str(stats), "summary_list": layers,
            "input_size": _plain_nested(stats.input_size)}


def _plain_nested(value):
    if isinstance(value, (list, tuple)):
        return [_plain_nested(v) for v in value]
    return _exactly_plain(value) if isinstance(value, PLAIN) else str(value)


def _is_visdom(value) -> bool:
    return _class_path(value) == "visdom.Visdom"


def _visdom(client) -> dict:
    return {"server": str(client.server), "port": int(client.port), "env": str(client.env),
            "raise_exceptions": bool(client.raise_exceptions), "use_socket": bool(client.use_socket),
            "base_url": str(getattr(client, "base_url", ""))}


def _class_path(value) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"
