"""Call lifecycle and agent states.

A call only moves forward: queued → initiated → ringing → in-progress → one end
(completed, busy, no-answer, canceled, failed). A duplicate or late provider
callback never moves it back; it may only fill a detail still missing (the
answered time, who answered, the duration). Each forward step is written to the
debtor's timeline. The agent is « en appel » from the start of a call, then « en
post-appel » when it ends, until the outcome is recorded, they resume, or the
wrap-up timeout passes. Every state change is timestamped and written as an
``agent.state`` event for the supervisors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from callcenter.domain.audit import record_event
from callcenter.domain.contact_rules import contact_block
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.queue.claim import renew_lease
from callcenter.models import AgentState, Call, Contact, Debtor, Event, User

TERMINAL = ("completed", "busy", "no-answer", "canceled", "failed")
STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3} | dict.fromkeys(
    TERMINAL, 4
)
STATUS_LABELS = {
    "queued": "En file",
    "initiated": "Numérotation",
    "ringing": "Sonnerie",
    "in-progress": "Décroché",
    "completed": "Terminé",
    "busy": "Occupé",
    "no-answer": "Pas de réponse",
    "canceled": "Annulé",
    "failed": "Échec",
}
ANSWERED_BY_LABELS = {
    "human": "une personne",
    "machine_start": "un répondeur",
    "machine_end_beep": "un répondeur",
    "machine_end_silence": "un répondeur",
    "machine_end_other": "un répondeur",
    "fax": "un fax",
    "unknown": "inconnu",
}
# Pause codes an agent may choose (wanted in config as ``[telephony] pause_codes``).
PAUSE_CODES = {
    "pause": "Pause",
    "repas": "Repas",
    "formation": "Formation",
    "reunion": "Réunion",
    "administratif": "Tâches administratives",
}
SELF_SERVICE_STATES = (AgentState.AVAILABLE, AgentState.PAUSED, AgentState.OFFLINE)


@dataclass(frozen=True)
class StatusUpdate:
    """One provider callback about a call, parsed."""

    status: str
    at: datetime
    call_sids: tuple[str, ...] = ()
    answered_by: str | None = None
    duration_seconds: int | None = None


def duration_label(seconds: int | None) -> str:
    """« 2 min 05 s », « 45 s »."""
    if seconds is None:
        return ""
    minutes, rest = divmod(max(0, int(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def is_terminal(call: Call) -> bool:
    return call.provider_status in TERMINAL


def _rank(status: str | None) -> int:
    return STATUS_RANK.get(status or "", -1)


def _renew(session: Session, call: Call, *, now: datetime, lease: timedelta) -> None:
    """A call in progress or in wrap-up keeps the agent's hold on the debtor."""
    if call.agent_id is None:
        return
    try:
        renew_lease(session, agent_id=call.agent_id, debtor_id=call.debtor_id, now=now, lease=lease)
    except DomainError:
        return


def set_agent_state(
    session: Session,
    *,
    user: User,
    state: AgentState,
    now: datetime,
    pause_code: str | None = None,
    actor_id: int | None = None,
) -> bool:
    """Change an agent's state with its timestamp and an event; False when nothing changed."""
    code = pause_code if state == AgentState.PAUSED else None
    if user.agent_state == state and user.pause_code == code:
        return False
    previous = user.agent_state
    user.agent_state = state
    user.state_since = now
    user.pause_code = code
    session.add(user)
    record_event(
        session,
        type="agent.state",
        actor_id=actor_id if actor_id is not None else user.id,
        payload={"user_id": user.id, "from": previous, "to": state, "pause_code": code},
        at=now,
    )
    session.flush()
    return True


def open_call(session: Session, *, agent_id: int) -> Call | None:
    """The agent's call not yet ended, if any."""
    return session.exec(
        select(Call)
        .where(Call.agent_id == agent_id, col(Call.ended_at).is_(None))
        .order_by(col(Call.id).desc())
        .limit(1)
    ).first()


