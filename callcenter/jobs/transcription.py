"""Background transcription of call recordings (scheduler process only, never the web app).

A call that ended with a recording and has no transcript is transcribed channel
by channel — agent and debtor apart, see ``domain.speech.transcripts`` for the
channel convention — and its transcript stored with word times and confidences.
The agent's channel is then checked for pressure phrases. The wrap-up and the
recap email never wait for this: they are done in the web request, this runs later.
Without a configured model the job does nothing: the product works without speech.
"""

from __future__ import annotations

import io
import logging
import sys
import wave
from array import array
from dataclasses import dataclass

from callcenter.db import read_only, session_scope
from callcenter.domain.errors import DomainError
from callcenter.domain.speech.respect import flag_pressure
from callcenter.domain.speech.transcripts import (
    AGENT,
    CHANNEL_TRACKS,
    MIXED,
    calls_to_transcribe,
    store_transcript,
)
from callcenter.jobs.context import JobContext
from callcenter.models import Call
from callcenter.providers.speech import (
    SpeechEngine,
    SpeechUnavailable,
    Utterance,
    build_speech,
)
from callcenter.providers.telephony import build_telephony
from callcenter.providers.telephony.base import TelephonyFailure, TelephonyUnavailable

log = logging.getLogger("callcenter.scheduler")

CHUNK_SECONDS = 0.5
BATCH = 5

Track = list[tuple[str, list[dict]]]


class AudioRefused(Exception):
    """The recording cannot be transcribed; ``message`` is French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Channels:
    rate: int
    pcm: dict[str, bytes]  # track → PCM16 mono


def split_channels(content: bytes) -> Channels:
    """A 16-bit WAV: one track per channel (stereo: agent, debtor; mono: mixed)."""
    try:
        with wave.open(io.BytesIO(content)) as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, RuntimeError) as error:
        raise AudioRefused(
            f"Enregistrement illisible : WAV PCM 16 bits attendu ({error})."
        ) from error
    if width != 2:
        raise AudioRefused(f"Enregistrement en {8 * width} bits : WAV PCM 16 bits attendu.")
    if channels == 1:
        return Channels(rate, {MIXED: frames})
    if channels != 2:
        raise AudioRefused(f"Enregistrement à {channels} canaux : mono ou stéréo attendu.")
    samples = array("h")
    samples.frombytes(frames[: len(frames) - len(frames) % 4])
    if sys.byteorder == "big":
        samples.byteswap()
    tracks = {}
    for index, track in enumerate(CHANNEL_TRACKS):
        channel = samples[index::2]
        if sys.byteorder == "big":
            channel.byteswap()
        tracks[track] = channel.tobytes()
    return Channels(rate, tracks)


def recognise(engine: SpeechEngine, pcm: bytes, rate: int) -> Track:
    """Every utterance of one channel, with its words (start, end, confidence)."""
    recognizer = engine.recognizer(sample_rate=rate)
    step = 2 * int(rate * CHUNK_SECONDS)
    utterances: list[Utterance] = []
    for start in range(0, len(pcm), step):
        utterance = recognizer.accept(pcm[start : start + step])
        if utterance is not None:
            utterances.append(utterance)
    last = recognizer.finish()
    if last is not None:
        utterances.append(last)
    return [(item.text, [word.as_dict() for word in item.words]) for item in utterances]


def transcribe_call(context: JobContext, engine: SpeechEngine, call_id: int) -> bool:
    """Transcribe one call's recording; False when it had to be recorded as a failure."""
    with session_scope(read_only(context.engine)) as session:
        call = session.get(Call, call_id)
        sid = call.recording_sid if call else None
    if sid is None:
        return False
    failure = None
    tracks: dict[str, Track] = {}
    try:
        content, _mime = build_telephony(context.settings, context.clock).recording_audio(sid)
        channels = split_channels(content)
        tracks = {
            track: recognise(engine, pcm, channels.rate) for track, pcm in channels.pcm.items()
        }
    except (TelephonyFailure, TelephonyUnavailable, AudioRefused) as error:
        failure = error.message
        tracks = dict.fromkeys(CHANNEL_TRACKS, [])
    now = context.now()
    with session_scope(context.engine) as session:
        store_transcript(session, call_id=call_id, tracks=tracks, now=now, failure=failure)
        agent_sentences = [
            (text, float(words[0]["start"]) if words else 0.0)
            for text, words in tracks.get(AGENT, [])
        ]
        hits = flag_pressure(
            session,
            call_id=call_id,
            sentences=agent_sentences,
            phrases=context.settings.speech.pressure_phrases,
            source="transcript",
            now=now,
        )
    if failure:
        log.warning("transcription de l'appel %s impossible : %s", call_id, failure)
    if hits:
        log.info("appel %s signalé : %s phrase(s) de pression", call_id, len(hits))
    return failure is None


def speech_engine(context: JobContext) -> SpeechEngine:
    """The configured model; raises SpeechUnavailable (French) when none is usable."""
    return build_speech(context.settings.speech.model_path, context.settings.data_path)


def transcription_job(
    context: JobContext, *, engine: SpeechEngine | None = None, batch: int = BATCH
) -> int:
    """Transcribe up to ``batch`` recorded calls; how many were transcribed."""
    if engine is None:
        if not context.settings.speech.model_path.strip():
            return 0
        try:
            engine = speech_engine(context)
        except SpeechUnavailable as unavailable:
            log.warning("transcription désactivée : %s", unavailable.message)
            return 0
    with session_scope(read_only(context.engine)) as session:
        call_ids = calls_to_transcribe(session, limit=batch)
    done = 0
    for call_id in call_ids:
        try:
            done += transcribe_call(context, engine, call_id)
        except DomainError as refused:
            log.warning("transcription de l'appel %s : %s", call_id, refused.message)
    return done
