"""Engine and session helpers for SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY_OPTION = "callcenter_read_only"
_TURN_HELD = "callcenter_write_turn"
_write_turns: dict[str, threading.Lock] = {}
_write_turns_guard = threading.Lock()


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine tuned per database.

    SQLite runs in WAL mode with foreign keys enforced and a busy timeout, so the
    web processes and the scheduler can share the file; PostgreSQL gets a pool
    that checks connections before use.
    """
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        sa.event.listen(engine, "connect", _configure_sqlite)
        _take_write_turns(engine, str(url))
        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _take_write_turns(engine: Engine, key: str) -> None:
    """Take SQLite's write lock at BEGIN, the writers of this process one at a time.

    A write transaction begins with BEGIN IMMEDIATE so that concurrent writers queue instead
    of failing later. Before it, the writer waits for its turn on a lock shared by every
    engine of this process on that file, given back once the transaction has committed or
    rolled back: threads then wait on a lock that wakes them at once, not on SQLite's busy
    handler, which polls the file lock with sleeps of up to 100 ms and made the slowest
    writes very slow under many agents. The file lock stays the guarantee (other processes,
    and a turn not obtained within the busy timeout). A read-only unit of work
    (``read_only=True``) begins deferred, takes no turn and never blocks writers.
    """
    with _write_turns_guard:
        turn = _write_turns.setdefault(key, threading.Lock())

    def begin(connection) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
            return
        connection.info[_TURN_HELD] = turn.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            end(connection, commit=False)
            raise

    def end(connection, *, commit: bool) -> None:
        """Finish the transaction on the driver connection first, then give the turn back;
        SQLAlchemy's own COMMIT or ROLLBACK that follows finds no transaction and does
        nothing."""
        if not connection.info.pop(_TURN_HELD, False):
            return
        try:
            if not connection.invalidated:
                driver = connection.connection.dbapi_connection
                if commit:
                    driver.commit()
                else:
                    driver.rollback()
        finally:
            turn.release()

    sa.event.listen(engine, "begin", begin)
    sa.event.listen(engine, "commit", lambda connection: end(connection, commit=True))
    sa.event.listen(engine, "rollback", lambda connection: end(connection, commit=False))


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def read_only(engine: Engine) -> Engine:
    """The same engine, for units of work that only read."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
