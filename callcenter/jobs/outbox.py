"""The sender: claims due outbox rows, hands them to the mail transport, records the outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.engine import Engine

from callcenter.db import session_scope
from callcenter.domain.outbox import (
    DEFAULT_DELIVERY_POLICY,
    DeliveryPolicy,
    claim_due_emails,
    mark_failed,
    mark_sent,
)
from callcenter.models import OutboxEmail, utcnow
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


def _sender(transport: MailTransport, reuse: bool) -> AbstractContextManager[MailTransport]:
    """One SMTP session for a batch when asked and offered, else the transport itself."""
    connection = getattr(transport, "connection", None) if reuse else None
    return connection() if callable(connection) else nullcontext(transport)


def deliver_outbox(
    engine: Engine,
    transport: MailTransport,
    *,
    sender_name: str,
    sender_address: str,
    policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY,
    batch_size: int = 100,
    now: Callable[[], datetime] = utcnow,
    workers: int = 1,
    reuse_connection: bool = False,
) -> DeliveryReport:
    """Deliver every due email; each outcome is committed as soon as it is known.

    The claim is committed before any SMTP exchange (messages are built after it, in
    the sending threads), and each success is committed
    right after the server's acceptance, so a crash loses nothing and can at worst
    resend one message per sender with the same Message-ID. A claimed batch is split
    over ``workers`` threads; with ``reuse_connection`` each keeps one SMTP session
    for its share instead of connecting per message.
    """
    report = DeliveryReport()
    lock = threading.Lock()

    def deliver(batch: list[OutboxEmail]) -> None:
        with _sender(transport, reuse_connection) as sender:
            for email in batch:
                message = build_message(
                    email, sender_name=sender_name, sender_address=sender_address
                )
                outcome = _deliver_one(engine, sender, email.id, message, policy, now)
                with lock:
                    setattr(report, outcome, getattr(report, outcome) + 1)

    while True:
        with session_scope(engine) as session:
            messages = claim_due_emails(session, now=now(), limit=batch_size, policy=policy)
        slices = [messages[index::workers] for index in range(max(workers, 1))]
        slices = [batch for batch in slices if batch]
        if len(slices) == 1:
            deliver(slices[0])
        elif slices:
            with ThreadPoolExecutor(max_workers=len(slices)) as pool:
                for done in [pool.submit(deliver, batch) for batch in slices]:
                    done.result()
        if len(messages) < batch_size:
            return report


def _deliver_one(
    engine: Engine,
    sender: MailTransport,
    email_id: int,
    message: EmailMessage,
    policy: DeliveryPolicy,
    now: Callable[[], datetime],
) -> str:
    """Send one message and commit its outcome: ``sent``, ``retried`` or ``dead``."""
    try:
        sender.send(message)
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
        return "dead" if status == "dead" else "retried"
    with session_scope(engine) as session:
        mark_sent(session, email_id=email_id, now=now())
    return "sent"
