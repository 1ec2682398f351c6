"""PDF rendering of HTML documents (WeasyPrint), the only module importing it."""

from __future__ import annotations

from pathlib import Path

from weasyprint import HTML


def render_pdf(html: str, *, base_url: str | Path | None = None, compress: bool = True) -> bytes:
    """The PDF of an HTML document; ``base_url`` resolves its relative links (CSS, images)."""
    document = HTML(string=html, base_url=str(base_url) if base_url else None)
    return document.write_pdf(uncompressed_pdf=not compress)
