"""μ-law decoding (Twilio Media Streams) without audioop: the G.711 table, fast enough."""

import struct
import time

from callcenter.domain.speech import mulaw


def test_the_table_follows_g711():
    assert mulaw.SAMPLES[0xFF] == 0
    assert mulaw.SAMPLES[0x7F] == 0
    assert mulaw.SAMPLES[0x00] == -32124
    assert mulaw.SAMPLES[0x80] == 32124
    assert mulaw.SAMPLES[0xF0] == 120
    assert mulaw.SAMPLES[0x70] == -120
    assert len(set(mulaw.SAMPLES)) == 255  # 0x7F and 0xFF are both zero


def test_decode_gives_little_endian_pcm16_two_bytes_per_byte():
    pcm = mulaw.decode(bytes([0x00, 0x80, 0xFF, 0xF0]))
    assert struct.unpack("<4h", pcm) == (-32124, 32124, 0, 120)


def test_encode_then_decode_stays_within_the_quantisation_step():
    samples = [0, 5, -5, 100, -100, 1000, -1000, 8000, -8000, 20000, -20000, 32767, -32768]
    decoded = struct.unpack(
        f"<{len(samples)}h", mulaw.decode(mulaw.encode(struct.pack(f"<{len(samples)}h", *samples)))
    )
    for original, back in zip(samples, decoded, strict=True):
        assert abs(original - back) <= max(8, abs(original) // 16), (original, back)


def test_one_minute_of_telephone_audio_decodes_in_a_few_milliseconds():
    minute = bytes(range(256)) * (8000 * 60 // 256)
    began = time.perf_counter()
    pcm = mulaw.decode(minute)
    assert time.perf_counter() - began < 0.05
    assert len(pcm) == 2 * len(minute)
