"""Outcome kinds as handlers: each catalogue entry finds its handlers in one registry, and a
new kind is a new handler — ``record_outcome`` is not edited to add one."""

from __future__ import annotations

import pytest
from sqlmodel import select

from callcenter.domain import outcome_kinds
from callcenter.domain.audit import record_event
from callcenter.domain.dispositions import DEFAULT_DISPOSITIONS
from callcenter.domain.errors import ValidationFailed
from callcenter.domain.outcome import OutcomeForm
from callcenter.domain.outcome_kinds import OutcomeKind, handlers_for
from callcenter.models import Disposition, Event
from tests.domain.test_outcome import _record, world  # noqa: F401 (fixture)

EXPECTED = {
    "promise": ["promise"],
    "payment_plan": ["payment_plan"],
    "dispute": ["dispute"],
    "callback": ["callback"],
    "do_not_call": ["do_not_call"],
}
FLAGS = ("is_promise", "is_payment_plan", "is_dispute", "is_callback", "is_do_not_call")


def test_every_default_disposition_finds_its_handlers():
    for default in DEFAULT_DISPOSITIONS:
        disposition = Disposition(**{k: v for k, v in vars(default).items()})
        kinds = [handler.kind for handler in handlers_for(disposition)]
        assert kinds == EXPECTED.get(default.code, []), default.code


def test_every_catalogue_flag_has_exactly_one_handler():
    for flag in FLAGS:
        disposition = Disposition(code="x", label="x", **{flag: True})
        assert len(handlers_for(disposition)) == 1, flag


class DocumentsRequested(OutcomeKind):
    """A kind added by a test: the debtor asks for copies of its invoices."""

    kind = "documents_requested"
    codes = ("documents_requested",)

    def check(self, context):
        if "copie" not in context.notes:
            return {"notes": "Précisez les pièces demandées."}, None
        return {}, len(context.invoices)

    def apply(self, context, call, checked, created):
        record_event(
            context.session,
            type="documents.requested",
            actor_id=context.agent_id,
            debtor_id=context.debtor.id,
            payload={"call_id": call.id, "invoices": checked},
            at=context.now,
        )


@pytest.fixture
def documents_kind():
    handler = outcome_kinds.register(DocumentsRequested())
    yield handler
    outcome_kinds.HANDLERS.remove(handler)


def test_a_new_kind_is_a_new_handler(session, world, documents_kind):  # noqa: F811
    session.add(Disposition(code="documents_requested", label="Copies demandées", position=20))
    session.flush()
    with pytest.raises(ValidationFailed) as refused:
        _record(session, world, OutcomeForm(disposition="documents_requested", notes="rien"))
    assert refused.value.errors == {"notes": "Précisez les pièces demandées."}
    assert not session.exec(select(Event).where(Event.type == "documents.requested")).all()
    result = _record(
        session,
        world,
        OutcomeForm(disposition="documents_requested", notes="copie des factures de mai"),
    )
    assert result.call.disposition_code == "documents_requested"
    (event,) = session.exec(select(Event).where(Event.type == "documents.requested")).all()
    assert event.payload == {"call_id": result.call.id, "invoices": 3}
