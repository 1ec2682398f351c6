"""Live speech: Twilio Media Streams over a WebSocket, partial text and suggestions for the agent.

``speech_stream`` (no session, CSRF exempt): Twilio opens a WebSocket for
``<Start><Stream track="both_tracks">``; the stream is accepted only with a
signed token, sent as the stream's ``token`` parameter, naming the call. μ-law
8 kHz audio is decoded to PCM, one recogniser per track (``inbound``: the agent,
``outbound``: the debtor); partial text is written to ``live_partials`` so any
web process can show it. A plain HTTP request to the stream address is refused
(403). ``speech`` (agents and supervisors): the suggestions and live text shown
at the top of the outcome form, polled by htmx.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import time
import wave
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from flask_sock import Sock
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.engine import Engine
from twilio.twiml.voice_response import VoiceResponse

from callcenter.clock import Clock
from callcenter.db import session_scope
from callcenter.domain.errors import DomainError
from callcenter.domain.speech import mulaw
from callcenter.domain.speech.respect import flag_pressure, time_label
from callcenter.domain.speech.transcripts import (
    AGENT,
    STREAM_TRACKS,
    TRACK_LABELS,
    Sentence,
    call_suggestions,
    live_of,
    save_live,
    sentences_of,
    transcripts_of,
)
from callcenter.models import Call, Role
from callcenter.providers.speech import (
    TELEPHONE_RATE,
    Recognizer,
    SpeechEngine,
    SpeechUnavailable,
    build_speech,
)
from callcenter.web import clock, csrf, db, parse_id, state
from callcenter.web.auth import guard_blueprint
from callcenter.web.request_size import accepts_upload

log = logging.getLogger(__name__)

bp = Blueprint("speech", __name__, url_prefix="/parole")
guard_blueprint(bp, Role.AGENT, Role.SUPERVISOR)

stream = Blueprint("speech_stream", __name__, url_prefix="/parole/flux")
csrf.exempt(stream)
sock = Sock()

TOKEN_SALT = "callcenter speech stream"
TOKEN_MAX_AGE = 4 * 3600
PARTIAL_EVERY_SECONDS = 0.25
FRAME_MS = 20


@bp.record_once
def _register_stream(setup: BlueprintSetupState) -> None:
    """The stream blueprint comes with this one (it carries no session guard)."""
    setup.app.register_blueprint(stream)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT)


def stream_token(call_id: int, secret: str | None = None) -> str:
    """The signed token a stream must present: it names the call."""
    return _serializer(secret or current_app.config["SECRET_KEY"]).dumps({"call_id": call_id})


def token_call_id(token: str, secret: str, max_age: int = TOKEN_MAX_AGE) -> int | None:
    try:
        data = _serializer(secret).loads(token, max_age=max_age)
    except BadSignature:
        return None
    value = data.get("call_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def add_stream(response: VoiceResponse, call: Call) -> None:
    """``<Start><Stream>`` of both tracks to this app, before the ``<Dial>`` (live partials)."""
    base = state().settings.app.public_url.rstrip("/")
    url = base.replace("https://", "wss://").replace("http://", "ws://") + "/parole/flux/"
    start = response.start()
    media = start.stream(url=url, track="both_tracks")
    media.parameter(name="token", value=stream_token(call.id))


def speech_engine() -> SpeechEngine:
    """The app's recogniser engine (injected through ``providers``, else the configured model)."""
    providers = state().providers
    engine = providers.get("speech")
    if engine is None:
        settings = state().settings
        engine = providers.setdefault(
            "speech", build_speech(settings.speech.model_path, settings.data_path)
        )
    return engine


@dataclass
class TrackState:
    recognizer: Recognizer
    partial: str = ""
    written_at: float = 0.0


