"""The sender: claims due outbox rows, hands them to the mail transport, records the outcome."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from callcenter.db import session_scope
from callcenter.domain.outbox import (
    claim_due_emails,
    mark_failed,
    mark_sent,
    release_claims,
)
from callcenter.domain.retries import DEFAULT_DELIVERY_POLICY, DeliveryPolicy
from callcenter.models import OutboxEmail
from callcenter.providers.mail import (
    MailTransport,
    PermanentMailFailure,
    TemporaryMailFailure,
    UnbuildableMessage,
    build_message,
)

log = logging.getLogger("callcenter.outbox")
STOP_POLL_SECONDS = 0.1


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0


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
    now: Callable[[], datetime],
    workers: int = 1,
    reuse_connection: bool = False,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Deliver every due email; each outcome is committed as soon as it is known.

    The claim is committed before any SMTP exchange (messages are built after it, in
    the sending threads), and each success is committed right after the server's
    acceptance, so a crash loses nothing and can at worst resend one message per sender
    with the same Message-ID. Each message is built and sent on its own: one that cannot
    be built is dead at once, any failure is recorded on its row, and the rest of the
    batch goes on. When ``stop`` is set, no new batch is claimed, each sender finishes the
    message in hand, and the claims not yet sent are given back at no attempt's cost.
    A claimed batch is split over ``workers`` threads; with ``reuse_connection`` each
    keeps one SMTP session for its share instead of connecting per message.
    """
    report = DeliveryReport()
    lock = threading.Lock()
    stop = stop or threading.Event()

    def deliver(share: deque[OutboxEmail]) -> None:
        with _sender(transport, reuse_connection) as sender:
            while True:
                with lock:
                    if not share or stop.is_set():
                        return
                    email = share.popleft()
                outcome = _deliver_one(
                    engine, sender, email, sender_name, sender_address, policy, now
                )
                with lock:
                    setattr(report, outcome, getattr(report, outcome) + 1)

    def not_started(shares: list[deque[OutboxEmail]]) -> list[int]:
        """Take back every claimed message no sender has started (they stay unsent)."""
        with lock:
            ids = [email.id for share in shares for email in share]
            for share in shares:
                share.clear()
        return ids

    while not stop.is_set():
        with session_scope(engine) as session:
            messages = claim_due_emails(session, now=now(), limit=batch_size, policy=policy)
        shares = [deque(messages[index::workers]) for index in range(max(workers, 1))]
        shares = [share for share in shares if share]
        pool = ThreadPoolExecutor(max_workers=max(len(shares), 1))
        running = {pool.submit(deliver, share) for share in shares}
        released = False
        while running:
            _done, running = wait(running, timeout=STOP_POLL_SECONDS)
            if stop.is_set() and not released and any(shares):
                unsent = not_started(shares)
                with session_scope(engine) as session:
                    report.released += release_claims(session, email_ids=unsent, now=now())
                released = True
        pool.shutdown()
        if len(messages) < batch_size:
            break
    return report


def _deliver_one(
    engine: Engine,
    sender: MailTransport,
    email: OutboxEmail,
    sender_name: str,
    sender_address: str,
    policy: DeliveryPolicy,
    now: Callable[[], datetime],
) -> str:
    """Build, send and record one message: ``sent``, ``retried`` or ``dead``. Never raises
    for a fault of this message, so it cannot hold back the others of its batch."""
    try:
        message = build_message(
            email, sender_name=sender_name, sender_address=sender_address, now=now()
        )
        sender.send(message)
    except UnbuildableMessage as refused:
        return _record_failure(engine, email.id, refused.message, True, policy, now)
    except (TemporaryMailFailure, PermanentMailFailure) as failure:
        permanent = isinstance(failure, PermanentMailFailure)
        return _record_failure(engine, email.id, str(failure), permanent, policy, now)
    except Exception as error:
        log.exception("courriel %s : échec inattendu de l'envoi", email.id)
        reason = f"Échec inattendu de l'envoi ({type(error).__name__}) : nouvel essai prévu."
        return _record_failure(engine, email.id, reason, False, policy, now)
    with session_scope(engine) as session:
        mark_sent(session, email_id=email.id, now=now())
    return "sent"


def _record_failure(
    engine: Engine,
    email_id: int,
    reason: str,
    permanent: bool,
    policy: DeliveryPolicy,
    now: Callable[[], datetime],
) -> str:
    with session_scope(engine) as session:
        status = mark_failed(
            session,
            email_id=email_id,
            error=reason,
            permanent=permanent,
            now=now(),
            policy=policy,
        )
    return "dead" if status == "dead" else "retried"
