"""One scheduler leader at a time.

On PostgreSQL the leader holds a session-level advisory lock on a dedicated
connection: if the leader dies, its connection closes, the lock is released and
a standby scheduler takes over. On SQLite (one machine) an exclusive ``flock``
on a file beside the database plays the same part.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

ADVISORY_LOCK_KEY = 0x63616C6C  # "call"


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class PostgresLeaderLock:
    """Thread-safe: the scheduler's loop and every job's fence check it concurrently."""

    def __init__(self, engine: Engine, key: int = ADVISORY_LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self.connection: sa.Connection | None = None
        self._guard = threading.RLock()

    def try_acquire(self) -> bool:
        with self._guard:
            return self._try_acquire()

    def still_held(self) -> bool:
        with self._guard:
            return self._still_held()

    def release(self) -> None:
        with self._guard:
            self._release()

    def _try_acquire(self) -> bool:
        if self.connection is None:
            self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        acquired = self.connection.execute(
            sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
        ).scalar_one()
        if not acquired:
            self.connection.close()
            self.connection = None
        return bool(acquired)

    def _still_held(self) -> bool:
        if self.connection is None:
            return False
        try:
            held = self.connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND objid = :key AND granted"
                ),
                {"key": self.key},
            ).scalar_one()
        except sa.exc.SQLAlchemyError:
            return False
        return held > 0

    def _release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            self.connection.close()
            self.connection = None


class FileLeaderLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return False
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        self.handle = handle
        return True

    def still_held(self) -> bool:
        return self.handle is not None

    def release(self) -> None:
        if self.handle is None:
            return
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        os.close(self.handle)
        self.handle = None


def leader_lock_for(engine: Engine, data_dir: Path) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine)
    return FileLeaderLock(data_dir / "scheduler.lock")
