"""Contract tests: every Twilio REST request the app makes, validated by Prism against
Twilio's official OpenAPI spec (``twilio/twilio_api_v2010.json``).

Prism rejects repeated form keys (the twilio library sends ``StatusCallbackEvent``
once per event) unless the array property also accepts a single item, so the test
serves a copy of the spec where each form array is ``oneOf [array, item]``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient

from callcenter.providers.telephony import TwilioTelephony
from callcenter.providers.telephony.base import TelephonyFailure
from callcenter.providers.telephony.twilio_adapter import API_BASE
from tests.conftest import require_component, shared_file
from tests.smtp_server import free_port

PRISM = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "prism"
ACCOUNT_SID = "AC" + "a" * 32
CALL_SID = "CA" + "1" * 32
RECORDING_SID = "RE" + "2" * 32


def accept_single_items(spec: dict) -> int:
    """Let every form-encoded array property also take one item; returns how many changed."""
    changed = 0
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            for content in operation["requestBody"].get("content", {}).values():
                properties = content.get("schema", {}).get("properties", {})
                for name, schema in properties.items():
                    if schema.get("type") == "array" and "items" in schema:
                        properties[name] = {"oneOf": [schema, schema["items"]]}
                        changed += 1
    return changed


class PrismHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sent to Prism instead of api.twilio.com."""

    def __init__(self, base: str) -> None:
        super().__init__(timeout=10)
        self.base = base
        self.sent: list[tuple[str, str, int]] = []

    def request(self, method, url, *args, **kwargs):
        url = url.replace(API_BASE, self.base)
        response = super().request(method, url, *args, **kwargs)
        self.sent.append((method, url, response.status_code))
        return response


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_component(PRISM.exists(), "Prism absent : lancez « npm ci » (@stoplight/prism-cli)")
    spec = json.loads(shared_file("twilio/twilio_api_v2010.json").read_text())
    assert accept_single_items(spec) > 0
    patched = tmp_path_factory.mktemp("prism") / "twilio_api_v2010.json"
    patched.write_text(json.dumps(spec))
    port = free_port()
    log = patched.with_suffix(".log").open("w")
    process = subprocess.Popen(
        [str(PRISM), "mock", str(patched), "--host", "127.0.0.1", "--port", str(port), "--errors"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prism s'est arrêté : {patched.with_suffix('.log').read_text()}")
            try:
                requests.get(base + "/2010-04-01/Accounts.json", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("Prism n'a pas démarré en 60 s")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def http_client(prism: str) -> PrismHttpClient:
    return PrismHttpClient(prism)


@pytest.fixture
def twilio(http_client: PrismHttpClient) -> TwilioTelephony:
    return TwilioTelephony(
        account_sid=ACCOUNT_SID,
        auth_token="jeton",
        api_key_sid="SK" + "b" * 32,
        api_key_secret="secret",
        twiml_app_sid="AP" + "c" * 32,
        http_client=http_client,
    )


def _only_valid_requests(client: PrismHttpClient, count: int) -> None:
    assert len(client.sent) == count
    for method, url, status in client.sent:
        assert 200 <= status < 300, (method, url, status)


def test_create_a_call_with_its_status_events(twilio, http_client):
    placed = twilio.create_call(
        to="+33612345678",
        from_="+33180000000",
        url="https://relance.exemple.fr/twilio/voix",
        status_callback="https://relance.exemple.fr/twilio/appels/1/statut",
        machine_detection=True,
    )
    assert placed.sid.startswith("CA")
    _only_valid_requests(http_client, 1)


def test_hang_up(twilio, http_client):
    twilio.hangup(CALL_SID)
    _only_valid_requests(http_client, 1)
    assert http_client.sent[0][0] == "POST"
    assert http_client.sent[0][1].endswith(f"/Calls/{CALL_SID}.json")


def test_stop_the_recording_when_the_debtor_objects(twilio, http_client):
    twilio.stop_recording(CALL_SID)
    _only_valid_requests(http_client, 1)


def test_fetch_and_delete_a_recording(twilio, http_client):
    info = twilio.fetch_recording(RECORDING_SID)
    assert info.media_url.startswith(API_BASE) and info.media_url.endswith(".wav")
    twilio.delete_recording(RECORDING_SID)
    _only_valid_requests(http_client, 2)
    assert http_client.sent[1][0] == "DELETE"


def test_a_request_that_breaks_the_spec_fails(twilio, http_client):
    with pytest.raises(TelephonyFailure, match="HTTP 422"):
        twilio.hangup("pas-un-identifiant-twilio")
    with pytest.raises(TwilioRestException) as refused:
        twilio.client.calls(CALL_SID).update(status="raccroché")
    assert refused.value.status == 422
    assert [status for _m, _u, status in http_client.sent] == [422, 422]
