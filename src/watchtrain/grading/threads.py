"""Grading runs torch on one CPU thread, as batch grading's sandboxes do (OMP_NUM_THREADS=1).

The graded models and batches are tiny, so more threads gain nothing; on a busy or shared machine
they lose a lot (measured: a lesson-04 test took 30 s with two threads beside other work, 5 s with
one). One thread everywhere also means a learner's `watchtrain check` computes exactly what the
instructor's `watchtrain grade` computes. An OMP_NUM_THREADS set by the caller is respected.
"""
from __future__ import annotations

import os
import sys

THREADS_ENV = "OMP_NUM_THREADS"


def pytest_configure(config) -> None:
    if THREADS_ENV in os.environ:
        return
    os.environ[THREADS_ENV] = "1"  # read by torch when it is imported, later in the run
    if "torch" in sys.modules:  # imported already (by another plugin): too late for the variable
        sys.modules["torch"].set_num_threads(1)
