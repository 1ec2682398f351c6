"""No page repeats an HTML id: labels, htmx targets, shortcuts and tests find one element.

Every argument-free page of each role is read from the URL map (a new page is checked the day it
is added), plus the pages that only exist with data: the agent's brief and saved outcome, the
supervisor's drill-downs."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import utcnow
from tests.conftest import make_settings
from tests.factories import make_call, make_contact, make_debtor, make_invoice, make_user
from tests.web.test_access import ALLOWED_ROLES, PUBLIC_ENDPOINTS, SIGNED_BLUEPRINTS
from tests.web.test_workspace import ALWAYS_OPEN

# Downloads and streams, not pages.
NOT_PAGES = {"static"}


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: Counter[str] = Counter()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] += 1


def duplicate_ids(html: str) -> list[str]:
    parser = _Ids()
    parser.feed(html)
    return sorted(name for name, count in parser.ids.items() if count > 1)


def test_the_checker_finds_a_repeated_id():
    assert duplicate_ids('<p id="a"></p><div><span id="a"></span><i id="b"></i></div>') == ["a"]


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
        ids = {"agent_id": agent.id, "debtors": []}
        for index in range(2):
            debtor = make_debtor(session, name=f"Client {index} SARL")
            make_contact(session, debtor, is_billing=True, email=f"c{index}@x.example")
            make_invoice(session, debtor, due_date=date.today() - timedelta(days=18))
            ids["debtors"].append(debtor.id)
        call = make_call(session, debtor, agent_id=agent.id, at=utcnow() - timedelta(days=9))
        ids["call_id"] = call.id
        refresh_all(session, now=utcnow(), settings=settings)
        return ids


def _pages(app, role: str):
    """Every GET page without arguments the role may open."""
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if (
            rule.arguments
            or "GET" not in (rule.methods or ())
            or rule.endpoint in PUBLIC_ENDPOINTS
            or blueprint in SIGNED_BLUEPRINTS | NOT_PAGES
            or role not in ALLOWED_ROLES.get(blueprint, ())
        ):
            continue
        yield rule.rule


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_no_page_repeats_an_id(app, client, login, floor, role):
    login(role)
    checked = 0
    for url in _pages(app, role):
        response = client.get(url)
        if response.mimetype != "text/html" or response.status_code != 200:
            continue
        html = response.get_data(as_text=True)
        assert not duplicate_ids(html), (url, duplicate_ids(html))
        partial = client.get(url, headers={"HX-Request": "true"})
        if partial.mimetype == "text/html" and partial.status_code == 200:
            fragment = partial.get_data(as_text=True)
            assert not duplicate_ids(fragment), (url, "htmx", duplicate_ids(fragment))
        checked += 1
    assert checked >= 3, checked


def test_the_supervisors_drill_downs_repeat_no_id(client, login, floor):
    login("supervisor")
    for url in (
        f"/supervision/cockpit/debiteurs/{floor['debtors'][0]}",
        f"/supervision/cockpit/agents/{floor['agent_id']}",
        f"/telephonie/appels/{floor['call_id']}",
        f"/telephonie/?debtor_id={floor['debtors'][0]}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not duplicate_ids(response.get_data(as_text=True)), url


@pytest.mark.parametrize("htmx", [True, False])
def test_the_agents_brief_and_saved_outcome_repeat_no_id(client, login, floor, htmx):
    _agent, token = login("agent")
    headers = {"X-CSRFToken": token} | ({"HX-Request": "true"} if htmx else {})
    brief = client.post("/agent/suivant", headers=headers, follow_redirects=True)
    html = brief.get_data(as_text=True)
    assert "data-debtor-id=" in html
    assert not duplicate_ids(html), ("brief", duplicate_ids(html))
    if not htmx:
        html = client.get("/agent/").get_data(as_text=True)
        assert not duplicate_ids(html), ("page", duplicate_ids(html))
    debtor_id = next(d for d in floor["debtors"] if f'data-debtor-id="{d}"' in html)
    saved = client.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={"disposition": "no_answer", "csrf_token": token},
        headers=headers,
        follow_redirects=True,
    )
    html = saved.get_data(as_text=True)
    assert saved.status_code == 200, html
    assert "Issue enregistrée" in html
    assert html.count('id="next-account"') == 1
    assert not duplicate_ids(html), ("saved", duplicate_ids(html))
