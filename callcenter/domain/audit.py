"""The debtor timeline and the audit log share one table: every change has an actor.
Events the creditor's systems follow also queue their webhook notices (``webhooks.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from callcenter.domain.webhooks import queue_notices
from callcenter.models import Event


def record_event(
    session: Session,
    *,
    type: str,
    actor_id: int | None = None,
    debtor_id: int | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime,
) -> Event:
    event = Event(
        type=type,
        actor_id=actor_id,
        debtor_id=debtor_id,
        payload=payload or {},
        at=at,
    )
    session.add(event)
    queue_notices(session, event)
    return event
