"""The supervisor's process page: cases per step, approvals one by one or in bulk."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from callcenter.domain.queue import refresh_all
from callcenter.models import CaseStatus, DunningCase, Event
from tests.conftest import TEST_NOW, TEST_TODAY
from tests.factories import make_contact, make_debtor, make_invoice


def _proposed(app, settings, names):
    """Debtors whose case has reached the formal notice (proposed, awaiting a person)."""
    engine = app.extensions["callcenter"].engine
    ids = []
    with Session(engine, expire_on_commit=False) as session:
        for name in names:
            debtor = make_debtor(
                session,
                name=name,
                city="Lyon",
                postal_code="69001",
                address_line1="1 rue de la Paix",
            )
            make_contact(session, debtor)
            make_invoice(session, debtor, due_date=TEST_TODAY - timedelta(days=90))
            ids.append(debtor.id)
        refresh_all(session, now=TEST_NOW, settings=settings)
        for case in session.exec(select(DunningCase)).all():
            case.step_offset_days, case.step_action = 45, "formal_notice"
            case.step_label, case.status = "Mise en demeure", CaseStatus.APPROVAL
            session.add(case)
        session.commit()
    return ids


def test_the_queue_page_counts_cases_per_step(app, client, login, settings):
    _proposed(app, settings, ["Boulangerie Martin", "Garage Dupuis"])
    login("supervisor")
    page = client.get("/supervision/file/").get_data(as_text=True)
    assert "Dossiers par étape du processus" in page
    assert "<td>J+45</td><td>Mise en demeure</td><td>2</td><td>2</td>" in page


def test_agent_is_refused(client, login):
    login("agent")
    assert client.get("/supervision/processus/").status_code == 403


def test_a_supervisor_approves_in_bulk_then_prints_the_notice(app, client, login, settings):
    first, second = _proposed(app, settings, ["Boulangerie Martin", "Garage Dupuis"])
    _, token = login("supervisor")
    page = client.get("/supervision/processus/").get_data(as_text=True)
    assert "Boulangerie Martin" in page and "Garage Dupuis" in page
    assert "Mise en demeure" in page
    response = client.post(
        "/supervision/processus/valider",
        data={"csrf_token": token, "dossier": [str(first), str(second)]},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "2 étapes validées." in page
    assert "Aucune étape n&#39;attend de validation." in page or "Aucune étape n'attend" in page
    with Session(app.extensions["callcenter"].engine) as session:
        approvals = session.exec(select(Event).where(Event.type == "dunning.approved")).all()
        assert sorted(e.debtor_id for e in approvals) == [first, second]
        assert all(e.actor_id is not None for e in approvals)
    pdf = client.get(f"/supervision/processus/{first}/mise-en-demeure.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # approving again is refused in French, nothing changes
    again = client.post(
        "/supervision/processus/valider",
        data={"csrf_token": token, "dossier": [str(first)]},
        follow_redirects=True,
    )
    assert "n&#39;attend plus de validation" in again.get_data(as_text=True)


def test_sending_back_and_bad_selections(app, client, login, settings):
    (debtor_id,) = _proposed(app, settings, ["Imprimerie Roux"])
    _, token = login("supervisor")
    for bad in ([], ["abc"], ["99999999999"]):
        page = client.post(
            "/supervision/processus/renvoyer",
            data={"csrf_token": token, "dossier": bad},
            follow_redirects=True,
        ).get_data(as_text=True)
        assert "alert" in page or "error" in page
    response = client.post(
        "/supervision/processus/renvoyer",
        data={"csrf_token": token, "dossier": [str(debtor_id)]},
        follow_redirects=True,
    )
    assert "1 dossier renvoyé aux appels." in response.get_data(as_text=True)
    with Session(app.extensions["callcenter"].engine) as session:
        case = session.exec(select(DunningCase)).one()
        assert (case.step_action, case.status) == ("call", CaseStatus.ACTIVE)
    assert client.get(f"/supervision/processus/{debtor_id}/mise-en-demeure.pdf").status_code == 404


def test_the_forecast_page_shows_a_table_and_a_chart(app, client, login, settings):
    _proposed(app, settings, ["Boulangerie Martin"])
    login("supervisor")
    page = client.get("/supervision/processus/prevision").get_data(as_text=True)
    assert "Prévision de charge : les 30 prochains jours" in page
    assert 'data-chart="bar"' in page and "Validations" in page
    assert page.count("<tr><td>") == 30
