"""An agent acts only on the debtor they hold, route by route from the URL map; a call's
outcome is written only by its agent; an opposition or a collective procedure recorded
while the debtor is held stops the call, the outcome and the recap at once."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.jobs.outbox import deliver_outbox
from callcenter.models import (
    Call,
    Debtor,
    EmailStatus,
    Event,
    OutboxEmail,
    Promise,
    QueueItem,
    QueueState,
    utcnow,
)
from tests.conftest import csrf_from
from tests.factories import make_call, make_contact, make_debtor, make_email, make_invoice
from tests.web.test_access import ALLOWED_ROLES, KEY_BLUEPRINTS, PUBLIC_ENDPOINTS, SIGNED_BLUEPRINTS
from tests.web.test_telephony_simulated import signed_in_client

SECRET_NAME = "Atelier Témoin Confidentiel"
SECRET_PHONE = "+33612340001"
SECRET_DIGITS = ("12340001", "12 34 00 01")
ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")
SENDER = {"sender_name": "Service relance", "sender_address": "relances@exemple.fr"}


class RecordingTransport:
    """A mail transport that keeps what it is given (nothing leaves the test)."""

    def __init__(self) -> None:
        self.sent = []

    def send(self, message) -> None:
        self.sent.append(message)


def _hold(session, debtor: Debtor, agent_id: int) -> None:
    now = utcnow()
    session.add(
        QueueItem(
            debtor_id=debtor.id,
            state=QueueState.CLAIMED,
            claimed_by_id=agent_id,
            claimed_at=now,
            lease_until=now + timedelta(minutes=10),
        )
    )
    session.flush()


@pytest.fixture
def held(app, make_user):
    """A debtor held by another agent, with that agent's call and pending recap email."""
    holder = make_user("agent")
    with session_scope(app.extensions["callcenter"].engine) as session:
        sync_default_dispositions(session)
        debtor = make_debtor(session, name=SECRET_NAME)
        contact = make_contact(session, debtor, full_name="Mme Secrète", phone=SECRET_PHONE)
        make_invoice(session, debtor, due_date=date.today() - timedelta(days=20))
        _hold(session, debtor, holder.id)
        call = make_call(
            session,
            debtor,
            agent_id=holder.id,
            contact_id=contact.id,
            provider_status="completed",
            ended_at=utcnow(),
        )
        email = make_email(
            session, debtor, call_id=call.id, contact_id=contact.id, next_attempt_at=utcnow()
        )
        return {
            "holder": holder,
            "debtor_id": debtor.id,
            "contact_id": contact.id,
            "call_id": call.id,
            "email_id": email.id,
        }


def _agent_routes(app, ids: dict[str, int]):
    """Every route an agent may open, each id argument set to the held debtor's rows."""
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if rule.endpoint in PUBLIC_ENDPOINTS or blueprint in SIGNED_BLUEPRINTS | KEY_BLUEPRINTS:
            continue
        if "agent" not in ALLOWED_ROLES[blueprint]:
            continue
        url = ARGUMENT.sub(lambda m: str(ids.get(m.group(2), 1)), rule.rule)
        yield url, sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def test_no_agent_route_shows_or_changes_a_debtor_held_by_another_agent(app, client, login, held):
    intruder, token = login("agent")
    fields = {
        "debtor_id": held["debtor_id"],
        "contact_id": held["contact_id"],
        "call_id": held["call_id"],
        "disposition": "no_answer",
        "skip_reason": "Essai",
    }
    checked = 0
    for url, methods in _agent_routes(app, held):
        for method in methods:
            if method == "GET":
                response = client.get(url, query_string=fields)
            else:
                response = client.open(
                    url, method=method, data=fields, headers={"X-CSRFToken": token}
                )
            page = response.get_data(as_text=True)
            assert SECRET_NAME not in page, (method, url)
            assert SECRET_PHONE not in page and not any(d in page for d in SECRET_DIGITS), url
            checked += 1
    assert checked > 20
    with Session(app.extensions["callcenter"].engine) as session:
        item = session.exec(select(QueueItem).where(QueueItem.debtor_id == held["debtor_id"])).one()
        calls = session.exec(select(Call).where(Call.debtor_id == held["debtor_id"])).all()
        email = session.get(OutboxEmail, held["email_id"])
        touched = session.exec(
            select(Event).where(Event.debtor_id == held["debtor_id"], Event.actor_id == intruder.id)
        ).all()
    assert (item.state, item.claimed_by_id) == (QueueState.CLAIMED, held["holder"].id)
    assert [(c.id, c.disposition_code) for c in calls] == [(held["call_id"], None)]
    assert email.status == EmailStatus.PENDING
    assert touched == []


