"""The web layer: the only package that imports Flask."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from flask import Flask, g, render_template, request
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.engine import Engine
from sqlmodel import Session
from werkzeug.exceptions import Forbidden, NotFound
from werkzeug.routing import IntegerConverter

from callcenter import formatting
from callcenter.clock import Clock
from callcenter.config import PROJECT_ROOT, Settings, load_settings
from callcenter.db import create_db_engine, read_only
from callcenter.web.request_size import register_size_limits
from callcenter.web.server import web_pool_size

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' https://*.twilio.com wss://*.twilio.com; "
    "media-src 'self' blob: https://sdk.twilio.com; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)

ROLE_REFUSED = "Votre rôle ne donne pas accès à cette page."
# The largest row id: the id columns are INTEGER, 32-bit signed on PostgreSQL (and the same
# bound is kept on SQLite, whose integers are wider), so a larger id can name no row.
MAX_ID = 2**31 - 1

csrf = CSRFProtect()
htmx = HTMX()
login_manager = LoginManager()


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    clock: Clock
    providers: dict[str, Any] = field(default_factory=dict)


class IdConverter(IntegerConverter):
    """``<int:…>`` in every URL: an id past ``MAX_ID`` names no row, so it is a 404 at once,
    never a query that the database refuses for overflow (nor the 405 that Werkzeug gives
    when a converter refuses a path that another method also serves)."""

    def to_python(self, value: str) -> int:
        if not value.isascii() or len(value) > len(str(MAX_ID)) or int(value) > MAX_ID:
            raise NotFound()
        return int(value)


def parse_id(text: str | None) -> int | None:
    """An id sent in a form or a query string, or None when it cannot name a row."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def state() -> AppState:
    from flask import current_app

    return current_app.extensions["callcenter"]


def clock() -> Clock:
    """The application's one clock (views read the time only through it)."""
    return state().clock


def db() -> Session:
    """The request's unit of work. Read-only requests never take SQLite's write lock."""
    if "db" not in g:
        engine = state().engine
        if request.method in ("GET", "HEAD", "OPTIONS"):
            engine = read_only(engine)
        g.db = Session(engine, expire_on_commit=False)
    return g.db


def build_app(
    settings: Settings | None = None,
    providers: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> Flask:
    settings = settings or load_settings()
    clock = clock or Clock(settings.app.timezone)
    app = Flask(
        "callcenter",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.url_map.converters["int"] = IdConverter
    secure = settings.cookies_secure
    app.config.update(
        SECRET_KEY=settings.session_secret_key(),
        SESSION_COOKIE_NAME="callcenter_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.web.session_hours),
        WTF_CSRF_TIME_LIMIT=settings.web.session_hours * 3600,
        WTF_CSRF_SSL_STRICT=secure,
    )
    engine = create_db_engine(
        settings.database_url,
        echo=settings.database.echo,
        pool_size=web_pool_size(settings.web.threads),
    )
    app.extensions["callcenter"] = AppState(settings, engine, clock, dict(providers or {}))

    register_size_limits(app, settings)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)

    _register_template_helpers(app, settings, clock)
    _register_request_hooks(app)
    _register_error_pages(app)
    _register_blueprints(app)
    return app


def _register_template_helpers(app: Flask, settings: Settings, clock: Clock) -> None:
    app.jinja_env.filters.update(
        money=formatting.money,
        day=partial(formatting.day, zone=clock.zone),
        moment=partial(formatting.moment, zone=clock.zone),
        number=formatting.number,
        phone=formatting.phone,
        quantity=formatting.quantity,
        time_zone=formatting.time_zone,
    )

    @app.context_processor
    def product_context() -> dict[str, Any]:
        from callcenter.domain.accounts import AGENT_STATE_LABELS, ROLE_LABELS
        from callcenter.domain.outcome_kinds import form_kinds, form_kinds_of
        from callcenter.domain.queue.ladder import SEGMENT_TITLES

        return {
            "app_name": settings.app.name,
            "role_labels": ROLE_LABELS,
            "agent_state_labels": AGENT_STATE_LABELS,
            "segment_titles": SEGMENT_TITLES,
            "show_mail_catcher": not settings.is_production,
            "outcome_form_kinds": form_kinds(),
            "outcome_kinds_of": form_kinds_of,
        }


def _register_request_hooks(app: Flask) -> None:
    @app.teardown_request
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.after_request
    def security_headers(response):
        response.vary.add("HX-Request")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _register_error_pages(app: Flask) -> None:
    def page(code: int, title: str, message: str):
        template = "errors/_error.html" if htmx else "errors/error.html"
        return render_template(template, code=code, title=title, message=message), code

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return page(
            400,
            "Formulaire expiré",
            "Le jeton de sécurité du formulaire est absent ou expiré. "
            "Rechargez la page et recommencez.",
        )

    @app.errorhandler(403)
    def forbidden(error):
        message = getattr(error, "description", None)
        if not message or message == Forbidden.description:
            message = ROLE_REFUSED
        return page(403, "Accès refusé", message)

    @app.errorhandler(404)
    def not_found(_error):
        return page(404, "Page introuvable", "Cette adresse ne correspond à aucune page.")

    @app.errorhandler(405)
    def method_not_allowed(_error):
        return page(405, "Action impossible", "Cette action n'est pas permise ici.")

    @app.errorhandler(413)
    def too_large(_error):
        return page(413, "Fichier trop volumineux", "Le fichier envoyé dépasse la taille permise.")

    @app.errorhandler(502)
    def provider_unreachable(error):
        message = getattr(error, "description", "") or "Un service extérieur ne répond pas."
        return page(502, "Service indisponible", message)

    @app.errorhandler(500)
    def server_error(_error):
        return page(
            500,
            "Erreur interne",
            "Une erreur inattendue est survenue ; rien n'a été enregistré. "
            "Réessayez ou prévenez votre administrateur.",
        )


def _register_blueprints(app: Flask) -> None:
    from callcenter.web import (
        admin,
        agent,
        api,
        auth,
        cockpit,
        devmail,
        imports,
        process,
        queue,
        speech,
        supervisor,
        telephony,
    )

    for module in (
        auth,
        agent,
        supervisor,
        queue,
        process,
        imports,
        admin,
        devmail,
        telephony,
        cockpit,
        speech,
        api,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(telephony.webhooks)
    app.register_blueprint(telephony.recordings)
