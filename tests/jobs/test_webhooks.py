"""Webhook notices to the creditor's systems: queued with their event, signed, posted to a
real HTTP receiver, retried, dead-lettered, never blocking one another."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.promises import refresh_commitments
from callcenter.domain.retries import DEFAULT_DELIVERY_POLICY
from callcenter.domain.webhooks import create_endpoint, resend_delivery
from callcenter.jobs.webhooks import deliver_webhooks
from callcenter.models import WebhookDelivery
from callcenter.providers.webhooks import HttpPoster
from tests.conftest import TEST_NOW, TEST_TODAY
from tests.factories import make_debtor, make_promise


class Receiver:
    """A real HTTP server: answers ``status`` and keeps what it received."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notifications"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(status: int = 200) -> Receiver:
        made.append(Receiver(status))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _endpoint(engine, url: str):
    with session_scope(engine) as session:
        return create_endpoint(session, url=url, actor_id=None, now=TEST_NOW, allow_http=True)


def _clock(moments: list):
    return lambda: moments[0]


def test_a_broken_promise_reaches_the_receiver_signed(engine, receivers):
    good = receivers()
    endpoint = _endpoint(engine, good.url)
    with session_scope(engine) as session:
        debtor = make_debtor(session, account_code="C077")
        make_promise(session, debtor, promised_date=TEST_TODAY - timedelta(days=10))
        refresh_commitments(session, debtor_ids=[debtor.id], today=TEST_TODAY, now=TEST_NOW)
    report = deliver_webhooks(engine, HttpPoster(timeout_seconds=5), now=lambda: TEST_NOW)
    assert report.delivered == 1
    ((headers, body),) = good.received
    payload = json.loads(body)
    assert (payload["type"], payload["account_code"]) == ("promise.broken", "C077")
    signature = headers["X-Callcenter-Signature"]
    stamp = signature.split(",")[0].removeprefix("t=")
    expected = hmac.new(endpoint.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    assert signature == f"t={stamp},v1={expected.hexdigest()}"
    assert int(stamp) == int(TEST_NOW.timestamp())
    # delivered once: a second run posts nothing
    assert deliver_webhooks(engine, HttpPoster(), now=lambda: TEST_NOW).delivered == 0


def test_a_refusing_receiver_is_retried_then_dead_and_never_blocks_the_others(engine, receivers):
    good, refusing = receivers(200), receivers(500)
    _endpoint(engine, good.url)
    _endpoint(engine, refusing.url)
    _endpoint(engine, "http://127.0.0.1:9/injoignable")  # nothing listens there
    with session_scope(engine) as session:
        debtor = make_debtor(session)
        for number in range(3):
            record_event(
                session,
                type="dispute.opened",
                debtor_id=debtor.id,
                payload={"number": number},
                at=TEST_NOW,
            )
        record_event(session, type="user.login", payload={}, at=TEST_NOW)  # not notified
    moments = [TEST_NOW]
    first = deliver_webhooks(engine, HttpPoster(timeout_seconds=2), now=_clock(moments))
    assert (first.delivered, first.retried, first.dead) == (3, 6, 0)
    assert len(good.received) == 3
    for _ in range(DEFAULT_DELIVERY_POLICY.max_attempts):
        moments[0] += DEFAULT_DELIVERY_POLICY.max_retry
        deliver_webhooks(engine, HttpPoster(timeout_seconds=2), now=_clock(moments))
    with Session(engine) as session:
        statuses = sorted(d.status for d in session.exec(select(WebhookDelivery)).all())
        dead = session.exec(select(WebhookDelivery).where(WebhookDelivery.status == "dead")).all()
    assert statuses == ["dead"] * 6 + ["sent"] * 3
    assert len(refusing.received) == 3 * DEFAULT_DELIVERY_POLICY.max_attempts
    assert any("refusée par le destinataire (500)" in d.last_error for d in dead)
    assert any("injoignable" in d.last_error for d in dead)

    refusing.status = 204
    with session_scope(engine) as session:
        resent = [d for d in dead if "500" in d.last_error][0]
        resend_delivery(session, delivery_id=resent.id, actor_id=None, now=moments[0])
        with pytest.raises(DomainError, match="n'est pas en échec"):
            resend_delivery(session, delivery_id=resent.id, actor_id=None, now=moments[0])
    assert deliver_webhooks(engine, HttpPoster(), now=_clock(moments)).delivered == 1


def test_no_endpoint_no_notice_and_an_endpoint_must_be_an_address(engine):
    with session_scope(engine) as session:
        debtor = make_debtor(session)
        record_event(session, type="promise.created", debtor_id=debtor.id, at=TEST_NOW)
    with Session(engine) as session:
        assert session.exec(select(WebhookDelivery)).all() == []
        for url, allow_http in (("", True), ("ftp://x.fr/a", True), ("http://erp.fr/h", False)):
            with pytest.raises(ValidationFailed):
                create_endpoint(
                    session, url=url, actor_id=None, now=TEST_NOW, allow_http=allow_http
                )
