"""What the records of a W&B run file say, as plain Python data: a `WandbRun`.

Each payload is a `wandb_internal_pb2.Record`. Config, summary and history items name their key
with `key` or with `nested_key` (a path; wandb 0.31 uses it even for plain keys) and carry their
value as JSON in `value_json`. Config and summary records are updates: the run's config and
summary are what they add up to, in order.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2 as pb

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.folders import stays_inside
from watchtrain.artifacts.wandb.framing import RERUN_FIX, read_frames

# Keys wandb adds to every history row and to the summary; they are not the learner's data.
SYSTEM_KEYS = frozenset({"_step", "_runtime", "_timestamp", "_wandb"})


@dataclass(frozen=True)
class Histogram:
    """A histogram as wandb stores it: `counts[i]` values fell between `bins[i]` and `bins[i + 1]`."""

    bins: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def total(self) -> float:
        return sum(self.counts)


@dataclass(frozen=True)
class HistoryRow:
    """One row of the run's history: a `step` and what was logged at it (wandb's own keys left out)."""

    step: int
    values: dict[str, Any]


@dataclass(frozen=True)
class SavedFile:
    """A file saved with the run (`wandb.save`); `path` is relative to the run's `files/` folder."""

    path: str
    policy: str  # "now", "end" or "live": when `wandb sync` uploads it
    kind: str  # "other" for the user's files; "wandb", "media" or "artifact" for wandb's own


@dataclass(frozen=True)
class ArtifactEntry:
    path: str  # the name inside the artifact
    size: int
    digest: str
    local_path: str  # the staged copy that `wandb sync` uploads


@dataclass(frozen=True)
class LoggedArtifact:
    name: str
    type: str
    aliases: tuple[str, ...]
    entries: tuple[ArtifactEntry, ...]


@dataclass(frozen=True)
class WandbRun:
    """Everything a run file says, as plain data. `exit_code` is None when the run never finished;
    `truncated` says where the file was cut short, or is None."""

    path: Path
    run_id: str
    project: str
    name: str
    group: str
    job_type: str
    tags: tuple[str, ...]
    start_time: float | None
    config: dict[str, Any]
    history: tuple[HistoryRow, ...]
    summary: dict[str, Any]
    files: tuple[SavedFile, ...]
    artifacts: tuple[LoggedArtifact, ...]
    exit_code: int | None
    truncated: str | None

    @property
    def finished(self) -> bool:
        return self.exit_code is not None

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def files_dir(self) -> Path:
        """Where the run keeps its saved files (`run.dir`)."""
        return self.path.parent / "files"

    def values(self, key: str) -> list[tuple[int, Any]]:
        """(step, value) for every history row that logged `key`, in order."""
        return [(row.step, row.values[key]) for row in self.history if key in row.values]

    def histograms(self, key: str) -> list[tuple[int, Histogram]]:
        """(step, Histogram) for every history row where `key` is a histogram, in order."""
        return [(step, histogram) for step, value in self.values(key)
                if (histogram := as_histogram(value)) is not None]

    def histogram_keys(self) -> set[str]:
        return {key for row in self.history for key, value in row.values.items() if as_histogram(value)}


def as_histogram(value: Any) -> Histogram | None:
    if (isinstance(value, dict) and value.get("_type") == "histogram" and isinstance(value.get("bins"), list)
            and isinstance(value.get("values"), list)):
        return Histogram(tuple(value["bins"]), tuple(value["values"]))
    return None


def read_run_file(path: Path) -> WandbRun:
    """Read one `run-<id>.wandb` file (see `watchtrain.artifacts.wandb.read_run`)."""
    frames = read_frames(path)
    state = _RunState(run_id=path.stem.removeprefix("run-"))
    for offset, payload in frames.records:
        try:
            record = pb.Record.FromString(payload)
        except DecodeError:
            raise ArtifactError(f"The W&B run file is damaged at byte {offset}: its record is not a wandb "
                                f"Record message.", path, RERUN_FIX) from None
        state.add(record, path, offset)
    return state.run(path, frames.truncated)


