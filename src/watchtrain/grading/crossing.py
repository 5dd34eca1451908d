"""Checker side: what crosses the boundary to the learner worker, and how its answers are read.

Out: the call's arguments, pickled here (the worker trusts the checker; a Visdom client travels as
its settings and is rebuilt there). Back: `torch.load(weights_only=True)` of plain data, checked
for shape before use. Described objects come back as `Described`: `.kind` ("figure", "module",
"graphviz", "torchinfo", "visdom", "dataloader", "optimizer", "object"), `.types` (class names,
most specific first), and the description's fields as attributes. A figure's `.axes` holds one
dict per subplot, in the figure's order: "title", "title_color" (RGBA), "position" ([left, bottom,
width, height] in fractions of the figure, as laid out before drawing), "xticks", "yticks",
"images" (one tensor per imshow) and "image_cmaps".
"""
from __future__ import annotations

import io
import pickle
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from watchtrain.grading.worker_client import MalformedAnswer


class Described:
    """An object that could not cross, as the worker's harness described it."""

    def __init__(self, kind: str, fields: dict):
        types = fields.pop("types", [])
        if not isinstance(types, list) or not all(isinstance(name, str) for name in types):
            raise MalformedAnswer("a description's types are not names")
        clashes = [key for key in fields if not isinstance(key, str) or key.startswith("_") or hasattr(Described, key)]
        if clashes:
            raise MalformedAnswer(f"a description has a field it may not have: {str(clashes[0])[:40]!r}")
        _check_fields(kind, fields)
        self.kind, self.types = kind, types[:50]
        self.__dict__.update(fields)

    @property
    def type_name(self) -> str:
        return self.types[0].rsplit(".", 1)[-1] if self.types else self.kind

    def is_a(self, qualified_or_short: str) -> bool:
        """isinstance, by name: 'torch.nn.modules.conv.Conv2d' or just 'Conv2d'."""
        return any(name == qualified_or_short or name.rsplit(".", 1)[-1] == qualified_or_short for name in self.types)

    def __repr__(self) -> str:
        return f"<described {self.kind}: {self.type_name}>"


def type_name(value: Any) -> str:
    """The class name of a value a learner's function returned: a described object's own class
    (Figure, generator), not Described."""
    return value.type_name if isinstance(value, Described) else type(value).__name__


# The fields the checks read, with their types: a description that lacks one, or carries another
# type, is refused here rather than failing inside a check as if the grader were wrong.
_FIELDS = {
    "figure": {"size_inches": list, "axes": list, "boxes": list},
    "module": {"state": dict, "modules": list, "parameters": list, "recorded": dict},
    "optimizer": {"groups": list, "state": dict},
    "dataloader": {"batch_size": (int, type(None)), "dataset_length": int, "sampler_types": list, "samples": list},
    "graphviz": {"source": str},
    "torchinfo": {"total_params": int, "trainable_params": int, "summary_list": list, "text": str},
    "visdom": {"server": str, "port": int, "env": str, "raise_exceptions": bool, "use_socket": bool},
    "object": {"repr": str},
}
_ITEMS = {  # what the lists above hold: dicts with these keys and types
    ("figure", "axes"): {"title": str, "title_color": list, "images": list, "position": list},
    ("module", "modules"): {"name": str, "types": list, "training": bool, "attributes": dict},
    ("module", "parameters"): {"name": str, "device": str, "owner": str},
    ("optimizer", "groups"): {"hyperparameters": dict, "params": list},
    ("torchinfo", "summary_list"): {"class_name": str, "output_size": list, "is_leaf_layer": bool},
}
_FLOATS = {  # lists in those dicts that hold so many floats
    ("figure", "axes"): {"position": 4},  # (left, bottom, width, height), in fractions of the figure
}


def _check_rendering(fields: dict) -> None:
    """A figure's pixels (height x width x 3 uint8) and one box of 4 floats per subplot, or neither."""
    pixels, boxes = fields.get("pixels"), fields["boxes"]
    if pixels is None and not boxes:
        return
    if not (isinstance(pixels, torch.Tensor) and pixels.dtype == torch.uint8 and pixels.dim() == 3
            and pixels.shape[2] == 3 and len(boxes) == len(fields["axes"])
            and all(isinstance(box, list) and len(box) == 4 and all(type(v) is float for v in box) for box in boxes)):
        raise MalformedAnswer("a figure description's pixels or boxes are malformed")


def _check_fields(kind: str, fields: dict) -> None:
    for key, kinds in _FIELDS.get(kind, {}).items():
        if not isinstance(fields.get(key), kinds):
            raise MalformedAnswer(f"a {kind} description's {key} is missing or of the wrong type")
        for item in fields[key] if (kind, key) in _ITEMS else ():
            if not isinstance(item, dict) or any(not isinstance(item.get(k), t) for k, t in _ITEMS[kind, key].items()):
                raise MalformedAnswer(f"a {kind} description's {key} holds a malformed entry")
            if any(len(item[k]) != count or any(type(v) is not float for v in item[k])
                   for k, count in _FLOATS.get((kind, key), {}).items()):
                raise MalformedAnswer(f"a {kind} description's {key} holds a malformed entry")
    if kind == "figure":
        _check_rendering(fields)