def test_the_softphone_page_shows_contacts_only_to_the_holder_and_supervisors(app, make_user, held):
    url = f"/telephonie/?debtor_id={held['debtor_id']}"
    own = signed_in_client(app, held["holder"]).get(url)
    assert own.status_code == 200
    assert SECRET_NAME in own.get_data(as_text=True) and "Mme Secrète" in own.get_data(as_text=True)

    refused = signed_in_client(app, make_user("agent")).get(url)
    assert refused.status_code == 403
    assert "ne vous est pas réservé" in refused.get_data(as_text=True)
    assert SECRET_NAME not in refused.get_data(as_text=True)

    watched = signed_in_client(app, make_user("supervisor")).get(url)
    assert watched.status_code == 200 and "Mme Secrète" in watched.get_data(as_text=True)


def _post_outcome(client, debtor_id: int, call_id: int, **fields):
    token = csrf_from(client.get("/agent/").get_data(as_text=True))
    return client.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={"disposition": "no_answer", "call_id": call_id, **fields},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )


def test_an_outcome_is_written_only_on_the_agents_own_call_to_this_debtor(app, client, login, held):
    agent, _token = login("agent")
    with session_scope(app.extensions["callcenter"].engine) as session:
        debtor = make_debtor(session)
        make_contact(session, debtor)
        make_invoice(session, debtor, due_date=date.today() - timedelta(days=20))
        _hold(session, debtor, agent.id)
        others = make_call(session, debtor, agent_id=held["holder"].id, notes="Notes d'origine")
        recorded = make_call(session, debtor, agent_id=agent.id, disposition_code="voicemail")
        own = make_call(session, debtor, agent_id=agent.id)
        debtor_id, ids = debtor.id, (others.id, held["call_id"], recorded.id, own.id)
    refusals = {
        ids[0]: "n'est pas l'un des vôtres",
        ids[1]: "n'est pas l'un des vôtres",
        ids[2]: "déjà enregistrée",
    }
    for call_id, reason in refusals.items():
        response = _post_outcome(client, debtor_id, call_id, notes="Réécrit")
        assert response.status_code == 409, call_id
        assert reason in html.unescape(response.get_data(as_text=True))
    with Session(app.extensions["callcenter"].engine) as session:
        before = {c.id: (c.disposition_code, c.notes) for c in session.exec(select(Call))}
    assert before[ids[0]] == (None, "Notes d'origine")
    assert before[ids[1]][0] is None and before[ids[2]][0] == "voicemail"
    assert "Réécrit" not in [notes for _code, notes in before.values()]
    saved = _post_outcome(client, debtor_id, ids[3], notes="Messagerie pleine")
    assert saved.status_code == 200, saved.get_data(as_text=True)
    with Session(app.extensions["callcenter"].engine) as session:
        assert session.get(Call, ids[3]).notes == "Messagerie pleine"
        assert len(session.exec(select(Call)).all()) == len(before)


@pytest.mark.parametrize(
    ("action", "form", "reason"),
    [
        (
            "procedure",
            {"status": "redressement judiciaire", "judgment_date": "02/11/2026"},
            "procédure collective (redressement judiciaire)",
        ),
        ("ne-plus-appeler", {"reason": "Demande écrite du client"}, "ne doit plus être appelé"),
    ],
)
def test_a_supervisors_stop_takes_effect_at_once_on_a_held_debtor(
    app, make_user, held, action, form, reason
):
    engine = app.extensions["callcenter"].engine
    debtor_id = held["debtor_id"]
    supervisor = signed_in_client(app, make_user("supervisor"))
    token = csrf_from(supervisor.get("/supervision/cockpit/").get_data(as_text=True))
    marked = supervisor.post(
        f"/supervision/cockpit/debiteurs/{debtor_id}/{action}",
        data=form,
        headers={"X-CSRFToken": token},
    )
    assert marked.status_code in (200, 303), marked.get_data(as_text=True)

    holder = signed_in_client(app, held["holder"])
    headers = {"X-CSRFToken": csrf_from(holder.get("/agent/").get_data(as_text=True))}
    call = holder.post(
        "/telephonie/appels",
        data={"debtor_id": debtor_id, "contact_id": held["contact_id"]},
        headers=headers,
    )
    assert call.status_code == 409 and reason in call.get_json()["error"]

    promised = (date.today() + timedelta(days=5)).isoformat()
    outcome = holder.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={
            "disposition": "promise",
            "promise_amount": "500,00",
            "promise_date": promised,
            "call_id": held["call_id"],
        },
        headers={"HX-Request": "true", **headers},
    )
    assert outcome.status_code == 409
    assert reason in html.unescape(outcome.get_data(as_text=True))

    transport = RecordingTransport()
    deliver_outbox(engine, transport, now=utcnow, **SENDER)
    assert transport.sent == []
    with Session(engine) as session:
        email = session.get(OutboxEmail, held["email_id"])
        cancelled = session.exec(select(Event).where(Event.type == "email.cancelled")).one()
        assert session.exec(select(Promise)).all() == []
        assert session.get(Call, held["call_id"]).disposition_code is None
    assert email.status == EmailStatus.CANCELLED
    assert reason in email.last_error and "Envoi annulé" in email.last_error
    assert cancelled.payload["reason"] in ("insolvency", "do_not_call")
