"""An outcome is written on the agent's own call to this debtor, once: never on another's."""

from __future__ import annotations

import pytest
from sqlmodel import select

from callcenter.domain.errors import DomainError
from callcenter.domain.outcome import OutcomeForm, record_outcome
from callcenter.models import Call
from tests.domain.queue_helpers import NOW
from tests.domain.test_outcome import world  # noqa: F401 (fixture)
from tests.factories import make_call, make_debtor


def _record(session, world, call_id):  # noqa: F811
    return record_outcome(
        session,
        agent_id=world["agent"].id,
        debtor_id=world["debtor"].id,
        form=OutcomeForm("no_answer", notes="Réécrit"),
        now=NOW,
        settings=world["settings"],
        call_id=call_id,
    )


@pytest.mark.parametrize(
    ("whose", "refusal"),
    [
        ("another agent's", "n'est pas l'un des vôtres"),
        ("another debtor's", "ne concerne pas ce débiteur"),
        ("already recorded", "déjà enregistrée"),
        ("unknown", "n'est pas l'un des vôtres"),
    ],
)
def test_an_outcome_is_refused_on_a_call_that_is_not_the_agents_open_one(
    session,
    world,  # noqa: F811
    whose,
    refusal,
):
    debtor, agent = world["debtor"], world["agent"]
    calls = {
        "another agent's": lambda: make_call(session, debtor, agent_id=world["other"].id).id,
        "another debtor's": lambda: make_call(session, make_debtor(session), agent_id=agent.id).id,
        "already recorded": lambda: (
            make_call(session, debtor, agent_id=agent.id, disposition_code="voicemail").id
        ),
        "unknown": lambda: 999_999,
    }
    call_id = calls[whose]()
    with pytest.raises(DomainError, match=refusal):
        _record(session, world, call_id)
    assert "Réécrit" not in [call.notes for call in session.exec(select(Call))]


def test_an_outcome_is_written_on_the_agents_own_call(session, world):  # noqa: F811
    call = make_call(session, world["debtor"], agent_id=world["agent"].id)
    result = _record(session, world, call.id)
    assert result.call.id == call.id and call.notes == "Réécrit"
