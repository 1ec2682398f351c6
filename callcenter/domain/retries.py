"""How often a failed delivery is tried again: the email outbox and the webhooks share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    first_retry: timedelta = timedelta(minutes=1)
    max_retry: timedelta = timedelta(hours=2)
    lease: timedelta = timedelta(minutes=5)

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        """Exponential backoff after ``attempts`` tries: 1 min, 2, 4… capped at two hours."""
        return now + min(self.first_retry * (2 ** (attempts - 1)), self.max_retry)


DEFAULT_DELIVERY_POLICY = DeliveryPolicy()
