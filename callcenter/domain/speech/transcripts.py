"""Transcripts of calls: one row per track (agent, debtor), words with times and confidences.

Tracks of a dual-channel recording follow Twilio's convention for ``<Dial
record="record-from-answer-dual">``: the first (left) channel is the parent leg
— here the agent's softphone — and the second (right) channel the dialled
debtor. A mono recording is stored as one ``mixed`` track. Media Streams name
their tracks from Twilio's side: ``inbound`` (what the agent says) and
``outbound`` (what the agent hears: the debtor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.domain.audit import record_event
from callcenter.domain.calls import TERMINAL
from callcenter.domain.errors import DomainError
from callcenter.domain.speech.understanding import Suggestion, suggest
from callcenter.models import Call, LivePartial, Transcript

AGENT, DEBTOR, MIXED = "agent", "debtor", "mixed"
TRACK_LABELS = {AGENT: "Agent", DEBTOR: "Débiteur", MIXED: "Appel (mono)"}
CHANNEL_TRACKS = (AGENT, DEBTOR)
STREAM_TRACKS = {"inbound": AGENT, "outbound": DEBTOR}


@dataclass(frozen=True)
class Sentence:
    text: str
    start: float
    end: float
    words: tuple[dict[str, Any], ...]


def sentences_of(transcript: Transcript) -> list[Sentence]:
    """The transcript cut into the recogniser's utterances, each with its time."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for word in transcript.words or []:
        groups.setdefault(int(word.get("u", 0)), []).append(word)
    return [
        Sentence(
            text=" ".join(str(word["word"]) for word in words),
            start=float(words[0]["start"]),
            end=float(words[-1]["end"]),
            words=tuple(words),
        )
        for _index, words in sorted(groups.items())
    ]


def calls_to_transcribe(session: Session, *, limit: int) -> list[int]:
    """Ended calls holding a recording and no transcript yet, oldest first."""
    transcribed = select(Transcript.call_id)
    return list(
        session.exec(
            select(Call.id)
            .where(
                col(Call.recording_sid).is_not(None),
                col(Call.provider_status).in_(TERMINAL),
                col(Call.id).not_in(transcribed),
            )
            .order_by(col(Call.id))
            .limit(limit)
        ).all()
    )


def store_transcript(
    session: Session,
    *,
    call_id: int,
    tracks: dict[str, Sequence[tuple[str, Sequence[dict[str, Any]]]]],
    now: datetime,
    failure: str | None = None,
) -> list[Transcript]:
    """Store each track's utterances (text, words); replaces an earlier transcript of the call.

    ``failure`` (French) records why nothing could be transcribed: empty tracks are
    stored so the worker does not try again, and the timeline says why.
    """
    call = session.get(Call, call_id)
    if call is None:
        raise DomainError("Appel introuvable.")
    session.exec(sa.delete(Transcript).where(col(Transcript.call_id) == call_id))
    rows = []
    for track, utterances in tracks.items():
        words: list[dict[str, Any]] = []
        lines = []
        for index, (text, utterance_words) in enumerate(utterances):
            lines.append(text)
            words.extend(dict(word) | {"u": index} for word in utterance_words)
        confidences = [float(word["conf"]) for word in words if "conf" in word]
        row = Transcript(
            call_id=call_id,
            track=track,
            text="\n".join(lines),
            words=words,
            confidence=round(sum(confidences) / len(confidences), 4) if confidences else None,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    record_event(
        session,
        type="call.transcription_failed" if failure else "call.transcribed",
        debtor_id=call.debtor_id,
        payload={
            "call_id": call.id,
            "tracks": sorted(tracks),
            "words": sum(len(row.words) for row in rows),
        }
        | ({"reason": failure} if failure else {}),
        at=now,
    )
    session.flush()
    return rows


def transcripts_of(session: Session, *, call_id: int) -> list[Transcript]:
    """The call's transcripts, agent first."""
    order = {AGENT: 0, DEBTOR: 1, MIXED: 2}
    rows = session.exec(select(Transcript).where(Transcript.call_id == call_id)).all()
    return sorted(rows, key=lambda row: order.get(row.track, 9))


def debtor_sentences(session: Session, *, call_id: int) -> list[str]:
    """What the debtor said: the stored transcript, else what the live stream heard so far."""
    rows = transcripts_of(session, call_id=call_id)
    texts = [row.text for row in rows if row.track in (DEBTOR, MIXED)]
    if not rows:
        texts = [
            live.heard + "\n" + live.partial
            for live in session.exec(
                select(LivePartial).where(
                    LivePartial.call_id == call_id, LivePartial.track == DEBTOR
                )
            ).all()
        ]
    return [line for text in texts for line in text.splitlines() if line.strip()]


def call_suggestions(
    session: Session,
    *,
    call_id: int,
    today: date,
    dispute_phrases: Sequence[str],
    answering_machine_phrases: Sequence[str],
) -> list[Suggestion]:
    """Suggestions for the outcome form of a call, from what the debtor said."""
    return suggest(
        debtor_sentences(session, call_id=call_id),
        today=today,
        dispute_phrases=dispute_phrases,
        answering_machine_phrases=answering_machine_phrases,
    )


def save_live(
    session: Session,
    *,
    call_id: int,
    track: str,
    partial: str,
    heard: str | None,
    now: datetime,
) -> LivePartial:
    """The latest partial text of a track (and, when an utterance ended, its text added)."""
    row = session.exec(
        select(LivePartial).where(LivePartial.call_id == call_id, LivePartial.track == track)
    ).first()
    if row is None:
        row = LivePartial(call_id=call_id, track=track)
    row.partial = partial
    if heard:
        lines = [*row.heard.splitlines(), heard][-50:]
        row.heard = "\n".join(lines)
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def live_of(session: Session, *, call_id: int) -> list[LivePartial]:
    order = {AGENT: 0, DEBTOR: 1}
    rows = session.exec(select(LivePartial).where(LivePartial.call_id == call_id)).all()
    return sorted(rows, key=lambda row: order.get(row.track, 9))
