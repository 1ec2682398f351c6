"""What the creditor's systems read back: promises, plans, disputes, call outcomes and each
debtor's place in the dunning process, page by page.

Pages follow the row id (``after``: the last id read), so a page never repeats or skips a
row while new ones arrive; ``updated_since`` keeps the rows created or changed since the
ERP's last sync (a promise kept or broken, a dispute resolved, a case moved).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from callcenter.models import (
    Call,
    Debtor,
    Dispute,
    DisputeInvoice,
    DunningCase,
    Instalment,
    Invoice,
    PaymentPlan,
    Promise,
    PromiseInvoice,
)

MAX_PAGE = 1000


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: int | None


def _page(
    session: Session,
    model: Any,
    *,
    changed: Any,
    after: int | None,
    updated_since: datetime | None,
    limit: int,
    shape: Callable[[Session, list[tuple[Any, str]]], list[dict[str, Any]]],
    where: Any = None,
) -> Page:
    statement = (
        sa.select(model, Debtor.account_code)
        .join(Debtor, Debtor.id == model.debtor_id)
        .order_by(model.id)
        .limit(limit + 1)
    )
    if where is not None:
        statement = statement.where(where)
    if after is not None:
        statement = statement.where(model.id > after)
    if updated_since is not None:
        statement = statement.where(changed >= updated_since)
    rows = [(row[0], row[1]) for row in session.execute(statement).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(shape(session, rows), rows[-1][0].id if more else None)


def _invoice_numbers(session: Session, link: Any, owner: str, ids: list[int]) -> dict[int, list]:
    found: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return found
    owner_column = getattr(link, owner)
    for owner_id, number in session.execute(
        sa.select(owner_column, Invoice.number)
        .join(Invoice, Invoice.id == link.invoice_id)
        .where(owner_column.in_(ids))
        .order_by(owner_column, Invoice.number)
    ):
        found[owner_id].append(number)
    return found


def promises(session: Session, *, after=None, updated_since=None, limit=100) -> Page:
    def shape(session: Session, rows) -> list[dict[str, Any]]:
        numbers = _invoice_numbers(session, PromiseInvoice, "promise_id", [p.id for p, _ in rows])
        return [
            {
                "id": p.id,
                "account_code": code,
                "amount_cents": p.amount_cents,
                "promised_date": p.promised_date,
                "paid_cents": p.paid_cents,
                "status": p.status,
                "invoices": numbers[p.id],
                "created_at": p.created_at,
                "resolved_at": p.resolved_at,
            }
            for p, code in rows
        ]

    changed = sa.func.coalesce(col(Promise.resolved_at), col(Promise.created_at))
    return _page(
        session,
        Promise,
        changed=changed,
        after=after,
        updated_since=updated_since,
        limit=limit,
        shape=shape,
    )


def payment_plans(session: Session, *, after=None, updated_since=None, limit=100) -> Page:
    def shape(session: Session, rows) -> list[dict[str, Any]]:
        instalments: dict[int, list[dict[str, Any]]] = {plan.id: [] for plan, _ in rows}
        if instalments:
            for item in session.execute(
                sa.select(Instalment)
                .where(col(Instalment.plan_id).in_(list(instalments)))
                .order_by(Instalment.plan_id, Instalment.sequence)
            ).scalars():
                instalments[item.plan_id].append(
                    {
                        "sequence": item.sequence,
                        "due_date": item.due_date,
                        "amount_cents": item.amount_cents,
                        "paid_cents": item.paid_cents,
                        "status": item.status,
                    }
                )
        return [
            {
                "id": plan.id,
                "account_code": code,
                "total_cents": plan.total_cents,
                "status": plan.status,
                "instalments": instalments[plan.id],
                "created_at": plan.created_at,
            }
            for plan, code in rows
        ]

    return _page(
        session,
        PaymentPlan,
        changed=col(PaymentPlan.created_at),
        after=after,
        updated_since=updated_since,
        limit=limit,
        shape=shape,
    )


def disputes(session: Session, *, after=None, updated_since=None, limit=100) -> Page:
    def shape(session: Session, rows) -> list[dict[str, Any]]:
        numbers = _invoice_numbers(session, DisputeInvoice, "dispute_id", [d.id for d, _ in rows])
        return [
            {
                "id": d.id,
                "account_code": code,
                "category": d.category,
                "description": d.description,
                "status": d.status,
                "resolution": d.resolution,
                "invoices": numbers[d.id],
                "created_at": d.created_at,
                "resolved_at": d.resolved_at,
            }
            for d, code in rows
        ]

    changed = sa.func.coalesce(col(Dispute.resolved_at), col(Dispute.created_at))
    return _page(
        session,
        Dispute,
        changed=changed,
        after=after,
        updated_since=updated_since,
        limit=limit,
        shape=shape,
    )


def outcomes(session: Session, *, after=None, updated_since=None, limit=100) -> Page:
    """Calls with a recorded outcome (the disposition's code, the agent's notes)."""

    def shape(session: Session, rows) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id,
                "account_code": code,
                "disposition": call.disposition_code,
                "notes": call.notes,
                "answered": call.answered_at is not None,
                "started_at": call.created_at,
                "ended_at": call.ended_at,
            }
            for call, code in rows
        ]

    return _page(
        session,
        Call,
        changed=col(Call.created_at),
        after=after,
        updated_since=updated_since,
        limit=limit,
        shape=shape,
        where=col(Call.disposition_code).is_not(None),
    )


def dunning_cases(session: Session, *, after=None, updated_since=None, limit=100) -> Page:
    def shape(session: Session, rows) -> list[dict[str, Any]]:
        return [
            {
                "id": case.id,
                "account_code": code,
                "status": case.status,
                "step": case.step_label,
                "action": case.step_action,
                "reached_at": case.reached_at,
                "done_at": case.done_at,
                "next_due_at": case.next_due_at,
                "updated_at": case.updated_at,
            }
            for case, code in rows
        ]

    return _page(
        session,
        DunningCase,
        changed=col(DunningCase.updated_at),
        after=after,
        updated_since=updated_since,
        limit=limit,
        shape=shape,
    )