@dataclass
class MediaStream:
    """One Media Streams connection: Twilio's messages in, live partials and flags out."""

    engine: SpeechEngine
    db_engine: Engine
    secret: str
    pressure_phrases: list[str]
    call_id: int | None = None
    tracks: dict[str, TrackState] = field(default_factory=dict)
    clock: Any = time.monotonic
    wall_clock: Clock | None = None

    def handle(self, raw: str) -> bool:
        """Apply one message; False when the stream must end (stopped or refused)."""
        try:
            message = json.loads(raw)
        except ValueError:
            return False
        event = message.get("event")
        if event == "start":
            return self._start(message.get("start") or {})
        if event == "media":
            if self.call_id is None:
                return False
            self._media(message.get("media") or {})
            return True
        if event == "stop":
            self.close()
            return False
        return True

    def _start(self, start: dict[str, Any]) -> bool:
        parameters = start.get("customParameters") or {}
        self.call_id = token_call_id(str(parameters.get("token", "")), self.secret)
        if self.call_id is None:
            log.warning("flux audio refusé : jeton absent ou invalide")
            return False
        for twilio_track in start.get("tracks") or list(STREAM_TRACKS):
            track = STREAM_TRACKS.get(twilio_track)
            if track:
                self.tracks[track] = TrackState(self.engine.recognizer(sample_rate=TELEPHONE_RATE))
        return True

    def _media(self, media: dict[str, Any]) -> None:
        track = STREAM_TRACKS.get(media.get("track", ""))
        current = self.tracks.get(track or "")
        if current is None:
            return
        pcm = mulaw.decode(base64.b64decode(media.get("payload", "")))
        utterance = current.recognizer.accept(pcm)
        if utterance is not None:
            current.partial = ""
            self._write(track, current, heard=utterance.text, start=utterance.start)
            return
        partial = current.recognizer.partial()
        if (
            partial != current.partial
            and self.clock() - current.written_at >= PARTIAL_EVERY_SECONDS
        ):
            current.partial = partial
            self._write(track, current)

    def close(self) -> None:
        for track, current in self.tracks.items():
            utterance = current.recognizer.finish()
            if utterance is not None:
                current.partial = ""
                self._write(track, current, heard=utterance.text, start=utterance.start)
        self.tracks = {}

    def _write(
        self, track: str, current: TrackState, heard: str | None = None, start: float = 0.0
    ) -> None:
        current.written_at = self.clock()
        now = (self.wall_clock or Clock("UTC")).now()
        try:
            with session_scope(self.db_engine) as session:
                save_live(
                    session,
                    call_id=self.call_id,
                    track=track,
                    partial=current.partial,
                    heard=heard,
                    now=now,
                )
                if heard and track == AGENT:
                    flag_pressure(
                        session,
                        call_id=self.call_id,
                        sentences=[(heard, start)],
                        phrases=self.pressure_phrases,
                        source="live",
                        now=now,
                    )
        except DomainError as refused:
            log.warning("flux audio de l'appel %s : %s", self.call_id, refused.message)


def media_stream() -> MediaStream:
    settings = state().settings
    return MediaStream(
        engine=speech_engine(),
        db_engine=state().engine,
        wall_clock=clock(),
        secret=current_app.config["SECRET_KEY"],
        pressure_phrases=list(settings.speech.pressure_phrases),
    )


@sock.route("/", bp=stream)
def media(ws) -> None:
    """Twilio Media Streams: read messages until ``stop`` or the socket closes."""
    try:
        handler = media_stream()
    except SpeechUnavailable as unavailable:
        log.warning("flux audio ignoré : %s", unavailable.message)
        ws.close(reason=1011, message="reconnaissance vocale indisponible")
        return
    try:
        while True:
            raw = ws.receive()
            if raw is None or not handler.handle(raw):
                break
    finally:
        handler.close()


@stream.route("/", methods=["GET", "POST"])
def not_a_websocket():
    """The stream address answers WebSocket connections only."""
    abort(403, "Cette adresse n'accepte qu'un flux audio WebSocket signé.")


