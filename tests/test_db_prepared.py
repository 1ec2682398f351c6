"""PostgreSQL prepared statements that outlive transactions (the claim of the work queue)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from callcenter.db import execute_prepared, keep_prepared_statements
from callcenter.models import UTCDateTime

STATEMENT = sa.select(
    sa.cast(sa.bindparam("at", type_=UTCDateTime()), sa.DateTime).label("at"),
    (sa.bindparam("n", type_=sa.Integer()) + 1).label("following"),
).limit(1)
AT = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)


def _prepared(session: Session) -> list[tuple[str, str]]:
    return [
        tuple(row)
        for row in session.execute(
            sa.text("SELECT name, statement FROM pg_prepared_statements WHERE name = 'essai'")
        )
    ]


@pytest.fixture
def web_engine(postgres_engine):
    keep_prepared_statements(postgres_engine)
    return postgres_engine


def test_values_go_through_the_column_types_and_the_limit_is_written_in(web_engine):
    with Session(web_engine) as session:
        rows = execute_prepared(session, "essai", STATEMENT, {"at": AT, "n": 41})
        assert [(row.at, row.following) for row in rows] == [(datetime(2026, 6, 15, 8, 30), 42)]
        [(_, text)] = _prepared(session)
        assert "LIMIT 1" in text and "$1" in text and "$2" in text


def test_the_statement_outlives_a_rollback_and_is_prepared_once(web_engine):
    with Session(web_engine) as session:
        execute_prepared(session, "essai", STATEMENT, {"at": AT, "n": 1})
        pid = session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        session.rollback()
        assert session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == pid
        assert len(_prepared(session)) == 1
        rows = execute_prepared(session, "essai", STATEMENT, {"at": AT, "n": 2})
        assert rows[0].following == 3
        assert len(_prepared(session)) == 1


def test_a_statement_dropped_behind_our_back_is_prepared_again_next_time(web_engine):
    with Session(web_engine) as session:
        execute_prepared(session, "essai", STATEMENT, {"at": AT, "n": 1})
        session.execute(sa.text("DEALLOCATE essai"))
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            execute_prepared(session, "essai", STATEMENT, {"at": AT, "n": 1})
        session.rollback()
        assert execute_prepared(session, "essai", STATEMENT, {"at": AT, "n": 6})[0].following == 7


def test_where_psycopg_prepares_by_itself_the_statement_runs_as_it_is(postgres_engine):
    """Bulk commands keep psycopg's automatic preparation, whose DEALLOCATE ALL after a
    rollback would drop a statement of ours."""
    with Session(postgres_engine) as session:
        rows = execute_prepared(session, "essai", STATEMENT, {"at": AT, "n": 9})
        assert rows[0].following == 10
        assert _prepared(session) == []
