"""The web server's process: what it does once the application is loaded."""

from __future__ import annotations

import gc


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


def web_pool_size(threads: int) -> int:
    """Database connections a web process keeps open: one per thread (never fewer than the
    engine's usual 10), so that no request of a busy process opens its own connection."""
    return max(10, threads)
