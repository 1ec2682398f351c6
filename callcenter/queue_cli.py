"""``callcenter queue …``: full recompute of the work queue and ladder synchronisation."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from callcenter.db import session_scope


@click.group("queue", cls=AppGroup)
def queue_group() -> None:
    """File de travail des chargés de relance."""


@queue_group.command("refresh")
def queue_refresh() -> None:
    """Recalcule toute la file : score, raisons et exclusions de chaque débiteur."""
    from callcenter.jobs.maintenance import recompute_queue

    state = current_app.extensions["callcenter"]
    began = time.perf_counter()
    report = recompute_queue(state.engine, now=state.clock.now(), settings=state.settings)
    with session_scope(state.engine) as session:
        click.echo(
            f"File recalculée en {time.perf_counter() - began:.1f} s : "
            f"{report.ready} débiteurs à appeler, {report.excluded} exclus."
        )
        echo_queue_summary(session)


def echo_queue_summary(session) -> None:
    """The open cases per process step and the excluded debtors per reason."""
    from callcenter.domain.process import cases_per_step
    from callcenter.domain.queue.report import exclusion_counts

    steps = cases_per_step(session)
    if steps:
        click.echo("Dossiers par étape du processus :")
        for step in steps:
            waiting = (
                f" (dont {step.awaiting_approval} à valider)" if step.awaiting_approval else ""
            )
            total = step.active + step.awaiting_approval
            click.echo(f"  J{step.offset_days:+d} {step.label} : {total}{waiting}")
    reasons = exclusion_counts(session)
    if reasons:
        click.echo("Débiteurs exclus, par motif :")
        for row in reasons:
            click.echo(f"  {row.count} : {row.label}")


@queue_group.command("sync-ladder")
def queue_sync_ladder() -> None:
    """Écrit les scénarios de relance de config.toml dans la base (sans doublon)."""
    from callcenter.domain.queue import sync_ladder

    state = current_app.extensions["callcenter"]
    with session_scope(state.engine) as session:
        sync_ladder(session, settings=state.settings)
    click.echo("Scénarios de relance synchronisés.")
