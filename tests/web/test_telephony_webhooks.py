"""Twilio adapter through the web layer: signatures, TwiML, order-tolerant callbacks, token."""

from __future__ import annotations

import base64
import json
import logging
import xml.etree.ElementTree as ET
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
from sqlmodel import Session, select
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from callcenter import create_app
from callcenter.db import session_scope
from callcenter.jobs.context import JobContext
from callcenter.jobs.recordings import enforce_recording_objections
from callcenter.models import (
    AgentState,
    Call,
    Contact,
    Debtor,
    Event,
    QueueItem,
    QueueState,
    User,
    utcnow,
)
from callcenter.providers.telephony import TwilioTelephony
from tests.conftest import TEST_PASSWORD, csrf_from, make_settings

PUBLIC_URL = "http://127.0.0.1:5000"
AUTH_TOKEN = "jeton-twilio-de-test"
ACCOUNT_SID = "AC" + "a" * 32
PARENT_SID = "CA" + "1" * 32
CHILD_SID = "CA" + "2" * 32
RECORDING_SID = "RE" + "3" * 32
DEBTOR_PHONE = "+33612345678"


class RecordingHttpClient(HttpClient):
    """A substitute for Twilio's HTTP client: records each request, answers like Twilio."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("twilio.test"), is_async=False)
        self.requests: list[tuple[str, str, dict]] = []
        self.down = False

    def request(self, method, url, params=None, data=None, headers=None, auth=None, **_kw):
        if self.down:
            raise requests.ConnectionError("[Errno 111] Connection refused")
        self.requests.append((method, url, dict(data or {})))
        if method == "DELETE":
            return TwilioResponse(204, "")
        body = {"sid": url.rsplit("/", 1)[-1].removesuffix(".json"), "status": "completed"}
        return TwilioResponse(200, json.dumps(body))


def held_debtor(engine, agent_id: int, *, phone: str | None = DEBTOR_PHONE) -> tuple[int, int]:
    """A debtor with one contact, claimed by the agent: (debtor id, contact id)."""
    with session_scope(engine) as session:
        debtor = Debtor(account_code=f"T{agent_id:05d}", name="Menuiserie Dupont SARL")
        session.add(debtor)
        session.flush()
        contact = Contact(debtor_id=debtor.id, full_name="Mme Dupont", phone=phone)
        session.add(contact)
        now = utcnow()
        session.add(
            QueueItem(
                debtor_id=debtor.id,
                state=QueueState.CLAIMED,
                claimed_by_id=agent_id,
                claimed_at=now,
                lease_until=now + timedelta(minutes=5),
            )
        )
        session.flush()
        return debtor.id, contact.id


def signed_post(client, path: str, params: dict, *, token: str, url: str | None = None):
    signature = RequestValidator(token).compute_signature(url or PUBLIC_URL + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def events(engine, type_: str) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.type == type_).order_by(Event.id)))


def load_call(engine, call_id: int) -> Call:
    with Session(engine) as session:
        return session.get(Call, call_id)


def load_user(engine, user_id: int) -> User:
    with Session(engine) as session:
        return session.get(User, user_id)


@pytest.fixture
def recordings_enabled() -> bool:
    return False


@pytest.fixture
def speech_model_path() -> str:
    return ""


@pytest.fixture
def http_client() -> RecordingHttpClient:
    return RecordingHttpClient()


@pytest.fixture
def app(tmp_path: Path, database_url: str, http_client, recordings_enabled, speech_model_path):
    settings = make_settings(
        tmp_path,
        database_url,
        telephony={"provider": "twilio", "caller_id": "+33180000000"},
        recordings={"enabled": recordings_enabled},
        speech={"model_path": speech_model_path},
    )
    provider = TwilioTelephony(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_key_sid="SK" + "b" * 32,
        api_key_secret="secret-de-cle-api-" + "x" * 32,
        twiml_app_sid="AP" + "c" * 32,
        http_client=http_client,
    )
    app = create_app(settings, providers={"telephony": provider})
    app.config["TESTING"] = True
    yield app
    app.extensions["callcenter"].engine.dispose()


@pytest.fixture
def engine(app):
    return app.extensions["callcenter"].engine


@pytest.fixture
def placed(client, login, engine):
    """An agent's call, created by the app and connected by Twilio: (agent, call id, csrf)."""
    agent, token = login("agent")
    debtor_id, contact_id = held_debtor(engine, agent.id)
    response = client.post(
        "/telephonie/appels",
        data={"debtor_id": debtor_id, "contact_id": contact_id},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.get_json()
    payload = response.get_json()
    assert payload["mode"] == "device"
    call_id = int(payload["params"]["CallId"])
    assert payload["state"] == "dialing"
    return agent, call_id, token


def voice(client, agent_id: int, call_id: int, *, to: str = "+33999999999"):
    params = {
        "CallSid": PARENT_SID,
        "AccountSid": ACCOUNT_SID,
        "From": f"client:agent-{agent_id}",
        "To": to,
        "CallId": str(call_id),
    }
    return signed_post(client, "/twilio/voix", params, token=AUTH_TOKEN)


def status(client, call_id: int, call_status: str, **extra: str):
    params = {
        "CallSid": CHILD_SID,
        "ParentCallSid": PARENT_SID,
        "AccountSid": ACCOUNT_SID,
        "CallStatus": call_status,
        "Timestamp": format_datetime(utcnow(), usegmt=True),
    } | extra
    return signed_post(client, f"/twilio/appels/{call_id}/statut", params, token=AUTH_TOKEN)


def test_voice_webhook_dials_the_number_of_the_call_with_the_configured_caller_id(
    client, placed, engine
):
    agent, call_id, _token = placed
    response = voice(client, agent.id, call_id, to="+33999999999")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    dial = ET.fromstring(response.data).find("Dial")
    assert dial.get("callerId") == "+33180000000"
    assert dial.get("record") is None
    number = dial.find("Number")
    assert number.text == DEBTOR_PHONE  # never the number the browser sent
    assert number.get("statusCallback") == f"{PUBLIC_URL}/twilio/appels/{call_id}/statut"
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"
    assert number.get("url") is None
    assert load_call(engine, call_id).provider_call_id == PARENT_SID


def test_no_media_stream_without_a_speech_model(client, placed):
    agent, call_id, _token = placed
    assert ET.fromstring(voice(client, agent.id, call_id).data).find("Start") is None


@pytest.mark.parametrize("speech_model_path", ["/modeles/vosk-fr"])
def test_live_transcription_streams_both_tracks_before_the_dial(client, placed):
    agent, call_id, _token = placed
    root = ET.fromstring(voice(client, agent.id, call_id).data)
    assert [child.tag for child in root] == ["Start", "Dial"]
    stream = root.find("Start/Stream")
    assert stream.get("track") == "both_tracks"
    assert stream.get("url").startswith("ws")
    assert stream.find("Parameter").get("name") == "token"


@pytest.mark.parametrize("recordings_enabled", [True])
def test_recording_is_dual_channel_and_preceded_by_the_consent_announcement(client, placed, engine):
    agent, call_id, _token = placed
    dial = ET.fromstring(voice(client, agent.id, call_id).data).find("Dial")
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.get("recordingStatusCallback") == (
        f"{PUBLIC_URL}/twilio/appels/{call_id}/enregistrement"
    )
    consent_url = dial.find("Number").get("url")
    assert consent_url == f"{PUBLIC_URL}/twilio/appels/{call_id}/annonce"
    params = {"CallSid": CHILD_SID, "AccountSid": ACCOUNT_SID}
    response = signed_post(client, consent_url.removeprefix(PUBLIC_URL), params, token=AUTH_TOKEN)
    say = ET.fromstring(response.data).find("Say")
    assert say.get("language") == "fr-FR"
    assert "susceptible d'être enregistré" in say.text
    assert "vous y opposer" in say.text
    assert "Exemple SAS" in say.text
    assert len(events(engine, "call.consent_announced")) == 1


def test_voice_webhook_refuses_a_call_opened_by_another_agent(client, placed, engine):
    _agent, call_id, _token = placed
    response = voice(client, 999, call_id)
    root = ET.fromstring(response.data)
    assert root.find("Dial") is None
    assert "Appel impossible" in root.find("Say").text
    assert root.find("Hangup") is not None
    assert load_call(engine, call_id).provider_call_id is None


def test_signature_valid_missing_tampered_wrong_url_and_replayed(client, placed, engine):
    agent, call_id, _token = placed
    voice(client, agent.id, call_id)
    path = f"/twilio/appels/{call_id}/statut"
    params = {"CallSid": CHILD_SID, "ParentCallSid": PARENT_SID, "CallStatus": "ringing"}
    good = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path, params)

    missing = client.post(path, data=params)
    assert missing.status_code == 403
    tampered = client.post(
        path, data=params | {"CallStatus": "completed"}, headers={"X-Twilio-Signature": good}
    )
    assert tampered.status_code == 403
    wrong_url = signed_post(
        client, path, params, token=AUTH_TOKEN, url="https://autre.example" + path
    )
    assert wrong_url.status_code == 403
    wrong_token = signed_post(client, path, params, token="un-autre-jeton")
    assert wrong_token.status_code == 403
    assert load_call(engine, call_id).provider_status == "queued"

    first = client.post(path, data=params, headers={"X-Twilio-Signature": good})
    replayed = client.post(path, data=params, headers={"X-Twilio-Signature": good})
    assert (first.status_code, replayed.status_code) == (204, 204)
    assert load_call(engine, call_id).provider_status == "ringing"
    assert [e.payload["status"] for e in events(engine, "call.status")] == ["ringing"]


