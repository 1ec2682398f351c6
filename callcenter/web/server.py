"""The web server's process: what it does once the application is loaded."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.config import Settings


def settle_heap() -> None:
    """Put the objects loaded at start-up (modules, table mappings, compiled statements,
    configuration) out of the garbage collector's reach.

    A full collection stops every thread of the process while it scans the heap: with the
    start-up objects in it, that took 50–75 ms, and every agent pressing « Suivant » at that
    moment waited as long. Frozen before the workers fork, those objects are neither scanned
    nor copied into each worker by the collector's writes.
    """
    gc.collect()
    gc.freeze()


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """The web server's settings. ``keepalive`` outlasts the browsers' reuse of an idle
    connection: with gunicorn's default of 2 s, a browser that sent its next request on a
    connection idle for about 2 s met a reset (1–2 % of requests under load)."""
    return {
        "bind": f"{settings.web.host}:{settings.web.port}",
        "workers": settings.web_workers,
        "worker_class": "gthread",
        "threads": settings.web.threads,
        "keepalive": settings.web.keepalive_seconds,
        "accesslog": "-",
    }


def web_pool_size(threads: int) -> int:
    """Database connections a web process keeps open: one per thread (never fewer than the
    engine's usual 10), so that no request of a busy process opens its own connection."""
    return max(10, threads)
