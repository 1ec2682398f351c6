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


def test_a_web_process_keeps_one_connection_per_thread(tmp_path):
    from callcenter.web import build_app
    from tests.conftest import make_settings

    for threads, kept in ((16, 16), (4, 10)):
        settings = make_settings(
            tmp_path, f"sqlite:///{tmp_path}/p{threads}.db", web={"threads": threads}
        )
        engine = build_app(settings).extensions["callcenter"].engine
        assert engine.pool.size() == kept
        engine.dispose()
