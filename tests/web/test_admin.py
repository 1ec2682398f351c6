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


def test_admin_edits_the_ladder_and_the_queue_follows_it(app, client, login):
    from callcenter.domain.queue import load_ladder, sync_ladder
    from callcenter.models import Scenario, ScenarioStep

    admin, token = login("admin")
    engine = app.extensions["callcenter"].engine
    with session_scope(engine) as session:
        sync_ladder(session, settings=app.extensions["callcenter"].settings)
        scenario = session.exec(select(Scenario).where(Scenario.segment == "standard")).one()
        first_call = session.exec(
            select(ScenarioStep).where(
                ScenarioStep.scenario_id == scenario.id, ScenarioStep.action == "call"
            )
        ).first()
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="ladders"' in page and "Appel" in page
    moved = client.post(
        f"/admin/scenarios/{scenario.id}/etapes/{first_call.id}",
        data={
            "offset_days": "12",
            "action": "call",
            "label": "Premier appel avancé",
            "min_amount": "",
        },
        headers=_htmx(token),
    )
    assert moved.status_code == 200, moved.get_data(as_text=True)
    added = client.post(
        f"/admin/scenarios/{scenario.id}/etapes",
        data={"offset_days": "5", "action": "email", "label": "Rappel J+5", "min_amount": "500,00"},
        headers=_htmx(token),
    )
    assert added.status_code == 200 and 'value="500,00"' in added.get_data(as_text=True)
    refused = client.post(
        f"/admin/scenarios/{scenario.id}/etapes",
        data={"offset_days": "dix", "action": "fax", "label": ""},
        headers=_htmx(token),
    )
    assert refused.status_code == 422
    assert "Action inconnue." in refused.get_data(as_text=True)
    for amount, message in (
        ("abc", "Montant invalide « abc »"),
        ("30 000 000,00", "Montant trop élevé « 30 000 000,00 »"),
    ):
        bad_amount = client.post(
            f"/admin/scenarios/{scenario.id}/etapes",
            data={"offset_days": "6", "action": "email", "label": "J+6", "min_amount": amount},
            headers=_htmx(token),
        )
        assert bad_amount.status_code == 422
        assert message in bad_amount.get_data(as_text=True)
    with Session(engine) as session:
        rungs = [(r.offset_days, r.label) for r in load_ladder(session) if r.segment == "standard"]
        assert (12, "Premier appel avancé") in rungs and (5, "Rappel J+5") in rungs
        types = session.exec(select(Event.type).where(Event.actor_id == admin.id)).all()
    assert types.count("ladder.step_saved") == 2
    with Session(engine) as session:
        step_id = session.exec(
            select(ScenarioStep.id).where(ScenarioStep.label == "Rappel J+5")
        ).one()
    deleted = client.post(f"/admin/etapes/{step_id}/supprimer", headers=_htmx(token))
    assert deleted.status_code == 200 and "Rappel J+5" not in deleted.get_data(as_text=True)


def test_admin_sets_a_call_step_s_attempts_and_the_catch_up_step(app, client, login):
    from callcenter.domain.queue import load_ladder, sync_ladder
    from callcenter.models import Scenario, ScenarioStep

    _admin, token = login("admin")
    engine = app.extensions["callcenter"].engine
    with session_scope(engine) as session:
        sync_ladder(session, settings=app.extensions["callcenter"].settings)
        scenario = session.exec(select(Scenario).where(Scenario.segment == "standard")).one()
        steps = {
            s.label: s.id
            for s in session.exec(
                select(ScenarioStep).where(ScenarioStep.scenario_id == scenario.id)
            )
        }
    second = client.post(
        f"/admin/scenarios/{scenario.id}/etapes/{steps['2e appel']}",
        data={
            "offset_days": "25",
            "action": "call",
            "label": "2e appel",
            "attempts": "5",
            "catch_up": "on",
        },
        headers=_htmx(token),
    )
    assert second.status_code == 200, second.get_data(as_text=True)
    with Session(engine) as session:
        rungs = {r.label: r for r in load_ladder(session) if r.segment == "standard"}
    assert (rungs["2e appel"].max_attempts, rungs["2e appel"].catch_up) == (5, True)
    assert not rungs["1er appel"].catch_up
    for data, message in (
        ({"attempts": "0"}, "Le nombre d'appels doit être un entier de 1 à 10."),
        ({"attempts": "beaucoup"}, "Le nombre d'appels doit être un entier de 1 à 10."),
        ({"action": "letter", "catch_up": "on"}, "L'étape de rattrapage doit être un appel."),
    ):
        form = {"offset_days": "40", "action": "call", "label": "Essai", **data}
        refused = client.post(
            f"/admin/scenarios/{scenario.id}/etapes", data=form, headers=_htmx(token)
        )
        assert refused.status_code == 422
        assert message.replace("'", "&#39;") in refused.get_data(as_text=True)
