"""Administration: user accounts."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlmodel import select

from callcenter.domain.accounts import create_user
from callcenter.domain.errors import ValidationFailed
from callcenter.models import Role, User
from callcenter.web import db, htmx, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, Role.ADMIN)


def _users():
    return db().exec(select(User).order_by(User.role, User.full_name)).all()


@bp.get("/")
def home():
    return render_template("admin/home.html", users=_users(), form={}, errors={})


@bp.post("/utilisateurs")
def create():
    form = request.form.to_dict()
    session = db()
    errors: dict[str, str] = {}
    try:
        create_user(
            session,
            email=form.get("email", ""),
            full_name=form.get("full_name", ""),
            role=form.get("role", ""),
            password=form.get("password", ""),
            min_password_length=state().settings.security.password_min_length,
            actor_id=current_user.id,
        )
        session.commit()
        form = {}
    except ValidationFailed as failed:
        session.rollback()
        errors = failed.errors
    status = 422 if errors else 201
    template = "admin/_users.html" if htmx else "admin/home.html"
    return render_template(template, users=_users(), form=form, errors=errors), status
