"""A callback: a moment inside the debtor's calling window, within 60 days, for this agent
(personal) or anyone. The phone step waits for it; at its time the debtor comes first."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.domain.audit import record_event
from callcenter.domain.outcome_kinds.base import (
    CALLBACK_HORIZON,
    Created,
    OutcomeContext,
    OutcomeKind,
)
from callcenter.domain.queue.eligibility import calling_window
from callcenter.formatting import moment
from callcenter.models import Call, Callback


def _moment(text: str, zone: ZoneInfo, now: datetime, errors: dict[str, str]):
    if not text.strip():
        errors["callback_at"] = "Indiquez la date et l'heure du rappel."
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        errors["callback_at"] = "Date et heure du rappel illisibles (JJ/MM/AAAA HH:MM)."
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    due = local.astimezone(ZoneInfo("UTC"))
    if due <= now:
        errors["callback_at"] = "Le rappel doit être prévu dans le futur."
    elif due > now + CALLBACK_HORIZON:
        errors["callback_at"] = "Le rappel doit être prévu dans les 60 jours."
    return due


class CallbackKind(OutcomeKind):
    kind = "callback"
    flag = "is_callback"
    has_fields = True

    def check(self, context: OutcomeContext):
        errors: dict[str, str] = {}
        zone = context.zone
        due = _moment(context.form.callback_at, zone, context.now, errors)
        if due is not None and "callback_at" not in errors:
            window = calling_window(context.debtor.time_zone, due, context.settings.queue)
            if not window.open:
                reopening = (
                    f" ; prochaine ouverture le {moment(window.reopens_at, zone)}"
                    if window.reopens_at
                    else ""
                )
                errors["callback_at"] = (
                    f"{window.reason}{reopening}. Choisissez un moment où le débiteur "
                    "peut être appelé."
                )
        return errors, due

    def apply(self, context: OutcomeContext, call: Call, checked: datetime, created: Created):
        session, form = context.session, context.form
        callback = Callback(
            debtor_id=context.debtor.id,
            call_id=call.id,
            agent_id=context.agent_id if form.callback_personal else None,
            personal=form.callback_personal,
            due_at=checked,
            reassign_after=checked
            + timedelta(minutes=context.settings.queue.callback_reassign_minutes),
            note=context.notes[:500],
            created_at=context.now,
        )
        session.add(callback)
        session.flush()
        record_event(
            session,
            type="callback.scheduled",
            actor_id=context.agent_id,
            debtor_id=context.debtor.id,
            payload={
                "id": callback.id,
                "due_at": checked.isoformat(),
                "when_label": moment(checked, context.zone),
                "personal": form.callback_personal,
            },
            at=context.now,
        )
        created.callback = callback
