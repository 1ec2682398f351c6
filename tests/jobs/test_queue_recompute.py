"""The queue's full refresh in short transactions: the same rows as one big refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from callcenter.db import session_scope
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.jobs.maintenance import recompute_queue
from tests.conftest import TEST_NOW, TEST_TODAY
from tests.factories import make_contact, make_debtor, make_invoice

ROWS = "SELECT debtor_id, stage, score, state, reasons, exclusion_reasons FROM queue_items"
CASES = "SELECT debtor_id, step_label, status, entered_by FROM dunning_cases"


def _back_book(engine, settings) -> None:
    """Seven debtors, from a week to a year overdue, one without a phone."""
    with session_scope(engine) as session:
        sync_ladder(session, settings=settings)
        for index, days in enumerate((7, 20, 40, 90, 150, 250, 365)):
            debtor = make_debtor(session, name=f"Débiteur {index}")
            make_contact(session, debtor, phone=None if index == 3 else "+33465713803")
            make_invoice(session, debtor, due_date=TEST_TODAY - timedelta(days=days))


def _snapshot(engine) -> tuple[list, list]:
    with engine.connect() as connection:
        rows = sorted(tuple(map(str, row)) for row in connection.execute(sa.text(ROWS)))
        cases = sorted(tuple(map(str, row)) for row in connection.execute(sa.text(CASES)))
    return rows, cases


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_a_chunked_recompute_writes_what_one_refresh_writes(engine, settings, chunk):
    _back_book(engine, settings)
    report = recompute_queue(engine, now=TEST_NOW, settings=settings, chunk=chunk)
    chunked = _snapshot(engine)
    assert report.debtors == 7 and report.ready + report.excluded == 7
    assert len(chunked[1]) == 7  # every debtor has its case

    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM queue_items"))
        connection.execute(sa.text("DELETE FROM events"))
        connection.execute(sa.text("DELETE FROM dunning_cases"))
    with Session(engine) as session:
        refresh_all(session, now=TEST_NOW, settings=settings)
        session.commit()
    assert _snapshot(engine) == chunked
