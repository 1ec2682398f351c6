"""Administration: user accounts and the outcome catalogue."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlmodel import select

from callcenter.domain.accounts import create_user, update_user
from callcenter.domain.api_access import create_token, list_tokens, revoke_token
from callcenter.domain.dispositions import update_disposition
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.imports.values import BadValue, cents
from callcenter.domain.queue.ladder import (
    LADDER_ACTION_LABELS,
    delete_step,
    min_amount_of,
    save_step,
)
from callcenter.domain.webhooks import create_endpoint, deactivate_endpoint
from callcenter.domain.webhooks import endpoints as webhook_endpoints
from callcenter.models import Disposition, Role, Scenario, ScenarioStep, User
from callcenter.web import clock, db, htmx, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, Role.ADMIN)


def _users():
    return db().exec(select(User).order_by(User.role, User.full_name)).all()


def _dispositions():
    return db().exec(select(Disposition).order_by(Disposition.position, Disposition.id)).all()


def _ladders():
    session = db()
    scenarios = session.exec(select(Scenario).order_by(Scenario.segment)).all()
    steps = session.exec(select(ScenarioStep).order_by(ScenarioStep.offset_days)).all()
    return {
        "scenarios": [(s, [step for step in steps if step.scenario_id == s.id]) for s in scenarios],
        "actions": LADDER_ACTION_LABELS,
        "minimums": {step.id: min_amount_of(step) for step in steps},
    }


@bp.get("/")
def home():
    return render_template(
        "admin/home.html",
        users=_users(),
        dispositions=_dispositions(),
        form={},
        errors={},
        **_ladders(),
    )


def _amount(text: str) -> int:
    """The rung's minimum amount; an unreadable or too large one is refused with its own
    message."""
    try:
        return cents(text) if text.strip() else 0
    except BadValue as bad:
        raise ValidationFailed({"min_amount": bad.message}) from None


@bp.post("/scenarios/<int:scenario_id>/etapes")
@bp.post("/scenarios/<int:scenario_id>/etapes/<int:step_id>")
def save_ladder_step(scenario_id: int, step_id: int | None = None):
    form = request.form
    return _apply(
        lambda session: save_step(
            session,
            scenario_id=scenario_id,
            step_id=step_id,
            offset_days=form.get("offset_days", ""),
            action=form.get("action", ""),
            label=form.get("label", ""),
            min_amount_cents=_amount(form.get("min_amount", "")),
            attempts=form.get("attempts", "3")[:4],
            catch_up=form.get("catch_up") == "on",
            actor_id=current_user.id,
            now=clock().now(),
        ),
        "admin/_ladders.html",
        context=_ladders,
    )


@bp.post("/etapes/<int:step_id>/supprimer")
def delete_ladder_step(step_id: int):
    return _apply(
        lambda session: delete_step(
            session, step_id=step_id, actor_id=current_user.id, now=clock().now()
        ),
        "admin/_ladders.html",
        context=_ladders,
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
            now=clock().now(),
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
            now=clock().now(),
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
            now=clock().now(),
        )
        session.commit()
        form = {}
    except ValidationFailed as failed:
        session.rollback()
        errors = failed.errors
    status = 422 if errors else 201
    template = "admin/_users.html" if htmx else "admin/home.html"
    return render_template(template, users=_users(), form=form, errors=errors), status


def _api_keys_page(*, issued=None, endpoint=None, form=None, errors=None, status: int = 200):
    page = render_template(
        "admin/api_keys.html",
        tokens=list_tokens(db()),
        endpoints=webhook_endpoints(db()),
        issued=issued,
        new_endpoint=endpoint,
        form=form or {},
        errors=errors or {},
    )
    return page, status


@bp.get("/cles-api")
def api_keys():
    """The keys of the creditor's systems: who may read, who may also write."""
    return _api_keys_page()


@bp.post("/cles-api")
def create_api_key():
    session = db()
    form = request.form.to_dict()
    try:
        issued = create_token(
            session,
            name=form.get("name", ""),
            can_write=form.get("access") == "write",
            actor_id=current_user.id,
            now=clock().now(),
        )
    except ValidationFailed as failed:
        session.rollback()
        return _api_keys_page(form=form, errors=failed.errors, status=422)
    session.commit()
    return _api_keys_page(issued=issued, status=201)


@bp.post("/cles-api/<int:token_id>/revoquer")
def revoke_api_key(token_id: int):
    session = db()
    try:
        revoke_token(session, token_id=token_id, actor_id=current_user.id, now=clock().now())
    except DomainError as refused:
        session.rollback()
        return _api_keys_page(errors={"": refused.message}, status=409)
    session.commit()
    return _api_keys_page()


@bp.post("/cles-api/notifications")
def create_webhook_endpoint():
    session = db()
    form = request.form.to_dict()
    try:
        endpoint = create_endpoint(
            session,
            url=form.get("url", ""),
            actor_id=current_user.id,
            now=clock().now(),
            allow_http=not state().settings.is_production,
        )
    except ValidationFailed as failed:
        session.rollback()
        return _api_keys_page(form=form, errors=failed.errors, status=422)
    session.commit()
    return _api_keys_page(endpoint=endpoint, status=201)


@bp.post("/cles-api/notifications/<int:endpoint_id>/desactiver")
def disable_webhook_endpoint(endpoint_id: int):
    session = db()
    try:
        deactivate_endpoint(
            session, endpoint_id=endpoint_id, actor_id=current_user.id, now=clock().now()
        )
    except DomainError as refused:
        session.rollback()
        return _api_keys_page(errors={"": refused.message}, status=409)
    session.commit()
    return _api_keys_page()
