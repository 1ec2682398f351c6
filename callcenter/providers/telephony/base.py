"""Telephony port: what the product asks of a telephony provider (Twilio or the simulator).

Calls are placed from the agent's browser; the provider then reports each step of
the call through signed webhooks (voice, status, recording) that the web layer
checks and feeds to ``callcenter.domain.calls``. The REST side of the port is
small: hang up, stop a recording (the debtor objects), fetch, read and delete a
recording (the retention purge calls ``delete_recording``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

TERMINAL_STATUSES = ("completed", "busy", "no-answer", "canceled", "failed")
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


class TelephonyUnavailable(Exception):
    """The provider cannot do this (not configured, or not offered by this adapter)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TelephonyFailure(Exception):
    """The provider refused or failed a request; ``message`` is French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RecordingGone(TelephonyFailure):
    """The provider has no such recording (deleted, or never received): not an outage."""


@dataclass(frozen=True)
class AccessGrant:
    """A short-lived token for the browser softphone (one identity per agent)."""

    token: str
    identity: str
    ttl_seconds: int


@dataclass(frozen=True)
class CallStart:
    """What the browser must do after the app created the call row."""

    call_id: int
    mode: str  # "device": the browser connects with ``params``; "simulated": nothing to do
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordingInfo:
    sid: str
    call_sid: str | None
    status: str
    duration_seconds: int | None
    media_url: str | None


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str


def agent_identity(user_id: int) -> str:
    """The softphone identity of an agent; the voice webhook maps it back to the user."""
    return f"agent-{user_id}"


def agent_from_identity(value: str) -> int | None:
    """``client:agent-7`` or ``agent-7`` → 7; anything else → None."""
    name = value.removeprefix("client:")
    prefix, _, number = name.partition("-")
    if prefix != "agent" or not number.isdigit():
        return None
    return int(number)


class TelephonyProvider(Protocol):
    name: str

    def webhook_auth_token(self) -> str:
        """The secret that signs this provider's webhooks (empty: refuse every webhook)."""
        ...

    def access_token(self, *, identity: str) -> AccessGrant: ...

    def start(self, *, call_id: int, agent_id: int) -> CallStart: ...

    def hangup(self, provider_call_id: str) -> None: ...

    def stop_recording(self, provider_call_id: str) -> None: ...

    def fetch_recording(self, sid: str) -> RecordingInfo: ...

    def recording_audio(self, sid: str) -> tuple[bytes, str]:
        """The audio bytes of a recording and their MIME type."""
        ...

    def delete_recording(self, sid: str) -> None: ...
