"""The cockpit pages: wallboard fragment, controls with CSRF and audit, drill-down, search."""

import html
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.queue import refresh_debtors
from callcenter.models import (
    AgentState,
    Campaign,
    EmailStatus,
    Event,
    OutboxEmail,
    QueueItem,
    QueueState,
    utcnow,
)
from tests.conftest import TEST_NOW, TEST_TODAY
from tests.factories import (
    make_call,
    make_callback,
    make_contact,
    make_debtor,
    make_email,
    make_invoice,
    make_user,
)


@pytest.fixture
def engine_of(app):
    return app.extensions["callcenter"].engine


def _seed(engine):
    with session_scope(engine) as session:
        agent = make_user(
            session,
            full_name="Alice Martin",
            agent_state=AgentState.ON_CALL,
            state_since=utcnow() - timedelta(minutes=25),
        )
        debtor = make_debtor(session, name="ACME SARL", siren="732829320")
        campaign = Campaign(code="relance", name="Relance courante")
        session.add(campaign)
        session.flush()
        session.add(
            QueueItem(
                debtor_id=debtor.id,
                campaign_id=campaign.id,
                stage="call",
                state=QueueState.CLAIMED,
                claimed_by_id=agent.id,
                claimed_at=utcnow(),
                lease_until=utcnow() + timedelta(minutes=10),
            )
        )
        make_call(session, debtor, agent_id=agent.id, provider_status="completed")
        callback = make_callback(session, debtor)
        email = make_email(session, debtor, status=EmailStatus.DEAD, subject="Relance n°2")
        return {
            "agent": agent.id,
            "debtor": debtor.id,
            "campaign": campaign.id,
            "callback": callback.id,
            "email": email.id,
        }


