"""The one exception the server helpers raise."""
from __future__ import annotations


class ServerError(Exception):
    """A server could not start or answer. `str(error)` says why and what to do, for a learner."""
