"""The agent's workspace: one screen, no reloads (htmx), keyboard first.

Next account → brief + script + outcome form → save (one transaction: outcome,
promise/plan/dispute/callback, timeline, recap email in the outbox, queue) →
recap preview with a cancel button during its delay → next account.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select
from werkzeug.datastructures import MultiDict

from callcenter.domain.addressing import greeting
from callcenter.domain.brief import build_brief
from callcenter.domain.calls import finish_wrap_up
from callcenter.domain.correction import correct_outcome, correctable_call, correction_deadline
from callcenter.domain.dispositions import active_dispositions
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.outbox import cancel_email
from callcenter.domain.outcome import (
    DISPUTE_CATEGORIES,
    OutcomeForm,
    OutcomeLimits,
    outcome_limits,
    record_outcome,
)
from callcenter.domain.queue import claim_next, release, skip
from callcenter.domain.queue.report import exclusion_counts
from callcenter.domain.scripts import (
    NON_PAYMENT_REASONS,
    ContactHistory,
    available_scripts,
    contact_history,
    render_script,
)
from callcenter.domain.timeline import describe_events
from callcenter.formatting import day, money, number, phone, quantity
from callcenter.models import (
    Call,
    Callback,
    Dispute,
    DisputeInvoice,
    Instalment,
    OutboxEmail,
    PaymentPlan,
    Promise,
    PromiseInvoice,
    QueueItem,
    QueueState,
    Role,
    User,
)
from callcenter.web import clock, db, htmx, parse_id, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("agent", __name__, url_prefix="/agent")
guard_blueprint(bp, Role.AGENT, Role.SUPERVISOR)

PLAN_ROWS = 4


def _now() -> datetime:
    return clock().now()


def _today(now: datetime):
    return clock().day_of(now)


def _held_debtor_id(session, agent_id: int, now: datetime) -> int | None:
    item = session.exec(
        select(QueueItem).where(
            QueueItem.claimed_by_id == agent_id,
            QueueItem.state == QueueState.CLAIMED,
            QueueItem.lease_until > now,
        )
    ).first()
    return item.debtor_id if item else None


@bp.app_template_global("outcome_limits")
def outcome_form_limits() -> OutcomeLimits:
    """The outcome form's bounds, for its inputs (the same ones ``record_outcome`` enforces)."""
    return outcome_limits(now=clock().now(), settings=state().settings)


