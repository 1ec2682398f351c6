"""Telephony adapters in isolation: wiring from settings, identities, Twilio REST edge cases
through a substitute ``http_client``, and the simulator's recordings."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

from callcenter.config import parse_settings
from callcenter.domain.calls import duration_label
from callcenter.providers.telephony import (
    SimulatedTelephony,
    TwilioTelephony,
    build_telephony,
    simulator_token,
)
from callcenter.providers.telephony.base import (
    TelephonyFailure,
    TelephonyUnavailable,
    agent_from_identity,
    agent_identity,
)
from callcenter.providers.telephony.simulated import audio_suffix

ACCOUNT_SID = "AC" + "a" * 32
RECORDING_SID = "RE" + "2" * 32


class ScriptedHttpClient(HttpClient):
    """Answers each request with the next scripted (status, body)."""

    def __init__(self, *answers: tuple[int, dict | str]) -> None:
        super().__init__(logging.getLogger("twilio.test"), is_async=False)
        self.answers = list(answers)
        self.requests: list[tuple[str, str]] = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None, **_kw):
        self.requests.append((method, url))
        status, body = self.answers.pop(0)
        return TwilioResponse(status, body if isinstance(body, str) else json.dumps(body))


def twilio(http_client) -> TwilioTelephony:
    return TwilioTelephony(account_sid=ACCOUNT_SID, auth_token="jeton", http_client=http_client)


def test_identities_round_trip():
    assert agent_identity(7) == "agent-7"
    assert agent_from_identity("client:agent-7") == 7
    assert agent_from_identity("agent-12") == 12
    for value in ("", "client:supervisor-3", "agent-", "+33612345678", "client:agent-x"):
        assert agent_from_identity(value) is None


def test_the_simulator_is_the_default_and_twilio_is_built_from_settings(tmp_path):
    environ = {
        "CALLCENTER_SECRET_KEY": "k" * 40,
        "CALLCENTER_TWILIO_AUTH_TOKEN": "jeton-secret",
        "CALLCENTER_TWILIO_API_KEY_SECRET": "cle-secrete",
    }
    default = parse_settings({}, base_dir=tmp_path, environ=environ)
    simulated = build_telephony(default)
    assert isinstance(simulated, SimulatedTelephony)
    assert simulated.webhook_auth_token() == simulator_token(default) != "jeton-secret"
    assert simulated.recordings_dir == tmp_path / "var" / "recordings"

    settings = parse_settings(
        {"telephony": {"provider": "twilio", "twilio_account_sid": ACCOUNT_SID}},
        base_dir=tmp_path,
        environ=environ,
    )
    adapter = build_telephony(settings)
    assert isinstance(adapter, TwilioTelephony)
    assert adapter.webhook_auth_token() == "jeton-secret"
    assert adapter.api_key_secret == "cle-secrete"


def test_twilio_without_an_account_is_unavailable_in_french():
    adapter = TwilioTelephony(account_sid="", auth_token="")
    with pytest.raises(TelephonyUnavailable, match="Twilio n'est pas configuré"):
        adapter.hangup("CA" + "1" * 32)
    with pytest.raises(TelephonyUnavailable, match="twilio_account_sid"):
        adapter.access_token(identity="agent-1")


def test_deleting_a_recording_twilio_no_longer_has_is_not_an_error():
    client = ScriptedHttpClient((404, {"code": 20404, "message": "not found", "status": 404}))
    twilio(client).delete_recording(RECORDING_SID)
    assert client.requests == [
        (
            "DELETE",
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}.json",
        )
    ]


def test_a_refused_request_becomes_a_french_failure():
    client = ScriptedHttpClient((400, {"code": 21220, "message": "Call is not in-progress"}))
    with pytest.raises(TelephonyFailure, match="Twilio a refusé la demande .HTTP 400, code 21220"):
        twilio(client).hangup("CA" + "1" * 32)


def test_recording_audio_is_fetched_with_the_account_credentials():
    recording = {
        "sid": RECORDING_SID,
        "call_sid": "CA" + "1" * 32,
        "status": "completed",
        "duration": "42",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}.json",
    }
    fetched = []

    def media_get(url, auth, timeout):
        fetched.append((url, auth))
        return SimpleNamespace(status_code=200, content=b"RIFF-audio")

    adapter = twilio(ScriptedHttpClient((200, recording)))
    adapter.media_get = media_get
    assert adapter.recording_audio(RECORDING_SID) == (b"RIFF-audio", "audio/wav")
    assert fetched == [
        (
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}.wav",
            (ACCOUNT_SID, "jeton"),
        )
    ]


def test_audio_files_are_recognised_by_their_first_bytes():
    assert audio_suffix(b"RIFF\x00\x00\x00\x00WAVEfmt ") == ".wav"
    assert audio_suffix(b"ID3\x04\x00") == ".mp3"
    assert audio_suffix(b"\xff\xfb\x90\x00") == ".mp3"
    assert audio_suffix(b"OggS\x00\x02") == ".ogg"
    assert audio_suffix(b"%PDF-1.7") is None


def test_an_unbound_simulator_says_so(tmp_path):
    simulator = SimulatedTelephony(auth_token="t", recordings_dir=tmp_path)
    with pytest.raises(TelephonyUnavailable, match="non relié"):
        simulator.start(call_id=1, agent_id=1)
    with pytest.raises(TelephonyFailure, match="introuvable"):
        simulator.recording_audio(RECORDING_SID)
    simulator.delete_recording("../../etc/passwd")  # never outside its folder


def test_durations_read_in_french():
    assert duration_label(None) == ""
    assert duration_label(45) == "45 s"
    assert duration_label(125) == "2 min 05 s"
