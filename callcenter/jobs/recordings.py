"""Recording objections the provider has not yet confirmed: stopped and deleted again."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from callcenter.db import session_scope
from callcenter.domain.calls import is_terminal, recording_deleted
from callcenter.domain.recording_objections import calls_owing_an_objection
from callcenter.jobs.context import JobContext
from callcenter.providers.telephony import build_telephony
from callcenter.providers.telephony.base import TelephonyFailure, TelephonyUnavailable

log = logging.getLogger("callcenter.scheduler")
OBJECTION_REASON = "opposition du débiteur"


@dataclass
class ObjectionReport:
    enforced: int = 0
    pending: int = 0


def enforce_recording_objections(context: JobContext) -> ObjectionReport:
    """Stop a live call's recording and delete a kept one, for every objection still owed.

    Idempotent and safe under overlap: a recording already deleted at the provider is not
    an error, and ``recording_deleted`` forgets a recording only once.
    """
    telephony = context.telephony or build_telephony(context.settings, context.clock)
    report = ObjectionReport()
    with session_scope(context.engine) as session:
        owing = [
            (call.id, call.provider_call_id, is_terminal(call), call.recording_sid)
            for call in calls_owing_an_objection(session)
        ]
    for call_id, provider_call_id, ended, recording_sid in owing:
        try:
            if provider_call_id and not ended:
                telephony.stop_recording(provider_call_id)
            if recording_sid:
                telephony.delete_recording(recording_sid)
                with session_scope(context.engine) as session:
                    recording_deleted(
                        session,
                        call_id=call_id,
                        sid=recording_sid,
                        reason=OBJECTION_REASON,
                        actor_id=None,
                        now=context.now(),
                    )
            report.enforced += 1
        except (TelephonyFailure, TelephonyUnavailable) as failure:
            log.warning("opposition de l'appel %s en attente : %s", call_id, failure.message)
            report.pending += 1
    return report


def recording_objections_job(context: JobContext) -> None:
    report = enforce_recording_objections(context)
    if report.enforced or report.pending:
        log.info(
            "oppositions à l'enregistrement : %s appliquées, %s en attente",
            report.enforced,
            report.pending,
        )
