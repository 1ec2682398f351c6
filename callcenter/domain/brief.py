"""The pre-call brief: everything an agent needs before dialling, on one screen.

The seeds ask for the balance, the invoice history (number, issue date, amount,
due date), the invoice in question and a clear **target amount** before the
call. The target follows a rule shown to the agent:

    overdue undisputed, unpaused open amount
    + undisputed amounts falling due within N days (``[workspace] target_due_within_days``)
    − pending promised amounts whose date has not passed yet
    − the debtor's credit (unallocated payments and credit notes: money already on account)

never below zero. The right contact is the billing contact with a phone number,
else any contact with a phone, else the billing contact.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.domain.aging import AgingAmounts, bucket_name
from callcenter.domain.process import case_summary
from callcenter.domain.queue import load_ladder
from callcenter.domain.queue.rules import exclusion_labels, reason_lines
from callcenter.domain.scripts import SCRIPT_FOR_SITUATION, choose_situation
from callcenter.domain.timeline import TimelineEntry, count_events, describe_events
from callcenter.formatting import money
from callcenter.models import (
    Call,
    Contact,
    Debtor,
    Dispute,
    DisputeStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    Promise,
    PromiseInvoice,
    PromiseStatus,
    QueueItem,
    User,
)

BRIEF_TIMELINE_PAGE = 100


@dataclass(frozen=True)
class BriefInvoice:
    id: int
    number: str
    issue_date: date
    due_date: date
    amount_cents: int
    open_amount_cents: int
    days_late: int
    disputed: bool
    paused_until: date | None
    pause_reason: str | None
    promised: bool

    @property
    def paused(self) -> bool:
        return self.paused_until is not None

    @property
    def workable(self) -> bool:
        return not self.disputed and not self.paused


@dataclass(frozen=True)
class TargetAmount:
    cents: int
    overdue_cents: int
    due_soon_cents: int
    promised_cents: int
    due_within_days: int
    credit_cents: int = 0

    @property
    def rule(self) -> str:
        credit = f"− avoir au compte {money(self.credit_cents)} " if self.credit_cents else ""
        return (
            f"Échu non contesté {money(self.overdue_cents)} "
            f"+ à échoir sous {self.due_within_days} j {money(self.due_soon_cents)} "
            f"− promesses en cours {money(self.promised_cents)} {credit}= {money(self.cents)}"
        )


@dataclass(frozen=True)
class RiskHints:
    broken_promises: int
    kept_promises: int
    average_days_late: float | None
    open_disputes: int
    last_contact_at: datetime | None


@dataclass(frozen=True)
class PaymentLine:
    """A payment received: what the agent may quote back (« votre virement du … »)."""

    paid_on: date
    amount_cents: int
    reference: str
    invoices: list[str]


@dataclass(frozen=True)
class PaidInvoice:
    number: str
    amount_cents: int
    due_date: date
    paid_on: date | None

    @property
    def days_late(self) -> int | None:
        return (self.paid_on - self.due_date).days if self.paid_on else None


@dataclass(frozen=True)
class Brief:
    debtor: Debtor
    owner_name: str | None
    contact: Contact | None
    contacts: list[Contact]
    invoices: list[BriefInvoice]
    aging: AgingAmounts
    credit_cents: int
    target: TargetAmount
    risk: RiskHints
    pending_promises: list[Promise]
    broken_promise: Promise | None
    queue_reasons: list[dict[str, Any]]
    queue_stage: str | None
    queue_exclusions: list[str]
    process: list[str]
    situation: str
    script_code: str
    timeline: list[TimelineEntry] = field(default_factory=list)
    timeline_total: int = 0
    payments: list[PaymentLine] = field(default_factory=list)
    paid_invoices: list[PaidInvoice] = field(default_factory=list)

    @property
    def open_cents(self) -> int:
        return self.aging.total

    @property
    def focus_invoice(self) -> BriefInvoice | None:
        """The invoice in question: the oldest workable overdue one, else the next due."""
        workable = [invoice for invoice in self.invoices if invoice.workable]
        overdue = [invoice for invoice in workable if invoice.days_late > 0]
        if overdue:
            return min(overdue, key=lambda invoice: (invoice.due_date, invoice.number))
        if workable:
            return min(workable, key=lambda invoice: (invoice.due_date, invoice.number))
        return self.invoices[0] if self.invoices else None


def right_contact(contacts: list[Contact]) -> Contact | None:
    def reachable(contact: Contact) -> bool:
        return bool(contact.phone or contact.mobile)

    for candidates in (
        [c for c in contacts if c.is_billing and reachable(c)],
        [c for c in contacts if reachable(c)],
        [c for c in contacts if c.is_billing],
        contacts,
    ):
        if candidates:
            return candidates[0]
    return None


def _invoices(session: Session, debtor_id: int, today: date) -> list[BriefInvoice]:
    rows = session.exec(
        select(Invoice)
        .where(
            Invoice.debtor_id == debtor_id,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.open_amount_cents != 0,
        )
        .order_by(Invoice.due_date, Invoice.number)
    ).all()
    promised_ids = set(
        session.exec(
            select(PromiseInvoice.invoice_id)
            .join(Promise, col(Promise.id) == PromiseInvoice.promise_id)
            .where(Promise.debtor_id == debtor_id, Promise.status == PromiseStatus.PENDING)
        ).all()
    )
    return [
        BriefInvoice(
            id=row.id,
            number=row.number,
            issue_date=row.issue_date,
            due_date=row.due_date,
            amount_cents=row.amount_cents,
            open_amount_cents=row.open_amount_cents,
            days_late=(today - row.due_date).days,
            disputed=row.disputed,
            paused_until=row.paused_until
            if row.paused_until and row.paused_until > today
            else None,
            pause_reason=row.pause_reason,
            promised=row.id in promised_ids,
        )
        for row in rows
    ]


def aging_of(invoices: list[BriefInvoice], today: date) -> AgingAmounts:
    """The debtor's aged buckets, by the same boundaries as the portfolio's aged balance."""
    sums: dict[str, int] = defaultdict(int)
    for invoice in invoices:
        sums["total"] += invoice.open_amount_cents
        if invoice.disputed:
            sums["disputed"] += invoice.open_amount_cents
        else:
            sums[bucket_name(invoice.due_date, today)] += invoice.open_amount_cents
    return AgingAmounts(**sums)


def target_amount(
    invoices: list[BriefInvoice],
    pending: list[Promise],
    *,
    today: date,
    due_within_days: int,
    credit_cents: int = 0,
) -> TargetAmount:
    """What to obtain: overdue and soon-due workable amounts less pending promises and the
    debtor's credit (money already on account pays them first), never below zero."""
    horizon = today + timedelta(days=due_within_days)
    overdue = sum(i.open_amount_cents for i in invoices if i.workable and i.due_date < today)
    due_soon = sum(
        i.open_amount_cents for i in invoices if i.workable and today <= i.due_date <= horizon
    )
    promised = sum(
        max(p.amount_cents - p.paid_cents, 0) for p in pending if p.promised_date >= today
    )
    return TargetAmount(
        cents=max(overdue + due_soon - promised - max(credit_cents, 0), 0),
        overdue_cents=overdue,
        due_soon_cents=due_soon,
        promised_cents=promised,
        due_within_days=due_within_days,
        credit_cents=max(credit_cents, 0),
    )


