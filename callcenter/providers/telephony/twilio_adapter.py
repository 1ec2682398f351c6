"""Twilio adapter: browser softphone tokens and the few REST requests the product makes.

The agent's browser (``@twilio/voice-sdk``) connects to the TwiML App; Twilio then
asks the voice webhook what to do and the app answers ``<Dial>`` to the number of
the call row. REST requests go through the ``twilio`` library; tests pass a
substitute ``http_client`` (the contract tests send them to Prism serving Twilio's
OpenAPI spec).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.rest import Client

from callcenter.providers.telephony.base import (
    STATUS_EVENTS,
    AccessGrant,
    CallStart,
    PlacedCall,
    RecordingGone,
    RecordingInfo,
    TelephonyFailure,
    TelephonyUnavailable,
)

API_BASE = "https://api.twilio.com"
TOKEN_TTL_SECONDS = 600
CURRENT_RECORDING = "Twilio.CURRENT"
log = logging.getLogger("callcenter.twilio")


@dataclass
class TwilioTelephony:
    account_sid: str
    auth_token: str
    api_key_sid: str = ""
    api_key_secret: str = ""
    twiml_app_sid: str = ""
    token_ttl_seconds: int = TOKEN_TTL_SECONDS
    http_client: Any = None
    media_get: Callable[..., Any] = requests.get
    name: str = "twilio"
    _client: Client | None = field(default=None, init=False, repr=False)

    def webhook_auth_token(self) -> str:
        return self.auth_token

    @property
    def client(self) -> Client:
        if self._client is None:
            if not self.account_sid or not (self.auth_token or self.api_key_secret):
                raise TelephonyUnavailable(
                    "Twilio n'est pas configuré : renseignez twilio_account_sid et "
                    "CALLCENTER_TWILIO_AUTH_TOKEN (ou une clé d'API)."
                )
            http_client = self.http_client or TwilioHttpClient(timeout=10)
            if self.api_key_sid and self.api_key_secret:
                self._client = Client(
                    self.api_key_sid, self.api_key_secret, self.account_sid, http_client=http_client
                )
            else:
                self._client = Client(self.account_sid, self.auth_token, http_client=http_client)
        return self._client

    def access_token(self, *, identity: str) -> AccessGrant:
        """A short-lived Voice token: calls out through the TwiML App, registers as the agent."""
        missing = [
            label
            for label, value in (
                ("twilio_account_sid", self.account_sid),
                ("twilio_api_key_sid", self.api_key_sid),
                ("twilio_twiml_app_sid", self.twiml_app_sid),
                ("CALLCENTER_TWILIO_API_KEY_SECRET", self.api_key_secret),
            )
            if not value
        ]
        if missing:
            raise TelephonyUnavailable(
                "Le softphone Twilio n'est pas configuré ; manque : " + ", ".join(missing) + "."
            )
        token = AccessToken(
            self.account_sid,
            self.api_key_sid,
            self.api_key_secret,
            identity=identity,
            ttl=self.token_ttl_seconds,
        )
        token.add_grant(
            VoiceGrant(outgoing_application_sid=self.twiml_app_sid, incoming_allow=True)
        )
        return AccessGrant(token.to_jwt(), identity, self.token_ttl_seconds)

    def start(self, *, call_id: int, agent_id: int) -> CallStart:
        """Nothing to send: the browser connects to the TwiML App with the call's id."""
        return CallStart(call_id=call_id, mode="device", params={"CallId": str(call_id)})

    def create_call(
        self, *, to: str, from_: str, url: str, status_callback: str, machine_detection: bool
    ) -> PlacedCall:
        """Place a call from the server (Twilio fetches ``url`` for its TwiML once answered)."""
        options: dict[str, Any] = {
            "to": to,
            "from_": from_,
            "url": url,
            "method": "POST",
            "status_callback": status_callback,
            "status_callback_method": "POST",
            "status_callback_event": list(STATUS_EVENTS),
        }
        if machine_detection:
            options["machine_detection"] = "Enable"
        call = self._rest(lambda: self.client.calls.create(**options))
        return PlacedCall(sid=call.sid, status=call.status)

    def hangup(self, provider_call_id: str) -> None:
        self._rest(lambda: self.client.calls(provider_call_id).update(status="completed"))

    def stop_recording(self, provider_call_id: str) -> None:
        self._rest(
            lambda: (
                self.client.calls(provider_call_id)
                .recordings(CURRENT_RECORDING)
                .update(status="stopped")
            )
        )

    def fetch_recording(self, sid: str) -> RecordingInfo:
        try:
            recording = self._rest(lambda: self.client.recordings(sid).fetch())
        except TelephonyFailure as failure:
            if (
                isinstance(failure.__cause__, TwilioRestException)
                and failure.__cause__.status == 404
            ):
                raise RecordingGone("Enregistrement introuvable chez Twilio (supprimé).") from None
            raise
        duration = recording.duration
        media = recording.uri.removesuffix(".json") + ".wav" if recording.uri else None
        return RecordingInfo(
            sid=recording.sid,
            call_sid=recording.call_sid,
            status=str(recording.status) if recording.status else "",
            duration_seconds=int(duration) if duration not in (None, "", "-1") else None,
            media_url=API_BASE + media if media else None,
        )

    def recording_audio(self, sid: str) -> tuple[bytes, str]:
        info = self.fetch_recording(sid)
        if not info.media_url:
            raise TelephonyFailure("Cet enregistrement n'a pas de fichier audio.")
        user, password = self.client.username, self.client.password
        try:
            response = self.media_get(info.media_url, auth=(user, password), timeout=30)
        except requests.RequestException as error:
            raise _unreachable(error) from error
        if response.status_code != 200:
            raise TelephonyFailure(
                f"Twilio n'a pas rendu l'enregistrement (HTTP {response.status_code})."
            )
        return response.content, "audio/wav"

    def delete_recording(self, sid: str) -> None:
        """Delete for good; an already deleted recording is not an error (the purge retries)."""
        try:
            self.client.recordings(sid).delete()
        except TwilioRestException as error:
            if error.status != 404:
                raise TelephonyFailure(_describe(error)) from error
        except (TwilioException, requests.RequestException, OSError) as error:
            raise _unreachable(error) from error

    def _rest(self, request):
        """One REST request; every way it can fail becomes a ``TelephonyFailure`` in French
        (Twilio's refusal, or the network: timeout, refused connection, proxy error)."""
        try:
            return request()
        except TwilioRestException as error:
            raise TelephonyFailure(_describe(error)) from error
        except (TwilioException, requests.RequestException, OSError) as error:
            raise _unreachable(error) from error


def _unreachable(error: Exception) -> TelephonyFailure:
    """Twilio could not be reached: said in French, the technical detail goes to the log."""
    log.warning("Twilio injoignable : %r", error)
    if isinstance(error, requests.Timeout | TimeoutError):
        return TelephonyFailure("Twilio ne répond pas pour le moment : réessayez dans un instant.")
    return TelephonyFailure(
        "Twilio est injoignable pour le moment (réseau ou serveur mandataire) : "
        "réessayez dans un instant."
    )


def _describe(error: TwilioRestException) -> str:
    return f"Twilio a refusé la demande (HTTP {error.status}, code {error.code}) : {error.msg}"
