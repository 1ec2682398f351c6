"""The outbox: emails are rows written in the same transaction as what caused them.

Delivery is a separate step (the scheduler's sender). Rules:
- one row per idempotency key: enqueueing the same key twice returns the first row;
- the Message-ID is derived from the key, so a message resent after a crash in
  the window between the SMTP server's acceptance and the row being marked sent
  carries the same Message-ID and is recognised as the same message by the
  recipient's mail system (and by the local mail catcher), never as a second one;
- a claimed row is leased: ``next_attempt_at`` moves past the lease, so a sender
  that dies mid-delivery leaves a row that another run picks up, never a lost one;
- 4xx replies and connection errors retry with exponential backoff up to
  ``max_attempts``, then the row is dead; a 5xx reply kills it at once. Dead
  rows are shown to supervisors, who can resend them;
- a contact who opted out of email is never mailed, even if the row was
  written before the opt-out; nor is a debtor who may no longer be contacted
  (do-not-call, collective procedure), even if recorded after the row was written;
- a row is not sent before its ``next_attempt_at``: the recap's cancel delay;
- a row that cannot become a message (a header with a line break) is dead at once, and a
  claim given back unsent (the sender stops) costs no attempt.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.headerregistry import Address

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.domain.audit import record_event
from callcenter.domain.contact_rules import ContactBlock, contact_block
from callcenter.domain.errors import DomainError
from callcenter.domain.retries import DeliveryPolicy
from callcenter.models import Contact, Debtor, EmailStatus, OutboxEmail

SUBJECT_LIMIT = 250
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")


def mailbox(name: str | None, address: str) -> str:
    """``Nom <adresse>`` for a header, quoted as RFC 5322 wants (« Dupont, Jean » stays one
    recipient). An address that cannot be written so is kept as it is: the sender refuses
    it with its reason and the row goes to the dead letters, never blocking the others."""
    display = _CONTROL_CHARACTERS.sub(" ", name or "").strip()
    try:
        return str(Address(display_name=display, addr_spec=address)) if display else address
    except (ValueError, IndexError):
        return address


def fitted_subject(subject: str) -> str:
    """A subject within the column's limit on every database: long lists are cut at a word
    with an ellipsis (the body lists everything), line breaks become spaces."""
    subject = _CONTROL_CHARACTERS.sub(" ", subject).strip()
    if len(subject) <= SUBJECT_LIMIT:
        return subject
    cut = subject[: SUBJECT_LIMIT - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def message_id_for(idempotency_key: str, domain: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def enqueue_email(
    session: Session,
    *,
    idempotency_key: str,
    template: str,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str,
    message_id_domain: str,
    reply_to: str | None = None,
    debtor_id: int | None = None,
    contact_id: int | None = None,
    call_id: int | None = None,
    send_after: datetime | None = None,
    now: datetime,
) -> OutboxEmail:
    """Write the email row (caller commits with the rest of the unit of work)."""
    existing = session.exec(
        select(OutboxEmail).where(OutboxEmail.idempotency_key == idempotency_key)
    ).first()
    if existing is not None:
        return existing
    email = OutboxEmail(
        idempotency_key=idempotency_key,
        template=template,
        to_address=to_address,
        reply_to=reply_to,
        subject=fitted_subject(subject),
        body_text=body_text,
        body_html=body_html,
        debtor_id=debtor_id,
        contact_id=contact_id,
        call_id=call_id,
        message_id=message_id_for(idempotency_key, message_id_domain),
        next_attempt_at=send_after or now,
        created_at=now,
    )
    session.add(email)
    session.flush()
    return email


def claim_due_emails(
    session: Session, *, now: datetime, limit: int, policy: DeliveryPolicy
) -> list[OutboxEmail]:
    """Lease the due pending rows to this sender; the caller commits before sending."""
    candidates = (
        select(OutboxEmail.id)
        .where(OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.exec(candidates).all())
    if not ids:
        return []
    session.exec(
        sa.update(OutboxEmail)
        .where(col(OutboxEmail.id).in_(ids), OutboxEmail.status == EmailStatus.PENDING)
        .values(next_attempt_at=now + policy.lease, attempts=OutboxEmail.attempts + 1)
    )
    emails = list(
        session.exec(
            select(OutboxEmail)
            .where(col(OutboxEmail.id).in_(ids))
            .order_by(OutboxEmail.id)
            .execution_options(populate_existing=True)
        ).all()
    )
    opted_out = _opted_out_contact_ids(session, emails)
    blocked = _blocked_debtors(session, emails)
    deliverable = []
    for email in emails:
        block = blocked.get(email.debtor_id)
        if email.contact_id in opted_out:
            _cancel(
                session, email, "opt_out", "Le contact a refusé les e-mails : envoi annulé.", now
            )
        elif block is not None:
            _cancel(session, email, block.code, f"{block.reason} Envoi annulé.", now)
        else:
            deliverable.append(email)
    session.flush()
    return deliverable


def _cancel(session: Session, email: OutboxEmail, code: str, reason: str, now: datetime) -> None:
    """A claimed row that must not leave: cancelled with its French reason and an event."""
    email.status = EmailStatus.CANCELLED
    email.last_error = reason
    record_event(
        session,
        type="email.cancelled",
        debtor_id=email.debtor_id,
        payload={"email_id": email.id, "reason": code},
        at=now,
    )


def _blocked_debtors(session: Session, emails: list[OutboxEmail]) -> dict[int, ContactBlock]:
    """The debtors of these emails that may no longer be contacted, with why."""
    debtor_ids = {email.debtor_id for email in emails if email.debtor_id}
    if not debtor_ids:
        return {}
    debtors = session.exec(select(Debtor).where(col(Debtor.id).in_(debtor_ids))).all()
    return {debtor.id: block for debtor in debtors if (block := contact_block(debtor))}


def _opted_out_contact_ids(session: Session, emails: list[OutboxEmail]) -> set[int]:
    contact_ids = {email.contact_id for email in emails if email.contact_id}
    if not contact_ids:
        return set()
    return set(
        session.exec(
            select(Contact.id).where(col(Contact.id).in_(contact_ids), Contact.email_opt_out)
        ).all()
    )


def mark_sent(session: Session, *, email_id: int, now: datetime) -> None:
    email = session.get(OutboxEmail, email_id)
    if email is None or email.status == EmailStatus.SENT:
        return
    email.status = EmailStatus.SENT
    email.sent_at = now
    email.last_error = None
    record_event(
        session,
        type="email.sent",
        debtor_id=email.debtor_id,
        payload={"email_id": email.id, "template": email.template, "subject": email.subject},
        at=now,
    )
    session.flush()


def release_claims(session: Session, *, email_ids: list[int], now: datetime) -> int:
    """Give back rows claimed but never handed to the server (the sender is stopping):
    due again at once, and the attempt counted at the claim is returned."""
    if not email_ids:
        return 0
    return session.exec(
        sa.update(OutboxEmail)
        .where(
            col(OutboxEmail.id).in_(email_ids),
            OutboxEmail.status == EmailStatus.PENDING,
            OutboxEmail.attempts > 0,
        )
        .values(next_attempt_at=now, attempts=OutboxEmail.attempts - 1)
    ).rowcount


def mark_failed(
    session: Session,
    *,
    email_id: int,
    error: str,
    permanent: bool,
    now: datetime,
    policy: DeliveryPolicy,
) -> str:
    """Schedule a retry with exponential backoff, or declare the email dead."""
    email = session.get(OutboxEmail, email_id)
    if email is None or email.status != EmailStatus.PENDING:
        return email.status if email else ""
    email.last_error = error[:2000]
    if permanent or email.attempts >= policy.max_attempts:
        email.status = EmailStatus.DEAD
        record_event(
            session,
            type="email.dead",
            debtor_id=email.debtor_id,
            payload={"email_id": email.id, "error": email.last_error},
            at=now,
        )
    else:
        email.next_attempt_at = policy.retry_at(email.attempts, now)
    session.flush()
    return email.status


def cancel_email(session: Session, *, email_id: int, actor_id: int, now: datetime) -> OutboxEmail:
    """The agent cancels a recap during its delay; once a sender has it, it cannot be recalled.

    A single guarded UPDATE decides, so a cancel racing the sender never wins after the
    sender has claimed the row.
    """
    cancelled = session.exec(
        sa.update(OutboxEmail)
        .where(
            OutboxEmail.id == email_id,
            OutboxEmail.status == EmailStatus.PENDING,
            OutboxEmail.attempts == 0,
        )
        .values(status=EmailStatus.CANCELLED, last_error="Annulé par l'agent avant l'envoi.")
    ).rowcount
    email = session.get(OutboxEmail, email_id, populate_existing=True)
    if email is None:
        raise DomainError("E-mail introuvable.")
    if not cancelled:
        raise DomainError(
            "Cet e-mail est déjà parti ou en cours d'envoi : il ne peut plus être annulé."
        )
    record_event(
        session,
        type="email.cancelled",
        actor_id=actor_id,
        debtor_id=email.debtor_id,
        payload={"email_id": email.id, "reason": "agent"},
        at=now,
    )
    session.flush()
    return email


def resend_dead_email(
    session: Session, *, email_id: int, actor_id: int, now: datetime
) -> OutboxEmail:
    """A supervisor puts a dead email back in the queue (same Message-ID, attempts reset)."""
    email = session.get(OutboxEmail, email_id)
    if email is None or email.status != EmailStatus.DEAD:
        raise DomainError("Seul un e-mail en échec définitif peut être renvoyé.")
    email.status = EmailStatus.PENDING
    email.attempts = 0
    email.next_attempt_at = now
    record_event(
        session,
        type="email.resend",
        actor_id=actor_id,
        debtor_id=email.debtor_id,
        payload={"email_id": email.id},
        at=now,
    )
    session.flush()
    return email
