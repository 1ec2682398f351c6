"""Follow-up jobs: commitment reminders, and the dunning process (its emails and letters)."""

from __future__ import annotations

import logging

from callcenter.db import read_only, session_scope
from callcenter.domain.process import (
    ProcessReport,
    advance_debtors,
    debtors_in_process_scope,
)
from callcenter.domain.queue.ladder import current_ladder, preventive_horizon
from callcenter.domain.reminders import queue_commitment_reminders
from callcenter.jobs.context import JobContext

log = logging.getLogger("callcenter.scheduler")

PROCESS_CHUNK = 500


def promise_reminders_job(context: JobContext) -> None:
    """Remind debtors of a promise or instalment falling due (once each)."""
    with session_scope(context.engine) as session:
        report = queue_commitment_reminders(
            session, today=context.today(), now=context.now(), settings=context.settings
        )
    if report.queued or report.no_recipient:
        log.info(
            "rappels d'engagement : %s en file, %s sans destinataire",
            report.queued,
            report.no_recipient,
        )


def dunning_process_job(context: JobContext, *, chunk: int = PROCESS_CHUNK) -> ProcessReport:
    """Walk every debtor's dunning process: steps reached, emails and letters, proposals.

    The debtors are listed in one read-only query; each chunk is walked in its own
    transaction, its debtors locked, so a payment or an outcome meanwhile is seen.
    """
    today, now = context.today(), context.now()
    with session_scope(read_only(context.engine)) as session:
        rungs = current_ladder(session, context.settings)
        horizon = preventive_horizon(rungs)
        debtor_ids = debtors_in_process_scope(session, today=today, horizon_days=horizon)
    total = ProcessReport()
    for start in range(0, len(debtor_ids), chunk):
        with session_scope(context.engine) as session:
            total.add(
                advance_debtors(
                    session,
                    debtor_ids=debtor_ids[start : start + chunk],
                    now=now,
                    today=today,
                    settings=context.settings,
                )
            )
    if total.opened or total.moved or total.done or total.closed:
        log.info(
            "processus de relance : %s ouverts (%s en rattrapage), %s étapes atteintes, "
            "%s faites (%s e-mails, %s lettres), %s à valider, %s clos",
            total.opened,
            total.caught_up,
            total.moved,
            total.done,
            total.emails,
            total.letters,
            total.proposed,
            total.closed,
        )
    return total
