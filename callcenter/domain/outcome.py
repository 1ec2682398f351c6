"""Recording what a call produced: one unit of work, all or nothing.

Saving an outcome writes the call's disposition and notes, the promise, the
payment plan, the dispute (its invoices leave dunning until it is resolved),
the callback, the contact corrections, the timeline events, the recap email
(an outbox row, in the same transaction, leaving after the cancel delay) and
the debtor's new place in the queue. Any invalid field and nothing is written.
Only the agent holding the debtor may record an outcome for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.domain.audit import record_event
from callcenter.domain.brief import right_contact
from callcenter.domain.contact_rules import contact_block
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.imports.values import BadValue, cents, email, parse_date, phone
from callcenter.domain.promises import PromisePolicy, validate_payment_plan, validate_promise
from callcenter.domain.queue import refresh_debtors
from callcenter.domain.queue.eligibility import calling_window
from callcenter.domain.recap import queue_recap
from callcenter.domain.scripts import NON_PAYMENT_REASONS
from callcenter.formatting import day, moment
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    Contact,
    Debtor,
    Disposition,
    Dispute,
    DisputeInvoice,
    Instalment,
    Invoice,
    InvoiceStatus,
    OutboxEmail,
    PaymentPlan,
    Promise,
    PromiseInvoice,
    QueueItem,
    QueueState,
    User,
)

DISPUTE_CATEGORIES = {
    "qualite": "Qualité de la prestation ou du produit",
    "quantite": "Quantité livrée",
    "prix": "Prix ou remise",
    "livraison": "Livraison (retard, absence, dommage)",
    "facturation": "Erreur de facturation",
    "autre": "Autre motif",
}
MAX_NOTES = 4000
MAX_DISPUTE_DESCRIPTION = 2000
MAX_CONTACT_NAME = 120  # Contact.full_name
MAX_CONTACT_EMAIL = 254  # Contact.email
MAX_PHONE_TEXT = 30  # « +33 (0)4 65 71 38 03 » and its spaces
MAX_AMOUNT_TEXT = 20  # « 21 474 836,47 € » (MAX_CENTS) with its spaces, and some room
CALLBACK_HORIZON = timedelta(days=60)
PLAN_HORIZON = timedelta(days=365)


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


@dataclass
class OutcomeForm:
    """The outcome as typed by the agent (strings, as a form sends them)."""

    disposition: str
    reason: str = ""
    contact_id: str = ""
    notes: str = ""
    promise_amount: str = ""
    promise_date: str = ""
    promise_invoices: list[str] = field(default_factory=list)
    plan_total: str = ""
    plan_dates: list[str] = field(default_factory=list)
    plan_amounts: list[str] = field(default_factory=list)
    dispute_category: str = ""
    dispute_description: str = ""
    dispute_invoices: list[str] = field(default_factory=list)
    callback_at: str = ""
    callback_personal: bool = False
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""


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


def _optional_cents(text: str, field_name: str, errors: dict[str, str]) -> int | None:
    if not text.strip():
        return None
    if len(text.strip()) > MAX_AMOUNT_TEXT:
        errors[field_name] = f"Le montant ne doit pas dépasser {MAX_AMOUNT_TEXT} caractères."
        return None
    try:
        return cents(text)
    except BadValue as bad:
        errors[field_name] = bad.message
        return None


def _optional_date(text: str, field_name: str, errors: dict[str, str]) -> date | None:
    if not text.strip():
        return None
    try:
        return parse_date(text)
    except BadValue as bad:
        errors[field_name] = bad.message
        return None


def _invoice_ids(values: list[str], own: dict[int, Invoice], field_name, errors) -> list[int]:
    ids = []
    for value in values:
        if not str(value).isdigit() or int(value) not in own:
            errors[field_name] = "Facture inconnue pour ce débiteur."
            return []
        ids.append(int(value))
    return sorted(set(ids))


def _callback_moment(text: str, zone: ZoneInfo, now: datetime, errors) -> datetime | None:
    if not text.strip():
        errors["callback_at"] = "Indiquez la date et l'heure du rappel."
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        errors["callback_at"] = "Date et heure du rappel illisibles (JJ/MM/AAAA HH:MM)."
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    due = local.astimezone(ZoneInfo("UTC"))
    if due <= now:
        errors["callback_at"] = "Le rappel doit être prévu dans le futur."
    elif due > now + CALLBACK_HORIZON:
        errors["callback_at"] = "Le rappel doit être prévu dans les 60 jours."
    return due


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
    zone = ZoneInfo(settings.app.timezone)
    today = now.astimezone(zone).date()
    debtor = session.get(Debtor, debtor_id)
    block = contact_block(debtor)
    if block is not None:
        raise DomainError(block.reason)
    call = _own_call(session, agent_id=agent_id, debtor_id=debtor_id, call_id=call_id)
    agent = session.get(User, agent_id)
    errors: dict[str, str] = {}

    disposition = session.exec(
        select(Disposition).where(Disposition.code == form.disposition, Disposition.active)
    ).first()
    if disposition is None:
        raise ValidationFailed({"disposition": "Choisissez l'issue de l'appel."})
    reason = form.reason.strip()
    if reason and reason not in NON_PAYMENT_REASONS:
        errors["reason"] = "Motif de retard inconnu."
    notes = form.notes.strip()
    if len(notes) > MAX_NOTES:
        errors["notes"] = f"Les notes ne doivent pas dépasser {MAX_NOTES} caractères."

    contacts = {
        c.id: c for c in session.exec(select(Contact).where(Contact.debtor_id == debtor_id)).all()
    }
    contact = None
    if form.contact_id:
        contact = contacts.get(int(form.contact_id)) if form.contact_id.isdigit() else None
        if contact is None:
            errors["contact_id"] = "Contact inconnu pour ce débiteur."
    else:
        contact = right_contact(list(contacts.values()))

    invoices = {
        i.id: i
        for i in session.exec(
            select(Invoice).where(
                Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN
            )
        ).all()
    }
    open_undisputed = sum(i.open_amount_cents for i in invoices.values() if not i.disputed)
    policy = PromisePolicy(
        horizon_days=settings.promises.horizon_days,
        grace_days=settings.promises.grace_days,
        tolerance_cents=settings.promises.tolerance_cents,
        max_instalments=settings.promises.max_instalments,
    )

    promise_amount = promise_date = None
    promise_invoice_ids: list[int] = []
    if disposition.is_promise:
        promise_amount = _optional_cents(form.promise_amount, "promise_amount", errors)
        promise_date = _optional_date(form.promise_date, "promise_date", errors)
        promise_invoice_ids = _invoice_ids(
            form.promise_invoices, invoices, "promise_invoices", errors
        ) or sorted(
            # none ticked: the undisputed balance the agent sees, paused invoices left out
            i.id
            for i in invoices.values()
            if not i.disputed and (i.paused_until is None or i.paused_until <= today)
        )
        balance = sum(invoices[i].open_amount_cents for i in promise_invoice_ids)
        for name, message in validate_promise(
            amount_cents=promise_amount,
            promised_date=promise_date,
            open_balance_cents=balance,
            today=today,
            policy=policy,
        ).items():
            errors.setdefault(name, message)

    plan_total = None
    plan_rows: list[tuple[date | None, int | None]] = []
    if disposition.is_payment_plan:
        plan_total = _optional_cents(form.plan_total, "plan_total", errors)
        for index, (due_text, amount_text) in enumerate(
            zip(form.plan_dates, form.plan_amounts, strict=False), start=1
        ):
            if not due_text.strip() and not amount_text.strip():
                continue
            plan_rows.append(
                (
                    _optional_date(due_text, f"instalment_{index}", errors),
                    _optional_cents(amount_text, f"instalment_{index}", errors),
                )
            )
        if plan_total is None and "plan_total" not in errors:
            errors["plan_total"] = "Indiquez le montant total de l'échéancier."
        elif plan_total is not None:
            for name, message in validate_payment_plan(
                total_cents=plan_total,
                instalments=plan_rows,
                open_balance_cents=open_undisputed,
                today=today,
                policy=policy,
            ).items():
                errors.setdefault(name, message)
        latest = today + PLAN_HORIZON
        for index, (due_on, _amount) in enumerate(plan_rows, start=1):
            if due_on is not None and due_on > latest:
                errors.setdefault(
                    f"instalment_{index}",
                    f"Échéance {index} : la date doit tomber au plus tard le {day(latest)} "
                    "(un an).",
                )

    dispute_invoice_ids: list[int] = []
    if disposition.is_dispute:
        if form.dispute_category not in DISPUTE_CATEGORIES:
            errors["dispute_category"] = "Choisissez le motif du litige."
        if not form.dispute_description.strip():
            errors["dispute_description"] = "Décrivez ce que le client conteste."
        elif len(form.dispute_description.strip()) > MAX_DISPUTE_DESCRIPTION:
            errors["dispute_description"] = (
                f"La description ne doit pas dépasser {MAX_DISPUTE_DESCRIPTION} caractères."
            )
        dispute_invoice_ids = _invoice_ids(
            form.dispute_invoices, invoices, "dispute_invoices", errors
        )
        if not dispute_invoice_ids and "dispute_invoices" not in errors:
            errors["dispute_invoices"] = "Cochez au moins une facture contestée."
        already = [invoices[i].number for i in dispute_invoice_ids if invoices[i].disputed]
        if already:
            errors["dispute_invoices"] = (
                f"Déjà en litige : {', '.join(already)}. Décochez les factures déjà contestées."
            )

    callback_due = None
    if disposition.is_callback:
        callback_due = _callback_moment(form.callback_at, zone, now, errors)
        if callback_due is not None and "callback_at" not in errors:
            window = calling_window(debtor.time_zone, callback_due, settings.queue)
            if not window.open:
                reopening = (
                    f" ; prochaine ouverture le {moment(window.reopens_at, zone)}"
                    if window.reopens_at
                    else ""
                )
                errors["callback_at"] = (
                    f"{window.reason}{reopening}. Choisissez un moment où le débiteur "
                    "peut être appelé."
                )

    corrections: dict[str, str] = {}
    if len(form.contact_phone.strip()) > MAX_PHONE_TEXT:
        errors["contact_phone"] = f"Le numéro ne doit pas dépasser {MAX_PHONE_TEXT} caractères."
    elif form.contact_phone.strip():
        try:
            corrections["phone"] = phone(form.contact_phone)
        except BadValue as bad:
            errors["contact_phone"] = bad.message
    if len(form.contact_email.strip()) > MAX_CONTACT_EMAIL:
        errors["contact_email"] = (
            f"L'adresse e-mail ne doit pas dépasser {MAX_CONTACT_EMAIL} caractères."
        )
    elif form.contact_email.strip():
        try:
            corrections["email"] = email(form.contact_email)
        except BadValue as bad:
            errors["contact_email"] = bad.message
    if len(form.contact_name.strip()) > MAX_CONTACT_NAME:
        errors["contact_name"] = f"Le nom ne doit pas dépasser {MAX_CONTACT_NAME} caractères."
    elif form.contact_name.strip():
        corrections["full_name"] = form.contact_name.strip()
    if corrections and contact is None:
        errors["contact_id"] = "Choisissez le contact à corriger."

    if errors:
        raise ValidationFailed(errors)

    if call is None:
        call = Call(
            debtor_id=debtor_id,
            agent_id=agent_id,
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
    call.notes = notes
    call.wrap_up_ended_at = now
    if disposition.human_answered and call.answered_at is None:
        call.answered_at = now
    session.flush()

    if corrections:
        for name, value in corrections.items():
            setattr(contact, name, value)
        record_event(
            session,
            type="contact.updated",
            actor_id=agent_id,
            debtor_id=debtor_id,
            payload={"contact_id": contact.id, "fields": sorted(corrections)},
            at=now,
        )

    promise = None
    if disposition.is_promise:
        promise = Promise(
            debtor_id=debtor_id,
            call_id=call.id,
            agent_id=agent_id,
            amount_cents=promise_amount,
            promised_date=promise_date,
            grace_days=policy.grace_days,
            tolerance_cents=policy.tolerance_cents,
            created_at=now,
        )
        session.add(promise)
        session.flush()
        for invoice_id in promise_invoice_ids:
            session.add(PromiseInvoice(promise_id=promise.id, invoice_id=invoice_id))
        record_event(
            session,
            type="promise.created",
            actor_id=agent_id,
            debtor_id=debtor_id,
            payload={
                "id": promise.id,
                "amount_cents": promise_amount,
                "due_on": promise_date.isoformat(),
                "invoice_ids": promise_invoice_ids,
            },
            at=now,
        )

    plan = None
    if disposition.is_payment_plan:
        plan = PaymentPlan(
            debtor_id=debtor_id,
            call_id=call.id,
            agent_id=agent_id,
            total_cents=plan_total,
            created_at=now,
        )
        session.add(plan)
        session.flush()
        for sequence, (due_on, amount) in enumerate(plan_rows, start=1):
            session.add(
                Instalment(plan_id=plan.id, sequence=sequence, due_date=due_on, amount_cents=amount)
            )
        record_event(
            session,
            type="payment_plan.created",
            actor_id=agent_id,
            debtor_id=debtor_id,
            payload={"id": plan.id, "total_cents": plan_total, "instalments": len(plan_rows)},
            at=now,
        )

    dispute = None
    if disposition.is_dispute:
        dispute = Dispute(
            debtor_id=debtor_id,
            call_id=call.id,
            opened_by_id=agent_id,
            category=form.dispute_category,
            description=form.dispute_description.strip()[:2000],
            created_at=now,
        )
        session.add(dispute)
        session.flush()
        for invoice_id in dispute_invoice_ids:
            session.add(DisputeInvoice(dispute_id=dispute.id, invoice_id=invoice_id))
            invoices[invoice_id].disputed = True
            invoices[invoice_id].updated_at = now
        record_event(
            session,
            type="dispute.opened",
            actor_id=agent_id,
            debtor_id=debtor_id,
            payload={
                "id": dispute.id,
                "category": dispute.category,
                "category_label": DISPUTE_CATEGORIES[dispute.category],
                "description": dispute.description,
                "invoice_ids": dispute_invoice_ids,
            },
            at=now,
        )

    for pending in session.exec(
        select(Callback).where(
            Callback.debtor_id == debtor_id,
            Callback.status == CallbackStatus.PENDING,
            Callback.due_at <= now + timedelta(hours=1),
        )
    ).all():
        pending.status = CallbackStatus.DONE

    callback = None
    if disposition.is_callback:
        callback = Callback(
            debtor_id=debtor_id,
            call_id=call.id,
            agent_id=agent_id if form.callback_personal else None,
            personal=form.callback_personal,
            due_at=callback_due,
            reassign_after=callback_due
            + timedelta(minutes=settings.queue.callback_reassign_minutes),
            note=notes[:500],
            created_at=now,
        )
        session.add(callback)
        session.flush()
        record_event(
            session,
            type="callback.scheduled",
            actor_id=agent_id,
            debtor_id=debtor_id,
            payload={
                "id": callback.id,
                "due_at": callback_due.isoformat(),
                "when_label": moment(callback_due, zone),
                "personal": form.callback_personal,
            },
            at=now,
        )

    if disposition.is_do_not_call and not debtor.do_not_call:
        debtor.do_not_call = True
        debtor.updated_at = now
        record_event(
            session,
            type="debtor.do_not_call",
            actor_id=agent_id,
            debtor_id=debtor_id,
            payload={"reason": notes or disposition.label},
            at=now,
        )

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

    outbox = _queue_recap(
        session,
        settings=settings,
        disposition=disposition,
        debtor=debtor,
        contact=contact,
        agent=agent,
        call=call,
        promise=promise,
        plan=plan,
        dispute=dispute,
        notes=notes,
        now=now,
    )

    session.exec(
        sa.update(QueueItem)
        .where(col(QueueItem.debtor_id) == debtor_id, QueueItem.claimed_by_id == agent_id)
        .values(state=QueueState.READY, claimed_by_id=None, claimed_at=None, lease_until=None)
    )
    refresh_debtors(session, debtor_ids=[debtor_id], now=now, settings=settings)
    session.flush()
    no_recap = None if outbox else why_no_recap(disposition, contact, settings)
    return OutcomeResult(call, disposition, promise, plan, dispute, callback, outbox, no_recap)


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
    session: Session,
    *,
    settings: Settings,
    disposition: Disposition,
    debtor: Debtor,
    contact: Contact | None,
    agent: User,
    call: Call,
    promise: Promise | None,
    plan: PaymentPlan | None,
    dispute: Dispute | None,
    notes: str,
    now: datetime,
) -> OutboxEmail | None:
    """Hand the recap to the outbox: none without a template, an address, or consent."""
    return queue_recap(
        session,
        template=disposition.recap_template,
        settings=settings,
        debtor=debtor,
        contact=contact,
        agent=agent,
        call_id=call.id,
        now=now,
        promise=promise,
        plan=plan,
        dispute=dispute,
        dispute_label=DISPUTE_CATEGORIES.get(dispute.category, "") if dispute else "",
        notes=notes,
    )
