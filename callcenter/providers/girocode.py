"""The SEPA QR code (EPC069-12, « GiroCode ») drawn with segno, for emails and letters.

The domain writes the payload (``domain/payment.py``) into the placeholder
``<img class="epc-qr" src="…" data-epc="…">`` of its HTML; the mail and PDF renderers call
``draw_qr_codes`` to point each placeholder at its image. The standard asks for error
correction level M and the payload bytes in UTF-8 (its character set 1).
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable
from functools import lru_cache

import segno

QR_PLACEHOLDER = re.compile(r'<img class="epc-qr" src="[^"]*" data-epc="([^"]*)"')


def epc_qr(payload: str) -> segno.QRCode:
    return segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")


@lru_cache(maxsize=256)
def qr_png(payload: str, *, scale: int = 4) -> bytes:
    """The QR code as a PNG (quiet zone of 4 modules, as the QR standard wants). About 25 ms,
    mostly segno choosing the mask: cached, so a retried email does not draw it again."""
    buffer = io.BytesIO()
    epc_qr(payload).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_png_data_uri(payload: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(payload, scale=8)).decode()


def draw_qr_codes(document: str, source: Callable[[str], str]) -> str:
    """Each placeholder's ``src`` becomes ``source(payload)``; its payload attribute goes."""

    def image(match: re.Match) -> str:
        src = source(html.unescape(match.group(1)))
        return f'<img class="epc-qr" src="{html.escape(src)}"'

    return QR_PLACEHOLDER.sub(image, document)


def qr_payloads(document: str) -> list[str]:
    """The payloads of the placeholders of an HTML document, in order."""
    return [html.unescape(found) for found in QR_PLACEHOLDER.findall(document)]
