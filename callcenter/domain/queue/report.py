"""What the supervisor sees of the queue: depth, top rows, exclusions counted and searched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from callcenter.domain.queue import rules
from callcenter.models import Campaign, Debtor, QueueItem, QueueState


@dataclass(frozen=True)
class Depth:
    campaign: str
    stage: str
    ready: int
    claimed: int


@dataclass(frozen=True)
class Row:
    debtor_id: int
    account_code: str
    name: str
    segment: str
    stage: str | None
    score: float
    state: str
    reasons: list[dict[str, Any]]
    exclusions: list[str]
    claimed_by_id: int | None


def depth(session: Session) -> list[Depth]:
    """Ready and claimed rows per campaign and stage."""
    ready = sa.func.sum(sa.case((QueueItem.state == QueueState.READY, 1), else_=0))
    claimed = sa.func.sum(sa.case((QueueItem.state == QueueState.CLAIMED, 1), else_=0))
    rows = session.exec(
        select(Campaign.name, QueueItem.stage, ready, claimed)
        .join(Campaign, Campaign.id == QueueItem.campaign_id, isouter=True)
        .where(QueueItem.state.in_([QueueState.READY, QueueState.CLAIMED]))
        .group_by(Campaign.name, QueueItem.stage)
        .order_by(Campaign.name, QueueItem.stage)
    ).all()
    return [Depth(c or "Sans campagne", s or "—", int(r), int(k)) for c, s, r, k in rows]


def _rows(session: Session, statement) -> list[Row]:
    return [
        Row(
            debtor_id=d.id,
            account_code=d.account_code,
            name=d.name,
            segment=d.segment,
            stage=q.stage,
            score=q.score,
            state=q.state,
            reasons=rules.reason_lines(q.reasons),
            exclusions=rules.exclusion_labels(q.exclusion_reasons),
            claimed_by_id=q.claimed_by_id,
        )
        for q, d in session.exec(statement).all()
    ]


def top_rows(session: Session, *, limit: int = 50) -> list[Row]:
    """The next debtors to be called, best score first."""
    return _rows(
        session,
        select(QueueItem, Debtor)
        .join(Debtor, Debtor.id == QueueItem.debtor_id)
        .where(QueueItem.state.in_([QueueState.READY, QueueState.CLAIMED]))
        .order_by(QueueItem.score.desc())
        .limit(limit),
    )


@dataclass(frozen=True)
class ReasonCount:
    """Excluded debtors with one stored reason (``entry``, what a search filters on)."""

    entry: str
    label: str
    count: int


def exclusion_counts(session: Session) -> list[ReasonCount]:
    """Excluded debtors counted by reason (a debtor counts once per reason), most first."""
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            "SELECT r.value, COUNT(*) FROM queue_items q,"
            " json_array_elements_text(q.exclusion_reasons) AS r(value)"
            " WHERE q.state = 'excluded' GROUP BY r.value ORDER BY COUNT(*) DESC, r.value"
        )
    else:
        sql = (
            "SELECT r.value, COUNT(*) FROM queue_items q, json_each(q.exclusion_reasons) r"
            " WHERE q.state = 'excluded' GROUP BY r.value ORDER BY COUNT(*) DESC, r.value"
        )
    counts = [
        ReasonCount(entry, rules.exclusion_label(entry), int(count))
        for entry, count in session.execute(sa.text(sql))
    ]
    return sorted(counts, key=lambda row: (-row.count, row.label))


def search(session: Session, *, text: str, limit: int = 20) -> list[Row]:
    """Debtors whose name or account code contains ``text`` (``%`` and ``_`` taken as they
    are, not as wildcards), with their queue row."""
    needle = text.strip().lower()
    return _rows(
        session,
        select(QueueItem, Debtor)
        .join(Debtor, Debtor.id == QueueItem.debtor_id)
        .where(
            sa.or_(
                sa.func.lower(Debtor.name).contains(needle, autoescape=True),
                sa.func.lower(Debtor.account_code).contains(needle, autoescape=True),
            )
        )
        .order_by(Debtor.name)
        .limit(limit),
    )


def excluded_with(session: Session, *, reason: str, limit: int = 50) -> list[Row]:
    """Excluded debtors that carry this exact stored reason (``ReasonCount.entry``), best
    score first."""
    if session.get_bind().dialect.name == "postgresql":
        has_reason = sa.text(
            "EXISTS (SELECT 1 FROM json_array_elements_text(queue_items.exclusion_reasons) r"
            " WHERE r = :reason)"
        )
    else:
        has_reason = sa.text(
            "EXISTS (SELECT 1 FROM json_each(queue_items.exclusion_reasons) r"
            " WHERE r.value = :reason)"
        )
    return _rows(
        session,
        select(QueueItem, Debtor)
        .join(Debtor, Debtor.id == QueueItem.debtor_id)
        .where(QueueItem.state == QueueState.EXCLUDED, has_reason.bindparams(reason=reason))
        .order_by(QueueItem.score.desc())
        .limit(limit),
    )
