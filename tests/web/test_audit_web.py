"""The audit log page: every audited action in French, filters, pages, CSV export."""

from __future__ import annotations

import csv
import html as markup
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.db import session_scope
from callcenter.domain import audit_log
from callcenter.domain.audit import record_event
from callcenter.domain.audit_log import ROUTINE_TYPES, audit_label
from tests.factories import make_debtor

MONDAY = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def journal(app, make_user):
    """A supervisor's, an agent's and an admin's actions over two days."""
    supervisor = make_user("supervisor")
    agent = make_user("agent")
    with session_scope(app.extensions["callcenter"].engine) as session:
        lenoir = make_debtor(session, name="Fromagerie Lenoir SAS", account_code="411L0001")
        petit = make_debtor(session, name="Garage Petit SARL", account_code="411P0002")
        for event_type, actor, debtor, payload, at in (
            ("queue.force_released", supervisor, lenoir, {}, MONDAY),
            ("dunning.approved", supervisor, petit, {"step": "Mise en demeure"}, MONDAY),
            ("queue.weights", supervisor, None, {"amount": {"before": 1, "after": 2}}, MONDAY),
            (
                "agent.state",
                agent,
                None,
                {"from": "available", "to": "paused", "pause_code": "pause"},
                MONDAY + timedelta(days=1),
            ),
            ("call.status", agent, lenoir, {"status": "ringing"}, MONDAY + timedelta(days=1)),
            (
                "debtor.reassigned",
                supervisor,
                lenoir,
                {"agent": agent.full_name},
                MONDAY + timedelta(days=1),
            ),
        ):
            record_event(
                session,
                type=event_type,
                actor_id=actor.id,
                debtor_id=debtor.id if debtor else None,
                payload=payload,
                at=at,
            )
    return {"supervisor": supervisor, "agent": agent}


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        markup.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))).strip()
        for row in body.split("<tr>")[1:]
    ]


def test_every_audited_action_in_french_newest_first_without_call_mechanics(client, login, journal):
    login("supervisor")
    html = client.get("/supervision/journal").get_data(as_text=True)
    rows = [row for row in _rows(html) if "Connexion" not in row]  # the sign-in just made
    assert "Gestionnaire changé" in rows[0] and "Fromagerie Lenoir SAS" in rows[0]
    assert any("Changement d'état" in row and "Disponible → En pause" in row for row in rows), rows
    assert any("Dossier libéré par un superviseur" in row for row in rows)
    assert any("Étape validée par un superviseur" in row for row in rows)
    assert any("Pondérations de la file modifiées" in row for row in rows)
    assert not any("Suivi d'appel" in row for row in rows)  # call.status is routine
    assert "queue.weights" not in html and "agent.state" not in html


def test_filters_by_person_debtor_and_day(client, login, journal):
    login("supervisor")
    by_agent = _rows(
        client.get(f"/supervision/journal?personne={journal['agent'].id}").get_data(as_text=True)
    )
    assert len(by_agent) == 1 and "Changement d'état" in by_agent[0]
    by_debtor = _rows(client.get("/supervision/journal?debiteur=lenoir").get_data(as_text=True))
    assert len(by_debtor) == 2 and all("Lenoir" in row for row in by_debtor)
    by_code = _rows(client.get("/supervision/journal?debiteur=411P0002").get_data(as_text=True))
    assert len(by_code) == 1 and "Garage Petit" in by_code[0]
    monday = _rows(client.get("/supervision/journal?jour=30/03/2026").get_data(as_text=True))
    assert len(monday) == 3
    refused = client.get("/supervision/journal?jour=lundi")
    assert refused.status_code == 422
    assert "Date invalide : « lundi » (jj/mm/aaaa)." in refused.get_data(as_text=True)


def test_pages_of_fifty(client, login, journal, monkeypatch):
    monkeypatch.setattr(audit_log, "PAGE_SIZE", 2)
    login("supervisor")
    first = client.get("/supervision/journal?jour=2026-03-30").get_data(as_text=True)
    assert len(_rows(first)) == 2 and "Plus anciennes" in first
    last = client.get("/supervision/journal?jour=2026-03-30&page=2").get_data(as_text=True)
    assert len(_rows(last)) == 1 and "Plus anciennes" not in last and "Plus récentes" in last


def test_csv_export_with_the_page_filters(client, login, journal):
    login("supervisor")
    response = client.get("/supervision/journal.csv?debiteur=lenoir")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Date", "Personne", "Action", "Code compte", "Débiteur", "Détail"]
    assert [row[2] for row in rows[1:]] == [
        "Gestionnaire changé",
        "Dossier libéré par un superviseur",
    ]
    assert rows[2][0] == "30/03/2026 11:00" and rows[2][3] == "411L0001"


def test_agents_may_not_read_the_journal(client, login, journal):
    login("agent")
    assert client.get("/supervision/journal").status_code == 403


def test_every_action_written_with_an_actor_has_a_french_label():
    """Each ``record_event(type="…")`` in the code, routine call mechanics aside."""
    source = "\n".join(
        path.read_text()
        for path in Path("callcenter").rglob("*.py")
        if "record_event" in path.read_text()
    )
    types = set(re.findall(r'type="([a-z_]+\.[a-z_.]+)"', source)) - set(ROUTINE_TYPES)
    assert types
    unlabelled = sorted(t for t in types if audit_label(t) == "Autre action")
    assert not unlabelled
