"""« Ne plus appeler »: the debtor opposes calls; never called again (audited)."""

from __future__ import annotations

from callcenter.domain.audit import record_event
from callcenter.domain.outcome_kinds.base import Created, OutcomeContext, OutcomeKind
from callcenter.models import Call


class DoNotCallKind(OutcomeKind):
    kind = "do_not_call"
    flag = "is_do_not_call"

    def apply(self, context: OutcomeContext, call: Call, checked: None, created: Created):
        debtor = context.debtor
        if debtor.do_not_call:
            return
        debtor.do_not_call = True
        debtor.updated_at = context.now
        record_event(
            context.session,
            type="debtor.do_not_call",
            actor_id=context.agent_id,
            debtor_id=debtor.id,
            payload={"reason": context.notes or context.disposition.label},
            at=context.now,
        )
