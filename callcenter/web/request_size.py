"""How large a request body may be: ``[web] max_request_kib``, more on views receiving a file.

Werkzeug refuses a body over the limit with 413 from its Content-Length, before reading it;
a body without one stops being read at the limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, request

from callcenter.config import Settings

KIB = 1024
MIB = 1024 * KIB

View = TypeVar("View", bound=Callable)


def accepts_upload(file_bytes: Callable[[Settings], int]) -> Callable[[View], View]:
    """Marks a view receiving a file of up to ``file_bytes(settings)`` bytes: its body may hold
    that file and the usual form fields. Put it under the route decorator."""

    def mark(view: View) -> View:
        view.upload_file_bytes = file_bytes
        return view

    return mark


def register_size_limits(app: Flask, settings: Settings) -> None:
    """Every request is held to ``[web] max_request_kib``; a view marked ``accepts_upload``
    gets its own limit before anything reads the body."""
    app.config["MAX_CONTENT_LENGTH"] = settings.web.max_request_kib * KIB

    def allow_upload() -> None:
        file_bytes = getattr(app.view_functions.get(request.endpoint), "upload_file_bytes", None)
        if file_bytes is not None:
            request.max_content_length = file_bytes(settings) + app.config["MAX_CONTENT_LENGTH"]

    # First of the hooks: CSRFProtect's hook reads the form, hence the body.
    app.before_request_funcs.setdefault(None, []).insert(0, allow_upload)
