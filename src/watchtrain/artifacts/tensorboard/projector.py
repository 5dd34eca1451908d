"""The embedding projector reader. add_embedding writes no events: it writes
projector_config.pbtxt in the writer's log_dir plus NNNNN/<tag>/tensors.tsv, metadata.tsv and sprite.png."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tensorboard.plugins.projector import metadata as projector_metadata
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.folders import refuse_oversized, walk
from watchtrain.artifacts.images import open_image
from watchtrain.artifacts.tensorboard.runs import existing_directory

_EMBEDDING_FIX = "call writer.add_embedding(...) again and close the writer; do not move or edit the files it writes"


@dataclass(frozen=True, eq=False)
class ProjectorEmbedding:
    run: str  # directory of the projector_config.pbtxt, relative to log_root ("." for log_root)
    tensor_name: str  # torch writes "<tag>:<global_step as 5 digits>"
    tensor: np.ndarray  # (N, D) float32, one row per point
    metadata_header: tuple[str, ...]  # column names; () for single-column metadata, which has no header
    metadata: tuple[tuple[str, ...], ...]  # one row of cells per point; () without metadata
    sprite: np.ndarray | None  # uint8 height x width x channels, the thumbnails tiled in a square
    single_image_dim: tuple[int, int] | None  # (width, height) of one thumbnail in the sprite
    tensor_path: Path
    metadata_path: Path | None
    sprite_path: Path | None

    def metadata_column(self, column: int | str = 0) -> list[str]:
        """One metadata column by index or header name, e.g. the labels of single-column metadata."""
        index = self.metadata_header.index(column) if isinstance(column, str) else column
        return [row[index] for row in self.metadata]


def read_projector(log_root: str | os.PathLike[str]) -> list[ProjectorEmbedding]:
    """Every embedding of every projector config under log_root, in config order."""
    root = existing_directory(log_root)
    config_name = projector_metadata.PROJECTOR_FILENAME
    configs = sorted(directory / config_name for directory, files in walk(root) if config_name in files)
    return [_read_embedding(root, config_path, embedding)
            for config_path in configs for embedding in _parse_config(config_path).embeddings]


def _parse_config(path: Path) -> ProjectorConfig:
    try:
        refuse_oversized([path], "The projector config", path, _EMBEDDING_FIX)
        return text_format.Parse(path.read_text(encoding="utf-8"), ProjectorConfig())
    except (OSError, UnicodeDecodeError, text_format.ParseError) as error:
        raise ArtifactError(f"The projector config cannot be read ({error}).", path, _EMBEDDING_FIX) from None


def _read_embedding(root: Path, config_path: Path, embedding) -> ProjectorEmbedding:
    config_dir = config_path.parent
    if not embedding.tensor_path:
        raise ArtifactError(f"The embedding {embedding.tensor_name!r} has no tensor_path (a TensorFlow "
                            f"checkpoint embedding); this course reads tensors.tsv files.", config_path, _EMBEDDING_FIX)
    tensor_path = _inside(root, config_path, embedding.tensor_path)
    metadata_path = _inside(root, config_path, embedding.metadata_path) if embedding.metadata_path else None
    sprite_path = _inside(root, config_path, embedding.sprite.image_path) if embedding.sprite.image_path else None
    header, rows = _read_metadata(metadata_path) if metadata_path else ((), ())
    return ProjectorEmbedding(
        run=config_dir.relative_to(root).as_posix(),
        tensor_name=embedding.tensor_name,
        tensor=_read_tensor(tensor_path),
        metadata_header=header,
        metadata=rows,
        sprite=_read_sprite(sprite_path) if sprite_path else None,
        single_image_dim=tuple(embedding.sprite.single_image_dim) or None,
        tensor_path=tensor_path,
        metadata_path=metadata_path,
        sprite_path=sprite_path,
    )


def _inside(root: Path, config_path: Path, named: str) -> Path:
    """The file the config names, relative to its own folder; ArtifactError when it lies outside root
    (an absolute path, or one that climbs out with ".."): the checker reads nothing but the learner's files."""
    path = config_path.parent / named
    if "\0" in named or not path.resolve().is_relative_to(root.resolve()):  # resolve() refuses a NUL byte
        raise ArtifactError(f"The projector config names {named!r}, which is not a file inside the log "
                            f"directory {root}.", config_path, _EMBEDDING_FIX)
    return path


def _read_tensor(path: Path) -> np.ndarray:
    # The projector reads tensors.tsv as float32, skipping blank lines; so does this.
    try:
        rows = [[float(cell) for cell in line.split("\t")] for line in _lines(path) if line]
        return np.array(rows, dtype=np.float32).reshape(len(rows), -1)
    except ValueError as error:
        raise ArtifactError(f"tensors.tsv must hold one row of tab-separated numbers per point, "
                            f"all of equal length ({error}).", path, _EMBEDDING_FIX) from None


def _read_metadata(path: Path) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    # The projector's rule: a first line with a tab is a header; single-column metadata has none.
    rows = tuple(tuple(line.split("\t")) for line in _lines(path))
    if rows and len(rows[0]) > 1:
        return rows[0], rows[1:]
    return (), rows


def _read_sprite(path: Path) -> np.ndarray:
    try:
        with open_image(path, ("PNG",)) as image:
            return np.array(image)
    except OSError as error:
        raise ArtifactError(f"The sprite image cannot be read ({error}).", path, _EMBEDDING_FIX) from None


def _lines(path: Path) -> list[str]:
    """Lines split on "\n" only, as the projector splits them (a label may hold other line breaks)."""
    try:
        refuse_oversized([path], "This embedding file", path, _EMBEDDING_FIX)
        return path.read_text(encoding="utf-8").removesuffix("\n").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ArtifactError(f"An embedding file cannot be read ({error}).", path, _EMBEDDING_FIX) from None
