"""Visdom windows as plain Python data, read from a running server or from a saved env file.

A Visdom env is a set of windows held by the server. `read_env(client, env)` asks the server
(`get_window_data`), `read_env_file(path)` reads what `viz.save([env])` wrote
(`<env_path>/<env>.json`). Both return the windows in the order they were opened:

    plot windows   -> traces: (name, x values, y values) per line, and whether the legend shows
    text windows   -> the text (HTML) exactly as sent
    image windows  -> the decoded pixels, (height, width, 3) uint8, and the caption
"""
from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.folders import refuse_oversized
from watchtrain.artifacts.images import open_image


@dataclass(frozen=True)
class Trace:
    name: str
    x: list[float]  # NaN for what is not a number: a gap (None), a bar chart's category names
    y: list[float]


@dataclass(frozen=True)
class Window:
    id: str
    type: str  # "plot", "text", "image", ... as Visdom names it
    title: str
    traces: tuple[Trace, ...] = ()
    show_legend: bool = False
    text: str | None = None
    pixels: np.ndarray | None = field(default=None, repr=False, compare=False)
    caption: str | None = None
    layout: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of an image window's picture."""
        return None if self.pixels is None else (self.pixels.shape[1], self.pixels.shape[0])

    @property
    def legend(self) -> list[str]:
        """The names the plot's legend shows; empty when it shows none."""
        return [trace.name for trace in self.traces] if self.show_legend else []


def read_env(client, env: str) -> list[Window]:
    """The windows of `env` on the server `client` (a visdom.Visdom) talks to; [] for an unknown env."""
    if env not in client.get_env_list():
        return []
    payload = client.get_window_data(env=env)
    try:
        jsons = json.loads(payload) if payload else {}
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested deeper than Python's stack
        raise ArtifactError(f"the Visdom server answered something that is not JSON for env {env!r}: "
                            f"{str(payload)[:200]!r}", env, "restart the Visdom server") from None
    return windows(jsons, env)


def read_env_file(path: str | Path) -> list[Window]:
    """The windows stored in a saved env file (`viz.save([env])` writes `<env_path>/<env>.json`)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError("the env was never saved: its file does not exist", path,
                            "call viz.save([env]) once everything is plotted; the server writes the file then")
    refuse_oversized([path], "The saved env", path, "plot only what the exercise asks for, delete the file and "
                     "call viz.save([env]) again")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        jsons = saved["jsons"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, RecursionError) as err:
        raise ArtifactError(f"the saved env is not a Visdom env file ({type(err).__name__}: {err})", path,
                            "delete it and call viz.save([env]) again") from None
    return windows(jsons, path)


def windows(jsons: dict[str, Any], source: str | Path) -> list[Window]:
    """Windows from Visdom's {window id: window JSON} mapping, in the order they were opened."""
    try:
        ordered = sorted(jsons.values(), key=lambda window: window.get("i", 0))
        return [_window(window, source) for window in ordered]
    except (AttributeError, TypeError, ValueError) as err:  # what was sent bypassed the client's methods
        raise ArtifactError(f"the env holds something Visdom's own window calls never send ({type(err).__name__}: "
                            f"{err})", source, "make every window with viz.line(...), viz.text(...), viz.image(...) "
                            "and the like") from None


def _window(raw: dict, source: str | Path) -> Window:
    kind, content = raw.get("type", ""), raw.get("content")
    common = {"id": str(raw.get("id", "")), "type": str(kind), "title": str(raw.get("title") or "")}
    if kind == "plot" and isinstance(content, dict):
        layout = content.get("layout") or {}
        traces = tuple(Trace(str(t.get("name", "")), _numbers(t.get("x")), _numbers(t.get("y")))
                       for t in content.get("data", ()))
        return Window(**common, traces=traces, show_legend=bool(layout.get("showlegend")), layout=layout)
    if kind == "text":
        return Window(**common, text=content if isinstance(content, str) else str(content))
    if kind == "image" and isinstance(content, dict):
        return Window(**common, pixels=decode_image(content.get("src", ""), source), caption=content.get("caption"))
    return Window(**common)


def _numbers(values) -> list[float]:
    return [_number(v) for v in values] if isinstance(values, list) else []


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def decode_image(src: str, source: str | Path) -> np.ndarray:
    """A `data:image/...;base64,...` URL as (height, width, 3) uint8 pixels."""
    try:
        _, encoded = src.split(",", 1)
        with open_image(io.BytesIO(base64.b64decode(encoded)), ("PNG", "JPEG")) as image:  # JPEG: opts jpgquality
            return np.asarray(image.convert("RGB"))
    except (AttributeError, ValueError, binascii.Error, OSError) as err:  # AttributeError: src is not a string
        raise ArtifactError(f"an image window holds no readable picture ({type(err).__name__}: {err})", source,
                            "send the image with viz.image(...) or viz.images(...)") from None
