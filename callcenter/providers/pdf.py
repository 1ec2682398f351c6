"""PDF rendering of HTML documents (WeasyPrint), the only module importing it."""

from __future__ import annotations

from pathlib import Path

from weasyprint import HTML

from callcenter.providers.girocode import draw_qr_codes, qr_png_data_uri


def render_pdf(html: str, *, base_url: str | Path | None = None, compress: bool = True) -> bytes:
    """The PDF of an HTML document; ``base_url`` resolves its relative links (CSS, images).
    The SEPA QR codes it names (``domain/payment.py``) are drawn in."""
    document = HTML(
        string=draw_qr_codes(html, qr_png_data_uri), base_url=str(base_url) if base_url else None
    )
    return document.write_pdf(uncompressed_pdf=not compress)
