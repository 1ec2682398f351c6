"""The recap email after a call: what was agreed, in writing, chosen by the disposition.

The seeds insist on a written trace after every call: the new terms and what both sides
agreed, exactly. A promise recap lists the invoices the promise covers (its
``PromiseInvoice`` rows) and closes on the promised amount (« Montant promis » when it
covers them only in part); a payment-plan recap lists its instalments and their total (the
plan's total); a dispute recap names the disputed invoices (its ``DisputeInvoice`` rows).
Invoice resend, already paid and attempted call list the debtor's workable invoices (open,
undisputed, not paused). One template per kind, plain text and HTML, composed like every
debtor email (``debtor_mail``), replying to the agent, leaving after the cancel delay.
Wrong number and do-not-call produce no email.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.domain.addressing import addressed
from callcenter.domain.debtor_mail import (
    DebtorEmail,
    MailInstalment,
    Recipient,
    debtor_email,
    enqueue_debtor_email,
    signer_for,
)
from callcenter.formatting import day, money
from callcenter.models import (
    Contact,
    Debtor,
    Dispute,
    DisputeInvoice,
    Instalment,
    Invoice,
    InvoiceStatus,
    OutboxEmail,
    PaymentPlan,
    Promise,
    PromiseInvoice,
    User,
)


def workable_invoices(session: Session, *, debtor_id: int, today: date) -> list[Invoice]:
    """The debtor's open invoices neither disputed nor paused today, by due date."""
    rows = session.exec(
        select(Invoice)
        .where(
            Invoice.debtor_id == debtor_id,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.open_amount_cents > 0,
            col(Invoice.disputed).is_(False),
        )
        .order_by(Invoice.due_date, Invoice.number)
    ).all()
    return [i for i in rows if i.paused_until is None or i.paused_until <= today]


def _linked_invoices(session: Session, link, owner, owner_id: int) -> list[Invoice]:
    """The invoices a promise or a dispute names through its link table, by due date."""
    return list(
        session.exec(
            select(Invoice)
            .join(link, col(link.invoice_id) == Invoice.id)
            .where(owner == owner_id)
            .order_by(Invoice.due_date, Invoice.number)
        ).all()
    )


def promise_invoices(session: Session, promise_id: int) -> list[Invoice]:
    """The invoices a promise covers, by due date."""
    return _linked_invoices(session, PromiseInvoice, PromiseInvoice.promise_id, promise_id)


def dispute_invoices(session: Session, dispute_id: int) -> list[Invoice]:
    """The invoices a dispute names, by due date."""
    return _linked_invoices(session, DisputeInvoice, DisputeInvoice.dispute_id, dispute_id)


def _instalments(session: Session, plan_id: int) -> list[Instalment]:
    return list(
        session.exec(
            select(Instalment).where(Instalment.plan_id == plan_id).order_by(Instalment.sequence)
        ).all()
    )


def recap_email(
    session: Session,
    *,
    template: str,
    settings: Settings,
    debtor: Debtor,
    recipient: Recipient,
    agent: User,
    now: datetime,
    promise: Promise | None = None,
    plan: PaymentPlan | None = None,
    dispute: Dispute | None = None,
    dispute_label: str = "",
    notes: str = "",
) -> DebtorEmail:
    """The recap's context, read from what was just written (promise, plan, dispute rows)."""
    zone = ZoneInfo(settings.app.timezone)
    common = dict(
        settings=settings,
        debtor=debtor,
        recipient=recipient,
        signer=signer_for(agent.full_name, agent.email),
        call_date=day(now, zone),
    )
    if template == "promise" and promise is not None:
        covered = promise_invoices(session, promise.id)
        open_cents = sum(i.open_amount_cents for i in covered)
        return debtor_email(
            template,
            invoices=covered,
            pay_cents=promise.amount_cents,
            amount=money(promise.amount_cents),
            due_date=day(promise.promised_date),
            total=money(promise.amount_cents),
            partial=promise.amount_cents < open_cents,
            notes=notes,
            **common,
        )
    if template == "payment_plan" and plan is not None:
        instalments = _instalments(session, plan.id)
        return debtor_email(
            template,
            invoices=[],
            pay_cents=instalments[0].amount_cents if instalments else None,
            amount=money(instalments[0].amount_cents) if instalments else "",
            due_date=day(instalments[0].due_date) if instalments else "",
            total=money(plan.total_cents),
            instalments=[
                MailInstalment(i.sequence, day(i.due_date), money(i.amount_cents))
                for i in instalments
            ],
            **common,
        )
    if template == "dispute" and dispute is not None:
        return debtor_email(
            template,
            invoices=dispute_invoices(session, dispute.id),
            reference_invoices=[],  # the disputed invoices are not to be paid meanwhile
            dispute_category=dispute_label,
            dispute_description=dispute.description,
            dispute_handler=settings.mail.dispute_handler,
            **common,
        )
    today = now.astimezone(zone).date()
    workable = workable_invoices(session, debtor_id=debtor.id, today=today)
    listed = [i for i in workable if i.due_date < today] or workable
    owed = sum(i.open_amount_cents for i in listed)
    return debtor_email(
        template,
        invoices=listed,
        pay_cents=None if template == "already_paid" else owed,
        total=money(owed),
        **common,
    )


def queue_recap(
    session: Session,
    *,
    template: str | None,
    settings: Settings,
    debtor: Debtor,
    contact: Contact | None,
    agent: User,
    call_id: int,
    now: datetime,
    promise: Promise | None = None,
    plan: PaymentPlan | None = None,
    dispute: Dispute | None = None,
    dispute_label: str = "",
    notes: str = "",
) -> OutboxEmail | None:
    """Hand the recap to the outbox: none without a template, an address, or consent."""
    if not template or template == "attempt" and not settings.mail.recap_on_attempt:
        return None
    if contact is None or not contact.email or contact.email_opt_out:
        return None
    recipient = Recipient(contact.id, contact.full_name, contact.email.strip(), addressed(contact))
    context = recap_email(
        session,
        template=template,
        settings=settings,
        debtor=debtor,
        recipient=recipient,
        agent=agent,
        now=now,
        promise=promise,
        plan=plan,
        dispute=dispute,
        dispute_label=dispute_label,
        notes=notes if template == "promise" else "",
    )
    return enqueue_debtor_email(
        session,
        key=f"recap:call:{call_id}",
        context=context,
        recipient=recipient,
        signer=signer_for(agent.full_name, agent.email),
        debtor_id=debtor.id,
        settings=settings,
        now=now,
        call_id=call_id,
        send_after=now + timedelta(minutes=settings.mail.recap_delay_minutes),
    )
