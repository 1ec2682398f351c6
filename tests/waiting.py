"""Waiting in tests: on a condition, with a bound, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], message: str, seconds: float = 10.0) -> None:
    """Return as soon as ``condition()`` is true; fail with ``message`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.01)
