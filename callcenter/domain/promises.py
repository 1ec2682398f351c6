"""Promises to pay and payment plans, followed until kept or broken.

Every promise and every instalment of a payment plan is a *commitment*: an
amount due by a date, counted from the day it was agreed. Payments flow to
commitments in date order: a payment counts for the earliest commitment that
was already agreed when it was paid and whose deadline (date + grace days) it
meets. A commitment is *kept* once it has received its amount minus the
tolerance, *partial* if its deadline passed with something paid, *broken* if
its deadline passed with nothing. The allocation is recomputed from the
payments every time, so running it twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from callcenter.domain.audit import record_event
from callcenter.domain.debtor_locks import take_turns_on
from callcenter.formatting import day, money
from callcenter.models import (
    Instalment,
    Payment,
    PaymentPlan,
    Promise,
    PromiseStatus,
)

FINAL_STATUSES = {PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN}


@dataclass(frozen=True)
class PromisePolicy:
    horizon_days: int = 30
    grace_days: int = 3
    tolerance_cents: int = 100
    max_instalments: int = 12


@dataclass
class Commitment:
    key: tuple[str, int]
    amount_cents: int
    agreed_on: date
    due_on: date
    grace_days: int
    tolerance_cents: int
    paid_cents: int = 0
    payments: list[int] = field(default_factory=list)

    @property
    def deadline(self) -> date:
        return self.due_on + timedelta(days=self.grace_days)

    @property
    def fulfilled(self) -> bool:
        return self.paid_cents >= self.amount_cents - self.tolerance_cents

    def status_on(self, today: date) -> PromiseStatus:
        if self.fulfilled:
            return PromiseStatus.KEPT
        if today <= self.deadline:
            return PromiseStatus.PENDING
        return PromiseStatus.PARTIAL if self.paid_cents > 0 else PromiseStatus.BROKEN


def allocate_payments(
    payments: Iterable[tuple[int, date, int]], commitments: list[Commitment]
) -> None:
    """Spread ``(payment id, paid_on, amount)`` over commitments, earliest due first."""
    ordered = sorted(commitments, key=lambda c: (c.due_on, c.agreed_on, c.key))
    for payment_id, paid_on, amount in sorted(payments, key=lambda p: (p[1], p[0])):
        remaining = amount
        for commitment in ordered:
            if remaining <= 0:
                break
            if not (commitment.agreed_on <= paid_on <= commitment.deadline):
                continue
            gap = commitment.amount_cents - commitment.paid_cents
            if gap <= 0:
                continue
            taken = min(gap, remaining)
            commitment.paid_cents += taken
            commitment.payments.append(payment_id)
            remaining -= taken


def validate_promise(
    *,
    amount_cents: int | None,
    promised_date: date | None,
    open_balance_cents: int,
    today: date,
    policy: PromisePolicy,
) -> dict[str, str]:
    """French messages per field; empty when the promise can be recorded."""
    errors: dict[str, str] = {}
    if amount_cents is None:
        errors["promise_amount"] = "Indiquez le montant promis."
    elif amount_cents <= 0:
        errors["promise_amount"] = "Le montant promis doit être supérieur à zéro."
    elif amount_cents > open_balance_cents:
        errors["promise_amount"] = (
            f"Le montant promis dépasse le solde dû ({money(open_balance_cents)})."
        )
    horizon = today + timedelta(days=policy.horizon_days)
    if promised_date is None:
        errors["promise_date"] = "Indiquez la date de paiement promise."
    elif promised_date < today:
        errors["promise_date"] = "La date promise ne peut pas être passée."
    elif promised_date > horizon:
        errors["promise_date"] = (
            f"La date promise doit tomber au plus tard le {day(horizon)} "
            f"({policy.horizon_days} jours)."
        )
    return errors


def validate_payment_plan(
    *,
    total_cents: int,
    instalments: list[tuple[date | None, int | None]],
    open_balance_cents: int,
    today: date,
    policy: PromisePolicy,
) -> dict[str, str]:
    """A plan's instalments are dated in order, each positive, and sum exactly to the total."""
    errors: dict[str, str] = {}
    if total_cents <= 0:
        errors["plan_total"] = "Le montant total de l'échéancier doit être supérieur à zéro."
    elif total_cents > open_balance_cents:
        errors["plan_total"] = (
            f"Le total de l'échéancier dépasse le solde dû ({money(open_balance_cents)})."
        )
    if not instalments:
        errors["plan_instalments"] = "Ajoutez au moins une échéance."
        return errors
    if len(instalments) > policy.max_instalments:
        errors["plan_instalments"] = f"Au plus {policy.max_instalments} échéances."
    previous: date | None = None
    for index, (due_on, amount) in enumerate(instalments, start=1):
        if due_on is None or amount is None:
            errors[f"instalment_{index}"] = f"Échéance {index} : date et montant obligatoires."
        elif amount <= 0:
            errors[f"instalment_{index}"] = f"Échéance {index} : le montant doit être positif."
        elif due_on < today:
            errors[f"instalment_{index}"] = f"Échéance {index} : la date ne peut pas être passée."
        elif previous is not None and due_on <= previous:
            errors[f"instalment_{index}"] = (
                f"Échéance {index} : les dates doivent se suivre dans l'ordre."
            )
        previous = due_on or previous
    amounts = [amount for _, amount in instalments]
    if None not in amounts and "plan_total" not in errors:
        total = sum(amounts)
        if total != total_cents:
            errors["plan_instalments"] = (
                f"La somme des échéances ({money(total)}) doit être égale au total "
                f"({money(total_cents)})."
            )
    first = instalments[0][0]
    if first is not None and first > today + timedelta(days=policy.horizon_days):
        errors.setdefault(
            "instalment_1",
            f"La première échéance doit tomber dans les {policy.horizon_days} jours.",
        )
    return errors


