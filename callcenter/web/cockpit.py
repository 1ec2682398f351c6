"""The supervisor cockpit: live wallboard, controls with their audit trail, drill-down."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from callcenter.domain.aging import BUCKETS, aging_totals
from callcenter.domain.calls import PAUSE_CODES, STATUS_LABELS, duration_label
from callcenter.domain.cockpit import (
    agent_activity,
    flagged_calls,
    results,
    search_debtors,
    wallboard,
)
from callcenter.domain.controls import (
    INSOLVENCY_STATUSES,
    call_now,
    force_release,
    mark_do_not_call,
    mark_insolvent,
    reassign_callback,
    reassign_debtor,
    resend_email,
    set_campaign_paused,
    set_queue_weights,
)
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.queue.overrides import WEIGHT_LABELS, effective_settings, queue_overrides
from callcenter.domain.queue.rules import exclusion_labels
from callcenter.domain.timeline import describe_events
from callcenter.domain.webhooks import WEBHOOK_LABELS, dead_deliveries, resend_delivery
from callcenter.models import (
    Callback,
    CallbackStatus,
    Campaign,
    CaseStatus,
    Contact,
    Debtor,
    Disposition,
    DunningCase,
    EmailStatus,
    Invoice,
    InvoiceStatus,
    OutboxEmail,
    QueueItem,
    QueueState,
    Role,
    User,
)
from callcenter.web import clock, db, htmx, parse_id, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("cockpit", __name__, url_prefix="/supervision/cockpit")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)

LIST_LIMIT = 50
TIMELINE_LIMIT = 100
MAX_RANGE_DAYS = 366


@bp.app_template_filter("duree")
def duration_filter(seconds: int | None) -> str:
    return duration_label(seconds) if seconds is not None else "—"


def _settings():
    return state().settings


def _agents(session) -> list[User]:
    return list(
        session.exec(
            select(User).where(User.role == Role.AGENT, User.active).order_by(User.full_name)
        ).all()
    )


def _wallboard_context(session) -> dict[str, Any]:
    settings = _settings()
    return {
        "board": wallboard(session, now=clock().now(), settings=settings),
        "refresh_seconds": settings.cockpit.refresh_seconds,
        "pause_labels": PAUSE_CODES,
    }


@bp.get("/")
def home():
    """The wallboard; an htmx poll gets only the fragment (a fixed handful of queries)."""
    context = _wallboard_context(db())
    if htmx:
        return render_template("cockpit/_wallboard.html", **context)
    return render_template("cockpit/home.html", **context)


@bp.get("/mur")
def wall():
    """The wallboard for a TV on the wall (1920 × 1080, read from 5 m): large type, full width,
    no navigation; it polls the same fragment as the supervisor's page."""
    return render_template("cockpit/wall.html", wall=True, **_wallboard_context(db()))


# --- Controls --------------------------------------------------------------------------------


def _controls_context(session) -> dict[str, Any]:
    settings = _settings()
    now = clock().now()
    queue = effective_settings(session, settings).queue
    claimed = session.exec(
        select(QueueItem, Debtor, User)
        .join(Debtor, Debtor.id == QueueItem.debtor_id)
        .join(User, User.id == QueueItem.claimed_by_id, isouter=True)
        .where(QueueItem.state == QueueState.CLAIMED)
        .order_by(QueueItem.claimed_at)
        .limit(LIST_LIMIT)
    ).all()
    callbacks = session.exec(
        select(Callback, Debtor, User)
        .join(Debtor, Debtor.id == Callback.debtor_id)
        .join(User, User.id == Callback.agent_id, isouter=True)
        .where(Callback.status == CallbackStatus.PENDING)
        .order_by(Callback.due_at)
        .limit(LIST_LIMIT)
    ).all()
    dead = session.exec(
        select(OutboxEmail, Debtor)
        .join(Debtor, Debtor.id == OutboxEmail.debtor_id, isouter=True)
        .where(OutboxEmail.status == EmailStatus.DEAD)
        .order_by(OutboxEmail.created_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    return {
        "now": now,
        "campaigns": session.exec(select(Campaign).order_by(Campaign.name)).all(),
        "weights": [
            (key, label, getattr(queue, key), getattr(settings.queue, key))
            for key, label in WEIGHT_LABELS.items()
        ],
        "overridden": queue_overrides(session),
        "claimed": claimed,
        "callbacks": callbacks,
        "dead_emails": dead,
        "dead_webhooks": dead_deliveries(session),
        "webhook_labels": WEBHOOK_LABELS,
        "agents": _agents(session),
    }


def _debtor_context(session, debtor_id: int) -> dict[str, Any]:
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        abort(404)
    owner = session.get(User, debtor.owner_id) if debtor.owner_id else None
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor_id)).first()
    holder = session.get(User, item.claimed_by_id) if item and item.claimed_by_id else None
    return {
        "debtor": debtor,
        "owner": owner,
        "item": item,
        "item_exclusions": exclusion_labels(item.exclusion_reasons) if item else [],
        "holder": holder,
        "case": session.exec(
            select(DunningCase).where(
                DunningCase.debtor_id == debtor_id, DunningCase.status != CaseStatus.CLOSED
            )
        ).first(),
        "contacts": session.exec(select(Contact).where(Contact.debtor_id == debtor_id)).all(),
        "invoices": session.exec(
            select(Invoice)
            .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN)
            .order_by(Invoice.due_date)
        ).all(),
        "timeline": describe_events(session, debtor_id=debtor_id, limit=TIMELINE_LIMIT),
        "agents": _agents(session),
        "insolvency_statuses": INSOLVENCY_STATUSES,
    }


