"""Outbox delivery against a real SMTP server: success, 4xx, 5xx, down, slow, crash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from callcenter.db import session_scope
from callcenter.domain.errors import DomainError
from callcenter.domain.outbox import (
    DeliveryPolicy,
    cancel_email,
    enqueue_email,
    resend_dead_email,
)
from callcenter.jobs.outbox import deliver_outbox
from callcenter.models import Contact, Debtor, Event, OutboxEmail, utcnow
from callcenter.providers.mail import SmtpTransport
from callcenter.providers.mailcatcher import CatchingHandler, list_messages
from tests.smtp_server import ScriptedHandler, SmtpServer, free_port

SENDER = {"sender_name": "Service relance — Exemple SAS", "sender_address": "relances@exemple.fr"}
POLICY = DeliveryPolicy(max_attempts=3, first_retry=timedelta(minutes=1))


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def debtor_and_contact(engine):
    with session_scope(engine) as session:
        debtor = Debtor(account_code="411C9", name="Société Générale des Crèmes")
        session.add(debtor)
        session.flush()
        contact = Contact(debtor_id=debtor.id, full_name="Hélène Dupré", email="helene@exemple.fr")
        session.add(contact)
        session.flush()
        return debtor.id, contact.id


def _enqueue(engine, key="recap:1", to="Hélène Dupré <helene@exemple.fr>", **extra):
    with session_scope(engine) as session:
        email = enqueue_email(
            session,
            idempotency_key=key,
            template="promise",
            to_address=to,
            reply_to="Léa Martin <lea.martin@exemple.fr>",
            subject="Récapitulatif de notre appel — promesse de 1 250,50 €",
            body_text="Bonjour Hélène,\nMerci pour votre engagement.",
            body_html="<p>Bonjour Hélène,</p><p>Merci pour votre engagement.</p>",
            message_id_domain="exemple.fr",
            **{"now": utcnow(), **extra},
        )
        return email.id


def _email(engine, email_id) -> OutboxEmail:
    with session_scope(engine) as session:
        return session.get(OutboxEmail, email_id)


def test_accented_names_and_subject_arrive_intact(engine, debtor_and_contact):
    debtor_id, contact_id = debtor_and_contact
    email_id = _enqueue(engine, debtor_id=debtor_id, contact_id=contact_id)
    with SmtpServer(ScriptedHandler()) as server:
        report = deliver_outbox(
            engine, SmtpTransport(server.host, server.port), policy=POLICY, **SENDER, now=utcnow
        )
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    [(recipients, message)] = server.handler.accepted
    assert recipients == ["helene@exemple.fr"]
    assert message["To"] == "Hélène Dupré <helene@exemple.fr>"
    assert message["From"] == "Service relance — Exemple SAS <relances@exemple.fr>"
    assert message["Reply-To"] == "Léa Martin <lea.martin@exemple.fr>"
    assert message["Subject"] == "Récapitulatif de notre appel — promesse de 1 250,50 €"
    assert "Merci pour votre engagement." in message.get_body(("plain",)).get_content()
    assert "<p>Bonjour Hélène,</p>" in message.get_body(("html",)).get_content()
    stored = _email(engine, email_id)
    assert stored.status == "sent" and stored.sent_at is not None
    assert message["Message-ID"] == stored.message_id
    with session_scope(engine) as session:
        assert session.exec(select(Event.type).where(Event.debtor_id == debtor_id)).all() == [
            "email.sent"
        ]


def test_utf8_mailbox_is_delivered_with_smtputf8(engine):
    _enqueue(engine, to="andré.müller@exemple.fr")
    with SmtpServer(ScriptedHandler()) as server:
        report = deliver_outbox(
            engine, SmtpTransport(server.host, server.port), **SENDER, now=utcnow
        )
    assert report.sent == 1
    assert server.handler.accepted[0][0] == ["andré.müller@exemple.fr"]


def test_running_the_sender_twice_sends_nothing_twice(engine):
    _enqueue(engine)
    with SmtpServer(ScriptedHandler()) as server:
        transport = SmtpTransport(server.host, server.port)
        assert deliver_outbox(engine, transport, **SENDER, now=utcnow).sent == 1
        assert deliver_outbox(engine, transport, **SENDER, now=utcnow).sent == 0
    assert len(server.handler.accepted) == 1


def test_same_idempotency_key_gives_one_row(engine):
    first = _enqueue(engine, key="recap:42")
    second = _enqueue(engine, key="recap:42")
    assert first == second


def test_server_down_schedules_a_retry_with_backoff(engine):
    email_id = _enqueue(engine)
    clock = Clock()
    transport = SmtpTransport("127.0.0.1", free_port(), timeout=2)
    report = deliver_outbox(engine, transport, policy=POLICY, now=clock, **SENDER)
    assert (report.sent, report.retried) == (0, 1)
    email = _email(engine, email_id)
    assert email.status == "pending" and email.attempts == 1
    assert email.next_attempt_at == clock.now + timedelta(minutes=1)
    assert "injoignable" in email.last_error
    clock.now += timedelta(seconds=61)
    deliver_outbox(engine, transport, policy=POLICY, now=clock, **SENDER)
    assert _email(engine, email_id).next_attempt_at == clock.now + timedelta(minutes=2)


def test_4xx_retries_then_dies_after_max_attempts(engine):
    email_id = _enqueue(engine)
    clock = Clock()
    with SmtpServer(ScriptedHandler(data_reply="451 4.3.0 Boîte temporairement pleine")) as server:
        transport = SmtpTransport(server.host, server.port)
        for _ in range(POLICY.max_attempts):
            deliver_outbox(engine, transport, policy=POLICY, now=clock, **SENDER)
            clock.now += timedelta(hours=3)
    email = _email(engine, email_id)
    assert (email.status, email.attempts) == ("dead", 3)
    assert "451" in email.last_error


def test_5xx_marks_dead_at_once_and_a_supervisor_can_resend(engine, debtor_and_contact):
    debtor_id, _ = debtor_and_contact
    email_id = _enqueue(engine, debtor_id=debtor_id)
    with SmtpServer(ScriptedHandler(rcpt_reply="550 5.1.1 Destinataire inconnu")) as server:
        report = deliver_outbox(
            engine, SmtpTransport(server.host, server.port), **SENDER, now=utcnow
        )
    assert report.dead == 1
    email = _email(engine, email_id)
    assert email.status == "dead" and "550" in email.last_error
    with session_scope(engine) as session:
        resend_dead_email(session, email_id=email_id, actor_id=None, now=utcnow())
    with SmtpServer(ScriptedHandler()) as server:
        assert (
            deliver_outbox(
                engine, SmtpTransport(server.host, server.port), **SENDER, now=utcnow
            ).sent
            == 1
        )
    assert _email(engine, email_id).status == "sent"


def test_slow_server_times_out_and_is_retried(engine):
    email_id = _enqueue(engine)
    with SmtpServer(ScriptedHandler(delay=1.5)) as server:
        report = deliver_outbox(
            engine, SmtpTransport(server.host, server.port, timeout=0.5), **SENDER, now=utcnow
        )
    assert report.retried == 1
    assert _email(engine, email_id).status == "pending"


def test_opted_out_contact_is_never_mailed(engine, debtor_and_contact):
    debtor_id, contact_id = debtor_and_contact
    email_id = _enqueue(engine, debtor_id=debtor_id, contact_id=contact_id)
    with session_scope(engine) as session:
        session.get(Contact, contact_id).email_opt_out = True
    with SmtpServer(ScriptedHandler()) as server:
        report = deliver_outbox(
            engine, SmtpTransport(server.host, server.port), **SENDER, now=utcnow
        )
    assert report.sent == 0 and server.handler.accepted == []
    assert _email(engine, email_id).status == "cancelled"


def test_recap_waits_for_its_delay_and_can_be_cancelled_meanwhile(engine):
    clock = Clock()
    email_id = _enqueue(engine, send_after=clock.now + timedelta(minutes=2))
    with SmtpServer(ScriptedHandler()) as server:
        transport = SmtpTransport(server.host, server.port)
        assert deliver_outbox(engine, transport, now=clock, **SENDER).sent == 0
        with session_scope(engine) as session:
            cancel_email(session, email_id=email_id, actor_id=None, now=clock.now)
        clock.now += timedelta(minutes=3)
        assert deliver_outbox(engine, transport, now=clock, **SENDER).sent == 0
    assert server.handler.accepted == []
    assert _email(engine, email_id).status == "cancelled"


def test_an_email_already_sent_cannot_be_cancelled(engine):
    email_id = _enqueue(engine)
    with SmtpServer(ScriptedHandler()) as server:
        deliver_outbox(engine, SmtpTransport(server.host, server.port), **SENDER, now=utcnow)
    with session_scope(engine) as session, pytest.raises(DomainError, match="déjà parti"):
        cancel_email(session, email_id=email_id, actor_id=None, now=utcnow())


CRASHING_SENDER = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime
    from callcenter.db import create_db_engine
    from callcenter.jobs.outbox import deliver_outbox
    from callcenter.providers.mail import SmtpTransport

    class DiesAfterAcceptance(SmtpTransport):
        def send(self, message):
            super().send(message)
            os._exit(3)

    engine = create_db_engine(sys.argv[1])
    deliver_outbox(
        engine, DiesAfterAcceptance("127.0.0.1", int(sys.argv[2])),
        sender_name="Relances", sender_address="relances@exemple.fr",
        now=lambda: datetime.fromisoformat(sys.argv[3]),
    )
    """
)


