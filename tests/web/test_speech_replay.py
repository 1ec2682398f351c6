"""The simulator replays a WAV file through the live Media Streams endpoint (real WebSocket)."""

from __future__ import annotations

import io
import re
import threading
import time
import wave

import pytest
import requests
from sqlmodel import Session, select
from werkzeug.serving import make_server

from callcenter.db import session_scope
from callcenter.models import LivePartial
from callcenter.providers.speech import FakeSpeech, scripted
from tests.conftest import TEST_PASSWORD, make_settings
from tests.factories import make_call, make_debtor
from tests.smtp_server import free_port


@pytest.fixture
def public_port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path, database_url, public_port):
    return make_settings(
        tmp_path,
        database_url,
        speech={"model_path": "/modeles/fr"},
        app={"public_url": f"http://127.0.0.1:{public_port}"},
    )


def silent_stereo_wav(seconds: float = 2.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00\x00\x00" * int(8000 * seconds))
    return buffer.getvalue()


def test_replayed_file_reaches_the_live_endpoint_and_writes_both_tracks(
    app, make_user, public_port
):
    app.extensions["callcenter"].providers["speech"] = FakeSpeech(
        [scripted("bonjour madame", start=0.2), scripted("je vais payer", start=0.4)]
    )
    agent = make_user("agent")
    engine = app.extensions["callcenter"].engine
    with session_scope(engine) as session:
        call_id = make_call(session, make_debtor(session), agent_id=agent.id).id
    server = make_server("127.0.0.1", public_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        browser = requests.Session()
        page = browser.get(f"{base}/connexion", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        browser.post(
            f"{base}/connexion",
            data={"email": agent.email, "password": TEST_PASSWORD, "csrf_token": token},
            timeout=10,
        )
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', browser.get(f"{base}/agent/", timeout=10).text
        ).group(1)
        refused = browser.post(
            f"{base}/parole/rejouer",
            data={"call_id": str(call_id)},
            files={"audio": ("appel.wav", b"pas un wav", "audio/wav")},
            headers={"X-CSRFToken": token},
            timeout=10,
        )
        assert refused.status_code == 422 and "illisible" in refused.json()["error"]
        accepted = browser.post(
            f"{base}/parole/rejouer?rythme=rapide",
            data={"call_id": str(call_id)},
            files={"audio": ("appel.wav", silent_stereo_wav(), "audio/wav")},
            headers={
                "X-CSRFToken": token,
                "Host": "serveur-pirate.example:8443",
                # requests matches cookies on the Host header: send the session explicitly
                "Cookie": "; ".join(f"{c.name}={c.value}" for c in browser.cookies),
            },
            timeout=10,
        )
        assert accepted.status_code == 202, accepted.text[:3000]
        assert accepted.json()["url"] == f"ws://127.0.0.1:{server.server_port}/parole/flux/"
        assert accepted.json()["frames"] == 200
        deadline = time.monotonic() + 10
        rows: list[LivePartial] = []
        while time.monotonic() < deadline:
            with Session(engine) as session:
                rows = session.exec(select(LivePartial).where(LivePartial.call_id == call_id)).all()
            if len(rows) == 2 and all(row.heard for row in rows):
                break
            time.sleep(0.1)
        heard = {row.track: row.heard for row in rows}
        assert heard == {"agent": "bonjour madame", "debtor": "je vais payer"}
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
