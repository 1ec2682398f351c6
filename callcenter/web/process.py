"""The dunning process as supervisors steer it: cases per step, and the formal notices and
litigations waiting for a person's approval (one by one or in bulk, audited)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from callcenter.domain.errors import DomainError
from callcenter.domain.letters import LETTER_TEMPLATES_DIR, build_letter
from callcenter.domain.process import (
    FORECAST_KINDS,
    approve_steps,
    approved_formal_notices,
    awaiting_approval,
    cases_per_step,
    forecast,
    send_back_to_calls,
)
from callcenter.domain.queue.ladder import LADDER_ACTION_LABELS
from callcenter.models import CaseStatus, Debtor, DunningCase, Role
from callcenter.web import clock, db, parse_id, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("process", __name__, url_prefix="/supervision/processus")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)

MAX_SELECTED = 500


@bp.get("/")
def home():
    session = db()
    return render_template(
        "process/home.html",
        steps=cases_per_step(session),
        waiting=awaiting_approval(session),
        to_print=approved_formal_notices(session),
        action_labels=LADDER_ACTION_LABELS,
    )


@bp.get("/prevision")
def forecast_page():
    """What the process will ask of the team on each of the next 30 days."""
    projected = forecast(db(), today=clock().today(), settings=state().settings)
    series = [
        {"label": label, "data": projected.counts[kind]} for kind, label in FORECAST_KINDS.items()
    ]
    return render_template(
        "process/forecast.html", forecast=projected, kinds=FORECAST_KINDS, series=series
    )


def _selected() -> list[int]:
    raw = request.form.getlist("dossier")
    if len(raw) > MAX_SELECTED:
        raise DomainError(f"Au plus {MAX_SELECTED} dossiers à la fois.")
    ids = [parse_id(value) for value in raw]
    if any(i is None for i in ids):
        raise DomainError("Dossier inconnu : actualisez la liste.")
    return ids


def _decide(change, done: str):
    session = db()
    try:
        count = change(session, _selected())
    except DomainError as refused:
        session.rollback()
        flash(refused.message, "error")
        return redirect(url_for("process.home"))
    session.commit()
    flash(done.format(count=count, s="s" if count > 1 else ""), "success")
    return redirect(url_for("process.home"))


@bp.post("/valider")
def approve():
    now = clock().now()

    def change(session, ids):
        return len(
            approve_steps(
                session,
                debtor_ids=ids,
                actor_id=current_user.id,
                now=now,
                today=clock().today(),
                settings=state().settings,
            )
        )

    return _decide(change, "{count} étape{s} validée{s}.")


@bp.post("/renvoyer")
def send_back():
    def change(session, ids):
        return send_back_to_calls(
            session,
            debtor_ids=ids,
            actor_id=current_user.id,
            now=clock().now(),
            settings=state().settings,
        )

    return _decide(change, "{count} dossier{s} renvoyé{s} aux appels.")


@bp.get("/<int:debtor_id>/mise-en-demeure.pdf")
def formal_notice_pdf(debtor_id: int):
    """The formal notice of an approved case, to print (built again; nothing is recorded)."""
    from callcenter.providers.pdf import render_pdf

    session = db()
    debtor = session.get(Debtor, debtor_id)
    case = session.exec(select(DunningCase).where(DunningCase.debtor_id == debtor_id)).first()
    if (
        debtor is None
        or case is None
        or case.step_action != "formal_notice"
        or case.status != CaseStatus.ACTIVE
    ):
        abort(404)
    try:
        letter = build_letter(
            session,
            account_code=debtor.account_code,
            kind="mise_en_demeure",
            today=clock().today(),
            settings=state().settings,
        )
    except DomainError as refused:
        flash(refused.message, "error")
        return redirect(url_for("process.home"))
    pdf = render_pdf(letter.html, base_url=LETTER_TEMPLATES_DIR)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{letter.filename}"'
    return response
