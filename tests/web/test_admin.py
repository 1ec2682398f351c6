"""Administration: roles and accounts, the outcome catalogue; every change audited."""

from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.models import Disposition, Event, User


def _htmx(token):
    return {"HX-Request": "true", "X-CSRFToken": token}


def test_admin_changes_a_role_and_switches_an_account_off(app, client, login, make_user):
    admin, token = login("admin")
    agent = make_user("agent")
    response = client.post(
        f"/admin/utilisateurs/{agent.id}", data={"role": "supervisor"}, headers=_htmx(token)
    )
    assert response.status_code == 200
    assert "Modification enregistrée." in response.get_data(as_text=True)
    with Session(app.extensions["callcenter"].engine) as session:
        changed = session.get(User, agent.id)
        event = session.exec(select(Event).where(Event.type == "user.updated")).one()
    assert (changed.role, changed.active) == ("supervisor", False)
    assert event.actor_id == admin.id and event.payload["active"] is False


def test_admin_cannot_lock_themselves_out(app, client, login):
    admin, token = login("admin")
    response = client.post(
        f"/admin/utilisateurs/{admin.id}",
        data={"role": "agent", "active": "on"},
        headers=_htmx(token),
    )
    assert response.status_code == 422
    assert "vos propres droits" in response.get_data(as_text=True)
    with Session(app.extensions["callcenter"].engine) as session:
        assert session.get(User, admin.id).role == "admin"


def test_outcomes_are_renamed_reordered_and_switched_off(app, client, login):
    admin, token = login("admin")
    with session_scope(app.extensions["callcenter"].engine) as session:
        sync_default_dispositions(session)
        voicemail = session.exec(select(Disposition).where(Disposition.code == "voicemail")).one()
    response = client.post(
        f"/admin/issues/{voicemail.id}",
        data={"label": "Messagerie vocale", "position": "2"},
        headers=_htmx(token),
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith('<section class="card" id="dispositions">')
    assert 'value="Messagerie vocale"' in html
    with Session(app.extensions["callcenter"].engine) as session:
        stored = session.get(Disposition, voicemail.id)
        event = session.exec(select(Event).where(Event.type == "disposition.updated")).one()
    assert (stored.label, stored.position, stored.active) == ("Messagerie vocale", 2, False)
    assert event.actor_id == admin.id and event.payload["before"]["label"] == "Répondeur"
    refused = client.post(
        f"/admin/issues/{voicemail.id}", data={"label": "", "position": "x"}, headers=_htmx(token)
    )
    assert refused.status_code == 422
    assert "Le libellé est obligatoire" in refused.get_data(as_text=True)
