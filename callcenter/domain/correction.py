"""Correcting a saved outcome: the same agent, within the correction window, audited.

A correction undoes what the first save left pending (promise, plan, dispute, callback, the
recap still waiting in the outbox) and records the call's outcome again through
``record_outcome``, so the corrected outcome passes exactly the same checks. One event
``call.corrected`` keeps the outcome before and after. Nothing is written when refused.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError
from callcenter.domain.outbox import cancel_email
from callcenter.domain.outcome import OutcomeForm, OutcomeResult, record_outcome
from callcenter.formatting import moment
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    Disposition,
    Dispute,
    DisputeInvoice,
    DisputeStatus,
    EmailStatus,
    Invoice,
    OutboxEmail,
    PaymentPlan,
    Promise,
    PromiseStatus,
    QueueItem,
    QueueState,
)


def correction_deadline(call: Call, settings: Settings) -> datetime | None:
    """Until when the call's outcome may be corrected (None: no outcome saved yet)."""
    if call.disposition_code is None or call.wrap_up_ended_at is None:
        return None
    return call.wrap_up_ended_at + timedelta(minutes=settings.workspace.correction_minutes)


def correctable_call(
    session: Session, *, agent_id: int, call_id: int, now: datetime, settings: Settings
) -> Call:
    """The call whose outcome this agent may still correct, or a French refusal."""
    call = session.get(Call, call_id)
    if call is None:
        raise DomainError("Appel introuvable.")
    if call.agent_id != agent_id:
        raise DomainError(
            "Seul l'agent qui a saisi cette issue peut la corriger : signalez l'erreur à votre "
            "superviseur."
        )
    deadline = correction_deadline(call, settings)
    if deadline is None:
        raise DomainError("Cet appel n'a pas encore d'issue enregistrée : rien à corriger.")
    if now > deadline:
        minutes = settings.workspace.correction_minutes
        raise DomainError(
            f"Le délai de correction ({minutes} minutes) est passé depuis le "
            f"{moment(deadline, ZoneInfo(settings.app.timezone))} : cette issue ne peut plus être "
            "modifiée. Signalez l'erreur à votre superviseur."
        )
    disposition = session.exec(
        select(Disposition).where(Disposition.code == call.disposition_code)
    ).first()
    if disposition is not None and disposition.is_do_not_call:
        raise DomainError(
            "Une opposition aux appels ne se corrige pas ici : demandez à votre superviseur "
            "de la lever."
        )
    return call


def _before(session: Session, call: Call) -> dict[str, Any]:
    """What the first save recorded, for the audit event."""
    disposition = session.exec(
        select(Disposition).where(Disposition.code == call.disposition_code)
    ).first()
    promise = session.exec(select(Promise).where(Promise.call_id == call.id)).first()
    plan = session.exec(select(PaymentPlan).where(PaymentPlan.call_id == call.id)).first()
    callback = session.exec(select(Callback).where(Callback.call_id == call.id)).first()
    return {
        "disposition": call.disposition_code,
        "disposition_label": disposition.label if disposition else call.disposition_code,
        "reason": call.non_payment_reason,
        "notes": call.notes or "",
        "promise_amount_cents": promise.amount_cents if promise else None,
        "promise_due_on": promise.promised_date.isoformat() if promise else None,
        "plan_total_cents": plan.total_cents if plan else None,
        "callback_due_at": callback.due_at.isoformat() if callback else None,
    }


def _after(result: OutcomeResult) -> dict[str, Any]:
    return {
        "disposition": result.disposition.code,
        "disposition_label": result.disposition.label,
        "reason": result.call.non_payment_reason,
        "notes": result.call.notes or "",
        "promise_amount_cents": result.promise.amount_cents if result.promise else None,
        "promise_due_on": result.promise.promised_date.isoformat() if result.promise else None,
        "plan_total_cents": result.plan.total_cents if result.plan else None,
        "callback_due_at": result.callback.due_at.isoformat() if result.callback else None,
    }