@dataclass
class _RunState:
    run_id: str
    project: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: tuple[str, ...] = ()
    start_time: float | None = None
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    files: list = field(default_factory=list)
    artifacts: list = field(default_factory=list)
    exit_code: int | None = None

    def add(self, record: pb.Record, path: Path, offset: int) -> None:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            self._add_run(record.run, path, offset)
        elif kind == "config":
            _apply(self.config, record.config, path, offset)
        elif kind == "summary":
            _apply(self.summary, record.summary, path, offset)
        elif kind == "history":
            values: dict = {}
            for item in record.history.item:
                _set(values, _key_path(item), _item_value(item, path, offset))
            step = record.history.step.num if record.history.HasField("step") else values.get("_step", 0)
            if not isinstance(step, int) and not (isinstance(step, float) and step.is_integer()):
                raise ArtifactError(f"The W&B run file is damaged at byte {offset}: a history row's step is "
                                    f"{step!r}, not a whole number.", path, RERUN_FIX)
            self.history.append(HistoryRow(int(step), _without_system_keys(values)))
        elif kind == "files":
            self.files += [_saved_file(item, path, offset) for item in record.files.files]
        elif kind == "artifact":
            artifact = record.artifact
            entries = tuple(ArtifactEntry(entry.path, entry.size, entry.digest, entry.local_path)
                            for entry in artifact.manifest.contents)
            self.artifacts.append(LoggedArtifact(artifact.name, artifact.type, tuple(artifact.aliases), entries))
        elif kind == "exit":
            self.exit_code = record.exit.exit_code

    def _add_run(self, run: pb.RunRecord, path: Path, offset: int) -> None:
        # wandb sends the run record again when its name, tags, ... change: the latest one wins.
        self.run_id = run.run_id or self.run_id
        self.project, self.name, self.group = run.project, run.display_name, run.run_group
        self.job_type, self.tags = run.job_type, tuple(run.tags)
        if run.HasField("start_time"):
            self.start_time = run.start_time.seconds + run.start_time.nanos / 1e9
        _apply(self.config, run.config, path, offset)

    def run(self, path: Path, truncated: str | None) -> WandbRun:
        return WandbRun(path=path, run_id=self.run_id, project=self.project, name=self.name, group=self.group,
                        job_type=self.job_type, tags=self.tags, start_time=self.start_time,
                        config=_without_system_keys(self.config), history=tuple(self.history),
                        summary=_without_system_keys(self.summary), files=tuple(self.files),
                        artifacts=tuple(self.artifacts), exit_code=self.exit_code, truncated=truncated)


def _saved_file(item: pb.FilesItem, path: Path, offset: int) -> SavedFile:
    # wandb.save refuses a path that climbs out of the run's files folder: a reader of the saved files
    # must not be sent elsewhere.
    if not stays_inside(item.path):
        raise ArtifactError(f"The W&B run file is damaged at byte {offset}: it names the saved file {item.path!r}, "
                            f"which is not inside the run's files folder.", path, RERUN_FIX)
    return SavedFile(item.path, _enum_name(pb.FilesItem.PolicyType, item.policy),
                     _enum_name(pb.FilesItem.FileType, item.type))


def _enum_name(enum, number: int) -> str:
    """The lower-case name of an enum value; its number when this wandb version does not know it."""
    return enum.Name(number).lower() if number in enum.values() else str(number)


def _apply(target: dict, updates, path: Path, offset: int) -> None:
    """Apply a ConfigRecord or SummaryRecord: its updates, then its removals."""
    for item in updates.update:
        _set(target, _key_path(item), _json(item.value_json, path, offset))
    for item in updates.remove:
        _remove(target, _key_path(item))


def _key_path(item) -> tuple[str, ...]:
    return tuple(item.nested_key) if item.nested_key else (item.key,)


def _item_value(item: pb.HistoryItem, path: Path, offset: int) -> Any:
    typed = item.WhichOneof("value")
    if typed is None:
        return _json(item.value_json, path, offset)
    if typed == "none":
        return None
    if typed == "json":
        return _json(item.json, path, offset)
    return getattr(item, typed)


def _json(text: str, path: Path, offset: int) -> Any:
    try:
        return json.loads(text, parse_constant=_json_constant)
    except (ValueError, RecursionError) as error:  # RecursionError: nested deeper than Python's stack
        raise ArtifactError(f"The W&B run file is damaged at byte {offset}: a value is not JSON that Python can "
                            f"read ({type(error).__name__}, {text[:60]!r}).", path, RERUN_FIX) from None


def _json_constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _set(target: dict, key_path: tuple[str, ...], value: Any) -> None:
    for key in key_path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[key_path[-1]] = value


def _remove(target: dict, key_path: tuple[str, ...]) -> None:
    for key in key_path[:-1]:
        target = target.get(key)
        if not isinstance(target, dict):
            return
    target.pop(key_path[-1], None)


def _without_system_keys(values: dict) -> dict:
    return {key: value for key, value in values.items() if key not in SYSTEM_KEYS}
