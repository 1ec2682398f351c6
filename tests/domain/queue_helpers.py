"""Shared helpers of the queue tests: a fixed Monday morning and SQL-vs-Python checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, select

from callcenter.config import Settings
from callcenter.domain.queue import explain_debtor, refresh_debtors
from callcenter.models import Debtor, QueueItem

NOW = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # Monday 10:00 in Paris (summer time)
TODAY = date(2026, 3, 30)


def refreshed(session: Session, debtor: Debtor, settings: Settings, now: datetime = NOW):
    """Refresh one debtor in SQL, check the Python reference agrees, return the queue row."""
    refresh_debtors(session, debtor_ids=[debtor.id], now=now, settings=settings)
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    session.refresh(item)
    reference = explain_debtor(session, debtor_id=debtor.id, now=now, settings=settings)
    assert item.reasons == reference.reasons
    assert item.exclusion_reasons == reference.exclusions
    assert item.score == reference.score
    assert item.stage == (reference.stage.stage if reference.stage else None)
    return item
