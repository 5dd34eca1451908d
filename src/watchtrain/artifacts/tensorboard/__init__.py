"""TensorBoard artifacts as plain Python data, read with TensorBoard's own event reader.

One reader per dashboard plugin. Every event file is checked record by record first, and every
failure is an `ArtifactError` written for the learner.
"""
from watchtrain.artifacts.tensorboard.hparams import HParamsSession, read_hparams
from watchtrain.artifacts.tensorboard.plugins import (
    GraphNode,
    GraphSummary,
    HistogramEvent,
    ImageEvent,
    MeshEvent,
    PRCurveEvent,
    read_graph,
    read_histograms,
    read_images,
    read_mesh,
    read_pr_curves,
    read_scalars,
    read_scalars_tree,
    read_text,
)
from watchtrain.artifacts.tensorboard.projector import ProjectorEmbedding, read_projector
from watchtrain.artifacts.tensorboard.records import event_files_still_open, verify_event_file
from watchtrain.artifacts.tensorboard.runs import event_files, find_runs, load_run

__all__ = [
    "GraphNode", "GraphSummary", "HParamsSession", "HistogramEvent", "ImageEvent", "MeshEvent",
    "PRCurveEvent", "ProjectorEmbedding",
    "event_files", "event_files_still_open", "find_runs", "load_run", "read_graph", "read_histograms",
    "read_hparams", "read_images", "read_mesh", "read_pr_curves", "read_projector", "read_scalars",
    "read_scalars_tree", "read_text", "verify_event_file",
]
