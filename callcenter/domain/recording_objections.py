"""A debtor's objection to being recorded is enforced until the provider confirms it.

The objection is written first (the call's ``call.recording_objection`` event); stopping
the recording and deleting it at the provider follow. When the provider cannot be reached
at that moment, the objection stays owed: the calls listed here still have a recording, or
are still live, and the scheduler tries again until the provider answers.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from callcenter.domain.calls import is_terminal
from callcenter.models import Call, Event

OBJECTION_EVENT = "call.recording_objection"


def calls_owing_an_objection(session: Session, *, limit: int = 200) -> list[Call]:
    """Calls whose debtor objected and whose recording is not yet stopped and deleted."""
    call_ids = {
        event.payload.get("call_id")
        for event in session.exec(select(Event).where(Event.type == OBJECTION_EVENT)).all()
    }
    call_ids.discard(None)
    if not call_ids:
        return []
    calls = session.exec(
        select(Call).where(col(Call.id).in_(sorted(call_ids))).order_by(Call.id)
    ).all()
    owing = [
        call
        for call in calls
        if call.recording_sid or (call.provider_call_id and not is_terminal(call))
    ]
    return owing[:limit]