def test_sender_killed_after_acceptance_loses_nothing_and_duplicates_nothing(
    engine, settings, tmp_path: Path
):
    """The process dies between the server's 250 and the row being marked sent."""
    email_id = _enqueue(engine)
    mailbox = tmp_path / "mailbox"
    handler = CatchingHandler(mailbox)
    with SmtpServer(handler) as server:
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                CRASHING_SENDER,
                settings.database_url,
                str(server.port),
                utcnow().isoformat(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        assert child.returncode == 3, child.stderr
        assert handler.received == 1
        crashed = _email(engine, email_id)
        assert (crashed.status, crashed.attempts) == ("pending", 1)

        clock = Clock()
        assert (
            deliver_outbox(
                engine, SmtpTransport(server.host, server.port), now=clock, **SENDER
            ).sent
            == 0
        ), "the lease protects the row while the dead sender might still hold it"
        clock.now += DeliveryPolicy().lease + timedelta(seconds=1)
        report = deliver_outbox(
            engine, SmtpTransport(server.host, server.port), now=clock, **SENDER
        )
    assert report.sent == 1
    assert _email(engine, email_id).status == "sent"
    assert handler.received == 2, "the message was transmitted again after the crash…"
    caught = list_messages(mailbox)
    assert len(caught) == 1, "…with the same Message-ID, so the mailbox holds it once"
    assert caught[0].message_id == crashed.message_id


def test_debtor_email_arrives_with_its_bank_details_and_a_scannable_qr_code(
    engine, settings, tmp_path
):
    """A reminder composed by the domain, delivered through a real SMTP server: the HTML part
    shows the bank details and links (cid:) an inline PNG that decodes to the EPC payload."""
    import io

    import zxingcpp
    from PIL import Image

    from callcenter.domain.debtor_mail import (
        Recipient,
        Signer,
        debtor_email,
        enqueue_debtor_email,
    )
    from callcenter.providers.mailcatcher import html_part, read_message
    from tests.factories import make_debtor, make_invoice

    with session_scope(engine) as session:
        debtor = make_debtor(session, account_code="411C00042", name="Boulangerie Durand")
        invoice = make_invoice(session, debtor, number="FA-2026-000123", amount_cents=125_050)
        contact = Contact(debtor_id=debtor.id, full_name="Dupont, Jean", email="jean@durand.fr")
        session.add(contact)
        session.flush()
        recipient = Recipient(contact.id, contact.full_name, contact.email)
        context = debtor_email(
            "ladder_reminder_1",
            settings=settings,
            debtor=debtor,
            recipient=recipient,
            signer=Signer("Service relance client", "relances@exemple.fr", None),
            invoices=[invoice],
            pay_cents=125_050,
            total="1 250,50 €",
        )
        enqueue_debtor_email(
            session,
            key="ladder:test",
            context=context,
            recipient=recipient,
            signer=Signer("Service relance client", "relances@exemple.fr", None),
            debtor_id=debtor.id,
            settings=settings,
            now=utcnow(),
        )
    caught = tmp_path / "caught"
    with SmtpServer(CatchingHandler(caught)) as server:
        report = deliver_outbox(
            engine, SmtpTransport(server.host, server.port), **SENDER, now=utcnow
        )
    assert report.sent == 1
    [summary] = list_messages(caught)
    message = read_message(caught, summary.key)
    [to] = message["To"].addresses  # « Dupont, Jean » stays one recipient
    assert to.addr_spec == "jean@durand.fr"

    html = message.get_body(("html",)).get_content()
    for expected in ("FR76 3000 6000 0112 3456 7890 189", "AGRIFRPPXXX", "04 65 71 38 03"):
        assert expected in html
    assert "411C00042 FA-2026-000123" in html and "data-epc" not in html
    [src] = re.findall(r'<img class="epc-qr" src="cid:([^"]+)"', html)
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == f"<{src}>"
    assert image.get_content_disposition() == "inline"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.get_content())))
    assert code.text.split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "AGRIFRPPXXX",
        "Exemple SAS",
        "FR7630006000011234567890189",
        "EUR1250.50",
        "",
        "",
        "411C00042 FA-2026-000123",
    ]
    # the local mail catcher's page shows the image without fetching anything
    shown = html_part(message)
    assert f"cid:{src}" not in shown and 'src="data:image/png;base64,' in shown
