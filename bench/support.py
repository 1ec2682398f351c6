"""What every benchmark shares: a throw-away database and percentiles."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from callcenter.migrate import upgrade


@contextmanager
def fresh_database(database_url: str | None, *, migrate: bool = False) -> Iterator[str]:
    """The URL of an empty database (migrated if asked) that disappears afterwards.

    Without a URL, or with a SQLite one, a file in a temporary folder; with a PostgreSQL
    URL, a new database created beside it and dropped at the end.
    """
    if database_url is None or database_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="bench_") as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            if migrate:
                upgrade(url)
            yield url
        return
    name = f"bench_{secrets.token_hex(6)}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = (
                sa.engine.make_url(database_url)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
            if migrate:
                upgrade(url)
            yield url
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.95 for p95)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