def test_the_wallboard_page_and_its_polled_fragment(client, login, engine_of):
    ids = _seed(engine_of)
    login("supervisor")
    page = client.get("/supervision/cockpit/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'hx-trigger="every 3s"' in text and "<h1>Tableau mural</h1>" in text
    assert "Alice Martin" in text and "ACME SARL" in text and "Relance courante" in text
    assert "level-alert" in text  # 25 minutes on a call: past the 20-minute alert threshold
    fragment = client.get("/supervision/cockpit/", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith("{#") is False
    assert body.strip().startswith('<section class="card" id="wallboard"')
    assert "<html" not in body
    assert f'data-agent="{ids["agent"]}"' in body
    assert "HX-Request" in fragment.headers["Vary"]


def _audit(engine, type_):
    with Session(engine) as session:
        return session.exec(select(Event).where(Event.type == type_)).all()


def test_pause_a_campaign_needs_csrf_and_is_audited(client, login, engine_of):
    ids = _seed(engine_of)
    user, token = login("supervisor")
    url = f"/supervision/cockpit/campagnes/{ids['campaign']}/pause"
    assert client.post(url).status_code == 400
    response = client.post(url, headers={"X-CSRFToken": token})
    assert response.status_code == 303
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Campagne « Relance courante » mise en pause" in followed
    (event,) = _audit(engine_of, "campaign.paused")
    assert event.actor_id == user.id
    again = client.post(url, headers={"X-CSRFToken": token})
    assert again.status_code == 422
    assert "déjà en pause" in again.get_data(as_text=True)


def test_controls_page_actions_each_leave_an_audit_entry(client, login, engine_of):
    ids = _seed(engine_of)
    user, token = login("admin")
    headers = {"X-CSRFToken": token}
    assert client.get("/supervision/cockpit/controles").status_code == 200
    base = "/supervision/cockpit"
    steps = [
        (f"{base}/poids", {"points_per_risk": "0,5"}, "queue.weights"),
        (
            f"{base}/rappels/{ids['callback']}/attribuer",
            {"agent_id": ids["agent"]},
            "callback.reassigned",
        ),
        (
            f"{base}/debiteurs/{ids['debtor']}/attribuer",
            {"agent_id": ids["agent"], "retour": "debiteur"},
            "debtor.reassigned",
        ),
        (f"{base}/debiteurs/{ids['debtor']}/liberer", {}, "queue.force_released"),
        (
            f"{base}/debiteurs/{ids['debtor']}/ne-plus-appeler",
            {"reason": "Demande du client"},
            "debtor.do_not_call",
        ),
        (
            f"{base}/debiteurs/{ids['debtor']}/procedure",
            {"status": "liquidation judiciaire", "judgment_date": "02/11/2026"},
            "debtor.insolvency",
        ),
        (f"{base}/emails/{ids['email']}/renvoyer", {}, "email.resend"),
    ]
    for url, data, event_type in steps:
        response = client.post(url, data=data, headers=headers)
        assert response.status_code == 303, (url, response.get_data(as_text=True)[:2000])
        (event,) = _audit(engine_of, event_type)
        assert event.actor_id == user.id, event_type
    with Session(engine_of) as session:
        assert session.get(OutboxEmail, ids["email"]).status == EmailStatus.PENDING


def test_a_refused_control_says_why_in_french_and_writes_nothing(client, login, engine_of):
    ids = _seed(engine_of)
    _user, token = login("supervisor")
    response = client.post(
        f"/supervision/cockpit/debiteurs/{ids['debtor']}/procedure",
        data={
            "status": "liquidation judiciaire",
            "judgment_date": "31/02/2026",
            "retour": "debiteur",
        },
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 422
    assert "Date du jugement invalide : « 31/02/2026 »" in response.get_data(as_text=True)
    weights = client.post(
        "/supervision/cockpit/poids",
        data={"points_per_risk": "abc"},
        headers={"X-CSRFToken": token},
    )
    assert weights.status_code == 422
    assert "« abc » n'est pas un nombre" in html.unescape(weights.get_data(as_text=True))
    assert _audit(engine_of, "debtor.insolvency") == []
    assert _audit(engine_of, "queue.weights") == []


def test_drill_down_pages_and_search(client, login, engine_of):
    ids = _seed(engine_of)
    login("supervisor")
    debtor_page = client.get(f"/supervision/cockpit/debiteurs/{ids['debtor']}")
    assert debtor_page.status_code == 200 and "Historique" in debtor_page.get_data(as_text=True)
    agent_page = client.get(f"/supervision/cockpit/agents/{ids['agent']}")
    assert agent_page.status_code == 200
    assert 'id="ag-calls">1<' in agent_page.get_data(as_text=True)
    bad = client.get(f"/supervision/cockpit/agents/{ids['agent']}?du=hier")
    assert bad.status_code == 422 and "Date de début invalide" in bad.get_data(as_text=True)
    found = client.get("/supervision/cockpit/recherche?q=732829320", headers={"HX-Request": "1"})
    assert "ACME SARL" in found.get_data(as_text=True) and "SIREN" in found.get_data(as_text=True)
    assert client.get("/supervision/cockpit/debiteurs/999999").status_code == 404


def test_agents_are_refused_the_cockpit(client, login, engine_of):
    ids = _seed(engine_of)
    _user, token = login("agent")
    assert client.get("/supervision/cockpit/").status_code == 403
    response = client.post(
        f"/supervision/cockpit/campagnes/{ids['campaign']}/pause", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 403
    assert _audit(engine_of, "campaign.paused") == []


def test_period_exports_in_csv_and_xlsx(client, login, engine_of):
    from io import BytesIO

    from openpyxl import load_workbook

    with session_scope(engine_of) as session:
        debtor = make_debtor(session, name="=ACME SARL")
        agent = make_user(session, full_name="Alice Martin")
        make_call(session, debtor, agent_id=agent.id, provider_status="completed")
        make_call(session, debtor, at=utcnow() - timedelta(days=90))
        from tests.factories import make_promise

        make_promise(session, debtor, amount_cents=123_456, agent_id=agent.id)
    login("supervisor")
    assert client.get("/supervision/exports").status_code == 200
    csv_response = client.get("/supervision/exports/appels.csv")
    assert csv_response.status_code == 200
    text = csv_response.get_data().decode("utf-8")
    assert text.startswith("\ufeffDate;Code compte;Débiteur;Chargé")
    lines = text.strip().split("\r\n")
    assert len(lines) == 2  # the 90-day-old call is outside the default 30 days
    assert ";'=ACME SARL;Alice Martin;" in lines[1] and ";Terminé;" in lines[1]
    promises = client.get("/supervision/exports/promesses.csv").get_data().decode("utf-8")
    assert ";1234,56;" in promises and ";En cours" in promises
    xlsx = client.get("/supervision/exports/promesses.xlsx")
    sheet = load_workbook(BytesIO(xlsx.get_data()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Date", "Code compte", "Débiteur")
    assert rows[1][2] == "=ACME SARL" and float(rows[1][4]) == 1234.56
    refused = client.get("/supervision/exports/litiges.csv?du=2026-12-01&au=2026-11-01")
    assert refused.status_code == 422
    assert "La date de fin précède la date de début." in html.unescape(
        refused.get_data(as_text=True)
    )
    assert client.get("/supervision/exports/inconnu.csv").status_code == 404


def test_results_page_has_charts_with_their_tables(client, login):
    login("supervisor")
    page = client.get("/supervision/cockpit/resultats?du=2026-11-01&au=2026-11-30")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert text.count('<canvas class="chart"') == 5
    assert 'id="aging-chart"' in text and "Plus de 90 j" in text and "En litige" in text
    assert "Collection Effectiveness" in text or "CEI (indice" in text
    assert "js/cockpit.js" in text and "<script>" not in text
    bad = client.get("/supervision/cockpit/resultats?du=01/12/2026&au=01/11/2026")
    assert bad.status_code == 422


def test_flagged_calls_list_the_sentence_for_supervisors(app, client, login):
    from callcenter.db import session_scope
    from callcenter.domain.audit import record_event
    from tests.factories import make_call, make_debtor, make_user

    with session_scope(app.extensions["callcenter"].engine) as session:
        debtor = make_debtor(session, name="Quincaillerie Roux")
        agent = make_user(session, full_name="Paul Agent")
        call = make_call(session, debtor, agent_id=agent.id, flagged=True)
        record_event(
            session,
            type="call.flagged",
            actor_id=agent.id,
            debtor_id=debtor.id,
            payload={
                "call_id": call.id,
                "phrase": "huissier",
                "sentence": "sinon je vous envoie l'huissier",
                "at_seconds": 12.4,
                "track": "agent",
            },
            at=utcnow(),
        )
    login("supervisor")
    html = client.get("/supervision/cockpit/appels-signales").get_data(as_text=True)
    assert "Quincaillerie Roux" in html and "Paul Agent" in html
    assert "huissier" in html and "12.4 s" in html
    assert f"/telephonie/appels/{call.id}" in html


def test_a_supervisor_calls_a_case_now_from_the_debtor_page(client, login, engine_of, settings):
    with session_scope(engine_of) as session:
        debtor = make_debtor(session, name="Scierie Vidal")
        make_contact(session, debtor)
        make_invoice(session, debtor, due_date=TEST_TODAY - timedelta(days=3))
        refresh_debtors(session, debtor_ids=[debtor.id], now=TEST_NOW, settings=settings)
        debtor_id = debtor.id
    user, token = login("supervisor")
    page_url = f"/supervision/cockpit/debiteurs/{debtor_id}"
    page = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "Étape de relance : « 1er e-mail de relance »" in page
    url = f"{page_url}/appeler-maintenant"
    refused = client.post(
        url, data={"move_reason": "", "retour": "debiteur"}, headers={"X-CSRFToken": token}
    )
    assert refused.status_code == 422
    assert "Indiquez pourquoi appeler ce dossier maintenant." in html.unescape(
        refused.get_data(as_text=True)
    )
    assert not _audit(engine_of, "dunning.moved")
    done = client.post(
        url,
        data={"move_reason": "Demande du directeur financier", "retour": "debiteur"},
        headers={"X-CSRFToken": token},
    )
    assert done.status_code == 303
    (event,) = _audit(engine_of, "dunning.moved")
    assert event.actor_id == user.id
    with Session(engine_of) as session:
        item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor_id)).one()
        assert item.state == QueueState.READY
    page = html.unescape(client.get(page_url).get_data(as_text=True))
    assert "Dossier avancé à l'étape « 1er appel »" in page
    assert "Appel avancé par un superviseur" in page
