"""SQLite writers of one process take turns on a lock, given back however the transaction ends."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from callcenter.db import create_db_engine, read_only


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT UNIQUE)")
    yield engine
    engine.dispose()


def test_a_second_writer_waits_for_the_first_to_commit(sqlite_engine):
    holding = threading.Event()
    timings = {}

    def first() -> None:
        with sqlite_engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO notes (text) VALUES ('a')"))
            holding.set()
            time.sleep(0.3)
            timings["first_done"] = time.perf_counter()

    def second() -> None:
        holding.wait()
        with sqlite_engine.begin() as connection:
            timings["second_began"] = time.perf_counter()
            connection.execute(sa.text("INSERT INTO notes (text) VALUES ('b')"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert timings["second_began"] >= timings["first_done"]
    with sqlite_engine.connect() as connection:
        assert connection.execute(
            sa.text("SELECT text FROM notes ORDER BY id")
        ).scalars().all() == [
            "a",
            "b",
        ]


def test_the_turn_comes_back_after_a_failed_transaction(sqlite_engine):
    with sqlite_engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO notes (text) VALUES ('a')"))
    with pytest.raises(sa.exc.IntegrityError), sqlite_engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO notes (text) VALUES ('a')"))
    began = time.perf_counter()
    with sqlite_engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO notes (text) VALUES ('c')"))
    assert time.perf_counter() - began < 1
    with sqlite_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM notes")).scalar() == 2


def test_a_reader_does_not_wait_for_a_writer(sqlite_engine):
    with sqlite_engine.begin() as writer:
        writer.execute(sa.text("INSERT INTO notes (text) VALUES ('pending')"))
        began = time.perf_counter()
        with read_only(sqlite_engine).connect() as reader:
            assert reader.execute(sa.text("SELECT COUNT(*) FROM notes")).scalar() == 0
        assert time.perf_counter() - began < 1