def test_callbacks_never_move_a_call_backwards(client, placed, engine):
    agent, call_id, _token = placed
    voice(client, agent.id, call_id)
    for step in ("initiated", "ringing"):
        assert status(client, call_id, step).status_code == 204
    assert status(client, call_id, "in-progress", AnsweredBy="human").status_code == 204
    assert load_user(engine, agent.id).agent_state == AgentState.ON_CALL
    assert status(client, call_id, "completed", CallDuration="83").status_code == 204
    # late and duplicate callbacks
    assert status(client, call_id, "ringing").status_code == 204
    assert status(client, call_id, "in-progress").status_code == 204
    assert status(client, call_id, "completed", CallDuration="83").status_code == 204

    call = load_call(engine, call_id)
    assert call.provider_status == "completed"
    assert call.answered_by == "human"
    assert call.duration_seconds == 83
    assert call.answered_at is not None and call.ended_at is not None
    statuses = [e.payload["status"] for e in events(engine, "call.status")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    user = load_user(engine, agent.id)
    assert user.agent_state == AgentState.WRAP_UP
    assert [e.payload["to"] for e in events(engine, "agent.state")] == ["on_call", "wrap_up"]


def test_an_early_end_is_kept_and_a_late_answer_only_fills_the_gap(client, placed, engine):
    agent, call_id, _token = placed
    voice(client, agent.id, call_id)
    status(client, call_id, "completed", CallDuration="40")
    status(client, call_id, "in-progress")
    amd = {"CallSid": CHILD_SID, "AccountSid": ACCOUNT_SID, "AnsweredBy": "machine_end_beep"}
    path = f"/twilio/appels/{call_id}/statut"
    assert signed_post(client, path, amd, token=AUTH_TOKEN).status_code == 204
    call = load_call(engine, call_id)
    assert call.provider_status == "completed"
    assert call.answered_at is not None
    assert call.answered_by == "machine_end_beep"
    assert call.duration_seconds == 40
    assert [e.payload["status"] for e in events(engine, "call.status")] == ["completed"]


def test_a_callback_for_another_call_sid_is_refused(client, placed, engine):
    agent, call_id, _token = placed
    voice(client, agent.id, call_id)
    response = signed_post(
        client,
        f"/twilio/appels/{call_id}/statut",
        {"CallSid": "CA" + "9" * 32, "CallStatus": "completed"},
        token=AUTH_TOKEN,
    )
    assert response.status_code == 404
    assert load_call(engine, call_id).provider_status == "queued"


def test_an_unknown_status_is_a_clear_400(client, placed):
    agent, call_id, _token = placed
    voice(client, agent.id, call_id)
    response = status(client, call_id, "teleported")
    assert response.status_code == 400
    assert "État d'appel inconnu" in response.get_json()["error"]


def test_call_progress_renews_the_agents_hold_on_the_debtor(client, placed, engine):
    agent, call_id, _token = placed
    with session_scope(engine) as session:
        item = session.exec(select(QueueItem)).one()
        item.lease_until = utcnow() + timedelta(seconds=30)
    voice(client, agent.id, call_id)
    status(client, call_id, "ringing")
    with Session(engine) as session:
        lease = session.exec(select(QueueItem)).one().lease_until
    assert lease > utcnow() + timedelta(minutes=10)


@pytest.mark.parametrize("recordings_enabled", [True])
def test_recording_callback_is_stored_once_and_deleted_on_objection(
    client, placed, engine, http_client
):
    agent, call_id, token = placed
    voice(client, agent.id, call_id)
    status(client, call_id, "in-progress", AnsweredBy="human")
    objection = client.post(
        f"/telephonie/appels/{call_id}/opposition", headers={"X-CSRFToken": token}
    )
    assert objection.status_code == 200
    assert http_client.requests[-1][0] == "POST"
    assert http_client.requests[-1][1].endswith(
        f"/Calls/{PARENT_SID}/Recordings/Twilio.CURRENT.json"
    )
    assert http_client.requests[-1][2] == {"Status": "stopped"}
    status(client, call_id, "completed", CallDuration="12")
    params = {
        "CallSid": PARENT_SID,
        "AccountSid": ACCOUNT_SID,
        "RecordingSid": RECORDING_SID,
        "RecordingStatus": "completed",
        "RecordingDuration": "12",
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}",
    }
    path = f"/twilio/appels/{call_id}/enregistrement"
    assert signed_post(client, path, params, token=AUTH_TOKEN).status_code == 204
    method, url, _data = http_client.requests[-1]
    assert method == "DELETE" and url.endswith(f"/Recordings/{RECORDING_SID}.json")
    call = load_call(engine, call_id)
    assert call.recording_sid is None
    assert [e.payload["reason"] for e in events(engine, "call.recording_deleted")] == [
        "opposition du débiteur"
    ]


