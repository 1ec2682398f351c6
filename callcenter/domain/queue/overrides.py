"""Queue weights a supervisor changed from the cockpit, applied over ``config.toml``.

The refresh and the « why » panel read them, so a change takes effect at the next
refresh without a restart.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from callcenter.config import QueueSettings, Settings
from callcenter.models import SettingOverride

QUEUE_SECTION = "queue"
# The score weights a supervisor may change from the cockpit, with their French labels.
WEIGHT_LABELS: dict[str, str] = {
    "points_per_log_euro": "Points × ln(1 + montant échu en euros)",
    "points_per_overdue_day": "Points par jour de retard",
    "points_per_broken_promise": "Points par promesse non tenue",
    "points_promise_due_today": "Points si une promesse tombe aujourd'hui",
    "points_callback_due": "Points si un rappel est échu",
    "points_never_reached": "Points si jamais joint",
    "points_per_day_since_contact": "Points par jour depuis le dernier appel",
    "points_per_risk": "Points par point de risque",
    "penalty_per_attempt_today": "Pénalité par tentative du jour",
}


def queue_overrides(session: Session) -> dict[str, Any]:
    """The queue settings changed from the UI, by key."""
    rows = session.exec(select(SettingOverride).where(SettingOverride.section == QUEUE_SECTION))
    return {row.key: row.value for row in rows if row.key in WEIGHT_LABELS}


def effective_settings(session: Session, settings: Settings) -> Settings:
    """``settings`` with the queue weights a supervisor changed: what the next refresh uses."""
    overrides = queue_overrides(session)
    if not overrides:
        return settings
    queue = QueueSettings.model_validate(settings.queue.model_dump() | overrides)
    return settings.model_copy(update={"queue": queue})