def start_call(
    session: Session,
    *,
    agent_id: int,
    debtor_id: int,
    contact_id: int | None,
    provider: str,
    caller_id: str,
    now: datetime,
    lease: timedelta,
) -> Call:
    """Open a call to a contact of a debtor the agent holds and may contact now (no opposition,
    no collective procedure, even one recorded since the claim); the agent goes « en appel »."""
    agent = session.get(User, agent_id)
    debtor = session.get(Debtor, debtor_id)
    if agent is None or debtor is None:
        raise DomainError("Débiteur ou utilisateur introuvable.")
    renew_lease(session, agent_id=agent_id, debtor_id=debtor_id, now=now, lease=lease)
    block = contact_block(debtor)
    if block is not None:
        raise DomainError(block.reason)
    contact = session.get(Contact, contact_id) if contact_id else None
    if contact is None or contact.debtor_id != debtor_id:
        raise ValidationFailed({"contact_id": "Choisissez un contact de ce débiteur à appeler."})
    number = contact.phone or contact.mobile
    if not number:
        raise ValidationFailed(
            {"contact_id": f"{contact.full_name} n'a pas de numéro de téléphone."}
        )
    if open_call(session, agent_id=agent_id) is not None:
        raise DomainError("Vous êtes déjà en communication : raccrochez d'abord.")
    _end_wrap_up_calls(session, agent_id=agent_id, now=now)
    call = Call(
        debtor_id=debtor_id,
        contact_id=contact.id,
        agent_id=agent_id,
        provider=provider,
        to_number=number,
        from_number=caller_id,
        provider_status="queued",
        started_at=now,
        created_at=now,
    )
    session.add(call)
    session.flush()
    set_agent_state(session, user=agent, state=AgentState.ON_CALL, now=now)
    record_event(
        session,
        type="call.started",
        actor_id=agent_id,
        debtor_id=debtor_id,
        payload={"call_id": call.id, "to_number": number, "contact_name": contact.full_name},
        at=now,
    )
    session.flush()
    return call


def link_provider_call(
    session: Session, *, call_id: int, provider_call_id: str, agent_id: int | None
) -> Call:
    """The voice webhook: tie the provider's call to our row, for the agent who opened it only."""
    call = session.get(Call, call_id)
    if call is None or call.agent_id is None or call.agent_id != agent_id:
        raise DomainError("Appel inconnu pour ce poste.")
    if is_terminal(call):
        raise DomainError("Cet appel est déjà terminé.")
    if call.provider_call_id not in (None, provider_call_id):
        raise DomainError("Cet appel a déjà été passé.")
    if call.provider_call_id is None:
        call.provider_call_id = provider_call_id
        session.add(call)
        session.flush()
    return call


def apply_status(
    session: Session,
    *,
    call_id: int,
    update: StatusUpdate,
    now: datetime,
    lease: timedelta,
    wrap_up_seconds: int,
) -> bool:
    """Apply one status callback; True when the call moved forward (False: duplicate or late)."""
    if update.status not in STATUS_RANK:
        raise ValidationFailed({"CallStatus": f"État d'appel inconnu : {update.status!r}."})
    call = session.get(Call, call_id)
    if call is None:
        raise DomainError("Appel inconnu.")
    if call.provider_call_id and update.call_sids and call.provider_call_id not in update.call_sids:
        raise DomainError("Ce rappel ne concerne pas cet appel.")
    if call.provider_call_id is None and update.call_sids:
        call.provider_call_id = update.call_sids[0]
    update = _not_before(update, call)
    if _rank(update.status) <= _rank(call.provider_status):
        _fill_missing(call, update)
        session.add(call)
        session.flush()
        return False

    call.provider_status = update.status
    if update.answered_by:
        call.answered_by = update.answered_by
    if update.status == "in-progress":
        call.answered_at = update.at
    if update.status in TERMINAL:
        call.ended_at = update.at
        _fill_missing(call, update)
        if call.duration_seconds is None:
            call.duration_seconds = (
                int((update.at - call.answered_at).total_seconds()) if call.answered_at else 0
            )
    session.add(call)
    record_event(
        session,
        type="call.status",
        actor_id=call.agent_id,
        debtor_id=call.debtor_id,
        payload={
            "call_id": call.id,
            "status": update.status,
            "answered_by": call.answered_by,
            "duration_seconds": call.duration_seconds if update.status in TERMINAL else None,
        },
        at=update.at,
    )
    session.flush()
    _renew(session, call, now=now, lease=lease)
    if update.status in TERMINAL:
        _start_wrap_up(session, call, now=now, wrap_up_seconds=wrap_up_seconds)
    return True


