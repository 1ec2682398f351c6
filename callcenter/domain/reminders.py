"""Follow-up emails the scheduler writes on its own: commitment reminders and ladder emails.

- The day before (``[promises] reminder_days_before``) a pending promise or instalment
  falls due, its debtor's billing contact gets a reminder with the amount, the date, the
  invoices the promise covers (an instalment: the plan's total) and how to pay (composed
  by ``debtor_mail``). A commitment agreed inside that window gets none: the recap of the
  call already said it.
- A dunning process step that is an email (``domain/process.py``) writes one email per
  debtor and step listing the invoices it concerns: coming due for a preventive step,
  overdue for a later one (open, undisputed, unpaused); ``dunning_stage`` records the step.
- A contact who opted out of email, or has none, is never mailed.
Every email goes through the outbox with an idempotency key, so running a job twice
enqueues nothing twice.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.domain.addressing import addressed
from callcenter.domain.audit import record_event
from callcenter.domain.debtor_mail import (
    FIRST_REMINDER,
    PREVENTIVE,
    SECOND_REMINDER,
    Recipient,
    Signer,
    debtor_email,
    enqueue_debtor_email,
    signer_for,
)
from callcenter.domain.debtor_mail import (
    LADDER_TEMPLATES as LADDER_TEMPLATES,
)
from callcenter.domain.queue.ladder import LadderRung
from callcenter.formatting import day, money
from callcenter.models import (
    Contact,
    Debtor,
    Instalment,
    Invoice,
    InvoiceStatus,
    OutboxEmail,
    PaymentPlan,
    Promise,
    PromiseInvoice,
    PromiseStatus,
    User,
)

# --- shared helpers -------------------------------------------------------------------


def choose_recipients(session: Session, debtor_ids: Iterable[int]) -> dict[int, Recipient]:
    """Per debtor, the billing contact to write to.

    Billing contacts first (lowest id); a debtor with no billing contact at all falls back
    to its other contacts. A contact without an address or who opted out is never chosen.
    """
    ids = sorted(set(debtor_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(Contact)
        .where(col(Contact.debtor_id).in_(ids))
        .order_by(Contact.debtor_id, Contact.id)
    ).all()
    has_billing = {c.debtor_id for c in rows if c.is_billing}
    chosen: dict[int, Recipient] = {}
    for contact in rows:
        if contact.debtor_id in chosen or contact.email_opt_out or not (contact.email or ""):
            continue
        if contact.debtor_id in has_billing and not contact.is_billing:
            continue
        chosen[contact.debtor_id] = Recipient(
            contact.id, contact.full_name, contact.email.strip(), addressed(contact)
        )
    return chosen


def _signers(
    session: Session, user_ids: Iterable[int | None], settings: Settings
) -> dict[int | None, Signer]:
    """Who signs and receives the replies: the named user, else the collection service."""
    service = Signer(settings.mail.sender_name, settings.mail.sender_address, None)
    ids = {i for i in user_ids if i is not None}
    signers: dict[int | None, Signer] = {None: service}
    if ids:
        for user in session.exec(select(User).where(col(User.id).in_(ids))).all():
            signers[user.id] = signer_for(user.full_name, user.email) if user.active else service
    return defaultdict(lambda: service, signers)


def _existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(
            session.exec(
                select(OutboxEmail.idempotency_key).where(
                    col(OutboxEmail.idempotency_key).in_(keys[start : start + 500])
                )
            ).all()
        )
    return found


def _local_date(moment: datetime, settings: Settings) -> date:
    return moment.astimezone(ZoneInfo(settings.app.timezone)).date()


# --- promise and instalment reminders -------------------------------------------------


@dataclass
class ReminderReport:
    queued: int = 0
    no_recipient: int = 0


def queue_commitment_reminders(
    session: Session, *, today: date, now: datetime, settings: Settings
) -> ReminderReport:
    """Enqueue the reminders of promises and instalments due within the reminder window.

    Keys ``reminder:promise:<id>`` and ``reminder:instalment:<id>``: one reminder each, ever.
    Debtors in an insolvency procedure get none (relances suspendues).
    """
    report = ReminderReport()
    days_before = settings.promises.reminder_days_before
    last_day = today + timedelta(days=days_before)
    promises = [
        promise
        for promise in session.exec(
            select(Promise).where(
                Promise.status == PromiseStatus.PENDING,
                Promise.promised_date >= today,
                Promise.promised_date <= last_day,
            )
        ).all()
        if _local_date(promise.created_at, settings)
        < promise.promised_date - timedelta(days=days_before)
    ]
    plans_rows = session.exec(
        select(Instalment, PaymentPlan)
        .join(PaymentPlan, col(PaymentPlan.id) == Instalment.plan_id)
        .where(
            Instalment.status == PromiseStatus.PENDING,
            PaymentPlan.status == PromiseStatus.PENDING,
            Instalment.due_date >= today,
            Instalment.due_date <= last_day,
        )
    ).all()
    instalments = [
        (instalment, plan)
        for instalment, plan in plans_rows
        if _local_date(plan.created_at, settings)
        < instalment.due_date - timedelta(days=days_before)
    ]
    done = _existing_keys(
        session,
        [f"reminder:promise:{p.id}" for p in promises]
        + [f"reminder:instalment:{i.id}" for i, _ in instalments],
    )
    promises = [p for p in promises if f"reminder:promise:{p.id}" not in done]
    instalments = [(i, p) for i, p in instalments if f"reminder:instalment:{i.id}" not in done]
    debtor_ids = {p.debtor_id for p in promises} | {plan.debtor_id for _, plan in instalments}
    if not debtor_ids:
        return report
    debtors = {
        d.id: d
        for d in session.exec(select(Debtor).where(col(Debtor.id).in_(debtor_ids))).all()
        if not d.insolvency_status
    }
    recipients = choose_recipients(session, debtors)
    signers = _signers(
        session,
        [p.agent_id for p in promises] + [plan.agent_id for _, plan in instalments],
        settings,
    )
    promise_invoices = _promise_invoices(session, [p.id for p in promises])
    counts = _instalment_counts(session, {plan.id for _, plan in instalments})

    for promise in promises:
        debtor = debtors.get(promise.debtor_id)
        if debtor is None:
            continue
        recipient = recipients.get(debtor.id)
        if recipient is None:
            report.no_recipient += 1
            continue
        signer = signers[promise.agent_id]
        invoices = promise_invoices.get(promise.id, [])
        owed = promise.amount_cents - promise.paid_cents
        context = debtor_email(
            "reminder_promise",
            settings=settings,
            debtor=debtor,
            recipient=recipient,
            signer=signer,
            invoices=invoices,
            pay_cents=owed,
            amount=money(owed),
            due_date=day(promise.promised_date),
        )
        enqueue_debtor_email(
            session,
            key=f"reminder:promise:{promise.id}",
            context=context,
            recipient=recipient,
            signer=signer,
            debtor_id=debtor.id,
            settings=settings,
            now=now,
        )
        report.queued += 1
    for instalment, plan in instalments:
        debtor = debtors.get(plan.debtor_id)
        if debtor is None:
            continue
        recipient = recipients.get(debtor.id)
        if recipient is None:
            report.no_recipient += 1
            continue
        signer = signers[plan.agent_id]
        owed = instalment.amount_cents - instalment.paid_cents
        context = debtor_email(
            "reminder_instalment",
            settings=settings,
            debtor=debtor,
            recipient=recipient,
            signer=signer,
            invoices=[],  # a plan covers a sum, not invoices: its instalments are the terms
            pay_cents=owed,
            amount=money(owed),
            due_date=day(instalment.due_date),
            sequence=instalment.sequence,
            instalment_count=counts.get(plan.id, instalment.sequence),
            total=money(plan.total_cents),
        )
        enqueue_debtor_email(
            session,
            key=f"reminder:instalment:{instalment.id}",
            context=context,
            recipient=recipient,
            signer=signer,
            debtor_id=debtor.id,
            settings=settings,
            now=now,
        )
        report.queued += 1
    session.flush()
    return report


def _promise_invoices(session: Session, promise_ids: list[int]) -> dict[int, list[Invoice]]:
    out: dict[int, list[Invoice]] = defaultdict(list)
    if not promise_ids:
        return out
    rows = session.exec(
        select(PromiseInvoice.promise_id, Invoice)
        .join(Invoice, col(Invoice.id) == PromiseInvoice.invoice_id)
        .where(col(PromiseInvoice.promise_id).in_(promise_ids))
        .order_by(Invoice.due_date, Invoice.number)
    ).all()
    for promise_id, invoice in rows:
        out[promise_id].append(invoice)
    return out


def _instalment_counts(session: Session, plan_ids: set[int]) -> dict[int, int]:
    if not plan_ids:
        return {}
    rows = session.exec(
        select(Instalment.plan_id, sa.func.count())
        .where(col(Instalment.plan_id).in_(plan_ids))
        .group_by(Instalment.plan_id)
    ).all()
    return dict(rows)


# --- ladder emails --------------------------------------------------------------------


@dataclass(frozen=True)
class EmailRung:
    rung: LadderRung
    template: str

    @property
    def code(self) -> str:
        return f"J{self.rung.offset_days:+d}"


def email_rungs(rungs: list[LadderRung]) -> dict[int, EmailRung]:
    """Each email rung by rank with its template: preventive, first, then second reminder."""
    out: dict[int, EmailRung] = {}
    by_segment: dict[str, list[LadderRung]] = defaultdict(list)
    for rung in rungs:
        by_segment[rung.segment].append(rung)
    for own in by_segment.values():
        late = 0
        for rung in sorted(own, key=lambda r: r.rank):
            if rung.action != "email":
                continue
            if rung.offset_days <= 0:
                template = PREVENTIVE
            else:
                late += 1
                template = FIRST_REMINDER if late == 1 else SECOND_REMINDER
            out[rung.rank] = EmailRung(rung, template)
    return out


def ladder_key(debtor_id: int, rung: EmailRung, invoice_ids: list[int]) -> str:
    """``ladder:<debtor>:<rung>:<invoice ids>`` (hashed when the list is long)."""
    ids = ",".join(str(i) for i in sorted(invoice_ids))
    key = f"ladder:{debtor_id}:{rung.code}:{ids}"
    if len(key) > 120:
        key = f"ladder:{debtor_id}:{rung.code}:h{hashlib.sha256(ids.encode()).hexdigest()[:32]}"
    return key


@lru_cache(maxsize=256)
def step_template(rung: LadderRung, ladder: tuple[LadderRung, ...]) -> EmailRung:
    """The email an email step sends: preventive, then the first and later reminders."""
    return email_rungs(list(ladder)).get(rung.rank) or email_rungs([rung])[rung.rank]


def queue_step_email(
    session: Session,
    *,
    debtor_id: int,
    rung: LadderRung,
    ladder: Sequence[LadderRung],
    today: date,
    now: datetime,
    settings: Settings,
) -> OutboxEmail | None:
    """The email of a process step (``rung`` of the debtor's ``ladder``), for the debtor's
    workable invoices it concerns.

    A preventive step (on or before the due date) writes about the invoices coming due
    within its days, a later one about the overdue invoices. None when the debtor has no
    address to write to (or nothing the step concerns). Idempotent: the same step for the
    same invoices is queued once.
    """
    if rung.action != "email":
        return None
    template = step_template(rung, tuple(ladder))
    workable = [
        invoice
        for invoice in session.exec(
            select(Invoice).where(
                Invoice.debtor_id == debtor_id,
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.open_amount_cents > 0,
                sa.not_(Invoice.disputed),
                sa.or_(col(Invoice.paused_until).is_(None), Invoice.paused_until <= today),
            )
        ).all()
    ]
    if rung.offset_days <= 0:
        concerned = [
            v for v in workable if today <= v.due_date <= today + timedelta(days=-rung.offset_days)
        ]
    else:
        concerned = [v for v in workable if v.due_date < today]
    concerned = sorted(concerned or workable, key=lambda v: (v.due_date, v.number))
    if not concerned:
        return None
    recipient = choose_recipients(session, [debtor_id]).get(debtor_id)
    if recipient is None:
        return None
    debtor = session.get(Debtor, debtor_id)
    signer = _signers(session, [debtor.owner_id], settings)[debtor.owner_id]
    key = ladder_key(debtor_id, template, [v.id for v in concerned])
    existing = session.exec(select(OutboxEmail).where(OutboxEmail.idempotency_key == key)).first()
    if existing is not None:
        return existing
    previous = max((v.last_reminder_at for v in concerned if v.last_reminder_at), default=None)
    owed = sum(v.open_amount_cents for v in concerned)
    context = debtor_email(
        template.template,
        settings=settings,
        debtor=debtor,
        recipient=recipient,
        signer=signer,
        invoices=concerned,
        pay_cents=owed,
        total=money(owed),
        due_date=day(min(v.due_date for v in concerned)),
        previous_reminder_date=day(previous, ZoneInfo(settings.app.timezone)) if previous else "",
    )
    email = enqueue_debtor_email(
        session,
        key=key,
        context=context,
        recipient=recipient,
        signer=signer,
        debtor_id=debtor_id,
        settings=settings,
        now=now,
    )
    session.execute(
        sa.update(Invoice)
        .where(col(Invoice.id).in_([v.id for v in concerned]))
        .values(
            reminder_count=Invoice.reminder_count + 1,
            last_reminder_at=now,
            dunning_stage=rung.stage,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    record_event(
        session,
        type="ladder.email_queued",
        debtor_id=debtor_id,
        payload={
            "email_id": email.id,
            "step": template.code,
            "template": template.template,
            "invoices": [v.number for v in concerned],
        },
        at=now,
    )
    return email