@pytest.mark.parametrize("recordings_enabled", [True])
def test_an_objection_while_twilio_is_down_is_enforced_once_it_answers(
    app, client, placed, engine, http_client, make_user
):
    """Twilio unreachable: no 500 anywhere, the agent is told in French, and the scheduler
    stops and deletes the recording as soon as Twilio answers again."""
    agent, call_id, token = placed
    voice(client, agent.id, call_id)
    status(client, call_id, "in-progress", AnsweredBy="human")
    http_client.down = True
    objection = client.post(
        f"/telephonie/appels/{call_id}/opposition", headers={"X-CSRFToken": token}
    )
    assert objection.status_code == 202
    assert "supprimé automatiquement" in objection.get_json()["message"]
    hangup = client.post(f"/telephonie/appels/{call_id}/raccrocher", headers={"X-CSRFToken": token})
    assert hangup.status_code == 502 and "Twilio" in hangup.get_json()["error"]
    status(client, call_id, "completed", CallDuration="12")
    params = {
        "CallSid": PARENT_SID,
        "AccountSid": ACCOUNT_SID,
        "RecordingSid": RECORDING_SID,
        "RecordingStatus": "completed",
        "RecordingDuration": "12",
    }
    path = f"/twilio/appels/{call_id}/enregistrement"
    assert signed_post(client, path, params, token=AUTH_TOKEN).status_code == 204
    assert load_call(engine, call_id).recording_sid == RECORDING_SID
    supervisor, browser = make_user("supervisor"), app.test_client()
    browser.post(
        "/connexion",
        data={
            "email": supervisor.email,
            "password": TEST_PASSWORD,
            "csrf_token": csrf_from(browser.get("/connexion").get_data(as_text=True)),
        },
    )
    listen = browser.get(f"/enregistrements/{call_id}")
    assert listen.status_code == 502 and "Twilio" in listen.get_data(as_text=True)

    state = app.extensions["callcenter"]
    context = JobContext(state.settings, engine, None, telephony=state.providers["telephony"])
    assert enforce_recording_objections(context).pending == 1
    http_client.down = False
    assert enforce_recording_objections(context).enforced == 1
    method, url, _data = http_client.requests[-1]
    assert method == "DELETE" and url.endswith(f"/Recordings/{RECORDING_SID}.json")
    assert load_call(engine, call_id).recording_sid is None


