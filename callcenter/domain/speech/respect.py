"""Respect of the debtor: pressure or threat phrases on the agent's channel flag the call.

Repeated pressure on a debtor is a criminal offence. A listed phrase said by the
agent sets ``Call.flagged`` and records a ``call.flagged`` event (the sentence
and its time in the call) for the supervisor. The list is ``[speech]
pressure_phrases``. Each sentence is flagged once, however often it is checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError
from callcenter.domain.speech.understanding import phrase_in
from callcenter.models import Call, Event

AGENT_TRACK = "agent"


@dataclass(frozen=True)
class Hit:
    phrase: str
    sentence: str
    at_seconds: float


def pressure_hits(sentences: Iterable[tuple[str, float]], *, phrases: Iterable[str]) -> list[Hit]:
    """The agent's sentences (text, seconds into the call) holding a pressure phrase."""
    phrases = list(phrases)
    hits = []
    for sentence, at_seconds in sentences:
        phrase = phrase_in(sentence, phrases)
        if phrase:
            hits.append(Hit(phrase=phrase, sentence=sentence, at_seconds=round(at_seconds, 1)))
    return hits


def time_label(seconds: float) -> str:
    """Seconds into the call as « 1 min 05 s »."""
    whole = int(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def flag_pressure(
    session: Session,
    *,
    call_id: int,
    sentences: Iterable[tuple[str, float]],
    phrases: Iterable[str],
    source: str,
    now: datetime,
) -> list[Hit]:
    """Flag the call for each new pressure sentence of the agent; the hits newly flagged."""
    call = session.get(Call, call_id)
    if call is None:
        raise DomainError("Appel introuvable.")
    hits = pressure_hits(sentences, phrases=phrases)
    if not hits:
        return []
    known = {
        (payload.get("sentence"), payload.get("at_seconds"))
        for payload in session.exec(
            select(Event.payload).where(
                Event.debtor_id == call.debtor_id, Event.type == "call.flagged"
            )
        ).all()
        if (payload or {}).get("call_id") == call.id
    }
    new = [hit for hit in hits if (hit.sentence, hit.at_seconds) not in known]
    for hit in new:
        record_event(
            session,
            type="call.flagged",
            actor_id=call.agent_id,
            debtor_id=call.debtor_id,
            payload={
                "call_id": call.id,
                "phrase": hit.phrase,
                "sentence": hit.sentence,
                "at_seconds": hit.at_seconds,
                "track": AGENT_TRACK,
                "source": source,
            },
            at=now,
        )
    if new:
        call.flagged = True
        session.add(call)
        session.flush()
    return new