PAYMENT_HISTORY = 10


def _payments(session: Session, debtor_id: int) -> list[PaymentLine]:
    """The latest payments received, each with the invoices it settled."""
    payments = session.exec(
        select(Payment)
        .where(Payment.debtor_id == debtor_id)
        .order_by(sa.desc(Payment.paid_on), sa.desc(Payment.id))
        .limit(PAYMENT_HISTORY)
    ).all()
    settled: dict[int, list[str]] = {p.id: [] for p in payments}
    if settled:
        for payment_id, number in session.exec(
            select(PaymentAllocation.payment_id, Invoice.number)
            .join(Invoice, col(Invoice.id) == PaymentAllocation.invoice_id)
            .where(col(PaymentAllocation.payment_id).in_(list(settled)))
            .order_by(Invoice.number)
        ).all():
            settled[payment_id].append(number)
    return [PaymentLine(p.paid_on, p.amount_cents, p.reference, settled[p.id]) for p in payments]


def _paid_invoices(session: Session, debtor_id: int) -> list[PaidInvoice]:
    """The latest invoices paid in full, with the day their last payment arrived."""
    rows = session.exec(
        select(
            Invoice.number,
            Invoice.amount_cents,
            Invoice.due_date,
            sa.func.max(Payment.paid_on),
        )
        .join(PaymentAllocation, col(PaymentAllocation.invoice_id) == Invoice.id, isouter=True)
        .join(Payment, col(Payment.id) == PaymentAllocation.payment_id, isouter=True)
        .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.PAID)
        .group_by(Invoice.id, Invoice.number, Invoice.amount_cents, Invoice.due_date)
        .order_by(sa.desc(Invoice.due_date), sa.desc(Invoice.number))
        .limit(PAYMENT_HISTORY)
    ).all()
    return [PaidInvoice(number, amount, due, paid) for number, amount, due, paid in rows]


def _average_days_late(session: Session, debtor_id: int) -> float | None:
    """Mean delay between due date and the last payment, over the debtor's paid invoices."""
    settled = (
        select(Invoice.due_date, sa.func.max(Payment.paid_on).label("paid_on"))
        .join(PaymentAllocation, col(PaymentAllocation.invoice_id) == Invoice.id)
        .join(Payment, col(Payment.id) == PaymentAllocation.payment_id)
        .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.PAID)
        .group_by(Invoice.id, Invoice.due_date)
        .order_by(sa.desc(Invoice.due_date))
        .limit(200)
    )
    delays = [(paid_on - due).days for due, paid_on in session.exec(settled).all()]
    if not delays:
        return None
    return sum(delays) / len(delays)


