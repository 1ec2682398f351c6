"""Twilio out of reach (refused connection, timeout): the adapter says so in French, and a
debtor's objection to the recording is enforced by the scheduler once Twilio answers."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from sqlmodel import select
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse

from callcenter.db import session_scope
from callcenter.domain.audit import record_event
from callcenter.jobs.context import JobContext
from callcenter.jobs.recordings import enforce_recording_objections
from callcenter.models import Call, Event, utcnow
from callcenter.providers.telephony import TwilioTelephony
from callcenter.providers.telephony.base import TelephonyFailure
from callcenter.providers.telephony.twilio_adapter import API_BASE
from tests.factories import make_call, make_debtor
from tests.smtp_server import free_port

ACCOUNT_SID = "AC" + "a" * 32
RECORDING_SID = "RE" + "3" * 32
CALL_SID = "CA" + "4" * 32


class LoopbackClient(TwilioHttpClient):
    """Twilio's own HTTP client (requests underneath), sent to a loopback address."""

    def __init__(self, base: str) -> None:
        super().__init__(timeout=0.5)
        self.base = base

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace(API_BASE, self.base), *args, **kwargs)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: Twilio hanging."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


def _twilio(http_client) -> TwilioTelephony:
    return TwilioTelephony(account_sid=ACCOUNT_SID, auth_token="jeton", http_client=http_client)


def _every_request(twilio: TwilioTelephony) -> list:
    return [
        lambda: twilio.hangup(CALL_SID),
        lambda: twilio.stop_recording(CALL_SID),
        lambda: twilio.fetch_recording(RECORDING_SID),
        lambda: twilio.delete_recording(RECORDING_SID),
        lambda: twilio.create_call(
            to="+33612345678",
            from_="+33180000000",
            url="http://127.0.0.1/x",
            status_callback="http://127.0.0.1/y",
            machine_detection=False,
        ),
    ]


@pytest.mark.parametrize("where", ["refused", "silent"])
def test_every_request_fails_in_french_when_twilio_is_out_of_reach(where, silent_server):
    base = f"http://127.0.0.1:{free_port()}" if where == "refused" else silent_server
    twilio = _twilio(LoopbackClient(base))
    for request in _every_request(twilio):
        with pytest.raises(TelephonyFailure) as failure:
            request()
        message = failure.value.message
        assert message.startswith("Twilio "), message
        assert "réessayez" in message
        assert "Connection" not in message and "Errno" not in message and "HTTP" not in message


class DeletesOnce(HttpClient):
    """Twilio reachable again: a recording delete is answered 204."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("twilio.test"), is_async=False)
        self.requests: list[tuple[str, str]] = []

    def request(self, method, url, *args, **kwargs):
        self.requests.append((method, url))
        return TwilioResponse(204 if method == "DELETE" else 200, json.dumps({}))


def _objected_call(engine) -> int:
    with session_scope(engine) as session:
        call = make_call(session, make_debtor(session), provider_status="completed")
        call.provider_call_id = CALL_SID
        call.recording_sid = RECORDING_SID
        call.recording_url = "https://api.twilio.com/recording"
        record_event(
            session,
            type="call.recording_objection",
            debtor_id=call.debtor_id,
            payload={"call_id": call.id},
            at=utcnow(),
        )
        return call.id


def test_an_objection_is_enforced_once_twilio_answers_again(engine, settings):
    call_id = _objected_call(engine)
    unreachable = JobContext(
        settings, engine, None, telephony=_twilio(LoopbackClient(f"http://127.0.0.1:{free_port()}"))
    )
    report = enforce_recording_objections(unreachable)
    assert (report.enforced, report.pending) == (0, 1)
    with session_scope(engine) as session:
        assert session.get(Call, call_id).recording_sid == RECORDING_SID

    answering = DeletesOnce()
    back = JobContext(settings, engine, None, telephony=_twilio(answering))
    assert enforce_recording_objections(back).enforced == 1
    assert enforce_recording_objections(back).enforced == 0, "nothing owed any more"
    assert [method for method, _url in answering.requests] == ["DELETE"]
    with session_scope(engine) as session:
        call = session.get(Call, call_id)
        assert (call.recording_sid, call.recording_url) == (None, None)
        deleted = session.exec(select(Event).where(Event.type == "call.recording_deleted")).all()
        assert [event.payload["reason"] for event in deleted] == ["opposition du débiteur"]
