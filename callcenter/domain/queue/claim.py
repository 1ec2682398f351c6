"""Claims: one agent per debtor, under a lease, taken atomically even with many agents.

``claim_next`` gives the best eligible debtor: first a due personal callback of that agent,
then the highest score, never a debtor held by someone else nor one reserved by another
agent's personal callback before its reassignment time. The pick and the claim are one
guarded UPDATE (``… WHERE id = COALESCE((SELECT … FOR UPDATE SKIP LOCKED), …) AND state =
'ready'``), one round trip: on PostgreSQL concurrent claimers skip each other's locked rows;
on SQLite the write lock taken at BEGIN IMMEDIATE serialises them. A debtor whose lease has
expired is claimable again as it stands (the refresh also returns it to ``ready``).
The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from callcenter.config import Settings
from callcenter.db import execute_prepared
from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.queue import rules
from callcenter.domain.queue.eligibility import calling_window
from callcenter.models import (
    Callback,
    CallbackStatus,
    Debtor,
    QueueItem,
    QueueState,
)

_q = QueueItem.__table__
_cb = Callback.__table__
NOT_HELD = "Ce débiteur ne vous est plus réservé : reprenez le suivant dans la file."
MAX_WINDOW_RETRIES = 5


@dataclass(frozen=True)
class Claim:
    item_id: int
    debtor_id: int
    lease_until: datetime
    personal_callback: bool = False


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# The statement is built once, with bound parameters, so a claim only executes cached SQL.
_NOW = sa.bindparam("now", type_=_q.c.lease_until.type)
_AGENT = sa.bindparam("agent", type_=sa.Integer())
_LEASE_UNTIL = sa.bindparam("lease_until", type_=_q.c.lease_until.type)
# States are written into the SQL text, not bound, so that the planner can match the partial
# index of held rows whatever plan it keeps.
_READY = sa.literal_column(f"'{QueueState.READY.value}'")
_CLAIMED = sa.literal_column(f"'{QueueState.CLAIMED.value}'")
_PENDING = sa.literal_column(f"'{CallbackStatus.PENDING.value}'")
_EXPIRED = sa.and_(_q.c.state == _CLAIMED, _q.c.lease_until <= _NOW)
_DUE = sa.or_(_q.c.next_eligible_at.is_(None), _q.c.next_eligible_at <= _NOW)
_HELD = sa.and_(_q.c.state == _CLAIMED, _q.c.claimed_by_id == _AGENT, _q.c.lease_until > _NOW)
_OWN = sa.select(_q.c.id).where(_HELD).limit(1)
_MY_DUE_CALLBACK = sa.and_(
    _cb.c.status == _PENDING,
    _cb.c.personal,
    _cb.c.agent_id == _AGENT,
    _cb.c.due_at <= _NOW,
)
_PERSONAL = (
    sa.select(_q.c.id)
    .join(_cb, _cb.c.debtor_id == _q.c.debtor_id)
    .where(sa.or_(_q.c.state == _READY, _EXPIRED), _DUE, _MY_DUE_CALLBACK)
    .order_by(_cb.c.due_at)
    .limit(1)
)
_RESERVED = sa.exists().where(
    _cb.c.debtor_id == _q.c.debtor_id,
    _cb.c.status == _PENDING,
    _cb.c.personal,
    _cb.c.agent_id != _AGENT,
    sa.or_(
        _cb.c.reassign_after > _NOW,
        sa.and_(
            _cb.c.reassign_after.is_(None),
            _cb.c.due_at > sa.bindparam("reassign_before", type_=_q.c.lease_until.type),
        ),
    ),
)


def _best(state) -> sa.Select:
    """The best row of one state by score (read down the (state, score) index)."""
    return sa.select(_q.c.id).where(state, _DUE, ~_RESERVED).order_by(_q.c.score.desc()).limit(1)


_ZONE = (
    sa.select(Debtor.time_zone).where(Debtor.id == _q.c.debtor_id).scalar_subquery().label("zone")
)
_PERSONAL_FLAG = (
    sa.exists().where(_cb.c.debtor_id == _q.c.debtor_id, _MY_DUE_CALLBACK).label("personal")
)


def _take_statement(postgres: bool):
    """One statement per claim: the debtor the agent already holds, else their due personal
    callback, else the best ready row, else the best row whose lease has expired (the refresh
    also returns those to the ready rows). Each candidate query runs only if the previous one
    found nothing (COALESCE of scalar subqueries)."""
    candidates = [_PERSONAL, _best(_q.c.state == _READY), _best(_EXPIRED)]
    if postgres:
        candidates = [c.with_for_update(skip_locked=True, of=_q) for c in candidates]
    candidate = sa.func.coalesce(_OWN.scalar_subquery(), *(c.scalar_subquery() for c in candidates))
    return (
        sa.update(_q)
        .where(
            _q.c.id == candidate,
            sa.or_(_q.c.state == _READY, _EXPIRED, _HELD),
        )
        .values(
            state=_CLAIMED,
            claimed_by_id=_AGENT,
            claimed_at=sa.case((_HELD, _q.c.claimed_at), else_=_NOW),
            lease_until=_LEASE_UNTIL,
        )
        .returning(_q.c.id, _q.c.debtor_id, _ZONE, _PERSONAL_FLAG)
    )


_TAKE = {postgres: _take_statement(postgres) for postgres in (True, False)}


def _close_zone(session: Session, *, item_id: int, zone: str, reason: str) -> None:
    """The window closed since the last refresh: set this zone's ready rows aside."""
    in_zone = sa.select(Debtor.id).where(Debtor.time_zone == zone)
    values = {
        "state": QueueState.EXCLUDED,
        "exclusion_reasons": [rules.exclusion("closed", reason)],
        "claimed_by_id": None,
        "claimed_at": None,
        "lease_until": None,
    }
    session.execute(sa.update(_q).where(_q.c.id == item_id).values(**values))
    session.execute(
        sa.update(_q)
        .where(_q.c.state == QueueState.READY, _q.c.debtor_id.in_(in_zone))
        .values(**values)
    )


