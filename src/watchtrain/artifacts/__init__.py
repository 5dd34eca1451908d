"""Readers that turn what a learner's code leaves behind (event files, run records, ...) into plain
Python data. Every reader raises `ArtifactError`, a message written for the learner, when an
artifact is missing or damaged."""
from watchtrain.artifacts.errors import ArtifactError

__all__ = ["ArtifactError"]
