"""What every job receives: settings, engine, mail transport and the provider hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from callcenter.config import Settings
from callcenter.providers.mail import MailTransport


class RecordingDeleter(Protocol):
    """Deletes a call recording at the telephony provider; raises if it could not."""

    def __call__(self, *, recording_sid: str | None, recording_url: str | None) -> None: ...


def keep_provider_recording(*, recording_sid: str | None, recording_url: str | None) -> None:
    """Default hook: nothing to delete at a provider (simulated telephony)."""


@dataclass
class JobContext:
    settings: Settings
    engine: Engine
    mail: MailTransport
    delete_recording: RecordingDeleter = field(default=keep_provider_recording)

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.settings.app.timezone)).date()