def claim_next(
    session: Session,
    *,
    agent_id: int,
    now: datetime,
    lease: timedelta = timedelta(minutes=15),
    settings: Settings | None = None,
) -> Claim | None:
    """Reserve the agent's next debtor, or None when the queue is empty for them.

    An agent already holding a live claim gets that one back with a renewed lease (a double
    click takes nothing).
    """
    settings = settings or Settings()
    params = {
        "agent": agent_id,
        "now": now,
        "lease_until": now + lease,
        "reassign_before": now - timedelta(minutes=settings.queue.callback_reassign_minutes),
    }
    statement = _TAKE[_postgres(session)]
    for _attempt in range(MAX_WINDOW_RETRIES):
        rows = execute_prepared(session, "callcenter_claim_next", statement, params)
        row = rows[0] if rows else None
        if row is None:
            return None
        window = calling_window(row.zone, now, settings.queue)
        if window.open:
            return Claim(row.id, row.debtor_id, params["lease_until"], bool(row.personal))
        _close_zone(session, item_id=row.id, zone=row.zone, reason=window.reason or "")
    return None


def _held(agent_id: int, debtor_id: int):
    return sa.and_(
        _q.c.debtor_id == debtor_id,
        _q.c.claimed_by_id == agent_id,
        _q.c.state == QueueState.CLAIMED,
    )


def renew_lease(
    session: Session,
    *,
    agent_id: int,
    debtor_id: int,
    now: datetime,
    lease: timedelta = timedelta(minutes=15),
) -> datetime:
    """Extend the agent's hold on the debtor; refused if the debtor went to someone else."""
    until = now + lease
    result = session.execute(
        sa.update(_q).where(_held(agent_id, debtor_id)).values(lease_until=until)
    )
    if result.rowcount != 1:
        raise DomainError(NOT_HELD)
    return until


_RELEASE = (
    sa.update(_q)
    .where(
        _q.c.debtor_id == sa.bindparam("debtor", type_=sa.Integer()),
        _q.c.claimed_by_id == _AGENT,
        _q.c.state == QueueState.CLAIMED,
    )
    .values(state=QueueState.READY, claimed_by_id=None, claimed_at=None, lease_until=None)
)


def release(session: Session, *, agent_id: int, debtor_id: int, now: datetime) -> None:
    """Give the debtor back to the queue at once."""
    result = session.execute(_RELEASE, {"debtor": debtor_id, "agent": agent_id})
    if result.rowcount != 1:
        raise DomainError(NOT_HELD)


def skip(
    session: Session,
    *,
    agent_id: int,
    debtor_id: int,
    reason: str,
    now: datetime,
    set_aside: timedelta = timedelta(minutes=60),
) -> datetime:
    """Pass on the debtor: the reason goes to the timeline, the debtor waits ``set_aside``."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"reason": "Indiquez pourquoi vous passez ce débiteur."})
    if len(reason) > 200:
        raise ValidationFailed({"reason": "Le motif ne doit pas dépasser 200 caractères."})
    until = now + set_aside
    result = session.execute(
        sa.update(_q)
        .where(_held(agent_id, debtor_id))
        .values(
            state=QueueState.READY,
            claimed_by_id=None,
            claimed_at=None,
            lease_until=None,
            next_eligible_at=until,
        )
    )
    if result.rowcount != 1:
        raise DomainError(NOT_HELD)
    record_event(
        session,
        type="queue.skipped",
        actor_id=agent_id,
        debtor_id=debtor_id,
        payload={"reason": reason, "until": until.isoformat()},
        at=now,
    )
    session.flush()
    return until