def _not_before(update: StatusUpdate, call: Call) -> StatusUpdate:
    """Provider timestamps have whole seconds: never date a step before the call's last one."""
    floor = max((t for t in (call.started_at, call.answered_at) if t is not None), default=None)
    if floor is None or update.at >= floor:
        return update
    return replace(update, at=floor)


def _fill_missing(call: Call, update: StatusUpdate) -> None:
    """A late callback may still bring a detail nobody recorded; it never changes the state."""
    if update.answered_by and call.answered_by is None:
        call.answered_by = update.answered_by
    if update.status == "in-progress" and call.answered_at is None and is_terminal(call):
        call.answered_at = update.at
    if (
        update.status in TERMINAL
        and update.duration_seconds is not None
        and call.duration_seconds in (None, 0)
    ):
        call.duration_seconds = update.duration_seconds


def _start_wrap_up(session: Session, call: Call, *, now: datetime, wrap_up_seconds: int) -> None:
    agent = session.get(User, call.agent_id) if call.agent_id else None
    if agent is None or agent.agent_state != AgentState.ON_CALL:
        return
    if open_call(session, agent_id=agent.id) is not None:
        return
    if wrap_up_seconds == 0:
        call.wrap_up_ended_at = now
        session.add(call)
        set_agent_state(session, user=agent, state=AgentState.AVAILABLE, now=now)
        return
    set_agent_state(session, user=agent, state=AgentState.WRAP_UP, now=now)


def _end_wrap_up_calls(session: Session, *, agent_id: int, now: datetime) -> None:
    for call in session.exec(
        select(Call).where(
            Call.agent_id == agent_id,
            col(Call.ended_at).is_not(None),
            col(Call.wrap_up_ended_at).is_(None),
        )
    ):
        call.wrap_up_ended_at = now
        session.add(call)
    session.flush()


def change_own_state(
    session: Session, *, user_id: int, state: str, pause_code: str | None, now: datetime
) -> User:
    """The agent picks available, paused (with a reason) or offline; never during a call."""
    user = session.get(User, user_id)
    if user is None:
        raise DomainError("Utilisateur introuvable.")
    try:
        target = AgentState(state)
    except ValueError:
        raise ValidationFailed({"state": "État inconnu."}) from None
    if target not in SELF_SERVICE_STATES:
        raise ValidationFailed(
            {"state": "Choisissez « Disponible », « En pause » ou « Hors ligne »."}
        )
    code = (pause_code or "").strip() or None
    if target == AgentState.PAUSED and code not in PAUSE_CODES:
        raise ValidationFailed({"pause_code": "Choisissez un motif de pause dans la liste."})
    if open_call(session, agent_id=user_id) is not None:
        raise DomainError("Vous êtes en communication : raccrochez avant de changer d'état.")
    if user.agent_state == AgentState.WRAP_UP:
        _end_wrap_up_calls(session, agent_id=user_id, now=now)
    set_agent_state(session, user=user, state=target, now=now, pause_code=code)
    return user


def finish_wrap_up(session: Session, *, user_id: int, now: datetime) -> bool:
    """The outcome is recorded (or the agent resumes): wrap-up ends, the agent is available."""
    user = session.get(User, user_id)
    if user is None or user.agent_state != AgentState.WRAP_UP:
        return False
    _end_wrap_up_calls(session, agent_id=user_id, now=now)
    return set_agent_state(session, user=user, state=AgentState.AVAILABLE, now=now)


