"""Recording what a call produced: one unit of work, all or nothing.

Saving an outcome writes the call's disposition and notes, the contact corrections, what the
disposition's kinds do (``outcome_kinds``: the promise, the payment plan, the dispute — its
invoices leave dunning until it is resolved —, the callback, the opposition), the timeline
events, the recap email (an outbox row, in the same transaction, leaving after the cancel
delay) and the debtor's new place in the queue. Any invalid field and nothing is written.
Only the agent holding the debtor may record an outcome for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.domain.audit import record_event
from callcenter.domain.brief import right_contact
from callcenter.domain.contact_rules import contact_block
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.imports.values import BadValue, email, phone
from callcenter.domain.outcome_kinds import (
    DISPUTE_CATEGORIES,
    Created,
    OutcomeContext,
    OutcomeForm,
    handlers_for,
)
from callcenter.domain.outcome_kinds.base import (
    CALLBACK_HORIZON,
    MAX_AMOUNT_TEXT,
    MAX_CONTACT_EMAIL,
    MAX_CONTACT_NAME,
    MAX_DISPUTE_DESCRIPTION,
    MAX_NOTES,
    MAX_PHONE_TEXT,
    PLAN_HORIZON,
)
from callcenter.domain.queue import refresh_debtors
from callcenter.domain.recap import queue_recap
from callcenter.domain.scripts import NON_PAYMENT_REASONS
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    Contact,
    Debtor,
    Disposition,
    Dispute,
    Invoice,
    InvoiceStatus,
    OutboxEmail,
    PaymentPlan,
    Promise,
    QueueItem,
    QueueState,
    User,
)

__all__ = [
    "DISPUTE_CATEGORIES",
    "MAX_NOTES",
    "OutcomeForm",
    "OutcomeLimits",
    "OutcomeResult",
    "outcome_limits",
    "record_outcome",
    "why_no_recap",
]


@dataclass(frozen=True)
class OutcomeLimits:
    """Every bound of the outcome form, for the inputs' ``min``/``max``/``maxlength``: the same
    numbers ``record_outcome`` refuses past. Dates as ISO text, the callback in local time."""

    promise_date_min: str
    promise_date_max: str
    plan_date_min: str
    plan_date_max: str
    callback_min: str
    callback_max: str
    notes: int = MAX_NOTES
    dispute_description: int = MAX_DISPUTE_DESCRIPTION
    contact_name: int = MAX_CONTACT_NAME
    contact_email: int = MAX_CONTACT_EMAIL
    contact_phone: int = MAX_PHONE_TEXT
    amount_text: int = MAX_AMOUNT_TEXT


def outcome_limits(*, now: datetime, settings: Settings) -> OutcomeLimits:
    zone = ZoneInfo(settings.app.timezone)
    local = now.astimezone(zone)
    today = local.date()
    return OutcomeLimits(
        promise_date_min=today.isoformat(),
        promise_date_max=(today + timedelta(days=settings.promises.horizon_days)).isoformat(),
        plan_date_min=today.isoformat(),
        plan_date_max=(today + PLAN_HORIZON).isoformat(),
        callback_min=local.strftime("%Y-%m-%dT%H:%M"),
        callback_max=(local + CALLBACK_HORIZON).strftime("%Y-%m-%dT%H:%M"),
    )


@dataclass(frozen=True)
class OutcomeResult:
    call: Call
    disposition: Disposition
    promise: Promise | None
    plan: PaymentPlan | None
    dispute: Dispute | None
    callback: Callback | None
    email: OutboxEmail | None
    no_recap: str | None = None


def _held_item(session: Session, *, agent_id: int, debtor_id: int) -> QueueItem:
    item = session.exec(
        select(QueueItem).where(
            QueueItem.debtor_id == debtor_id,
            QueueItem.claimed_by_id == agent_id,
            QueueItem.state == QueueState.CLAIMED,
        )
    ).first()
    if item is None:
        raise DomainError(
            "Ce débiteur ne vous est pas réservé : l'issue de l'appel ne peut pas être "
            "enregistrée. Reprenez le dossier depuis la file."
        )
    return item


def _own_call(
    session: Session, *, agent_id: int, debtor_id: int, call_id: int | None
) -> Call | None:
    """The call whose outcome is recorded: this agent's, to this debtor, not yet recorded."""
    if call_id is None:
        return None
    call = session.get(Call, call_id)
    if call is None or call.agent_id != agent_id:
        raise DomainError(
            "Cet appel n'est pas l'un des vôtres : vous ne pouvez pas en saisir l'issue."
        )
    if call.debtor_id != debtor_id:
        raise DomainError("Cet appel ne concerne pas ce débiteur.")
    if call.disposition_code is not None:
        raise DomainError(
            "L'issue de cet appel est déjà enregistrée : elle ne peut pas être remplacée."
        )
    return call


