"""Jobs writing follow-up emails to the outbox: commitment reminders and ladder emails."""

from __future__ import annotations

import logging

from callcenter.db import read_only, session_scope
from callcenter.domain.reminders import (
    LadderReport,
    ladder_candidate_debtors,
    queue_commitment_reminders,
    queue_ladder_emails,
)
from callcenter.jobs.context import JobContext

log = logging.getLogger("callcenter.scheduler")

LADDER_CHUNK = 500


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


def ladder_emails_job(context: JobContext, *, chunk: int = LADDER_CHUNK) -> LadderReport:
    """Enqueue the ladder's emails owed today, a chunk of debtors per transaction.

    The candidates are selected in one read-only query; each chunk re-checks its own
    debtors inside its transaction, so an invoice paid meanwhile is not reminded.
    """
    today = context.today()
    with session_scope(read_only(context.engine)) as session:
        debtor_ids = ladder_candidate_debtors(session, today=today, settings=context.settings)
    total = LadderReport()
    for start in range(0, len(debtor_ids), chunk):
        with session_scope(context.engine) as session:
            report = queue_ladder_emails(
                session,
                today=today,
                now=context.now(),
                settings=context.settings,
                debtor_ids=debtor_ids[start : start + chunk],
            )
        total.emails += report.emails
        total.invoices += report.invoices
        total.no_recipient += report.no_recipient
        total.capped += report.capped
    if total.emails or total.no_recipient or total.capped:
        log.info(
            "relances e-mail : %s courriels (%s factures), %s sans destinataire, %s au plafond",
            total.emails,
            total.invoices,
            total.no_recipient,
            total.capped,
        )
    return total