def _back(debtor_id: int | None = None):
    if request.form.get("retour") == "debiteur" and debtor_id:
        return url_for("cockpit.debtor", debtor_id=debtor_id)
    return url_for("cockpit.controls")


def _refused(failure: DomainError, debtor_id: int | None = None):
    """The page the form came from, again, with the French reasons (nothing was written)."""
    session = db()
    session.rollback()
    errors = failure.errors if isinstance(failure, ValidationFailed) else {"": failure.message}
    if request.form.get("retour") == "debiteur" and debtor_id and session.get(Debtor, debtor_id):
        context = _debtor_context(session, debtor_id)
        return render_template("cockpit/debtor.html", errors=errors, **context), 422
    return render_template(
        "cockpit/controls.html", errors=errors, **_controls_context(session)
    ), 422


def _done(message: str, debtor_id: int | None = None):
    db().commit()
    flash(message, "success")
    return redirect(_back(debtor_id), code=303)


@bp.get("/controles")
def controls():
    return render_template("cockpit/controls.html", errors={}, **_controls_context(db()))


@bp.post("/campagnes/<int:campaign_id>/pause")
def pause_campaign(campaign_id: int):
    return _campaign(campaign_id, paused=True)


@bp.post("/campagnes/<int:campaign_id>/reprise")
def resume_campaign(campaign_id: int):
    return _campaign(campaign_id, paused=False)


def _campaign(campaign_id: int, *, paused: bool):
    try:
        campaign = set_campaign_paused(
            db(),
            campaign_id=campaign_id,
            paused=paused,
            actor_id=current_user.id,
            now=clock().now(),
            settings=state().settings,
        )
    except DomainError as failure:
        return _refused(failure)
    verb = "mise en pause : plus aucun débiteur n'en est distribué" if paused else "reprise"
    return _done(f"Campagne « {campaign.name} » {verb}.")


@bp.post("/poids")
def weights():
    values = {key: request.form[key] for key in WEIGHT_LABELS if key in request.form}
    try:
        changes = set_queue_weights(
            db(), values=values, actor_id=current_user.id, now=clock().now(), settings=_settings()
        )
    except DomainError as failure:
        return _refused(failure)
    labels = ", ".join(WEIGHT_LABELS[key].lower() for key in changes)
    return _done(f"Poids modifiés ({labels}) : appliqués au prochain recalcul de la file.")


@bp.post("/rappels/<int:callback_id>/attribuer")
def assign_callback(callback_id: int):
    try:
        callback = reassign_callback(
            db(),
            callback_id=callback_id,
            agent_id=parse_id(request.form.get("agent_id")) or 0,
            actor_id=current_user.id,
            now=clock().now(),
        )
    except DomainError as failure:
        return _refused(failure)
    agent = db().get(User, callback.agent_id)
    return _done(f"Rappel attribué à {agent.full_name}.", callback.debtor_id)


@bp.post("/debiteurs/<int:debtor_id>/attribuer")
def assign_debtor(debtor_id: int):
    try:
        debtor = reassign_debtor(
            db(),
            debtor_id=debtor_id,
            agent_id=parse_id(request.form.get("agent_id")) or 0,
            actor_id=current_user.id,
            now=clock().now(),
        )
    except DomainError as failure:
        return _refused(failure, debtor_id)
    agent = db().get(User, debtor.owner_id)
    return _done(f"« {debtor.name} » est désormais suivi par {agent.full_name}.", debtor_id)


@bp.post("/debiteurs/<int:debtor_id>/liberer")
def release_debtor(debtor_id: int):
    try:
        force_release(db(), debtor_id=debtor_id, actor_id=current_user.id, now=clock().now())
    except DomainError as failure:
        return _refused(failure, debtor_id)
    return _done("Débiteur libéré : il est de retour dans la file d'appels.", debtor_id)


@bp.post("/debiteurs/<int:debtor_id>/ne-plus-appeler")
def do_not_call(debtor_id: int):
    try:
        debtor = mark_do_not_call(
            db(),
            debtor_id=debtor_id,
            reason=request.form.get("reason", ""),
            actor_id=current_user.id,
            now=clock().now(),
            settings=_settings(),
        )
    except DomainError as failure:
        return _refused(failure, debtor_id)
    return _done(f"« {debtor.name} » ne sera plus appelé.", debtor_id)


