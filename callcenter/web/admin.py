"""Administration: user accounts and the outcome catalogue."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlmodel import select

from callcenter.domain.accounts import create_user, update_user
from callcenter.domain.dispositions import update_disposition
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.models import Disposition, Role, User
from callcenter.web import db, htmx, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, Role.ADMIN)


def _users():
    return db().exec(select(User).order_by(User.role, User.full_name)).all()


def _dispositions():
    return db().exec(select(Disposition).order_by(Disposition.position, Disposition.id)).all()


@bp.get("/")
def home():
    return render_template(
        "admin/home.html", users=_users(), dispositions=_dispositions(), form={}, errors={}
    )


def _apply(change, template: str, *, context):
    """Run one admin change in its own unit of work and render the panel with the outcome."""
    session = db()
    try:
        change(session)
    except (ValidationFailed, DomainError) as refused:
        session.rollback()
        message = (
            " ".join(refused.errors.values())
            if isinstance(refused, ValidationFailed)
            else (refused.message)
        )
        return render_template(template, error=message, notice=None, **context()), 422
    session.commit()
    return render_template(template, error=None, notice="Modification enregistrée.", **context())


@bp.post("/utilisateurs/<int:user_id>")
def update(user_id: int):
    return _apply(
        lambda session: update_user(
            session,
            user_id=user_id,
            role=request.form.get("role", ""),
            active=request.form.get("active") == "on",
            actor_id=current_user.id,
        ),
        "admin/_user_rows.html",
        context=lambda: {"users": _users()},
    )


@bp.post("/issues/<int:disposition_id>")
def update_outcome(disposition_id: int):
    position = request.form.get("position", "")
    return _apply(
        lambda session: update_disposition(
            session,
            disposition_id=disposition_id,
            label=request.form.get("label", ""),
            position=int(position) if position.isdigit() else -1,
            active=request.form.get("active") == "on",
            actor_id=current_user.id,
        ),
        "admin/_dispositions.html",
        context=lambda: {"dispositions": _dispositions()},
    )


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