def expire_wrap_ups(session: Session, *, now: datetime, wrap_up_seconds: int) -> int:
    """Agents in wrap-up longer than the timeout become available; returns how many."""
    limit = now - timedelta(seconds=wrap_up_seconds)
    users = session.exec(
        select(User).where(User.agent_state == AgentState.WRAP_UP, col(User.state_since) <= limit)
    ).all()
    for user in users:
        ended = (user.state_since or now) + timedelta(seconds=wrap_up_seconds)
        _end_wrap_up_calls(session, agent_id=user.id, now=min(ended, now))
        set_agent_state(session, user=user, state=AgentState.AVAILABLE, now=now)
    return len(users)


def record_recording(
    session: Session,
    *,
    call_id: int,
    sid: str,
    status: str,
    url: str | None,
    duration_seconds: int | None,
    at: datetime,
) -> bool:
    """A recording callback; True when the debtor objected and the recording must be deleted."""
    call = session.get(Call, call_id)
    if call is None:
        raise DomainError("Appel inconnu.")
    if status != "completed":
        if status in ("absent", "failed") and not _has_event(session, call, "call.recording"):
            record_event(
                session,
                type="call.recording",
                actor_id=call.agent_id,
                debtor_id=call.debtor_id,
                payload={"call_id": call.id, "sid": sid, "status": status},
                at=at,
            )
            session.flush()
        return False
    objected = _has_event(session, call, "call.recording_objection")
    if call.recording_sid == sid:
        return objected
    call.recording_sid = sid
    call.recording_url = url
    call.recording_duration_seconds = duration_seconds
    session.add(call)
    record_event(
        session,
        type="call.recording",
        actor_id=call.agent_id,
        debtor_id=call.debtor_id,
        payload={
            "call_id": call.id,
            "sid": sid,
            "status": status,
            "duration_seconds": duration_seconds,
        },
        at=at,
    )
    session.flush()
    return objected


def object_to_recording(session: Session, *, call_id: int, agent_id: int, now: datetime) -> Call:
    """The debtor refuses the recording (CNIL): noted; the recording is stopped and deleted."""
    call = session.get(Call, call_id)
    if call is None or call.agent_id != agent_id:
        raise DomainError("Appel inconnu pour ce poste.")
    if not _has_event(session, call, "call.recording_objection"):
        record_event(
            session,
            type="call.recording_objection",
            actor_id=agent_id,
            debtor_id=call.debtor_id,
            payload={"call_id": call.id},
            at=now,
        )
        session.flush()
    return call


def recording_deleted(
    session: Session, *, call_id: int, sid: str, reason: str, actor_id: int | None, now: datetime
) -> None:
    """The provider deleted the recording: the call forgets it, the timeline says why."""
    call = session.get(Call, call_id)
    if call is None or call.recording_sid != sid:
        return
    call.recording_sid = None
    call.recording_url = None
    session.add(call)
    record_event(
        session,
        type="call.recording_deleted",
        actor_id=actor_id,
        debtor_id=call.debtor_id,
        payload={"call_id": call.id, "sid": sid, "reason": reason},
        at=now,
    )
    session.flush()


def consent_announced(session: Session, *, call_id: int, now: datetime) -> None:
    """The debtor heard the recording announcement (once per call)."""
    call = session.get(Call, call_id)
    if call is None or _has_event(session, call, "call.consent_announced"):
        return
    record_event(
        session,
        type="call.consent_announced",
        actor_id=call.agent_id,
        debtor_id=call.debtor_id,
        payload={"call_id": call.id},
        at=now,
    )
    session.flush()


def call_events(session: Session, *, call: Call) -> list[Event]:
    """The call's own events, oldest first: its whole life."""
    events = session.exec(
        select(Event)
        .where(Event.debtor_id == call.debtor_id, col(Event.type).startswith("call."))
        .order_by(col(Event.at), col(Event.id))
    ).all()
    return [event for event in events if (event.payload or {}).get("call_id") == call.id]


def _has_event(session: Session, call: Call, type_: str) -> bool:
    rows = session.exec(
        select(Event.payload).where(Event.debtor_id == call.debtor_id, Event.type == type_)
    ).all()
    return any((payload or {}).get("call_id") == call.id for payload in rows)
