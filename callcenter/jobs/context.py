"""What every job receives: settings, engine, mail transport and the provider hooks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from callcenter.clock import Clock
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
    clock: Clock | None = None
    telephony: Any = None
    webhook_poster: Any = None  # providers.webhooks.WebhookPoster; HTTP when None
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = Clock(self.settings.app.timezone)

    def now(self) -> datetime:
        """The job's instant, from the one clock (aware UTC)."""
        assert self.clock is not None
        return self.clock.now()

    def today(self) -> date:
        """Today in the company's time zone, from the one clock."""
        assert self.clock is not None
        return self.clock.today()
