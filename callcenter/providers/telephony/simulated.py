"""Simulated telephony: the product works with no account, through Twilio's own code paths.

The simulator plays Twilio's part. It sends the webhooks Twilio would send
(voice, call status, recording status), with Twilio's parameter names, signed
with ``RequestValidator`` and its own token, to the same endpoints. The web
layer binds it to the app (``bind``): ``webhook_url`` names each endpoint and
``deliver`` dispatches a signed request through the app. The simulator keeps
no state between requests: what it needs comes from the call row.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from twilio.request_validator import RequestValidator

from callcenter.clock import system_time
from callcenter.providers.telephony.base import (
    AccessGrant,
    CallStart,
    RecordingGone,
    RecordingInfo,
    TelephonyFailure,
    TelephonyUnavailable,
    agent_identity,
)

SIMULATED_ACCOUNT_SID = "AC" + "0" * 32
OUTCOMES = {
    "answered": ("in-progress", "human"),
    "voicemail": ("in-progress", "machine_end_beep"),
    "no-answer": ("no-answer", None),
    "busy": ("busy", None),
    "failed": ("failed", None),
}
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}
MAX_AUDIO_BYTES = 50 * 1024 * 1024

WebhookUrl = Callable[..., str]
Deliver = Callable[[str, dict[str, str], str], int]


def new_sid(prefix: str) -> str:
    """A Twilio-shaped identifier: two letters and 32 hexadecimal digits."""
    return prefix + secrets.token_hex(16)


def audio_suffix(content: bytes) -> str | None:
    """The file type of an audio upload, from its first bytes (WAV, MP3 or Ogg)."""
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return ".wav"
    if content[:3] == b"ID3" or (len(content) > 1 and content[0] == 0xFF and content[1] >= 0xE0):
        return ".mp3"
    if content[:4] == b"OggS":
        return ".ogg"
    return None


@dataclass
class SimulatedTelephony:
    auth_token: str
    recordings_dir: Path
    announce_consent: bool = False
    name: str = "simulated"
    now: Callable[[], datetime] = field(default=system_time, repr=False)
    webhook_url: WebhookUrl | None = field(default=None, repr=False)
    deliver: Deliver | None = field(default=None, repr=False)

    def bind(self, *, webhook_url: WebhookUrl, deliver: Deliver) -> None:
        self.webhook_url = webhook_url
        self.deliver = deliver

    def webhook_auth_token(self) -> str:
        return self.auth_token

    def access_token(self, *, identity: str) -> AccessGrant:
        raise TelephonyUnavailable("Le simulateur n'utilise pas de jeton : aucun compte Twilio.")

    def start(self, *, call_id: int, agent_id: int) -> CallStart:
        """Twilio's part after the browser connects: voice webhook, then initiated and ringing."""
        sid = new_sid("CA")
        self._send(
            self._url("voice"),
            {
                "CallSid": sid,
                "AccountSid": SIMULATED_ACCOUNT_SID,
                "From": "client:" + agent_identity(agent_id),
                "To": "",
                "CallStatus": "ringing",
                "Direction": "inbound",
                "ApiVersion": "2010-04-01",
                "CallId": str(call_id),
            },
        )
        for status in ("initiated", "ringing"):
            self._status(call_id, sid, status)
        return CallStart(call_id=call_id, mode="simulated")

    def drive(self, *, call_id: int, provider_call_id: str, outcome: str) -> None:
        """The debtor's side: answers (a person or a voicemail), does not answer, busy, failure."""
        if outcome not in OUTCOMES:
            raise TelephonyFailure(f"Issue simulée inconnue : {outcome}.")
        status, answered_by = OUTCOMES[outcome]
        extra = {"AnsweredBy": answered_by} if answered_by else {}
        self._status(call_id, provider_call_id, status, **extra)
        if answered_by == "human" and self.announce_consent:
            self._send(self._url("consent", call_id=call_id), self._call_params(provider_call_id))

    def finish(self, *, call_id: int, provider_call_id: str, answered_at: datetime | None) -> None:
        """The agent hangs up: ``completed`` with the talk time, or ``canceled`` while ringing."""
        if answered_at is None:
            self._status(call_id, provider_call_id, "canceled", CallDuration="0")
            return
        duration = max(0, int((self.now() - answered_at).total_seconds()))
        self._status(call_id, provider_call_id, "completed", CallDuration=str(duration))

    def attach_recording(
        self, *, call_id: int, provider_call_id: str, content: bytes, duration_seconds: int
    ) -> str:
        """Store an audio file as the call's recording, then send the recording webhook."""
        suffix = audio_suffix(content)
        if suffix is None:
            raise TelephonyFailure("Fichier audio non reconnu : envoyez un WAV, un MP3 ou un Ogg.")
        if len(content) > MAX_AUDIO_BYTES:
            raise TelephonyFailure("Fichier audio trop volumineux (50 Mo au plus).")
        sid = new_sid("RE")
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        (self.recordings_dir / f"{sid}{suffix}").write_bytes(content)
        params = self._call_params(provider_call_id) | {
            "RecordingSid": sid,
            "RecordingStatus": "completed",
            "RecordingDuration": str(duration_seconds),
            "RecordingChannels": "2",
            "RecordingSource": "DialVerb",
            "RecordingStartTime": _rfc2822(self.now()),
        }
        self._send(self._url("recording", call_id=call_id), params)
        return sid

    def hangup(self, provider_call_id: str) -> None:
        """Hanging up needs the call row (see ``finish``); nothing to ask a provider."""

    def stop_recording(self, provider_call_id: str) -> None:
        """Nothing records during a simulated call: the file is attached afterwards."""

    def fetch_recording(self, sid: str) -> RecordingInfo:
        path = self._file(sid)
        return RecordingInfo(
            sid=sid, call_sid=None, status="completed", duration_seconds=None, media_url=str(path)
        )

    def recording_audio(self, sid: str) -> tuple[bytes, str]:
        path = self._file(sid)
        return path.read_bytes(), AUDIO_TYPES[path.suffix]

    def delete_recording(self, sid: str) -> None:
        for path in self._files(sid):
            path.unlink(missing_ok=True)

    def _files(self, sid: str) -> list[Path]:
        if not sid.startswith("RE") or not sid[2:].isalnum():
            return []
        return [self.recordings_dir / f"{sid}{suffix}" for suffix in AUDIO_TYPES]

    def _file(self, sid: str) -> Path:
        for path in self._files(sid):
            if path.exists():
                return path
        raise RecordingGone("Enregistrement introuvable (supprimé ou jamais reçu).")

    def _status(self, call_id: int, sid: str, status: str, **extra: str) -> None:
        params = self._call_params(sid) | {
            "CallStatus": status,
            "Timestamp": _rfc2822(self.now()),
            "CallbackSource": "call-progress-events",
        }
        self._send(self._url("status", call_id=call_id), params | extra)

    @staticmethod
    def _call_params(sid: str) -> dict[str, str]:
        return {"CallSid": sid, "AccountSid": SIMULATED_ACCOUNT_SID, "ApiVersion": "2010-04-01"}

    def _url(self, kind: str, **values: int) -> str:
        if self.webhook_url is None:
            raise TelephonyUnavailable("Simulateur non relié à l'application.")
        return self.webhook_url(kind, **values)

    def _send(self, url: str, params: dict[str, str]) -> None:
        if self.deliver is None:
            raise TelephonyUnavailable("Simulateur non relié à l'application.")
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        status = self.deliver(url, params, signature)
        if status >= 400:
            raise TelephonyFailure(f"Le webhook simulé a été refusé (HTTP {status}).")


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)
