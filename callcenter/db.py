"""Engine and session helpers for SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.domain.limits import enforce_bounded_text

SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY_OPTION = "callcenter_read_only"
_TURN_HELD = "callcenter_write_turn"
_PREPARED = "callcenter_prepared"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_write_turns: dict[str, threading.Lock] = {}
_write_turns_guard = threading.Lock()


def create_db_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """An engine tuned per database.

    SQLite runs in WAL mode with foreign keys enforced and a busy timeout, so the
    web processes and the scheduler can share the file; PostgreSQL gets a pool
    that checks connections before use. ``pool_size`` connections stay open: a web process
    keeps one per thread, since a connection beyond the pool is closed when given back and
    opened again at the next request. Every ORM flush checks short texts (``domain.limits``).
    """
    enforce_bounded_text()
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=20,
        )
        sa.event.listen(engine, "connect", _configure_sqlite)
        _take_write_turns(engine, str(url))
        return engine
    return sa.create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=20
    )


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


def keep_prepared_statements(engine: Engine) -> None:
    """The web server's engine: its new PostgreSQL connections keep what ``execute_prepared``
    prepares, with psycopg's automatic preparation off.

    psycopg prepares a statement by itself after 5 executions, and forgets every prepared
    statement at each ``ROLLBACK`` (with ``DEALLOCATE ALL``, which would drop ours too). In
    web requests its preparing rarely pays, since each request that read after its last
    commit ends with a rollback; bulk commands (demo data, imports) keep it.
    """
    if engine.dialect.name != "postgresql":
        return
    sa.event.listen(engine, "connect", _without_automatic_preparation)
    engine.dispose(close=False)


def _without_automatic_preparation(dbapi_connection, _record) -> None:
    dbapi_connection.prepare_threshold = None


def execute_prepared(session: Session, name: str, statement: sa.Executable, params: dict) -> list:
    """Run ``statement`` as the connection's prepared statement ``name`` on the web server's
    PostgreSQL connections (``keep_prepared_statements``), else as an ordinary statement.

    The statement is prepared once per connection (``PREPARE``), which outlives transactions,
    and PostgreSQL then plans it once for all its executions, instead of at each one. Values
    go through the statement's column types; rows come back as named tuples.
    """
    connection = session.connection()
    pooled = connection.connection
    driver = pooled.driver_connection
    if connection.dialect.name != "postgresql" or driver.prepare_threshold is not None:
        return session.execute(statement, params).all()

    import psycopg
    from psycopg.rows import namedtuple_row

    prepared: dict[str, list[tuple[str, Any]]] = pooled.info.setdefault(_PREPARED, {})
    if name not in prepared:
        prepared[name] = _prepare(driver, connection.dialect, name, statement)
    arguments = []
    for key, process in prepared[name]:
        value = params[key]
        arguments.append(process(value) if process else value)
    placeholders = ", ".join(["%s"] * len(arguments))
    cursor = psycopg.ClientCursor(driver, row_factory=namedtuple_row)
    try:
        cursor.execute(f"EXECUTE {name}({placeholders})", arguments)
        return cursor.fetchall()
    except psycopg.errors.InvalidSqlStatementName:
        prepared.pop(name, None)
        raise
    finally:
        cursor.close()


def _prepare(driver, dialect, name: str, statement: sa.Executable) -> list[tuple[str, Any]]:
    """``PREPARE name AS …`` with the statement's own parameters as ``$1, $2…`` (in order of
    first use) and its fixed integers (a ``LIMIT``) written in, so the plan knows them; returns
    each parameter's name and its column type's conversion."""
    compiled = statement.compile(dialect=dialect)
    fixed = {key: value for key, value in compiled.params.items() if type(value) is int}
    order: list[str] = []

    def placeholder(match: re.Match) -> str:
        key = match.group(1)
        if key in fixed:
            return str(fixed[key])
        if key not in order:
            order.append(key)
        return f"${order.index(key) + 1}"

    sql = _PLACEHOLDER.sub(placeholder, compiled.string)
    driver.execute(f"PREPARE {name} AS {sql}")
    return [(key, compiled.binds[key].type.bind_processor(dialect)) for key in order]
