"""The web server's process once the application is loaded."""

import gc

from callcenter.web.server import settle_heap


def test_the_start_up_heap_is_frozen_out_of_full_collections():
    gc.unfreeze()
    try:
        settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000
        assert len(gc.get_objects()) < frozen
    finally:
        gc.unfreeze()
