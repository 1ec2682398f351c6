"""The sender: claims due outbox rows, hands them to the mail transport, records the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from callcenter.db import session_scope
from callcenter.domain.outbox import (
    DEFAULT_DELIVERY_POLICY,
    DeliveryPolicy,
    claim_due_emails,
    mark_failed,
    mark_sent,
)
from callcenter.models import utcnow
from callcenter.providers.mail import (
    MailTransport,
    PermanentMailFailure,
    TemporaryMailFailure,
    build_message,
)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def deliver_outbox(
    engine: Engine,
    transport: MailTransport,
    *,
    sender_name: str,
    sender_address: str,
    policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY,
    batch_size: int = 100,
    now: Callable[[], datetime] = utcnow,
) -> DeliveryReport:
    """Deliver every due email; each outcome is committed as soon as it is known.

    The claim is committed before any SMTP exchange, and each success is committed
    right after the server's acceptance, so a crash loses nothing and can at worst
    resend one message with the same Message-ID.
    """
    report = DeliveryReport()
    while True:
        with session_scope(engine) as session:
            claimed = claim_due_emails(session, now=now(), limit=batch_size, policy=policy)
            messages = [
                (
                    email.id,
                    build_message(email, sender_name=sender_name, sender_address=sender_address),
                )
                for email in claimed
            ]
        for email_id, message in messages:
            try:
                transport.send(message)
            except (TemporaryMailFailure, PermanentMailFailure) as failure:
                with session_scope(engine) as session:
                    status = mark_failed(
                        session,
                        email_id=email_id,
                        error=str(failure),
                        permanent=isinstance(failure, PermanentMailFailure),
                        now=now(),
                        policy=policy,
                    )
                if status == "dead":
                    report.dead += 1
                else:
                    report.retried += 1
                continue
            with session_scope(engine) as session:
                mark_sent(session, email_id=email_id, now=now())
            report.sent += 1
        if len(messages) < batch_size:
            return report