# ---------------------------------------------------------------- out

def _visdom_client(server: str, port: int, env: str, raise_exceptions: bool):
    from visdom import Visdom

    return Visdom(server=server, port=port, env=env, raise_exceptions=raise_exceptions, use_incoming_socket=False)


class _ArgumentPickler(pickle.Pickler):
    def reducer_override(self, value):
        if type(value).__module__ == "visdom" and type(value).__name__ == "Visdom":
            return _visdom_client, (value.server, value.port, value.env, value.raise_exceptions)
        return NotImplemented


def pickle_arguments(args: tuple, kwargs: dict) -> bytes:
    buffer = io.BytesIO()
    _ArgumentPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((args, kwargs))
    return buffer.getvalue()


# ---------------------------------------------------------------- back

def load_answer(data: bytes) -> dict:
    """The worker's answer as plain data; MalformedAnswer when it is anything else."""
    try:
        with warnings.catch_warnings():  # whatever a crafted answer makes torch say is noise here
            warnings.simplefilter("ignore")
            answer = torch.load(io.BytesIO(data), weights_only=True, map_location=_map_location())
    except Exception as error:
        raise MalformedAnswer(f"the answer could not be read safely ({type(error).__name__})") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), str):
        raise MalformedAnswer("the answer has no status")
    return answer


def _map_location():
    return None if torch.cuda.is_available() else "cpu"


def rebuild(value: Any) -> Any:
    """A described return value as the checker inspects it: plain values as themselves, tensors
    and arrays as such, other objects as Described."""
    try:
        return _rebuild(value)
    except RecursionError:
        raise MalformedAnswer("the answer is nested too deeply") from None


def _rebuild(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, list):
        return [_rebuild(item) for item in value]
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        raise MalformedAnswer(f"an unexpected {type(value).__name__} in the answer")
    kind = value["kind"]
    if kind == "tensor":
        return _tensor(value, "tensor")
    if kind == "ndarray":
        return _tensor(value, "tensor").numpy()
    if kind == "numpy_scalar":
        try:
            return np.dtype(str(value["dtype"])).type(value["value"])
        except (KeyError, TypeError, ValueError):
            raise MalformedAnswer("a numpy scalar that is not one") from None
    if kind == "tuple":
        return tuple(_rebuild(item) for item in _list(value, "items"))
    if kind == "dict":
        keys, values = _list(value, "keys"), _list(value, "values")
        return {key: _rebuild(item) for key, item in zip(keys, values)}
    fields = dict(value)
    fields.pop("kind")
    if kind == "dataloader":
        fields["samples"] = [_rebuild(sample) for sample in _list(fields, "samples")]
    return Described(kind, fields)


def _tensor(value: dict, key: str) -> torch.Tensor:
    tensor = value.get(key)
    if not isinstance(tensor, torch.Tensor):
        raise MalformedAnswer(f"{key} is not a tensor")
    return tensor


def _list(value: dict, key: str) -> list:
    items = value.get(key)
    if not isinstance(items, list):
        raise MalformedAnswer(f"{key} is not a list")
    return items


def restore_arguments(originals: list, states: list) -> None:
    """Put into the checker's own arguments what the call did to them in the worker: a model's
    weights, modes, devices and recordings; an optimizer's state; a tensor changed in place."""
    if not isinstance(states, list) or len(states) != len(originals):
        raise MalformedAnswer("the arguments' state does not match the arguments")
    for original, state in zip(originals, states):
        if state is None:
            continue
        if not isinstance(state, dict):
            raise MalformedAnswer("an argument's state is not a description")
        try:
            _restore(original, state)
        except MalformedAnswer:
            raise
        except Exception as error:
            raise MalformedAnswer(f"an argument's state does not fit it ({type(error).__name__}: {error})") from None


def _restore(original: Any, state: dict) -> None:
    kind = state.get("kind")
    if isinstance(original, nn.Module) and kind == "module":
        devices = {p.get("device") for p in _list(state, "parameters") if isinstance(p, dict)}
        if len(devices) == 1:
            original.to(str(devices.pop()))
        original.load_state_dict(state["state"], strict=True)
        modes = [m.get("training") for m in _list(state, "modules")]
        for module, training in zip(original.modules(), modes):
            module.training = bool(training)
        restore = getattr(original, "restore_worker_record", None)
        if callable(restore):
            restore(state.get("recorded") or {})
    elif isinstance(original, torch.optim.Optimizer) and kind == "optimizer":
        saved = original.state_dict()
        saved["state"] = state["state"]
        original.load_state_dict(saved)
    elif isinstance(original, torch.Tensor) and kind == "tensor":
        changed = _tensor(state, "tensor")
        if changed.shape == original.shape and changed.dtype == original.dtype:
            with torch.no_grad():
                original.copy_(changed)