@dataclass(frozen=True)
class CommitmentChange:
    debtor_id: int
    kind: str
    id: int
    status: str
    paid_cents: int


def _as_date(moment: datetime) -> date:
    return moment.date()


def refresh_commitments(
    session: Session,
    *,
    debtor_ids: Iterable[int],
    today: date,
    now: datetime,
    policy: PromisePolicy = PromisePolicy(),
) -> list[CommitmentChange]:
    """Recompute what each promise and instalment has received and settle due ones.

    Called after payments arrive and by the daily evaluation job; idempotent.
    Returns the status changes, each also written to the debtor's timeline.
    """
    debtor_ids = sorted(set(debtor_ids))
    if not debtor_ids:
        return []
    take_turns_on(session, debtor_ids)
    promises = session.exec(
        select(Promise).where(
            col(Promise.debtor_id).in_(debtor_ids), Promise.status != PromiseStatus.CANCELLED
        )
    ).all()
    plans = {
        plan.id: plan
        for plan in session.exec(
            select(PaymentPlan).where(
                col(PaymentPlan.debtor_id).in_(debtor_ids),
                PaymentPlan.status != PromiseStatus.CANCELLED,
            )
        ).all()
    }
    instalments = (
        session.exec(select(Instalment).where(col(Instalment.plan_id).in_(list(plans)))).all()
        if plans
        else []
    )
    by_debtor: dict[int, list[tuple[Commitment, object]]] = defaultdict(list)
    for promise in promises:
        commitment = Commitment(
            ("promise", promise.id),
            promise.amount_cents,
            _as_date(promise.created_at),
            promise.promised_date,
            promise.grace_days,
            promise.tolerance_cents,
        )
        by_debtor[promise.debtor_id].append((commitment, promise))
    for instalment in instalments:
        plan = plans[instalment.plan_id]
        commitment = Commitment(
            ("instalment", instalment.id),
            instalment.amount_cents,
            _as_date(plan.created_at),
            instalment.due_date,
            policy.grace_days,
            policy.tolerance_cents,
        )
        by_debtor[plan.debtor_id].append((commitment, instalment))
    if not by_debtor:
        return []
    earliest = min(c.agreed_on for items in by_debtor.values() for c, _ in items)
    payments: dict[int, list[tuple[int, date, int]]] = defaultdict(list)
    for payment in session.exec(
        select(Payment).where(
            col(Payment.debtor_id).in_(list(by_debtor)), Payment.paid_on >= earliest
        )
    ).all():
        payments[payment.debtor_id].append((payment.id, payment.paid_on, payment.amount_cents))

    changes: list[CommitmentChange] = []
    for debtor_id, items in by_debtor.items():
        allocate_payments(payments[debtor_id], [c for c, _ in items])
        for commitment, row in items:
            row.paid_cents = commitment.paid_cents
            new_status = commitment.status_on(today)
            if row.status in FINAL_STATUSES or new_status == row.status:
                continue
            row.status = new_status
            if isinstance(row, Promise) and new_status in FINAL_STATUSES:
                row.resolved_at = now
            kind, row_id = commitment.key
            changes.append(
                CommitmentChange(debtor_id, kind, row_id, new_status, commitment.paid_cents)
            )
            record_event(
                session,
                type=f"{kind}.{new_status}",
                debtor_id=debtor_id,
                payload={
                    "id": row_id,
                    "amount_cents": commitment.amount_cents,
                    "paid_cents": commitment.paid_cents,
                    "due_on": commitment.due_on.isoformat(),
                },
                at=now,
            )
    _settle_plans(session, plans.values(), instalments, now)
    session.flush()
    return changes


def _settle_plans(session, plans, instalments, now: datetime) -> None:
    """A plan is broken as soon as one instalment is, kept when every instalment is."""
    statuses: dict[int, list[str]] = defaultdict(list)
    for instalment in instalments:
        statuses[instalment.plan_id].append(instalment.status)
    for plan in plans:
        own = statuses.get(plan.id, [])
        if plan.status != PromiseStatus.PENDING or not own:
            continue
        if any(s in (PromiseStatus.BROKEN, PromiseStatus.PARTIAL) for s in own):
            plan.status = PromiseStatus.BROKEN
        elif all(s == PromiseStatus.KEPT for s in own):
            plan.status = PromiseStatus.KEPT
        else:
            continue
        record_event(
            session,
            type=f"payment_plan.{plan.status}",
            debtor_id=plan.debtor_id,
            payload={"id": plan.id, "total_cents": plan.total_cents},
            at=now,
        )


def debtors_with_open_commitments(session: Session) -> list[int]:
    """Debtors the daily evaluation must look at."""
    promise_debtors = session.exec(
        select(Promise.debtor_id).where(Promise.status == PromiseStatus.PENDING).distinct()
    ).all()
    plan_debtors = session.exec(
        select(PaymentPlan.debtor_id).where(PaymentPlan.status == PromiseStatus.PENDING).distinct()
    ).all()
    return sorted(set(promise_debtors) | set(plan_debtors))
