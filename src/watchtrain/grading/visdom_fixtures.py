"""Visdom for the autograder: one real server per session, and an env name of its own for a test.

Listed in autograder/conftest.py's `pytest_plugins`. A server takes about 2 s to start, so it is
started once, on the first test that asks for it, bound to 127.0.0.1 on a free port, with its
envs saved under the session's tmp dir; it is stopped when the session ends.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from watchtrain.servers.visdom import VisdomServer, start_visdom


@pytest.fixture(scope="session")
def visdom_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VisdomServer]:
    server = start_visdom(tmp_path_factory.mktemp("visdom-envs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def visdom_env(request: pytest.FixtureRequest) -> str:
    """This test's own env name, made from its name: test_monitor_training[cpu] -> test_monitor_training_cpu."""
    return re.sub(r"[^A-Za-z0-9]+", "_", request.node.name).strip("_")
