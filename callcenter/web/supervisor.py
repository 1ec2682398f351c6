"""Supervisor pages: the portfolio at a glance (the cockpit grows here)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from sqlmodel import select

from callcenter.domain.portfolio import portfolio_summary
from callcenter.models import Role, User
from callcenter.web import db, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("supervisor", __name__, url_prefix="/supervision")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)


@bp.get("/")
def home():
    session = db()
    today = datetime.now(ZoneInfo(state().settings.app.timezone)).date()
    summary = portfolio_summary(session, today=today)
    agents = session.exec(
        select(User).where(User.role == Role.AGENT, User.active).order_by(User.full_name)
    ).all()
    return render_template("supervisor/home.html", summary=summary, agents=agents, today=today)
