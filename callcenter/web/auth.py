"""Login, logout and the role guard every blueprint uses."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as login_session
from flask_login import current_user, login_required, login_user, logout_user

from callcenter.domain.accounts import (
    LoginRefused,
    ThrottlePolicy,
    authenticate,
    sign_out_everywhere,
)
from callcenter.models import Role, User
from callcenter.web import clock, db, login_manager, state
from callcenter.web.proxies import request_client_address

bp = Blueprint("auth", __name__)

LANDING_BY_ROLE = {
    Role.AGENT: "agent.home",
    Role.SUPERVISOR: "supervisor.home",
    Role.ADMIN: "admin.home",
}

login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

SESSION_VERSION_KEY = "_session_version"


class SignedInUser:
    """The Flask-Login face of a User row, loaded afresh on every request."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.email = user.email
        self.full_name = user.full_name
        self.role = user.role
        self.is_active = user.active

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    """The signed-in user, unless the account was switched off or its sessions were revoked
    (logout, password or role change) since this session signed in."""
    if not user_id.isdigit():
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.active:
        return None
    if login_session.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return SignedInUser(user)


def guard_blueprint(blueprint: Blueprint, *roles: str) -> None:
    """Every route of ``blueprint`` needs a signed-in user holding one of ``roles`` (403 else)."""

    @blueprint.before_request
    def require_role():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.has_role(*roles):
            abort(403)
        return None


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after login (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def landing_url(role: str) -> str:
    return url_for(LANDING_BY_ROLE.get(role, "auth.login"))


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(landing_url(current_user.role))
    return redirect(url_for("auth.login"))


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(landing_url(current_user.role))
    error = None
    email = request.form.get("email", "")
    if request.method == "POST":
        settings = state().settings.security
        policy = ThrottlePolicy(
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
        )
        session = db()
        try:
            user = authenticate(
                session,
                email=email,
                password=request.form.get("password", ""),
                remote_addr=request_client_address(),
                policy=policy,
                now=clock().now(),
            )
        except LoginRefused as refused:
            session.commit()
            error = refused.message
        else:
            session.commit()
            login_user(SignedInUser(user))
            login_session[SESSION_VERSION_KEY] = user.session_version
            return redirect(_safe_next(request.args.get("next")) or landing_url(user.role))
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, email=email), status


@bp.post("/deconnexion")
@login_required
def logout():
    """Sign out here and everywhere: a copy of the session cookie is refused from now on."""
    session = db()
    sign_out_everywhere(session, user_id=current_user.id)
    session.commit()
    logout_user()
    login_session.pop(SESSION_VERSION_KEY, None)
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))