@bp.app_template_global("quick_promise_dates")
def quick_promise_dates() -> list[tuple[str, str, str]]:
    """The promise form's quick dates, each with its key: (key, label, ISO date), within the
    promise horizon — in a week, next Friday, the end of the month."""
    today = clock().today()
    latest = today + timedelta(days=state().settings.promises.horizon_days)
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if month_end == today:
        month_end = (month_end + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    choices = (
        ("s", f"Dans une semaine ({day(today + timedelta(days=7))})", today + timedelta(days=7)),
        ("v", f"Vendredi prochain ({day(friday)})", friday),
        ("f", f"Fin du mois ({day(month_end)})", month_end),
    )
    return [(key, label, value.isoformat()) for key, label, value in choices if value <= latest]


def require_hold(session, debtor_id: int, now: datetime) -> None:
    """403 unless the signed-in user holds the debtor (claimed, lease not expired)."""
    if _held_debtor_id(session, current_user.id, now) != debtor_id:
        abort(403, description="Ce débiteur ne vous est pas réservé : reprenez-le depuis la file.")


def _script_context(brief, agent: User, settings, history: ContactHistory) -> dict:
    focus = brief.focus_invoice
    first, _, last = agent.full_name.partition(" ")
    overdue = [i for i in brief.invoices if i.workable and i.days_late > 0]
    count_text = (
        quantity(len(overdue), "facture échue", "factures échues")
        if len(overdue) > 1
        else "la facture échue"
        if overdue
        else "vos factures"
    )
    promise = brief.broken_promise or next(iter(brief.pending_promises), None)
    context = {
        "agent": {"first_name": first, "last_name": last},
        "greeting": greeting(brief.contact),
        "company": {"name": settings.company.name},
        "debtor": {"name": brief.debtor.name, "account_code": brief.debtor.account_code},
        "target_amount": money(brief.target.cents),
        "overdue_amount": money(brief.target.overdue_cents),
        "overdue_count_text": count_text,
        "callback_number": phone(settings.telephony.caller_id),
        "history": history.as_context(),
    }
    if brief.contact is not None:
        context["contact"] = {"name": brief.contact.full_name, "role": brief.contact.role}
    if focus is not None:
        context["invoice"] = {
            "number": focus.number,
            "issue_date": day(focus.issue_date),
            "due_date": day(focus.due_date),
            "amount": money(focus.amount_cents),
            "open_amount": money(focus.open_amount_cents),
        }
    if promise is not None:
        context["promise"] = {
            "amount": money(promise.amount_cents),
            "date": day(promise.promised_date),
        }
    return context


def _workspace_context(
    session, debtor_id: int | None, now: datetime, *, whole_timeline: bool = False, **extra
) -> dict:
    settings = state().settings
    agent = session.get(User, current_user.id)
    waiting = (
        None
        if debtor_id is not None
        else session.exec(
            select(QueueItem.id).where(QueueItem.state == QueueState.READY).limit(1)
        ).first()
    )
    context = {
        "agent": agent,
        "brief": None,
        "queue_has_work": waiting is not None,
        "exclusions": [] if waiting is not None or debtor_id else exclusion_counts(session)[:5],
        "dispositions": active_dispositions(session),
        "reasons": NON_PAYMENT_REASONS,
        "dispute_categories": DISPUTE_CATEGORIES,
        "scripts": available_scripts(),
        # room for every instalment already typed or saved (a correction), four at least
        "plan_rows": max(PLAN_ROWS, len(getattr(extra.get("form"), "getlist", list)("plan_dates"))),
        "speech_enabled": bool(settings.speech.model_path),
        "simulated_telephony": settings.telephony.provider == "simulated",
        "form": MultiDict(),
        "errors": {},
        "message": None,
    }
    if debtor_id is not None:
        brief = build_brief(
            session,
            debtor_id=debtor_id,
            today=_today(now),
            now=now,
            settings=settings,
            **({"timeline_limit": None} if whole_timeline else {}),
        )
        code = request.args.get("script") or brief.script_code
        if code not in context["scripts"]:
            code = brief.script_code
        context.update(
            brief=brief,
            script=render_script(
                code,
                _script_context(
                    brief,
                    agent,
                    settings,
                    contact_history(session, debtor_id=debtor_id, before=now),
                ),
                strict=False,
            ),
            today=_today(now),
        )
    context.update(extra)
    return context


def _render(template: str, context: dict, status: int = 200, trigger: str | None = None):
    response = make_response(render_template(template, **context), status)
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


@bp.get("/")
def home():
    session = db()
    now = _now()
    context = _workspace_context(session, _held_debtor_id(session, current_user.id, now), now)
    return _render("agent/_workspace.html" if htmx else "agent/workspace.html", context)


@bp.post("/suivant")
def next_account():
    """Claim the best eligible debtor (or get back the one already held)."""
    session = db()
    now = _now()
    settings = state().settings
    claim = claim_next(
        session,
        agent_id=current_user.id,
        now=now,
        lease=timedelta(minutes=settings.queue.lease_minutes),
        settings=settings,
    )
    session.commit()
    message = None if claim else "Aucun dossier à appeler pour l'instant : la file est vide."
    if not htmx:
        return redirect(url_for("agent.home"))
    context = _workspace_context(session, claim.debtor_id if claim else None, now, message=message)
    return _render("agent/_workspace.html", context)


@bp.get("/dossier/<int:debtor_id>/script")
def script(debtor_id: int):
    session = db()
    now = _now()
    require_hold(session, debtor_id, now)
    context = _workspace_context(session, debtor_id, now)
    return _render("agent/_script.html", context)


@bp.get("/dossier/<int:debtor_id>/historique")
def timeline(debtor_id: int):
    session = db()
    now = _now()
    require_hold(session, debtor_id, now)
    context = _workspace_context(
        session, debtor_id, now, whole_timeline=request.args.get("tout") == "1"
    )
    return _render("agent/_timeline.html", context)


def _outcome_form() -> OutcomeForm:
    form = request.form
    return OutcomeForm(
        disposition=form.get("disposition", ""),
        reason=form.get("reason", ""),
        contact_id=form.get("contact_id", ""),
        notes=form.get("notes", ""),
        promise_amount=form.get("promise_amount", ""),
        promise_date=form.get("promise_date", ""),
        promise_invoices=form.getlist("promise_invoices"),
        plan_total=form.get("plan_total", ""),
        plan_dates=form.getlist("plan_dates"),
        plan_amounts=form.getlist("plan_amounts"),
        dispute_category=form.get("dispute_category", ""),
        dispute_description=form.get("dispute_description", ""),
        dispute_invoices=form.getlist("dispute_invoices"),
        callback_at=form.get("callback_at", ""),
        callback_personal=form.get("callback_personal") == "on",
        contact_name=form.get("contact_name", ""),
        contact_phone=form.get("contact_phone", ""),
        contact_email=form.get("contact_email", ""),
    )


@bp.post("/dossier/<int:debtor_id>/suggestion")
def apply_suggestion(debtor_id: int):
    """Pre-fill the outcome form with a speech suggestion the agent chose; nothing is saved."""
    session = db()
    now = _now()
    require_hold(session, debtor_id, now)
    form = MultiDict(request.form)
    form.setlist("disposition", [request.form.get("suggested_disposition", "")])
    for field, suggested in (
        ("promise_amount", "suggested_amount"),
        ("promise_date", "suggested_date"),
    ):
        if request.form.get(suggested):
            form.setlist(field, [request.form[suggested]])
    for key in ("suggested_disposition", "suggested_amount", "suggested_date"):
        form.poplist(key)
    context = _workspace_context(session, debtor_id, now, form=form)
    return _render("agent/_outcome_form.html", context)


@bp.post("/dossier/<int:debtor_id>/issue")
def save_outcome(debtor_id: int):
    session = db()
    now = _now()
    settings = state().settings
    form = _outcome_form()
    try:
        result = record_outcome(
            session,
            agent_id=current_user.id,
            debtor_id=debtor_id,
            form=form,
            now=now,
            settings=settings,
            call_id=parse_id(request.form.get("call_id")),
        )
    except ValidationFailed as failed:
        session.rollback()
        context = _workspace_context(
            session, debtor_id, now, form=request.form, errors=failed.errors
        )
        response = _render("agent/_outcome_form.html", context, status=422)
        response.headers["HX-Retarget"] = "#outcome"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    except DomainError as refused:
        session.rollback()
        context = _workspace_context(session, None, now, message=refused.message)
        return _render("agent/_workspace.html", context, status=409)
    finish_wrap_up(session, user_id=current_user.id, now=now)
    session.commit()
    return _render(
        "agent/_workspace.html", _saved_context(session, result, now), trigger="outcome-saved"
    )


def _saved_context(session, result, now: datetime, **extra) -> dict:
    """The workspace after a save or a correction: the saved card, « Corriger » while it may."""
    deadline = correction_deadline(result.call, state().settings)
    return _workspace_context(
        session,
        None,
        now,
        result=result,
        correction_until=deadline if deadline and deadline > now else None,
        saved_timeline=describe_events(session, debtor_id=result.call.debtor_id, limit=10),
        **extra,
    )


def _form_of_call(session, call: Call) -> MultiDict:
    """The outcome form as the call's saved outcome fills it, for a correction."""
    zone = clock().zone
    form = MultiDict(
        {
            "disposition": call.disposition_code or "",
            "reason": call.non_payment_reason or "",
            "contact_id": str(call.contact_id or ""),
            "notes": call.notes or "",
        }
    )
    promise = session.exec(select(Promise).where(Promise.call_id == call.id)).first()
    if promise is not None:
        form["promise_amount"] = number(promise.amount_cents / 100, 2)
        form["promise_date"] = promise.promised_date.isoformat()
        form.setlist(
            "promise_invoices",
            [
                str(i)
                for i in session.exec(
                    select(PromiseInvoice.invoice_id).where(PromiseInvoice.promise_id == promise.id)
                ).all()
            ],
        )
    plan = session.exec(select(PaymentPlan).where(PaymentPlan.call_id == call.id)).first()
    if plan is not None:
        form["plan_total"] = number(plan.total_cents / 100, 2)
        instalments = session.exec(
            select(Instalment).where(Instalment.plan_id == plan.id).order_by(Instalment.sequence)
        ).all()
        form.setlist("plan_dates", [i.due_date.isoformat() for i in instalments])
        form.setlist("plan_amounts", [number(i.amount_cents / 100, 2) for i in instalments])
    dispute = session.exec(select(Dispute).where(Dispute.call_id == call.id)).first()
    if dispute is not None:
        form["dispute_category"] = dispute.category
        form["dispute_description"] = dispute.description
        form.setlist(
            "dispute_invoices",
            [
                str(i)
                for i in session.exec(
                    select(DisputeInvoice.invoice_id).where(DisputeInvoice.dispute_id == dispute.id)
                ).all()
            ],
        )
    callback = session.exec(select(Callback).where(Callback.call_id == call.id)).first()
    if callback is not None:
        form["callback_at"] = callback.due_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        if callback.personal:
            form["callback_personal"] = "on"
    return form


def _correction_page(session, call: Call, now: datetime, form, errors=None, status=200):
    settings = state().settings
    context = _workspace_context(session, call.debtor_id, now, form=form, errors=errors or {})
    context.update(
        call=call,
        correction_until=correction_deadline(call, settings),
        outcome_action=url_for("agent.correct", call_id=call.id),
    )
    template = "agent/_correction.html" if htmx else "agent/correction.html"
    return _render(template, context, status=status)


@bp.get("/appel/<int:call_id>/corriger")
def correction_form(call_id: int):
    """The outcome form filled with what was saved, for the agent who saved it, in the window."""
    session = db()
    now = _now()
    try:
        call = correctable_call(
            session, agent_id=current_user.id, call_id=call_id, now=now, settings=state().settings
        )
    except DomainError as refused:
        context = _workspace_context(session, None, now, message=refused.message)
        return _render("agent/_workspace.html" if htmx else "agent/workspace.html", context, 409)
    return _correction_page(session, call, now, _form_of_call(session, call))


@bp.post("/appel/<int:call_id>/corriger")
def correct(call_id: int):
    session = db()
    now = _now()
    try:
        result = correct_outcome(
            session,
            agent_id=current_user.id,
            call_id=call_id,
            form=_outcome_form(),
            now=now,
            settings=state().settings,
        )
    except ValidationFailed as failed:
        session.rollback()
        call = session.get(Call, call_id)
        context = _workspace_context(
            session, call.debtor_id, now, form=request.form, errors=failed.errors
        )
        context["outcome_action"] = url_for("agent.correct", call_id=call_id)
        response = _render("agent/_outcome_form.html", context, status=422)
        response.headers["HX-Retarget"] = "#outcome"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    except DomainError as refused:
        session.rollback()
        context = _workspace_context(session, None, now, message=refused.message)
        return _render("agent/_workspace.html", context, status=409)
    session.commit()
    context = _saved_context(session, result, now, message="Issue corrigée.")
    return _render("agent/_workspace.html", context, trigger="outcome-saved")


@bp.post("/courriel/<int:email_id>/annuler")
def cancel_recap(email_id: int):
    session = db()
    email = session.get(OutboxEmail, email_id)
    if email is None:
        abort(404)
    if email.call_id is None:
        abort(403)
    call = session.get(Call, email.call_id)
    if call is None or call.agent_id != current_user.id:
        abort(403)
    try:
        cancel_email(session, email_id=email_id, actor_id=current_user.id, now=_now())
    except DomainError as refused:
        session.rollback()
        return _render("agent/_recap.html", {"email": email, "error": refused.message}, 409)
    session.commit()
    return _render("agent/_recap.html", {"email": email, "error": None})


@bp.post("/dossier/<int:debtor_id>/passer")
def skip_account(debtor_id: int):
    session = db()
    now = _now()
    require_hold(session, debtor_id, now)
    settings = state().settings
    try:
        skip(
            session,
            agent_id=current_user.id,
            debtor_id=debtor_id,
            reason=request.form.get("skip_reason", ""),
            now=now,
            set_aside=timedelta(minutes=settings.queue.skip_minutes),
        )
    except ValidationFailed as failed:
        session.rollback()
        context = _workspace_context(session, debtor_id, now, skip_error=failed.errors["reason"])
        return _render("agent/_workspace.html", context, status=422)
    except DomainError as refused:
        session.rollback()
        return _render(
            "agent/_workspace.html", _workspace_context(session, None, now, message=refused.message)
        )
    session.commit()
    context = _workspace_context(
        session, None, now, message="Dossier passé : il revient plus tard."
    )
    return _render("agent/_workspace.html", context)


@bp.post("/dossier/<int:debtor_id>/liberer")
def release_account(debtor_id: int):
    session = db()
    now = _now()
    try:
        release(session, agent_id=current_user.id, debtor_id=debtor_id, now=now)
    except DomainError as refused:
        session.rollback()
        return _render(
            "agent/_workspace.html", _workspace_context(session, None, now, message=refused.message)
        )
    session.commit()
    context = _workspace_context(session, None, now, message="Dossier rendu à la file.")
    return _render("agent/_workspace.html", context)
