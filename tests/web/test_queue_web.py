"""The supervisor's queue page: depth, top rows with reasons, exclusions, « why not », refresh."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from callcenter.domain.queue import refresh_all
from callcenter.domain.queue.rules import exclusion_labels
from callcenter.models import QueueItem
from tests.domain.queue_helpers import NOW, TODAY
from tests.factories import make_contact, make_debtor, make_invoice


def _seed(app, settings):
    engine = app.extensions["callcenter"].engine
    with Session(engine, expire_on_commit=False) as session:
        ready = make_debtor(session, name="Boulangerie Martin", account_code="C-MARTIN")
        make_contact(session, ready)
        make_invoice(session, ready, due_date=TODAY - timedelta(days=20), amount_cents=250_000)
        blocked = make_debtor(
            session, name="Garage Dupuis", account_code="C-DUPUIS", do_not_call=True
        )
        make_contact(session, blocked)
        make_invoice(session, blocked, due_date=TODAY - timedelta(days=20))
        refresh_all(session, now=NOW, settings=settings)
        session.commit()
    return ready, blocked


def test_agent_is_refused(client, login):
    login("agent")
    assert client.get("/supervision/file/").status_code == 403


def test_page_shows_depth_top_rows_and_exclusions(app, client, login, settings):
    _seed(app, settings)
    login("supervisor")
    page = client.get("/supervision/file/").get_data(as_text=True)
    assert "Relance téléphonique" in page
    assert "J+15 1er appel" in page
    assert "Boulangerie Martin" in page
    assert "+10 : 1 facture échue depuis 20 j" in page
    assert "Ne pas appeler : opposition enregistrée" in page
    assert "?motif=do_not_call#queue-search" in page  # the count links to its debtors
    listed = client.get("/supervision/file/", query_string={"motif": "do_not_call"}).get_data(
        as_text=True
    )
    assert "Débiteurs exclus — Ne pas appeler : opposition enregistrée" in listed
    assert "Garage Dupuis" in listed.split("Débiteurs exclus —")[1]


def test_why_not_in_the_queue(app, client, login, settings):
    _seed(app, settings)
    login("supervisor")
    response = client.get(
        "/supervision/file/",
        query_string={"q": "dupuis", "partial": "recherche"},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card" id="queue-search">')
    assert "Garage Dupuis" in html
    assert "Pas dans la file" in html
    assert "Ne pas appeler : opposition enregistrée" in html
    none = client.get("/supervision/file/", query_string={"q": "inconnu"}).get_data(as_text=True)
    assert "Aucun débiteur ne correspond à « inconnu »" in none


def test_refresh_button_recomputes_the_queue(app, client, login):
    engine = app.extensions["callcenter"].engine
    with Session(engine) as session:
        debtor = make_debtor(session, name="Menuiserie Leroy")
        make_invoice(session, debtor)
        session.commit()
        debtor_id = debtor.id
    _user, token = login("supervisor")
    response = client.post("/supervision/file/recalcul", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "File recalculée : 0 débiteur à appeler, 1 exclu." in page
    with Session(engine) as session:
        item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor_id)).one()
        assert "Aucun numéro de téléphone" in exclusion_labels(item.exclusion_reasons)


def test_refresh_needs_the_csrf_token(client, login):
    login("supervisor")
    assert client.post("/supervision/file/recalcul").status_code == 400


def test_search_takes_percent_and_underscore_literally(app, client, login):
    with Session(app.extensions["callcenter"].engine) as session:
        for name in ("100% Bio", "Garage_Nord", "Sans joker"):
            debtor = make_debtor(session, name=name)
            session.add(QueueItem(debtor_id=debtor.id))
        session.commit()
    login("supervisor")
    for typed, expected in (("%", "100% Bio"), ("_", "Garage_Nord")):
        page = client.get(
            "/supervision/file/",
            query_string={"q": typed, "partial": "recherche"},
            headers={"HX-Request": "true"},
        ).get_data(as_text=True)
        found = [name for name in ("100% Bio", "Garage_Nord", "Sans joker") if name in page]
        assert found == [expected], typed
