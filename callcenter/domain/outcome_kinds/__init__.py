"""Outcome kinds: what each kind of call outcome does, one handler per kind.

``record_outcome`` checks every selected handler's part of the form (all errors at once),
then lets each one write its rows and events, then queues the recap and re-places the
debtor in the queue. A disposition of the catalogue (labels, order, active: admin data)
selects its handlers by its flags or by its code (``OutcomeKind.selects``); a disposition
that selects none (no answer, voicemail, refusal…) records the call and its notes only.

A new kind: a module here with an ``OutcomeKind`` subclass, added to ``HANDLERS`` below;
its fields (if any) in ``templates/agent/outcome_kinds/<kind>.html``; its tests.
``record_outcome`` is not edited.
"""

from __future__ import annotations

from callcenter.domain.outcome_kinds.base import (
    Created,
    OutcomeContext,
    OutcomeForm,
    OutcomeKind,
)
from callcenter.domain.outcome_kinds.callback import CallbackKind
from callcenter.domain.outcome_kinds.dispute import DISPUTE_CATEGORIES, DisputeKind
from callcenter.domain.outcome_kinds.do_not_call import DoNotCallKind
from callcenter.domain.outcome_kinds.payment_plan import PaymentPlanKind
from callcenter.domain.outcome_kinds.promise import PromiseKind
from callcenter.models import Disposition

HANDLERS: list[OutcomeKind] = [
    PromiseKind(),
    PaymentPlanKind(),
    DisputeKind(),
    CallbackKind(),
    DoNotCallKind(),
]


def register(handler: OutcomeKind) -> OutcomeKind:
    """Add a kind (a plug-in, or a test); it applies after the built-in ones."""
    HANDLERS.append(handler)
    return handler


def handlers_for(disposition: Disposition) -> list[OutcomeKind]:
    return [handler for handler in HANDLERS if handler.selects(disposition)]


def form_kinds() -> list[str]:
    """The kinds with fields on the outcome form, in order."""
    return [handler.kind for handler in HANDLERS if handler.has_fields]


def form_kinds_of(disposition: Disposition) -> str:
    """The form sections a disposition shows (its radio button's ``data-flags``)."""
    return " ".join(h.kind for h in handlers_for(disposition) if h.has_fields)


__all__ = [
    "DISPUTE_CATEGORIES",
    "HANDLERS",
    "Created",
    "OutcomeContext",
    "OutcomeForm",
    "OutcomeKind",
    "form_kinds",
    "form_kinds_of",
    "handlers_for",
    "register",
]