def record_outcome(
    session: Session,
    *,
    agent_id: int,
    debtor_id: int,
    form: OutcomeForm,
    now: datetime,
    settings: Settings,
    call_id: int | None = None,
) -> OutcomeResult:
    """Record the outcome of the agent's call (or of a call without a row: a manual one).

    Refused when the agent does not hold the debtor, when the call is another agent's, another
    debtor's or already has its outcome, and when the debtor may no longer be contacted (an
    opposition or a collective procedure recorded during the call: no promise, no recap).
    """
    _held_item(session, agent_id=agent_id, debtor_id=debtor_id)
    debtor = session.get(Debtor, debtor_id)
    block = contact_block(debtor)
    if block is not None:
        raise DomainError(block.reason)
    call = _own_call(session, agent_id=agent_id, debtor_id=debtor_id, call_id=call_id)
    disposition = session.exec(
        select(Disposition).where(Disposition.code == form.disposition, Disposition.active)
    ).first()
    if disposition is None:
        raise ValidationFailed({"disposition": "Choisissez l'issue de l'appel."})

    errors: dict[str, str] = {}
    reason, notes = _reason_and_notes(form, errors)
    contact, corrections = _contact_and_corrections(session, form, debtor_id, errors)
    context = OutcomeContext(
        session=session,
        form=form,
        disposition=disposition,
        debtor=debtor,
        agent_id=agent_id,
        contact=contact,
        invoices=_open_invoices(session, debtor_id),
        notes=notes,
        now=now,
        settings=settings,
    )
    checked = []
    for handler in handlers_for(disposition):
        handler_errors, value = handler.check(context)
        for name, message in handler_errors.items():
            errors.setdefault(name, message)
        checked.append((handler, value))
    if errors:
        raise ValidationFailed(errors)

    call = _write_call(session, call, context, reason)
    _correct_contact(context, corrections)
    created = Created()
    for handler, value in checked:
        handler.apply(context, call, value, created)
    _close_due_callbacks(session, debtor_id, now)
    record_event(
        session,
        type="call.outcome",
        actor_id=agent_id,
        debtor_id=debtor_id,
        payload={
            "call_id": call.id,
            "disposition": disposition.code,
            "disposition_label": disposition.label,
            "reason": reason or None,
            "reason_label": NON_PAYMENT_REASONS.get(reason),
            "contact_name": contact.full_name if contact else None,
            "notes": notes,
        },
        at=now,
    )
    outbox = _queue_recap(session, context, call, created)
    session.exec(
        sa.update(QueueItem)
        .where(col(QueueItem.debtor_id) == debtor_id, QueueItem.claimed_by_id == agent_id)
        .values(state=QueueState.READY, claimed_by_id=None, claimed_at=None, lease_until=None)
    )
    refresh_debtors(session, debtor_ids=[debtor_id], now=now, settings=settings)
    session.flush()
    no_recap = None if outbox else why_no_recap(disposition, contact, settings)
    return OutcomeResult(
        call,
        disposition,
        created.promise,
        created.plan,
        created.dispute,
        created.callback,
        outbox,
        no_recap,
    )


def _reason_and_notes(form: OutcomeForm, errors: dict[str, str]) -> tuple[str, str]:
    reason = form.reason.strip()
    if reason and reason not in NON_PAYMENT_REASONS:
        errors["reason"] = "Motif de retard inconnu."
    notes = form.notes.strip()
    if len(notes) > MAX_NOTES:
        errors["notes"] = f"Les notes ne doivent pas dépasser {MAX_NOTES} caractères."
    return reason, notes