def _undo_commitments(session: Session, *, call: Call, now: datetime) -> None:
    """Withdraw what the first save left pending; refused once a payment settled any of it."""
    for promise in session.exec(select(Promise).where(Promise.call_id == call.id)).all():
        if promise.status != PromiseStatus.PENDING:
            raise DomainError(
                "La promesse de cet appel a déjà été rapprochée d'un paiement : l'issue ne "
                "peut plus être corrigée."
            )
        promise.status = PromiseStatus.CANCELLED
    for plan in session.exec(select(PaymentPlan).where(PaymentPlan.call_id == call.id)).all():
        if plan.status != PromiseStatus.PENDING:
            raise DomainError(
                "L'échéancier de cet appel a déjà été suivi d'un paiement : l'issue ne peut "
                "plus être corrigée."
            )
        plan.status = PromiseStatus.CANCELLED
    for dispute in session.exec(
        select(Dispute).where(Dispute.call_id == call.id, Dispute.status == DisputeStatus.OPEN)
    ).all():
        dispute.status = DisputeStatus.REJECTED
        dispute.resolution = "Issue de l'appel corrigée par l'agent."
        dispute.resolved_at = now
        invoice_ids = session.exec(
            select(DisputeInvoice.invoice_id).where(DisputeInvoice.dispute_id == dispute.id)
        ).all()
        still_disputed = set(
            session.exec(
                select(DisputeInvoice.invoice_id)
                .join(Dispute, Dispute.id == DisputeInvoice.dispute_id)
                .where(
                    Dispute.status == DisputeStatus.OPEN,
                    Dispute.id != dispute.id,
                    col(DisputeInvoice.invoice_id).in_(invoice_ids),
                )
            ).all()
        )
        for invoice_id in invoice_ids:
            invoice = session.get(Invoice, invoice_id)
            if invoice is not None and invoice_id not in still_disputed:
                invoice.disputed = False
                invoice.updated_at = now
    for callback in session.exec(
        select(Callback).where(
            Callback.call_id == call.id, Callback.status == CallbackStatus.PENDING
        )
    ).all():
        callback.status = CallbackStatus.CANCELLED


def _withdraw_recap(session: Session, *, call: Call, agent_id: int, now: datetime) -> bool:
    """Cancel the call's recap if it is still waiting; True when it has already left.

    A withdrawn recap gives its idempotency key up, so the corrected outcome's recap is a new
    row (the outbox would otherwise hand back the cancelled one).
    """
    left = False
    for email in session.exec(select(OutboxEmail).where(OutboxEmail.call_id == call.id)).all():
        if not email.idempotency_key.startswith("recap:"):
            continue
        if email.status == EmailStatus.PENDING:
            try:
                cancel_email(session, email_id=email.id, actor_id=agent_id, now=now)
            except DomainError:
                left = True
                continue
        if email.status == EmailStatus.CANCELLED:
            email.idempotency_key = f"{email.idempotency_key}:corrigé:{email.id}"[:120]
        else:
            left = True
    session.flush()
    return left


def correct_outcome(
    session: Session,
    *,
    agent_id: int,
    call_id: int,
    form: OutcomeForm,
    now: datetime,
    settings: Settings,
) -> OutcomeResult:
    """Replace the outcome of the agent's call, saved less than the correction window ago.

    Refused (in French) after the window, for another agent's call, while another agent holds
    the debtor, and once a payment settled the first outcome's promise or plan. The recap that
    has not left yet is cancelled and the corrected one queued; one already sent is not sent
    again (``no_recap`` says so).
    """
    call = correctable_call(session, agent_id=agent_id, call_id=call_id, now=now, settings=settings)
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == call.debtor_id)).first()
    if item is None:
        raise DomainError("Ce dossier n'est plus dans la file : l'issue ne peut pas être corrigée.")
    held_by_me = item.state == QueueState.CLAIMED and item.claimed_by_id == agent_id
    if (
        item.state == QueueState.CLAIMED
        and not held_by_me
        and (item.lease_until is None or item.lease_until > now)
    ):
        raise DomainError(
            "Un autre agent traite ce dossier en ce moment : la correction n'est pas possible "
            "tant qu'il ne l'a pas rendu."
        )
    held = (item.state, item.claimed_by_id, item.claimed_at, item.lease_until)
    before = _before(session, call)
    saved_at = call.wrap_up_ended_at

    _undo_commitments(session, call=call, now=now)
    recap_left = _withdraw_recap(session, call=call, agent_id=agent_id, now=now)
    call.disposition_code = None
    item.state, item.claimed_by_id, item.claimed_at = QueueState.CLAIMED, agent_id, now
    item.lease_until = now + timedelta(minutes=1)
    session.flush()

    result = record_outcome(
        session,
        agent_id=agent_id,
        debtor_id=call.debtor_id,
        form=form,
        now=now,
        settings=settings,
        call_id=call.id,
    )
    call.wrap_up_ended_at = saved_at  # the window runs from the first save, not the last
    if held_by_me:
        item.state, item.claimed_by_id, item.claimed_at, item.lease_until = held
    record_event(
        session,
        type="call.corrected",
        actor_id=agent_id,
        debtor_id=call.debtor_id,
        payload={"call_id": call.id, "before": before, "after": _after(result)},
        at=now,
    )
    session.flush()
    if recap_left:
        result = replace(
            result,
            email=None,
            no_recap=(
                "Le récapitulatif de l'issue d'origine est déjà parti : aucun nouvel e-mail "
                "n'est envoyé. Prévenez le débiteur si la correction change ce qui a été convenu."
            ),
        )
    return result
