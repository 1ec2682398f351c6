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