@bp.post("/debiteurs/<int:debtor_id>/appeler-maintenant")
def call_debtor_now(debtor_id: int):
    try:
        step = call_now(
            db(),
            debtor_id=debtor_id,
            reason=request.form.get("move_reason", ""),
            actor_id=current_user.id,
            now=clock().now(),
            settings=_settings(),
        )
    except DomainError as failure:
        return _refused(failure, debtor_id)
    return _done(
        f"Dossier avancé à l'étape « {step} » : la file le propose dès maintenant.", debtor_id
    )


def _parse_day(raw: str) -> date | None:
    raw = raw.strip()
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None


@bp.post("/debiteurs/<int:debtor_id>/procedure")
def insolvency(debtor_id: int):
    raw_date = request.form.get("judgment_date", "")
    judgment = _parse_day(raw_date)
    try:
        if raw_date.strip() and judgment is None:
            raise ValidationFailed(
                {"judgment_date": f"Date du jugement invalide : « {raw_date} » (jj/mm/aaaa)."}
            )
        debtor = mark_insolvent(
            db(),
            debtor_id=debtor_id,
            status=request.form.get("status", ""),
            judgment_date=judgment,
            actor_id=current_user.id,
            now=clock().now(),
            settings=_settings(),
        )
    except DomainError as failure:
        return _refused(failure, debtor_id)
    return _done(
        f"Procédure « {debtor.insolvency_status} » enregistrée : les relances sont suspendues.",
        debtor_id,
    )


@bp.post("/emails/<int:email_id>/renvoyer")
def resend(email_id: int):
    try:
        email = resend_email(db(), email_id=email_id, actor_id=current_user.id, now=clock().now())
    except DomainError as failure:
        return _refused(failure)
    return _done(f"E-mail « {email.subject} » remis en file d'envoi.", email.debtor_id)


@bp.post("/notifications/<int:delivery_id>/renvoyer")
def resend_webhook(delivery_id: int):
    try:
        delivery = resend_delivery(
            db(), delivery_id=delivery_id, actor_id=current_user.id, now=clock().now()
        )
    except DomainError as failure:
        return _refused(failure)
    label = WEBHOOK_LABELS.get(delivery.event_type, delivery.event_type)
    return _done(f"Notification « {label} » remise en file d'envoi.")


# --- Drill-down ------------------------------------------------------------------------------


@bp.get("/debiteurs/<int:debtor_id>")
def debtor(debtor_id: int):
    return render_template("cockpit/debtor.html", errors={}, **_debtor_context(db(), debtor_id))


def _period(default_days: int = 1) -> tuple[date, date, dict[str, str]]:
    """« du » and « au » (inclusive) from the query string; the last ``default_days`` days."""
    today = clock().today()
    errors: dict[str, str] = {}
    bounds = []
    for name, label, default in (
        ("du", "de début", today - timedelta(days=default_days - 1)),
        ("au", "de fin", today),
    ):
        raw = request.args.get(name, "").strip()
        value = _parse_day(raw) if raw else default
        if value is None:
            errors[name] = f"Date {label} invalide : « {raw} » (jj/mm/aaaa)."
            value = today
        bounds.append(value)
    start, end = bounds
    if not errors and start > end:
        errors["au"] = "La date de fin précède la date de début."
    elif not errors and (end - start).days >= MAX_RANGE_DAYS:
        errors["au"] = f"La période ne peut pas dépasser {MAX_RANGE_DAYS} jours."
    if errors:
        start, end = today - timedelta(days=default_days - 1), today
    return start, end, errors


@bp.get("/agents/<int:agent_id>")
def agent(agent_id: int):
    start, end, errors = _period()
    since, until = clock().utc_bounds(start, end)
    activity = agent_activity(db(), agent_id=agent_id, start=since, end=until)
    if activity is None:
        abort(404)
    return render_template(
        "cockpit/agent.html",
        activity=activity,
        start=start,
        end=end,
        errors=errors,
        status_labels=STATUS_LABELS,
        disposition_labels=dict(db().exec(select(Disposition.code, Disposition.label)).all()),
    ), (422 if errors else 200)


@bp.get("/recherche")
def search():
    text = request.args.get("q", "").strip()[:100]
    results = search_debtors(db(), text=text) if text else []
    template = "cockpit/_search.html" if htmx else "cockpit/search.html"
    return render_template(template, q=text, results=results)


@bp.get("/appels-signales")
def flagged():
    """Calls where the agent's words were caught by the respect check, for follow-up."""
    return render_template("cockpit/flagged.html", flagged=flagged_calls(db()))


@bp.get("/resultats")
def results_page():
    """Charts with their tables: collected, promises, kept rate per agent, DSO trend, CEI."""
    start, end, errors = _period(default_days=30)
    session = db()
    data = results(session, start=start, end=end)
    totals = aging_totals(session, as_of=end).amounts
    aging = [
        (label, getattr(totals, name)) for name, label in (*BUCKETS, ("disputed", "En litige"))
    ]
    return render_template(
        "cockpit/results.html", data=data, aging=aging, start=start, end=end, errors=errors
    ), (422 if errors else 200)
