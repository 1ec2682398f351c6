"""What people read is French: proper plurals, no codes, config keys or shell commands on a page,
one badge for a debtor's place in the queue."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from callcenter import formatting
from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import utcnow
from tests.conftest import make_settings
from tests.factories import make_call, make_contact, make_debtor, make_invoice, make_user
from tests.web.test_unique_ids import _pages
from tests.web.test_workspace import ALWAYS_OPEN

# Identifiers that must never reach a reader: disposition codes, segments, states, config.
RAW_CODES = re.compile(
    r"\b(no_answer|payment_plan|already_paid|wrong_party|wrong_number|voicemail|"
    r"invoice_not_received|key_account|pending|broken|ready|claimed|excluded|"
    r"appel_preventif|relance_telephone|config\.toml|sync-ladder|Europe/Paris)\b"
)
HEDGED_PLURAL = re.compile(r"\w\((?:e?s|x)\)")
# An identifier in snake_case is a code, whatever its name.
SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, queue=ALWAYS_OPEN)


@pytest.fixture
def floor(app, settings):
    engine = app.extensions["callcenter"].engine
    with session_scope(engine) as session:
        sync_default_dispositions(session)
        sync_ladder(session, settings=settings)
        agent = make_user(session, full_name="Alice Agent")
        debtor = make_debtor(session, name="Grand Compte SA")
        make_contact(session, debtor, is_billing=True)
        make_invoice(session, debtor, due_date=date.today() - timedelta(days=18))
        called = make_debtor(session, name="Déjà Appelé SARL")
        make_call(session, called, agent_id=agent.id, disposition_code="no_answer")
        refresh_all(session, now=utcnow(), settings=settings)
        return {"agent_id": agent.id, "debtor_id": debtor.id}


def _visible(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html))


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 facture"), (1, "1 facture"), (2, "2 factures"), (1250, "1\u202f250 factures")],
)
def test_quantity_agrees_in_french(count, expected):
    assert formatting.quantity(count, "facture") == expected


def test_quantity_takes_an_irregular_plural():
    assert formatting.quantity(1, "ligne lue", "lignes lues") == "1 ligne lue"
    assert formatting.quantity(3, "ligne lue", "lignes lues") == "3 lignes lues"


def test_decimals_and_time_zones_read_in_french():
    assert formatting.number(4.0, 0, 3) == "4"
    assert formatting.number(0.25, 0, 3) == "0,25"
    assert formatting.time_zone("Europe/Paris") == "Paris"
    assert formatting.time_zone("Indian/Reunion") == "La Réunion"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/supervision/cockpit/controles",
        "/supervision/cockpit/agents/{agent_id}",
        "/supervision/cockpit/debiteurs/{debtor_id}",
        "/supervision/file/",
    ],
)
def test_supervisor_and_admin_pages_show_no_code(client, login, floor, url):
    login("admin")
    response = client.get(url.format(**floor))
    assert response.status_code == 200, url
    text = _visible(response.get_data(as_text=True))
    assert not RAW_CODES.findall(text), RAW_CODES.findall(text)
    assert not HEDGED_PLURAL.findall(text), HEDGED_PLURAL.findall(text)
    assert not SNAKE_CASE.findall(text), SNAKE_CASE.findall(text)
    assert not re.search(r"\d\.\d", text), re.findall(r"\S*\d\.\d\S*", text)


def test_the_agents_drill_down_names_the_outcome(client, login, floor):
    login("supervisor")
    text = _visible(client.get(f"/supervision/cockpit/agents/{floor['agent_id']}").text)
    assert "Pas de réponse" in text


def test_the_dispositions_catalogue_shows_effects_not_codes(client, login, floor):
    login("admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert "<code>promise</code>" not in html
    assert "Promesse, e-mail récapitulatif, bon interlocuteur joint" in _visible(html)
    assert "(grand compte)" in _visible(html)


def test_the_agent_brief_names_the_time_zone_by_its_place(client, login, floor):
    _agent, token = login("agent")
    html = client.post(
        "/agent/suivant", headers={"HX-Request": "true", "X-CSRFToken": token}
    ).get_data(as_text=True)
    text = _visible(html)
    assert "Grand Compte SA" in text
    assert "Fuseau horaire Paris" in text
    assert not RAW_CODES.findall(text), RAW_CODES.findall(text)
    assert not SNAKE_CASE.findall(text), SNAKE_CASE.findall(text)


def test_one_badge_shows_a_debtors_place_in_the_queue(client, login, floor):
    login("supervisor")
    badge = '<span class="tag state state-ready">À appeler</span>'
    assert badge in client.get(f"/supervision/cockpit/debiteurs/{floor['debtor_id']}").text
    queue_page = client.get("/supervision/file/").text
    assert badge in queue_page
    assert "<td>Standard</td>" in queue_page, "a segment reads as a title, like everywhere else"
    found = client.get("/supervision/file/?q=Grand+Compte", headers={"HX-Request": "true"}).text
    assert badge in found


def test_wallboard_figures_do_not_run_together(client, login, floor):
    """« 5 » next to « 8 116,78 € » read « 58 116,78 € »: each detail says what it is."""
    login("supervisor")
    text = _visible(client.get("/supervision/cockpit/").text)
    assert re.search(r"Promesses du jour \d+ pour \d", text), text
    assert re.search(r"\d+ sur \d+ appels?\b", text), text


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_no_page_of_the_url_map_shows_a_code_or_a_hedged_plural(app, client, login, floor, role):
    """Every argument-free page of each role, from the URL map: a new page is checked too."""
    login(role)
    checked = 0
    for url in _pages(app, role):
        response = client.get(url)
        if response.mimetype != "text/html" or response.status_code != 200:
            continue
        text = _visible(response.get_data(as_text=True))
        assert not RAW_CODES.findall(text), (url, RAW_CODES.findall(text))
        assert not HEDGED_PLURAL.findall(text), (url, HEDGED_PLURAL.findall(text))
        assert not SNAKE_CASE.findall(text), (url, SNAKE_CASE.findall(text))
        checked += 1
    assert checked >= 3, checked


def test_weights_shown_in_french_resubmit_unchanged(client, login, floor):
    """« 0,5 » rather than « 0.5 », and sending the page back as shown changes nothing."""
    _user, token = login("supervisor")
    html = client.get("/supervision/cockpit/controles").text
    shown = dict(re.findall(r'<input id="w-\w+" name="(\w+)" value="([^"]*)"', html))
    assert shown and all("." not in value for value in shown.values()), shown
    response = client.post("/supervision/cockpit/poids", data=shown | {"csrf_token": token})
    assert "Aucun poids n&#39;a changé." in response.text, _visible(response.text)[:3000]
