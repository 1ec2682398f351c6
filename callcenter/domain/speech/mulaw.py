"""G.711 μ-law (Twilio Media Streams, 8 kHz) → 16-bit little-endian PCM, without ``audioop``.

Each μ-law byte maps to one signed 16-bit sample: a 256-entry table built once,
then ``bytes.translate`` on the low and high bytes of every sample.
"""

from __future__ import annotations

import sys
from array import array

BIAS = 0x84


def _sample(byte: int) -> int:
    """ITU-T G.711 μ-law expansion of one byte (the inverse of the encoder's complement)."""
    value = ~byte & 0xFF
    sign = value & 0x80
    exponent = (value >> 4) & 0x07
    mantissa = value & 0x0F
    magnitude = ((mantissa << 3) + BIAS) << exponent
    magnitude -= BIAS
    return -magnitude if sign else magnitude


SAMPLES = tuple(_sample(byte) for byte in range(256))
_LOW = bytes(sample & 0xFF for sample in SAMPLES)
_HIGH = bytes((sample >> 8) & 0xFF for sample in SAMPLES)


def decode(data: bytes) -> bytes:
    """PCM16 little-endian, two bytes per μ-law byte."""
    pcm = bytearray(len(data) * 2)
    pcm[0::2] = data.translate(_LOW)
    pcm[1::2] = data.translate(_HIGH)
    return bytes(pcm)


def encode_sample(sample: int) -> int:
    """μ-law byte of one 16-bit sample (used to build test streams and the simulator's replay)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + BIAS
    exponent = min(max(0, magnitude.bit_length() - 8), 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def encode(pcm: bytes) -> bytes:
    """μ-law bytes of PCM16 little-endian samples."""
    samples = array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    table = _ENCODE
    return bytes(table[sample & 0xFFFF] for sample in samples)


_ENCODE = bytes(
    encode_sample(value - 0x10000 if value >= 0x8000 else value) for value in range(0x10000)
)
