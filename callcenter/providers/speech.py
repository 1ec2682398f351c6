"""Speech port and its Vosk adapter: a model, one recogniser per track, words with times.

Telephone audio is 8 kHz 16-bit mono PCM. Each recogniser returns utterances
(text, words with start/end seconds and confidence) and a partial text while
an utterance is being spoken. ``FakeSpeech`` is for tests about something else
(the job, the web stream); the real path is tested with a real Vosk model.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callcenter.domain.speech.install import is_vosk_model

TELEPHONE_RATE = 8000
NO_MODEL = (
    "Aucun modèle de reconnaissance vocale n'est configuré ([speech] model_path) : "
    "la transcription est désactivée, le reste du produit fonctionne normalement. "
    "Installez un modèle avec « flask --app callcenter callcenter speech install DOSSIER ». "
)


class SpeechUnavailable(Exception):
    """No usable model; ``message`` is French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    conf: float

    def as_dict(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.conf}


@dataclass(frozen=True)
class Utterance:
    text: str
    words: tuple[Word, ...] = ()

    @property
    def start(self) -> float:
        return self.words[0].start if self.words else 0.0


class Recognizer(Protocol):
    def accept(self, pcm: bytes) -> Utterance | None:
        """Feed PCM16 audio; an utterance when one just ended, else None."""
        ...

    def partial(self) -> str:
        """The words heard so far in the current utterance."""
        ...

    def finish(self) -> Utterance | None:
        """The last utterance, at the end of the audio."""
        ...


class SpeechEngine(Protocol):
    def recognizer(
        self, *, sample_rate: int = TELEPHONE_RATE, phrases: list[str] | None = None
    ) -> Recognizer: ...


def _utterance(raw: str) -> Utterance | None:
    data = json.loads(raw)
    words = tuple(
        Word(
            word=item["word"],
            start=round(float(item["start"]), 3),
            end=round(float(item["end"]), 3),
            conf=round(float(item.get("conf", 1.0)), 4),
        )
        for item in data.get("result", [])
    )
    text = data.get("text", "").strip()
    if not text and not words:
        return None
    return Utterance(text=text or " ".join(word.word for word in words), words=words)


class VoskRecognizer:
    """One ``KaldiRecognizer`` (one track), with word times and confidences."""

    def __init__(self, model: Any, sample_rate: int, phrases: list[str] | None) -> None:
        from vosk import KaldiRecognizer

        if phrases:
            # ensure_ascii=False: Vosk silently drops escaped accented words.
            grammar = json.dumps([*phrases, "[unk]"], ensure_ascii=False)
            self._recognizer = KaldiRecognizer(model, sample_rate, grammar)
        else:
            self._recognizer = KaldiRecognizer(model, sample_rate)
        self._recognizer.SetWords(True)

    def accept(self, pcm: bytes) -> Utterance | None:
        if self._recognizer.AcceptWaveform(pcm):
            return _utterance(self._recognizer.Result())
        return None

    def partial(self) -> str:
        return json.loads(self._recognizer.PartialResult()).get("partial", "")

    def finish(self) -> Utterance | None:
        return _utterance(self._recognizer.FinalResult())


_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def load_vosk_model(path: Path) -> Any:
    """The Vosk model of a folder, loaded once per process (loading takes seconds)."""
    key = str(path.resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            from vosk import Model, SetLogLevel

            SetLogLevel(-1)
            _MODELS[key] = Model(key)
        return _MODELS[key]


@dataclass
class VoskSpeech:
    model_path: Path

    def model(self) -> Any:
        if not is_vosk_model(self.model_path):
            raise SpeechUnavailable(
                f"Le dossier {self.model_path} n'est pas un modèle Vosk "
                "(am/final.mdl et conf/ attendus)."
            )
        return load_vosk_model(self.model_path)

    def recognizer(
        self, *, sample_rate: int = TELEPHONE_RATE, phrases: list[str] | None = None
    ) -> Recognizer:
        return VoskRecognizer(self.model(), sample_rate, phrases)


def build_speech(model_path: str, base_dir: Path | None = None) -> VoskSpeech:
    """The Vosk engine of ``[speech] model_path``; SpeechUnavailable when none is set."""
    if not model_path.strip():
        raise SpeechUnavailable(NO_MODEL)
    path = Path(model_path)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_dir():
        raise SpeechUnavailable(f"Modèle de reconnaissance vocale introuvable : {path}.")
    engine = VoskSpeech(path)
    engine.model()
    return engine


@dataclass
class FakeRecognizer:
    """Tests only: says its scripted words when the audio reaches their end time."""

    words: list[Word]
    sample_rate: int = TELEPHONE_RATE
    _heard_bytes: int = 0
    _next: int = 0
    _utterance_start: int = 0

    def _seconds(self) -> float:
        return self._heard_bytes / (2 * self.sample_rate)

    def accept(self, pcm: bytes) -> Utterance | None:
        self._heard_bytes += len(pcm)
        while self._next < len(self.words) and self.words[self._next].end <= self._seconds():
            self._next += 1
            if self.words[self._next - 1].word.endswith("."):
                return self._cut()
        return None

    def partial(self) -> str:
        return " ".join(word.word for word in self.words[self._utterance_start : self._next])

    def finish(self) -> Utterance | None:
        return self._cut()

    def _cut(self) -> Utterance | None:
        words = tuple(self.words[self._utterance_start : self._next])
        self._utterance_start = self._next
        if not words:
            return None
        return Utterance(text=" ".join(word.word for word in words).rstrip("."), words=words)


@dataclass
class FakeSpeech:
    """Tests only: each new recogniser plays the next script (one script per track)."""

    scripts: list[list[Word]] = field(default_factory=list)
    created: int = 0

    def recognizer(
        self, *, sample_rate: int = TELEPHONE_RATE, phrases: list[str] | None = None
    ) -> Recognizer:
        script = self.scripts[self.created % len(self.scripts)] if self.scripts else []
        self.created += 1
        return FakeRecognizer(list(script), sample_rate)


def scripted(text: str, *, start: float = 0.0, step: float = 0.4) -> list[Word]:
    """Words of a sentence, one every ``step`` seconds (a trailing dot ends an utterance)."""
    return [
        Word(word=token, start=start + index * step, end=start + (index + 1) * step, conf=0.9)
        for index, token in enumerate(text.split())
    ]
