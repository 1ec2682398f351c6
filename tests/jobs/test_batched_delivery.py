"""Batched delivery: one SMTP session per sending thread, and a failure does not stop the batch."""

from __future__ import annotations

from sqlmodel import select

from callcenter.db import session_scope
from callcenter.domain.outbox import enqueue_email
from callcenter.jobs.outbox import deliver_outbox
from callcenter.models import EmailStatus, OutboxEmail, utcnow
from callcenter.providers.mail import SmtpTransport
from tests.smtp_server import ScriptedHandler, SmtpServer

SENDER = {"sender_name": "Relances", "sender_address": "relances@exemple.fr"}


class CountingHandler(ScriptedHandler):
    """Accepts everything but messages whose subject says « refus » (451), noting each peer."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: set = set()

    async def handle_DATA(self, server, session, envelope):
        self.peers.add(session.peer)
        if b"Subject: refus" in (envelope.original_content or envelope.content):
            return "451 4.3.0 Réessayez plus tard"
        return await super().handle_DATA(server, session, envelope)


def _enqueue(engine, count: int, refused: set[int] = frozenset()) -> None:
    with session_scope(engine) as session:
        for n in range(count):
            enqueue_email(
                session,
                idempotency_key=f"batch:{n}",
                template="attempt",
                to_address=f"client{n}@exemple.fr",
                subject="refus" if n in refused else f"Message {n}",
                body_text="Bonjour",
                body_html="<p>Bonjour</p>",
                message_id_domain="exemple.fr",
                now=utcnow(),
            )


def test_a_batch_reuses_one_connection_per_worker(engine):
    _enqueue(engine, 12)
    with SmtpServer(CountingHandler()) as server:
        report = deliver_outbox(
            engine,
            SmtpTransport(server.host, server.port),
            workers=2,
            reuse_connection=True,
            **SENDER,
            now=utcnow,
        )
    assert report.sent == 12
    assert len(server.handler.accepted) == 12
    assert len(server.handler.peers) == 2


def test_a_refusal_mid_batch_reconnects_and_the_rest_goes_out(engine):
    _enqueue(engine, 6, refused={2})
    with SmtpServer(CountingHandler()) as server:
        report = deliver_outbox(
            engine,
            SmtpTransport(server.host, server.port, messages_per_connection=100),
            reuse_connection=True,
            **SENDER,
            now=utcnow,
        )
    assert (report.sent, report.retried) == (5, 1)
    with session_scope(engine) as session:
        statuses = {e.subject: e.status for e in session.exec(select(OutboxEmail)).all()}
    assert statuses["refus"] == EmailStatus.PENDING
    assert sum(1 for s in statuses.values() if s == EmailStatus.SENT) == 5


def test_connections_are_renewed_after_the_configured_number_of_messages(engine):
    _enqueue(engine, 5)
    with SmtpServer(CountingHandler()) as server:
        deliver_outbox(
            engine,
            SmtpTransport(server.host, server.port, messages_per_connection=2),
            reuse_connection=True,
            **SENDER,
            now=utcnow,
        )
    assert len(server.handler.accepted) == 5 and len(server.handler.peers) == 3