def replay_messages(
    content: bytes, token: str, *, stream_sid: str = "MZsimulated"
) -> Iterator[str]:
    """A WAV file as Twilio would stream it: ``start``, 20 ms μ-law frames per track, ``stop``.

    Stereo: left channel on ``inbound`` (the agent), right on ``outbound`` (the
    debtor); mono goes to ``outbound``. The file must be 8 kHz 16-bit PCM.
    """
    with wave.open(io.BytesIO(content)) as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        if wav.getsampwidth() != 2 or rate != TELEPHONE_RATE or channels not in (1, 2):
            raise ValueError("WAV PCM 16 bits 8 kHz, mono ou stéréo, attendu.")
        frames = wav.readframes(wav.getnframes())
    samples = array("h")
    samples.frombytes(frames[: len(frames) - len(frames) % (2 * channels)])
    names = ("inbound", "outbound") if channels == 2 else ("outbound",)
    yield json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    yield json.dumps(
        {
            "event": "start",
            "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid,
                "tracks": ["inbound", "outbound"],
                "customParameters": {"token": token},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )
    encoded = [mulaw.encode(samples[index::channels].tobytes()) for index in range(channels)]
    step = TELEPHONE_RATE * FRAME_MS // 1000
    for chunk, offset in enumerate(range(0, len(encoded[0]), step), start=1):
        for name, audio in zip(names, encoded, strict=True):
            payload = base64.b64encode(audio[offset : offset + step]).decode()
            yield json.dumps(
                {
                    "event": "media",
                    "streamSid": stream_sid,
                    "media": {
                        "track": name,
                        "chunk": str(chunk),
                        "timestamp": str(offset * 1000 // TELEPHONE_RATE),
                        "payload": payload,
                    },
                }
            )
    yield json.dumps({"event": "stop", "streamSid": stream_sid})


MAX_REPLAY_BYTES = 20 * 1024 * 1024


def send_stream(url: str, messages: list[str], *, pace_seconds: float) -> None:
    """Play messages to the Media Streams endpoint over a real WebSocket, as Twilio does.

    ``pace_seconds`` after each 20 ms frame keeps real time (0 in tests).
    """
    from simple_websocket import Client, ConnectionClosed

    client = Client.connect(url)
    try:
        for raw in messages:
            client.send(raw)
            if pace_seconds and '"event": "media"' in raw and '"track": "outbound"' in raw:
                time.sleep(pace_seconds)
    except ConnectionClosed:
        log.warning("flux audio simulé interrompu par le serveur")
    finally:
        client.close()


@bp.post("/rejouer")
@accepts_upload(lambda _settings: MAX_REPLAY_BYTES)
def replay():
    """Simulator only: stream an 8 kHz WAV through the live endpoint, as a call in progress."""
    if state().settings.telephony.provider != "simulated":
        abort(403, "Rejouer un fichier n'est possible qu'avec la téléphonie simulée.")
    call_id = parse_id(request.form.get("call_id"))
    call = _visible_call(call_id) if call_id else None
    if call is None:
        return {"error": "Lancez d'abord un appel : aucun appel en cours."}, 422
    upload = request.files.get("audio")
    if upload is None or not upload.filename:
        return {"error": "Choisissez un fichier WAV (8 kHz, 16 bits)."}, 422
    content = upload.read(MAX_REPLAY_BYTES + 1)
    if len(content) > MAX_REPLAY_BYTES:
        return {"error": "Fichier trop volumineux (20 Mo au plus)."}, 422
    try:
        messages = list(replay_messages(content, stream_token(call.id)))
    except (ValueError, EOFError, wave.Error) as refused:
        return {"error": f"Fichier audio illisible : {refused}"}, 422
    url = _stream_url(state().settings.app.public_url)
    pace = 0.0 if request.args.get("rythme") == "rapide" else FRAME_MS / 1000
    threading.Thread(
        target=send_stream, args=(url, messages), kwargs={"pace_seconds": pace}, daemon=True
    ).start()
    return {"frames": sum('"event": "media"' in m for m in messages), "url": url}, 202


def _stream_url(public_url: str) -> str:
    """The live endpoint as the server reaches it itself: from ``[app] public_url``, never
    from the request's ``Host`` header (a forged one would send the signed stream token to
    another server)."""
    base = public_url.rstrip("/")
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/parole/flux/"


# --- the agent's screen -----------------------------------------------------------------------


def _visible_call(call_id: int) -> Call | None:
    call = db().get(Call, call_id)
    if call is None:
        return None
    if call.agent_id != current_user.id and not current_user.has_role(Role.SUPERVISOR):
        return None
    return call


@bp.get("/suggestions")
def suggestions():
    """Live text and suggestions for the outcome form (empty outside a call)."""
    call_id = parse_id(request.args.get("call_id"))
    call = _visible_call(call_id) if call_id else None
    context: dict[str, Any] = {"call": call, "live": [], "suggestions": []}
    if call is not None:
        settings = state().settings
        session = db()
        context.update(
            live=live_of(session, call_id=call.id) if settings.speech.live_partials else [],
            suggestions=call_suggestions(
                session,
                call_id=call.id,
                today=clock().today(),
                dispute_phrases=settings.speech.dispute_phrases,
                answering_machine_phrases=settings.speech.answering_machine_phrases,
            ),
            track_labels=TRACK_LABELS,
        )
    return render_template("agent/_suggestions.html", **context)


@dataclass(frozen=True)
class TranscriptView:
    track: str
    label: str
    confidence: float | None
    sentences: list[Sentence]


@bp.app_template_global("call_transcripts")
def call_transcripts(call_id: int) -> list[TranscriptView]:
    """The call's transcripts, per track (agent first), cut into timed sentences."""
    return [
        TranscriptView(
            track=row.track,
            label=TRACK_LABELS.get(row.track, row.track),
            confidence=row.confidence,
            sentences=sentences_of(row),
        )
        for row in transcripts_of(db(), call_id=call_id)
    ]


@bp.app_template_filter("call_time")
def call_time(seconds: float) -> str:
    """Seconds into the call as « 1 min 05 s »."""
    return time_label(seconds)