def _contact_and_corrections(
    session: Session, form: OutcomeForm, debtor_id: int, errors: dict[str, str]
) -> tuple[Contact | None, dict[str, str]]:
    """The contact spoken to (ticked, else the right one) and the corrections typed."""
    contacts = {
        c.id: c for c in session.exec(select(Contact).where(Contact.debtor_id == debtor_id)).all()
    }
    if form.contact_id:
        contact = contacts.get(int(form.contact_id)) if form.contact_id.isdigit() else None
        if contact is None:
            errors["contact_id"] = "Contact inconnu pour ce débiteur."
    else:
        contact = right_contact(list(contacts.values()))
    corrections: dict[str, str] = {}
    typed = {
        "contact_phone": (form.contact_phone.strip(), MAX_PHONE_TEXT, "phone", phone),
        "contact_email": (form.contact_email.strip(), MAX_CONTACT_EMAIL, "email", email),
        "contact_name": (form.contact_name.strip(), MAX_CONTACT_NAME, "full_name", str.strip),
    }
    too_long = {
        "contact_phone": f"Le numéro ne doit pas dépasser {MAX_PHONE_TEXT} caractères.",
        "contact_email": f"L'adresse e-mail ne doit pas dépasser {MAX_CONTACT_EMAIL} caractères.",
        "contact_name": f"Le nom ne doit pas dépasser {MAX_CONTACT_NAME} caractères.",
    }
    for field_name, (text, limit, attribute, parse) in typed.items():
        if len(text) > limit:
            errors[field_name] = too_long[field_name]
        elif text:
            try:
                corrections[attribute] = parse(text)
            except BadValue as bad:
                errors[field_name] = bad.message
    if corrections and contact is None:
        errors["contact_id"] = "Choisissez le contact à corriger."
    return contact, corrections


def _open_invoices(session: Session, debtor_id: int) -> dict[int, Invoice]:
    return {
        i.id: i
        for i in session.exec(
            select(Invoice).where(
                Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN
            )
        ).all()
    }


def _write_call(session: Session, call: Call | None, context: OutcomeContext, reason: str):
    """The call row gets its outcome (a manual call without a row gets one)."""
    now, contact, disposition = context.now, context.contact, context.disposition
    if call is None:
        call = Call(
            debtor_id=context.debtor.id,
            agent_id=context.agent_id,
            provider="manual",
            started_at=now,
            ended_at=now,
            created_at=now,
        )
        session.add(call)
    call.contact_id = contact.id if contact else None
    call.to_number = call.to_number or (contact.phone or contact.mobile if contact else None)
    call.disposition_code = disposition.code
    call.non_payment_reason = reason or None
    call.notes = context.notes
    call.wrap_up_ended_at = now
    if disposition.human_answered and call.answered_at is None:
        call.answered_at = now
    session.flush()
    return call


def _correct_contact(context: OutcomeContext, corrections: dict[str, str]) -> None:
    if not corrections:
        return
    for name, value in corrections.items():
        setattr(context.contact, name, value)
    record_event(
        context.session,
        type="contact.updated",
        actor_id=context.agent_id,
        debtor_id=context.debtor.id,
        payload={"contact_id": context.contact.id, "fields": sorted(corrections)},
        at=context.now,
    )


def _close_due_callbacks(session: Session, debtor_id: int, now: datetime) -> None:
    """A callback due within the hour is the call just made: done."""
    for pending in session.exec(
        select(Callback).where(
            Callback.debtor_id == debtor_id,
            Callback.status == CallbackStatus.PENDING,
            Callback.due_at <= now + timedelta(hours=1),
        )
    ).all():
        pending.status = CallbackStatus.DONE


def why_no_recap(disposition: Disposition, contact: Contact | None, settings: Settings) -> str:
    """Why no recap leaves after this outcome, told so the agent knows whether to act
    (note an address, call back) or whether nothing was due."""
    template = disposition.recap_template
    if not template:
        return "Pas d'e-mail récapitulatif pour cette issue."
    if template == "attempt" and not settings.mail.recap_on_attempt:
        return "Pas d'e-mail « nous avons tenté de vous joindre » : envoi désactivé."
    if contact is None:
        return "Pas d'e-mail récapitulatif : aucun contact n'est enregistré pour ce débiteur."
    if not contact.email:
        return f"Pas d'e-mail récapitulatif : {contact.full_name} n'a pas d'adresse e-mail."
    return f"Pas d'e-mail récapitulatif : {contact.full_name} a refusé les e-mails."


def _queue_recap(
    session: Session, context: OutcomeContext, call: Call, created: Created
) -> OutboxEmail | None:
    """Hand the recap to the outbox: none without a template, an address, or consent."""
    dispute = created.dispute
    return queue_recap(
        session,
        template=context.disposition.recap_template,
        settings=context.settings,
        debtor=context.debtor,
        contact=context.contact,
        agent=session.get(User, context.agent_id),
        call_id=call.id,
        now=context.now,
        promise=created.promise,
        plan=created.plan,
        dispute=dispute,
        dispute_label=DISPUTE_CATEGORIES.get(dispute.category, "") if dispute else "",
        notes=context.notes,
    )
