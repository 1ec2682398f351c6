"""Poison messages never jam the mail queue: each is isolated, dead-lettered with its French
reason, and the good messages of the same batch leave (real SMTP server, both databases)."""

from __future__ import annotations

import threading
from email import message_from_bytes
from email import policy as email_policy

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from callcenter.db import session_scope
from callcenter.domain.outbox import (
    SUBJECT_LIMIT,
    DeliveryPolicy,
    enqueue_email,
    mailbox,
)
from callcenter.jobs.outbox import deliver_outbox
from callcenter.models import EmailStatus, OutboxEmail, utcnow
from callcenter.providers.mail import SmtpTransport, build_message
from tests.smtp_server import ScriptedHandler, SmtpServer

SENDER = {"sender_name": "Service relance", "sender_address": "relances@exemple.fr"}
POLICY = DeliveryPolicy(max_attempts=3)
FOLDING_TRAP = (
    'A "quoted" <evil@x.fr> name that is rather long and goes on and on and on for folding'
)


def _enqueue(engine, key: str, to: str, subject: str = "Relance") -> int:
    with session_scope(engine) as session:
        return enqueue_email(
            session,
            idempotency_key=key,
            template="attempt",
            to_address=to,
            subject=subject,
            body_text="Bonjour",
            body_html="<p>Bonjour</p>",
            message_id_domain="exemple.fr",
            now=utcnow(),
        ).id


def _force(engine, email_id: int, **values) -> None:
    """Write a row as an old version or a raw import could have left it (no cleaning)."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(OutboxEmail.__table__).where(OutboxEmail.id == email_id).values(**values)
        )


def _rows(engine) -> dict[int, OutboxEmail]:
    with session_scope(engine) as session:
        return {row.id: row for row in session.exec(select(OutboxEmail)).all()}


@pytest.mark.parametrize("workers", [1, 2])
def test_poison_messages_are_dead_lettered_and_the_batch_goes_on(engine, workers):
    good = [_enqueue(engine, f"good:{n}", f"client{n}@exemple.fr") for n in range(4)]
    crlf_name = _enqueue(engine, "crlf-name", "x@exemple.fr")
    _force(engine, crlf_name, to_address="Dupont\r\nBcc: espion@pirate.fr <x@exemple.fr>")
    crlf_subject = _enqueue(engine, "crlf-subject", "y@exemple.fr")
    _force(engine, crlf_subject, subject="Facture FA-1\r\nBcc: espion@pirate.fr")
    no_address = _enqueue(engine, "no-address", "pas une adresse")
    two_addresses = _enqueue(engine, "two", "a@exemple.fr, b@exemple.fr")
    folding = _enqueue(engine, "folding", mailbox(FOLDING_TRAP, "j@client.fr"))
    with SmtpServer(ScriptedHandler()) as server:
        report = deliver_outbox(
            engine,
            SmtpTransport(server.host, server.port),
            policy=POLICY,
            workers=workers,
            now=utcnow,
            **SENDER,
        )
    rows = _rows(engine)
    assert (report.sent, report.dead) == (5, 4)
    assert all(rows[email_id].status == EmailStatus.SENT for email_id in [*good, folding])
    for email_id, reason in (
        (crlf_name, "retour à la ligne"),
        (crlf_subject, "retour à la ligne"),
        (no_address, "illisible"),
        (two_addresses, "illisible"),
    ):
        assert rows[email_id].status == EmailStatus.DEAD
        assert reason in rows[email_id].last_error
    recipients = sorted(address for rcpt, _message in server.handler.accepted for address in rcpt)
    assert "espion@pirate.fr" not in recipients and "evil@x.fr" not in recipients
    delivered = {rcpt[0]: message for rcpt, message in server.handler.accepted}
    to = delivered["j@client.fr"]["To"].addresses
    assert [address.addr_spec for address in to] == ["j@client.fr"]


class ExplodesOn:
    """A transport that fails in an unforeseen way for one subject (a library bug, say)."""

    def __init__(self, subject: str, inner) -> None:
        self.subject, self.inner, self.sent = subject, inner, []

    def send(self, message) -> None:
        if message["Subject"] == self.subject:
            raise RuntimeError("boom")
        self.inner.send(message)
        self.sent.append(message["Subject"])


def test_an_unexpected_failure_is_retried_then_dead_without_holding_others(engine):
    _enqueue(engine, "bad", "a@exemple.fr", subject="Explose")
    for n in range(3):
        _enqueue(engine, f"ok:{n}", f"ok{n}@exemple.fr", subject=f"Bon {n}")
    moments = [utcnow()]
    with SmtpServer(ScriptedHandler()) as server:
        transport = ExplodesOn("Explose", SmtpTransport(server.host, server.port))
        for _attempt in range(POLICY.max_attempts):
            deliver_outbox(engine, transport, policy=POLICY, now=lambda: moments[-1], **SENDER)
            moments.append(moments[-1] + POLICY.max_retry)
    assert sorted(transport.sent) == ["Bon 0", "Bon 1", "Bon 2"]
    bad = next(row for row in _rows(engine).values() if row.subject == "Explose")
    assert (bad.status, bad.attempts) == (EmailStatus.DEAD, POLICY.max_attempts)
    assert "Échec inattendu" in bad.last_error


def test_a_stopping_sender_gives_back_its_claims_at_no_attempts_cost(engine):
    ids = [_enqueue(engine, f"stop:{n}", f"s{n}@exemple.fr") for n in range(5)]
    stop = threading.Event()

    class StopsAfterFirst:
        def __init__(self, inner) -> None:
            self.inner = inner

        def send(self, message) -> None:
            self.inner.send(message)
            stop.set()

    with SmtpServer(ScriptedHandler()) as server:
        report = deliver_outbox(
            engine,
            StopsAfterFirst(SmtpTransport(server.host, server.port)),
            now=utcnow,
            stop=stop,
            **SENDER,
        )
    assert (report.sent, report.released) == (1, 4)
    rows = _rows(engine)
    pending = [rows[i] for i in ids if rows[i].status == EmailStatus.PENDING]
    assert len(pending) == 4
    assert all(row.attempts == 0 and row.next_attempt_at <= utcnow() for row in pending)


def test_a_long_subject_fits_its_column_on_every_database(engine):
    numbers = ", ".join(f"FA-2026-{n:05d}" for n in range(60))
    email_id = _enqueue(engine, "long", "a@exemple.fr", subject=f"Factures {numbers}")
    subject = _rows(engine)[email_id].subject
    assert len(subject) <= SUBJECT_LIMIT and subject.endswith("…")
    assert subject.startswith("Factures FA-2026-00000, FA-2026-00001")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(max_size=300))
def test_any_display_name_gives_exactly_its_one_recipient(name):
    """Whatever a contact's name holds (quotes, brackets, commas, line breaks, any script),
    the header names one recipient: the contact's address."""
    row = OutboxEmail(
        idempotency_key="k",
        template="t",
        to_address=mailbox(name, "jean.dupont@client.fr"),
        subject="Relance",
        body_text="Bonjour",
        body_html="<p>Bonjour</p>",
        message_id="<k@exemple.fr>",
        created_at=utcnow(),
    )
    message = build_message(row, now=utcnow(), **SENDER)
    parsed = message_from_bytes(
        message.as_bytes(policy=email_policy.SMTP), policy=email_policy.default
    )
    assert [address.addr_spec for address in parsed["To"].addresses] == ["jean.dupont@client.fr"]
