"""The work queue as supervisors see it: depth, top rows with reasons, exclusions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from callcenter.domain.process import cases_per_step
from callcenter.domain.queue import explain_debtor
from callcenter.domain.queue import report as queue_report
from callcenter.domain.queue.rules import exclusion_label
from callcenter.formatting import quantity
from callcenter.jobs.maintenance import recompute_queue
from callcenter.models import Role
from callcenter.web import clock, db, htmx, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("queue", __name__, url_prefix="/supervision/file")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)

MAX_QUERY = 100


def _search_context(session) -> dict:
    text = request.args.get("q", "").strip()[:MAX_QUERY]
    reason = request.args.get("motif", "").strip()
    results = queue_report.search(session, text=text) if text else []
    why = None
    if len(results) == 1:
        why = explain_debtor(
            session, debtor_id=results[0].debtor_id, now=clock().now(), settings=state().settings
        )
    listed = queue_report.excluded_with(session, reason=reason) if reason else []
    return {
        "q": text,
        "results": results,
        "why": why,
        "motif": reason,
        "motif_label": exclusion_label(reason),
        "listed": listed,
    }


@bp.get("/")
def home():
    session = db()
    context = _search_context(session)
    if htmx and request.args.get("partial") == "recherche":
        return render_template("queue/_search.html", **context)
    return render_template(
        "queue/home.html",
        depth=queue_report.depth(session),
        top=queue_report.top_rows(session),
        exclusions=queue_report.exclusion_counts(session),
        steps=cases_per_step(session),
        **context,
    )


@bp.post("/recalcul")
def refresh():
    db().commit()  # the request's own writes (session activity) first: the walk takes turns
    report = recompute_queue(state().engine, now=clock().now(), settings=state().settings)
    flash(
        f"File recalculée : {quantity(report.ready, 'débiteur')} à appeler, "
        f"{quantity(report.excluded, 'exclu')}.",
        "success",
    )
    return redirect(url_for("queue.home"))
