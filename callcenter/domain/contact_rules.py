"""Whether a debtor may be contacted now: do-not-call and insolvency stop calls and emails at once.

The queue excludes such debtors at its next refresh, but a debtor already held by an agent,
or an email already in the outbox, must stop the moment a supervisor records the opposition
or the collective procedure: starting a call, saving a call's outcome and sending an email
all ask ``contact_block`` first.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.models import Debtor

DO_NOT_CALL = "Ce débiteur ne doit plus être appelé ni relancé (opposition « ne plus appeler »)."
INSOLVENCY = (
    "Ce débiteur est en procédure collective ({status}) : les relances sont suspendues, "
    "il ne doit être ni appelé ni relancé."
)


@dataclass(frozen=True)
class ContactBlock:
    """Why a debtor may not be contacted: a code for the records, a French reason for people."""

    code: str
    reason: str


def contact_block(debtor: Debtor) -> ContactBlock | None:
    """None when the debtor may be called or mailed now, else why not (insolvency first)."""
    if debtor.insolvency_status:
        return ContactBlock("insolvency", INSOLVENCY.format(status=debtor.insolvency_status))
    if debtor.do_not_call:
        return ContactBlock("do_not_call", DO_NOT_CALL)
    return None
