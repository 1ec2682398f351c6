"""The simulated adapter drives whole calls through the same signed webhooks as Twilio."""

from __future__ import annotations

import io
import struct
import wave
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.calls import expire_wrap_ups
from callcenter.domain.timeline import describe_events
from callcenter.models import AgentState, Call, Contact, Debtor, User, utcnow
from callcenter.providers.telephony import SimulatedTelephony
from tests.conftest import TEST_PASSWORD, csrf_from
from tests.web.test_telephony_webhooks import DEBTOR_PHONE, events, held_debtor, load_call


def wav_bytes(seconds: float = 0.2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(struct.pack("<h", 0) * int(8000 * seconds))
    return buffer.getvalue()


@pytest.fixture
def engine(app):
    return app.extensions["callcenter"].engine


@pytest.fixture
def agent(client, login, engine):
    """A signed-in agent holding one debtor: (user, csrf token, debtor id, contact id)."""
    user, token = login("agent")
    debtor_id, contact_id = held_debtor(engine, user.id)
    return user, token, debtor_id, contact_id


def start(client, agent):
    user, token, debtor_id, contact_id = agent
    response = client.post(
        "/telephonie/appels",
        data={"debtor_id": debtor_id, "contact_id": contact_id},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def act(client, agent, path: str, **kwargs):
    return client.post(path, headers={"X-CSRFToken": agent[1]}, **kwargs)


def signed_in_client(app, user):
    other = app.test_client()
    page = other.get("/connexion").get_data(as_text=True)
    response = other.post(
        "/connexion",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 302
    return other


def agent_state(engine, user_id: int) -> User:
    with Session(engine) as session:
        return session.get(User, user_id)


def test_a_simulated_call_lives_its_whole_life_on_the_record_and_the_timeline(
    app, client, agent, engine
):
    user, _token, debtor_id, _contact = agent
    started = start(client, agent)
    assert started["mode"] == "simulated"
    assert started["state"] == "ringing"
    call_id = started["callId"]
    assert agent_state(engine, user.id).agent_state == AgentState.ON_CALL

    answered = act(client, agent, f"/telephonie/appels/{call_id}/simulation/answered")
    assert answered.get_json()["state"] == "in_call"
    assert answered.get_json()["answeredBy"] == "human"
    ended = act(client, agent, f"/telephonie/appels/{call_id}/raccrocher").get_json()
    assert ended["state"] == "ended"
    assert ended["agentState"] == "wrap_up"

    call = load_call(engine, call_id)
    assert call.provider == "simulated"
    assert call.provider_call_id.startswith("CA") and len(call.provider_call_id) == 34
    assert call.to_number == DEBTOR_PHONE
    assert call.from_number == "+33199000000"
    assert call.provider_status == "completed"
    assert call.answered_at and call.ended_at and call.duration_seconds is not None
    statuses = [e.payload["status"] for e in events(engine, "call.status")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]

    record = client.get(f"/telephonie/appels/{call_id}").get_data(as_text=True)
    for text in ("Appel lancé", "Sonnerie", "Décroché par une personne", "Terminé, durée"):
        assert text in record
    with Session(engine) as session:
        titles = [entry.title for entry in describe_events(session, debtor_id=debtor_id, limit=50)]
    assert titles.count("Suivi d'appel") == 4
    assert "Appel lancé" in titles


@pytest.mark.parametrize(
    ("outcome", "status", "label"),
    [
        ("no-answer", "no-answer", "Pas de réponse"),
        ("busy", "busy", "Occupé"),
        ("failed", "failed", "Échec"),
    ],
)
def test_unanswered_outcomes_end_the_call(client, agent, engine, outcome, status, label):
    call_id = start(client, agent)["callId"]
    payload = act(client, agent, f"/telephonie/appels/{call_id}/simulation/{outcome}").get_json()
    assert payload["state"] == "ended"
    assert payload["statusLabel"] == label
    call = load_call(engine, call_id)
    assert call.provider_status == status
    assert call.answered_at is None and call.duration_seconds == 0
    again = act(client, agent, f"/telephonie/appels/{call_id}/simulation/answered")
    assert again.status_code == 409
    assert load_call(engine, call_id).provider_status == status


def test_voicemail_is_answered_by_a_machine(client, agent, engine):
    call_id = start(client, agent)["callId"]
    payload = act(client, agent, f"/telephonie/appels/{call_id}/simulation/voicemail").get_json()
    assert payload["answeredByLabel"] == "un répondeur"
    act(client, agent, f"/telephonie/appels/{call_id}/raccrocher")
    call = load_call(engine, call_id)
    assert (call.provider_status, call.answered_by) == ("completed", "machine_end_beep")


def test_hanging_up_while_it_rings_cancels_the_call(client, agent, engine):
    call_id = start(client, agent)["callId"]
    payload = act(client, agent, f"/telephonie/appels/{call_id}/raccrocher").get_json()
    assert payload["state"] == "ended"
    assert load_call(engine, call_id).provider_status == "canceled"


def test_an_audio_file_becomes_the_recording_that_only_supervisors_hear(
    app, client, agent, engine, make_user
):
    call_id = start(client, agent)["callId"]
    act(client, agent, f"/telephonie/appels/{call_id}/simulation/answered")
    act(client, agent, f"/telephonie/appels/{call_id}/raccrocher")
    refused = act(
        client,
        agent,
        f"/telephonie/appels/{call_id}/simulation/enregistrement",
        data={"audio": (io.BytesIO(b"pas du son"), "note.txt")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "WAV" in refused.get_json()["error"]
    audio = wav_bytes()
    attached = act(
        client,
        agent,
        f"/telephonie/appels/{call_id}/simulation/enregistrement",
        data={"audio": (io.BytesIO(audio), "appel.wav")},
        content_type="multipart/form-data",
    )
    assert attached.status_code == 200, attached.get_json()
    call = load_call(engine, call_id)
    assert call.recording_sid.startswith("RE")
    assert [e.payload["sid"] for e in events(engine, "call.recording")] == [call.recording_sid]

    assert client.get(f"/enregistrements/{call_id}").status_code == 403
    supervisor = signed_in_client(app, make_user("supervisor"))
    heard = supervisor.get(f"/enregistrements/{call_id}")
    assert heard.status_code == 200
    assert heard.mimetype == "audio/wav"
    assert heard.data == audio
    page = supervisor.get(f"/telephonie/appels/{call_id}").get_data(as_text=True)
    assert f"/enregistrements/{call_id}" in page
    assert f"/enregistrements/{call_id}" not in client.get(f"/telephonie/appels/{call_id}").text

    provider = app.extensions["callcenter"].providers["telephony"]
    provider.delete_recording(call.recording_sid)
    assert supervisor.get(f"/enregistrements/{call_id}").status_code == 404


def test_agent_state_changes_are_timestamped_and_checked(client, agent, engine):
    user, token, _debtor, _contact = agent
    missing = act(client, agent, "/telephonie/etat", data={"state": "paused"})
    assert missing.status_code == 422
    assert "motif de pause" in missing.get_json()["errors"]["pause_code"]
    paused = act(client, agent, "/telephonie/etat", data={"state": "paused", "pause_code": "repas"})
    assert paused.get_json()["agentState"] == "paused"
    row = agent_state(engine, user.id)
    assert (row.agent_state, row.pause_code) == ("paused", "repas")
    assert row.state_since is not None
    forbidden = act(client, agent, "/telephonie/etat", data={"state": "on_call"})
    assert forbidden.status_code == 422

    call_id = start(client, agent)["callId"]
    busy = act(client, agent, "/telephonie/etat", data={"state": "available"})
    assert busy.status_code == 409
    assert "raccrochez" in busy.get_json()["error"]
    act(client, agent, f"/telephonie/appels/{call_id}/raccrocher")
    resumed = act(client, agent, "/telephonie/post-appel/fin").get_json()
    assert resumed["agentState"] == "available"
    assert load_call(engine, call_id).wrap_up_ended_at is not None
    moves = [(e.payload["from"], e.payload["to"]) for e in events(engine, "agent.state")]
    assert moves == [
        ("offline", "paused"),
        ("paused", "on_call"),
        ("on_call", "wrap_up"),
        ("wrap_up", "available"),
    ]


def test_wrap_up_times_out(client, agent, engine):
    user = agent[0]
    call_id = start(client, agent)["callId"]
    act(client, agent, f"/telephonie/appels/{call_id}/raccrocher")
    with session_scope(engine) as session:
        assert expire_wrap_ups(session, now=utcnow(), wrap_up_seconds=120) == 0
        later = utcnow() + timedelta(seconds=121)
        assert expire_wrap_ups(session, now=later, wrap_up_seconds=120) == 1
    assert agent_state(engine, user.id).agent_state == AgentState.AVAILABLE
    assert load_call(engine, call_id).wrap_up_ended_at is not None


def test_one_call_at_a_time_and_never_a_do_not_call_debtor(client, agent, engine):
    _user, _token, debtor_id, contact_id = agent
    start(client, agent)
    second = act(
        client, agent, "/telephonie/appels", data={"debtor_id": debtor_id, "contact_id": contact_id}
    )
    assert second.status_code == 409
    assert "déjà en communication" in second.get_json()["error"]
    with session_scope(engine) as session:
        session.get(Debtor, debtor_id).do_not_call = True
        for call in session.exec(select(Call)):
            call.ended_at = utcnow()
    refused = act(
        client, agent, "/telephonie/appels", data={"debtor_id": debtor_id, "contact_id": contact_id}
    )
    assert refused.status_code == 409
    assert "ne doit plus être appelé" in refused.get_json()["error"]


def test_a_contact_without_a_number_is_refused_by_field(client, agent, engine):
    _user, _token, debtor_id, _contact = agent
    with session_scope(engine) as session:
        contact = Contact(debtor_id=debtor_id, full_name="M. Sans Numéro")
        session.add(contact)
        session.flush()
        contact_id = contact.id
    response = act(
        client, agent, "/telephonie/appels", data={"debtor_id": debtor_id, "contact_id": contact_id}
    )
    assert response.status_code == 422
    assert "M. Sans Numéro n'a pas de numéro" in response.get_json()["errors"]["contact_id"]


def test_the_simulator_signs_what_it_sends(app, client, agent, engine):
    call_id = start(client, agent)["callId"]
    simulator = app.extensions["callcenter"].providers["telephony"]
    assert isinstance(simulator, SimulatedTelephony)
    simulator.auth_token = "jeton-qui-ne-correspond-pas"
    simulator.webhook_auth_token = lambda: "le-jeton-attendu-par-l-application"
    response = act(client, agent, f"/telephonie/appels/{call_id}/simulation/answered")
    assert response.status_code == 502
    assert "HTTP 403" in response.get_json()["error"]
    assert load_call(engine, call_id).provider_status == "ringing"


def test_the_softphone_page_shows_the_simulator_in_french(client, agent):
    _user, _token, debtor_id, contact_id = agent
    page = client.get(f"/telephonie/?debtor_id={debtor_id}").get_data(as_text=True)
    assert 'id="softphone"' in page
    assert f'data-contact-id="{contact_id}"' in page
    for label in ("Appeler", "Raccrocher", "Muet", "Clavier", "Décroche", "Pas de réponse"):
        assert label in page
    for label in ("Répondeur", "Occupé", "Échec"):
        assert label in page
    assert "twilio.min.js" not in page


def test_the_token_endpoint_says_the_simulator_needs_none(client, agent):
    response = client.get("/telephonie/jeton")
    assert response.status_code == 409
    assert "simulateur" in response.get_json()["error"]
