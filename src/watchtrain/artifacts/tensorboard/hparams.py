"""The HParams reader: one session per add_hparams call, each in a run of its own."""
from __future__ import annotations

import os
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams.error import HParamsError

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.tensorboard.records import CLOSE_WRITER_FIX
from watchtrain.artifacts.tensorboard.plugins import plugin_tags, scalar_points
from watchtrain.artifacts.tensorboard.runs import find_runs, load_run

HParamValue = float | str | bool | None


@dataclass(frozen=True)
class HParamsSession:
    run: str  # relative to log_root; add_hparams names it str(time.time()) unless given run_name
    hparams: dict[str, HParamValue]  # torch stores ints and bools as floats: 32 -> 32.0, True -> 1.0
    metrics: dict[str, float]  # metric tag -> last value logged in this session's run


def read_hparams(log_root: str | os.PathLike[str]) -> list[HParamsSession]:
    """Every hparams session under log_root, sorted by run."""
    sessions = []
    for run in find_runs(log_root):
        accumulator = load_run(os.path.join(log_root, run))
        content = plugin_tags(accumulator, hparams_metadata.PLUGIN_NAME).get(hparams_metadata.SESSION_START_INFO_TAG)
        if content is None:
            continue
        try:
            start_info = hparams_metadata.parse_session_start_info_plugin_data(content)
        except (DecodeError, HParamsError) as error:
            raise ArtifactError(f"The hparams record of run {run!r} cannot be decoded ({error}).",
                                os.path.join(log_root, run), CLOSE_WRITER_FIX) from None
        hparams = {name: _plain(value) for name, value in start_info.hparams.items()}
        metrics = {tag: points[-1][1] for tag, points in scalar_points(accumulator).items() if points}
        sessions.append(HParamsSession(run, hparams, metrics))
    return sessions


def _plain(value) -> HParamValue:
    """A google.protobuf.Value as the Python value it holds."""
    kind = value.WhichOneof("kind")
    return None if kind in (None, "null_value") else getattr(value, kind)