def _situation(
    session: Session, item: QueueItem | None, debtor: Debtor, invoices: list[BriefInvoice], broken
) -> str:
    only_disputed = bool(invoices) and all(invoice.disputed for invoice in invoices)
    stage = None
    if item is not None and item.stage:
        own_calls = [
            rung
            for rung in load_ladder(session)
            if rung.is_phone and rung.segment in (debtor.segment, "standard")
        ]
        matching = [rung for rung in own_calls if rung.stage == item.stage]
        if matching:
            rung = matching[0]
            if rung.action == "preventive_call":
                stage = "preventive_call"
            else:
                calls = sorted(
                    (r for r in own_calls if r.segment == rung.segment and r.action == "call"),
                    key=lambda r: r.offset_days,
                )
                stage = "first_call" if calls and calls[0] == rung else "second_call"
    return choose_situation(
        stage=stage, has_broken_promise=broken, only_disputed_left=only_disputed
    )


def build_brief(
    session: Session,
    *,
    debtor_id: int,
    today: date,
    now: datetime,
    settings: Settings,
    timeline_limit: int | None = BRIEF_TIMELINE_PAGE,
) -> Brief:
    """The brief shows the latest ``timeline_limit`` events (``None``: up to the configured
    maximum); the rest of the history is one click away."""
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        raise LookupError(debtor_id)
    contacts = list(
        session.exec(
            select(Contact)
            .where(Contact.debtor_id == debtor_id)
            .order_by(sa.desc(Contact.is_billing), Contact.id)
        ).all()
    )
    invoices = _invoices(session, debtor_id, today)
    promises = list(session.exec(select(Promise).where(Promise.debtor_id == debtor_id)).all())
    pending = sorted(
        (p for p in promises if p.status == PromiseStatus.PENDING),
        key=lambda p: p.promised_date,
    )
    counts = Counter(p.status for p in promises)
    broken = broken_promise_awaiting_call(promises)
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor_id)).first()
    open_disputes = session.exec(
        select(sa.func.count())
        .select_from(Dispute)
        .where(Dispute.debtor_id == debtor_id, Dispute.status == DisputeStatus.OPEN)
    ).one()
    timeline = describe_events(
        session,
        debtor_id=debtor_id,
        limit=min(
            timeline_limit or settings.workspace.timeline_limit, settings.workspace.timeline_limit
        ),
    )
    timeline_total = (
        count_events(session, debtor_id=debtor_id)
        if len(timeline) == timeline_limit
        else len(timeline)
    )
    last_contact = session.exec(
        select(sa.func.max(Call.created_at)).where(Call.debtor_id == debtor_id)
    ).one()
    situation = _situation(session, item, debtor, invoices, broken is not None)
    owner = session.get(User, debtor.owner_id) if debtor.owner_id else None
    return Brief(
        debtor=debtor,
        owner_name=owner.full_name if owner else None,
        contact=right_contact(contacts),
        contacts=contacts,
        invoices=invoices,
        aging=aging_of(invoices, today),
        credit_cents=debtor.credit_cents,
        target=target_amount(
            invoices,
            pending,
            today=today,
            due_within_days=settings.workspace.target_due_within_days,
            credit_cents=debtor.credit_cents,
        ),
        risk=RiskHints(
            broken_promises=counts.get(PromiseStatus.BROKEN, 0),
            kept_promises=counts.get(PromiseStatus.KEPT, 0),
            average_days_late=_average_days_late(session, debtor_id),
            open_disputes=open_disputes,
            last_contact_at=last_contact,
        ),
        pending_promises=pending,
        broken_promise=broken,
        queue_reasons=reason_lines(item.reasons) if item else [],
        queue_stage=item.stage if item else None,
        queue_exclusions=exclusion_labels(item.exclusion_reasons) if item else [],
        process=case_summary(session, debtor_id=debtor_id, today=today, settings=settings),
        situation=situation,
        script_code=SCRIPT_FOR_SITUATION[situation],
        timeline=timeline,
        payments=_payments(session, debtor_id),
        paid_invoices=_paid_invoices(session, debtor_id),
        timeline_total=timeline_total,
    )


def broken_promise_awaiting_call(promises: list[Promise]) -> Promise | None:
    """The last broken promise, unless a newer promise was made since: it gets its own script."""
    broken = [p for p in promises if p.status == PromiseStatus.BROKEN]
    if not broken:
        return None
    last = max(broken, key=lambda p: (p.resolved_at or p.created_at, p.id))
    newer = any(p.created_at > last.created_at for p in promises)
    return None if newer else last
