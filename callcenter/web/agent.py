"""The agent's workspace (issue: agent workspace) starts from this landing page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from callcenter.models import Role, User
from callcenter.web import db
from callcenter.web.auth import guard_blueprint

bp = Blueprint("agent", __name__, url_prefix="/agent")
guard_blueprint(bp, Role.AGENT, Role.SUPERVISOR)


@bp.get("/")
def home():
    user = db().get(User, current_user.id)
    return render_template("agent/home.html", user=user)
