"""The local mail catcher's inbox, for the demo and development only."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template

from callcenter.models import Role
from callcenter.providers.mailcatcher import html_part, list_messages, read_message, text_part
from callcenter.web import state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("devmail", __name__, url_prefix="/courriels")
guard_blueprint(bp, Role.AGENT, Role.SUPERVISOR, Role.ADMIN)

SANDBOXED_EMAIL_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


def _folder():
    settings = state().settings
    if settings.is_production:
        abort(404)
    return settings.data_path / "mailcatcher"


@bp.get("/")
def inbox():
    return render_template("devmail/inbox.html", messages=list_messages(_folder()))


@bp.get("/<key>")
def show(key: str):
    message = read_message(_folder(), key)
    if message is None:
        abort(404)
    return render_template(
        "devmail/message.html", key=key, message=message, text=text_part(message) or ""
    )


@bp.get("/<key>/html")
def html(key: str):
    """The email's HTML, served alone in a sandboxed frame: no script, no remote content."""
    message = read_message(_folder(), key)
    if message is None:
        abort(404)
    response = make_response(html_part(message) or "<p>(pas de partie HTML)</p>")
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = SANDBOXED_EMAIL_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
