"""Two pieces of work on the same debtors take turns.

A job overlapping a leader change, a payment import and an outcome may evaluate the same
debtors at once; the second reads what the first committed, so a status change and its
timeline event are written once. PostgreSQL locks the debtor rows in id order (no deadlock);
SQLite's writers already take turns on the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from callcenter.models import Debtor


def take_turns_on(session: Session, debtor_ids: Iterable[int]) -> None:
    """Wait for, then hold until the transaction ends, the rows of these debtors."""
    session.exec(
        select(Debtor.id)
        .where(col(Debtor.id).in_(list(debtor_ids)))
        .order_by(Debtor.id)
        .with_for_update()
    ).all()
