"""The transcription worker: a simulated call with a stereo recording ends with a transcript on
both channels, suggestions in the outcome form and a supervisor flag for pressure."""

from __future__ import annotations

import io
import math
import re
import struct
import wave

import pytest
from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.jobs.context import JobContext
from callcenter.jobs.transcription import AudioRefused, split_channels, transcription_job
from callcenter.models import Call, Event, Transcript
from callcenter.providers.speech import FakeSpeech, scripted
from tests.web.test_telephony_simulated import act, start
from tests.web.test_telephony_webhooks import held_debtor

AGENT_SAYS = "bonjour madame Dupont. sinon on va saisir vos comptes."
DEBTOR_SAYS = (
    "oui bonjour. je vous fais un virement de mille deux cent cinquante euros le quinze décembre."
)


def stereo_wav(seconds: float = 12.0, rate: int = 8000) -> bytes:
    """Left: a 300 Hz tone (the agent); right: a 500 Hz tone (the debtor)."""
    frames = bytearray()
    for index in range(int(seconds * rate)):
        left = int(4000 * math.sin(2 * math.pi * 300 * index / rate))
        right = int(4000 * math.sin(2 * math.pi * 500 * index / rate))
        frames += struct.pack("<hh", left, right)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


@pytest.fixture
def engine(app):
    return app.extensions["callcenter"].engine


@pytest.fixture
def agent(client, login, engine):
    user, token = login("agent")
    debtor_id, contact_id = held_debtor(engine, user.id)
    return user, token, debtor_id, contact_id


@pytest.fixture
def context(app, engine):
    return JobContext(settings=app.extensions["callcenter"].settings, engine=engine, mail=None)


def recorded_call(client, agent, audio: bytes) -> int:
    call_id = start(client, agent)["callId"]
    act(client, agent, f"/telephonie/appels/{call_id}/simulation/answered")
    act(client, agent, f"/telephonie/appels/{call_id}/raccrocher")
    attached = act(
        client,
        agent,
        f"/telephonie/appels/{call_id}/simulation/enregistrement",
        data={"audio": (io.BytesIO(audio), "appel.wav")},
        content_type="multipart/form-data",
    )
    assert attached.status_code == 200, attached.get_json()
    return call_id


def test_channels_are_split_left_agent_right_debtor():
    channels = split_channels(stereo_wav(seconds=0.01))
    assert channels.rate == 8000
    assert set(channels.pcm) == {"agent", "debtor"}
    left = struct.unpack("<80h", channels.pcm["agent"])
    right = struct.unpack("<80h", channels.pcm["debtor"])
    assert left[1] == int(4000 * math.sin(2 * math.pi * 300 / 8000))
    assert right[1] == int(4000 * math.sin(2 * math.pi * 500 / 8000))
    with pytest.raises(AudioRefused, match="WAV PCM 16 bits"):
        split_channels(b"RIFF....WAVEpas du son")


def test_a_recorded_call_is_transcribed_flagged_and_suggests_a_promise(
    app, client, agent, engine, context
):
    with session_scope(engine) as session:
        sync_default_dispositions(session)
    call_id = recorded_call(client, agent, stereo_wav())
    with Session(engine) as session:
        assert session.exec(select(Transcript)).all() == []  # the wrap-up did not wait for it
    speech = FakeSpeech([scripted(AGENT_SAYS, start=0.5), scripted(DEBTOR_SAYS, start=1.0)])

    assert transcription_job(context, engine=speech) == 1
    assert transcription_job(context, engine=speech) == 0  # nothing left to do

    with Session(engine) as session:
        rows = {row.track: row for row in session.exec(select(Transcript)).all()}
        call = session.get(Call, call_id)
        flagged = session.exec(select(Event).where(Event.type == "call.flagged")).all()
        transcribed = session.exec(select(Event).where(Event.type == "call.transcribed")).all()
    assert set(rows) == {"agent", "debtor"}
    assert rows["agent"].text.splitlines() == [
        "bonjour madame Dupont",
        "sinon on va saisir vos comptes",
    ]
    first = rows["debtor"].words[0]
    assert (first["word"], first["start"], first["end"], first["conf"]) == ("oui", 1.0, 1.4, 0.9)
    assert rows["debtor"].confidence == 0.9
    assert call.flagged is True
    assert [event.payload["phrase"] for event in flagged] == ["on va saisir"]
    assert flagged[0].payload["sentence"] == "sinon on va saisir vos comptes"
    assert flagged[0].payload["at_seconds"] == 1.7
    assert [event.payload["tracks"] for event in transcribed] == [["agent", "debtor"]]

    page = client.get(f"/telephonie/appels/{call_id}").get_data(as_text=True)
    assert "Transcription" in page and "Débiteur" in page and "virement" in page
    assert "Appel signalé au superviseur" in page

    shown = client.get(f"/parole/suggestions?call_id={call_id}").get_data(as_text=True)
    assert "Promesse ?" in shown and "1250,00" in shown and "-12-15" in shown
    applied = act(
        client,
        agent,
        f"/agent/dossier/{agent[2]}/suggestion",
        data={
            "call_id": str(call_id),
            "notes": "note déjà saisie",
            "suggested_disposition": "promise",
            "suggested_amount": "1250,00",
            "suggested_date": "2026-12-15",
        },
    )
    form = applied.get_data(as_text=True)
    assert applied.status_code == 200
    assert 'value="1250,00"' in form and 'value="2026-12-15"' in form
    assert re.search(r'value="promise" data-flags="promise"[^>]*checked', form)
    assert "note déjà saisie" in form


def test_the_workspace_polls_suggestions_only_with_a_speech_model(app, client, agent):
    page = client.get("/agent/").get_data(as_text=True)
    assert 'id="speech-suggestions"' not in page, "no model: no polling"
    settings = app.extensions["callcenter"].settings
    with_model = settings.model_copy(
        update={"speech": settings.speech.model_copy(update={"model_path": "/modeles/fr"})}
    )
    app.extensions["callcenter"].settings = with_model
    page = client.get("/agent/").get_data(as_text=True)
    assert 'id="speech-suggestions"' in page
    assert page.index('id="speech-suggestions"') < page.index('<form id="outcome"'), (
        "outside the outcome form, so its polling never cancels a save"
    )
    assert client.get("/parole/suggestions?call_id=").status_code == 200
    assert "Promesse" not in client.get("/parole/suggestions?call_id=999").get_data(as_text=True)


def test_without_a_model_the_job_does_nothing_and_the_product_works(client, agent, engine, context):
    call_id = recorded_call(client, agent, stereo_wav(seconds=0.5))
    assert context.settings.speech.model_path == ""
    assert transcription_job(context) == 0
    with Session(engine) as session:
        assert session.exec(select(Transcript)).all() == []
        assert session.get(Call, call_id).recording_sid


def test_an_unreadable_recording_is_recorded_as_a_failure_not_retried(
    client, agent, engine, context
):
    call_id = recorded_call(client, agent, stereo_wav(seconds=0.1))
    with Session(engine) as session:
        call = session.get(Call, call_id)
        path = context.settings.data_path / "recordings" / f"{call.recording_sid}.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEcasse")
    assert transcription_job(context, engine=FakeSpeech()) == 0
    assert transcription_job(context, engine=FakeSpeech()) == 0
    with Session(engine) as session:
        failures = session.exec(
            select(Event).where(Event.type == "call.transcription_failed")
        ).all()
    assert len(failures) == 1
    assert "WAV" in failures[0].payload["reason"]