@pytest.mark.parametrize("recordings_enabled", [True])
def test_recording_callback_without_objection_keeps_the_recording(client, placed, engine):
    agent, call_id, _token = placed
    voice(client, agent.id, call_id)
    params = {
        "CallSid": PARENT_SID,
        "RecordingSid": RECORDING_SID,
        "RecordingStatus": "completed",
        "RecordingDuration": "65",
    }
    path = f"/twilio/appels/{call_id}/enregistrement"
    for _ in range(2):
        assert signed_post(client, path, params, token=AUTH_TOKEN).status_code == 204
    call = load_call(engine, call_id)
    assert (call.recording_sid, call.recording_duration_seconds) == (RECORDING_SID, 65)
    assert len(events(engine, "call.recording")) == 1


def test_hang_up_asks_twilio_to_complete_the_call(client, placed, http_client):
    agent, call_id, token = placed
    voice(client, agent.id, call_id)
    response = client.post(
        f"/telephonie/appels/{call_id}/raccrocher", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    method, url, data = http_client.requests[-1]
    assert (method, data) == ("POST", {"Status": "completed"})
    assert (
        url == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{PARENT_SID}.json"
    )


def test_hang_up_before_twilio_connected_ends_the_call_here(client, placed, engine, http_client):
    agent, call_id, token = placed
    response = client.post(
        f"/telephonie/appels/{call_id}/raccrocher", headers={"X-CSRFToken": token}
    )
    assert response.get_json()["state"] == "ended"
    assert load_call(engine, call_id).provider_status == "canceled"
    assert http_client.requests == []
    assert load_user(engine, agent.id).agent_state == AgentState.WRAP_UP


def _jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_access_token_has_a_voice_grant_one_identity_per_agent_and_a_short_life(client, login):
    agent, _token = login("agent")
    response = client.get("/telephonie/jeton")
    assert response.status_code == 200
    payload = response.get_json()
    assert payload["identity"] == f"agent-{agent.id}"
    claims = _jwt_claims(payload["token"])
    assert claims["grants"]["identity"] == f"agent-{agent.id}"
    voice_grant = claims["grants"]["voice"]
    assert voice_grant["outgoing"]["application_sid"] == "AP" + "c" * 32
    assert voice_grant["incoming"] == {"allow": True}  # lets the Device register
    assert claims["exp"] - claims["nbf"] == payload["ttl"] == 600
    assert claims["sub"] == ACCOUNT_SID


def test_access_token_without_configuration_is_refused_in_french(app, client, login):
    app.extensions["callcenter"].providers["telephony"].api_key_secret = ""
    login("agent")
    response = client.get("/telephonie/jeton")
    assert response.status_code == 409
    assert "CALLCENTER_TWILIO_API_KEY_SECRET" in response.get_json()["error"]


def test_call_start_refuses_a_debtor_the_agent_does_not_hold(client, login, make_user, engine):
    _agent, token = login("agent")
    other = make_user("agent")
    debtor_id, contact_id = held_debtor(engine, other.id)
    response = client.post(
        "/telephonie/appels",
        data={"debtor_id": debtor_id, "contact_id": contact_id},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 409
    assert response.get_json()["error"]
    with Session(engine) as session:
        assert session.exec(select(Call)).all() == []
