"""The agent's workspace over HTTP: next account, brief, outcome, recap, skip, release."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import Call, Event, Invoice, OutboxEmail, Promise, QueueItem, utcnow
from tests.conftest import TEST_PASSWORD, csrf_from, make_settings
from tests.factories import make_contact, make_debtor, make_invoice

ALWAYS_OPEN = {
    "calling_weekdays": [1, 2, 3, 4, 5, 6, 7],
    "calling_hours": ["00:00-23:59"],
    "public_holidays": False,
}


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, queue=ALWAYS_OPEN)


@pytest.fixture
def portfolio(app, settings):
    """Two callable debtors, each with a billing contact and overdue invoices."""
    engine = app.extensions["callcenter"].engine
    today = date.today()
    with session_scope(engine) as session:
        sync_default_dispositions(session)
        sync_ladder(session, settings=settings)
        debtors = []
        for index, amount in enumerate((250_000, 90_000)):
            debtor = make_debtor(session, name=f"Client {index} SARL")
            make_contact(session, debtor, full_name=f"Contact {index}", email=f"c{index}@x.example")
            make_invoice(session, debtor, due_date=today - timedelta(days=18), amount_cents=amount)
            make_invoice(session, debtor, due_date=today + timedelta(days=3), amount_cents=10_000)
            debtors.append(debtor.id)
        refresh_all(session, now=utcnow(), settings=settings)
    return debtors


def _next(client, token):
    return client.post("/agent/suivant", headers={"HX-Request": "true", "X-CSRFToken": token})


def _debtor_id(html: str) -> int:
    return int(re.search(r'data-debtor-id="(\d+)"', html).group(1))


def test_next_account_shows_the_brief_script_and_form(client, login, portfolio):
    _agent, token = login("agent")
    response = _next(client, token)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.startswith('<div id="workspace"')
    assert _debtor_id(html) == portfolio[0], "le plus gros encours passe en premier"
    for expected in (
        "Montant cible à obtenir",
        "2\u202f600,00\xa0€",
        "Première relance téléphonique",
        "Pourquoi ce dossier",
        "Issue de l'appel",
        "Promesse de paiement",
        "<kbd>1</kbd>",
        "Historique",
        "Historique de paiement (0 règlement reçu)",
    ):
        assert expected in html, expected
    again = _next(client, token).get_data(as_text=True)
    assert _debtor_id(again) == portfolio[0], "un double clic ne prend pas un second dossier"


def test_promise_is_saved_with_timeline_recap_and_next(client, login, portfolio, app):
    _agent, token = login("agent")
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    promised = (date.today() + timedelta(days=5)).isoformat()
    response = client.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={
            "disposition": "promise",
            "promise_amount": "2 000,00",
            "promise_date": promised,
            "reason": "oubli",
            "notes": "Virement lundi",
        },
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "Issue enregistrée : Promesse de paiement" in html
    assert "Annuler l'envoi" in html and "Récapitulatif de notre appel" in html
    assert response.headers["HX-Trigger"] == "outcome-saved"
    with Session(app.extensions["callcenter"].engine) as session:
        promise = session.exec(select(Promise)).one()
        assert promise.amount_cents == 200_000
        email = session.exec(select(OutboxEmail)).one()
        types = set(session.exec(select(Event.type).where(Event.debtor_id == debtor_id)).all())
        item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor_id)).one()
    assert {"call.outcome", "promise.created"} <= types
    assert item.claimed_by_id is None
    cancel = client.post(
        f"/agent/courriel/{email.id}/annuler", headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert cancel.status_code == 200 and "E-mail récapitulatif annulé" in cancel.get_data(
        as_text=True
    )


def test_errors_come_back_in_french_next_to_the_field(client, login, portfolio, app):
    _agent, token = login("agent")
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    response = client.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={"disposition": "promise", "promise_amount": "-3", "promise_date": "2001-01-01"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#outcome"
    assert html.startswith('<form id="outcome"')
    assert "rien n'a été enregistré" in html
    assert re.search(
        r'id="promise_amount"[^>]*value="-3"[^>]*aria-invalid="true">\s*'
        r'<span class="field-error">[^<]+</span>',
        html,
    )
    assert "La date promise ne peut pas être passée." in html
    with Session(app.extensions["callcenter"].engine) as session:
        assert session.exec(select(Promise)).all() == []


def test_a_second_agent_gets_another_debtor_and_cannot_touch_the_first(
    app, client, login, portfolio, make_user
):
    _first, token = login("agent")
    held = _debtor_id(_next(client, token).get_data(as_text=True))
    other_client = app.test_client()
    second = make_user("agent")
    page = other_client.get("/connexion")
    other_client.post(
        "/connexion",
        data={
            "email": second.email,
            "password": TEST_PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    other_token = csrf_from(other_client.get("/agent/").get_data(as_text=True))
    theirs = _debtor_id(_next(other_client, other_token).get_data(as_text=True))
    assert theirs != held
    assert other_client.get(f"/agent/dossier/{held}/script").status_code == 403
    refused = other_client.post(
        f"/agent/dossier/{held}/issue",
        data={"disposition": "no_answer"},
        headers={"HX-Request": "true", "X-CSRFToken": other_token},
    )
    assert refused.status_code == 409
    assert "pas réservé" in refused.get_data(as_text=True)


def test_skip_needs_a_reason_and_release_gives_the_debtor_back(client, login, portfolio, app):
    _agent, token = login("agent")
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    refused = client.post(f"/agent/dossier/{debtor_id}/passer", data={}, headers=headers)
    assert refused.status_code == 422
    assert "Indiquez pourquoi" in refused.get_data(as_text=True)
    # the error shows where the agent typed: the « Passer ce dossier » panel stays open
    assert '<details class="skip" open>' in refused.get_data(as_text=True)
    released = client.post(f"/agent/dossier/{debtor_id}/liberer", headers=headers)
    assert "Dossier rendu à la file." in released.get_data(as_text=True)
    with Session(app.extensions["callcenter"].engine) as session:
        item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor_id)).one()
    assert item.state == "ready" and item.claimed_by_id is None


def test_script_can_be_switched(client, login, portfolio):
    _agent, token = login("agent")
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    html = client.get(
        f"/agent/dossier/{debtor_id}/script?script=negociation_echeancier",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert html.startswith('<div id="script"') and "Négociation d&#39;un échéancier" in html
    first = client.get(
        f"/agent/dossier/{debtor_id}/script?script=premiere_relance",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "<summary>Oubli</summary>" in first  # a section does not repeat its label
    assert "Oubli — Oubli" not in first and "Litige — Litige sur la facture" in first


def test_long_history_shows_the_latest_events_and_the_rest_on_demand(client, login, portfolio, app):

    _agent, token = login("agent")
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    with session_scope(app.extensions["callcenter"].engine) as session:
        now = utcnow()
        session.add_all(
            Event(
                debtor_id=debtor_id,
                type="email.sent",
                payload={"subject": f"Relance {index}"},
                at=now - timedelta(minutes=index),
            )
            for index in range(150)
        )
        # the 150 and the debtor's own history so far (its dunning step reached…)
        total = len(session.exec(select(Event).where(Event.debtor_id == debtor_id)).all())
        assert total > 150
    html = client.get("/agent/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"Historique (100 derniers sur {total})" in html
    assert "Afficher tout l&#39;historique" in html or "Afficher tout l'historique" in html
    whole = client.get(
        f"/agent/dossier/{debtor_id}/historique?tout=1", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert whole.startswith('<section class="card" id="timeline"')
    assert whole.count('<li class="tl-email">') == 150
    assert "Relance 149" in whole


def test_the_script_says_we_already_spoke_only_after_an_answered_call(
    app, client, login, portfolio
):
    """Issue #22: « Nous avons déjà pris contact avec vous » was read to debtors never called."""
    from callcenter.models import Call

    _agent, token = login("agent")
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    url = f"/agent/dossier/{debtor_id}/script?script=deuxieme_relance"
    never = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Je vous appelle au sujet de" in never and "déjà pris contact" not in never

    with session_scope(app.extensions["callcenter"].engine) as session:
        earlier = utcnow() - timedelta(days=8)
        session.add(
            Call(
                debtor_id=debtor_id,
                provider="manual",
                disposition_code="refusal",
                started_at=earlier,
                created_at=earlier,
            )
        )
    spoken = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Nous avons déjà pris contact avec vous" in spoken


def test_a_correction_opens_with_the_plan_and_the_dispute_as_saved(client, login, portfolio, app):
    _agent, token = login("agent")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    first = date.today() + timedelta(days=7)
    dates = [(first + timedelta(days=30 * k)).isoformat() for k in range(5)]
    saved = client.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={
            "disposition": "payment_plan",
            "plan_total": "2 500,00",
            "plan_dates": dates,
            "plan_amounts": ["500,00"] * 5,
        },
        headers=headers,
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    with Session(app.extensions["callcenter"].engine) as session:
        call = session.exec(select(Call).where(Call.disposition_code == "payment_plan")).one()
    form = client.get(f"/agent/appel/{call.id}/corriger").get_data(as_text=True)
    for when in dates:  # the five instalments, the fifth beyond the four empty rows
        assert f'value="{when}"' in form
    assert form.count('name="plan_amounts"') == 5 and 'value="500,00"' in form


def test_a_dispute_correction_keeps_its_invoices_tickable_and_ticked(client, login, portfolio, app):
    _agent, token = login("agent")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    debtor_id = _debtor_id(_next(client, token).get_data(as_text=True))
    with Session(app.extensions["callcenter"].engine) as session:
        invoice = session.exec(select(Invoice).where(Invoice.debtor_id == debtor_id)).first()
    saved = client.post(
        f"/agent/dossier/{debtor_id}/issue",
        data={
            "disposition": "dispute",
            "dispute_category": "prix",
            "dispute_description": "Remise de 5 % oubliée",
            "dispute_invoices": [str(invoice.id)],
        },
        headers=headers,
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    with Session(app.extensions["callcenter"].engine) as session:
        call = session.exec(select(Call).where(Call.disposition_code == "dispute")).one()
    form = client.get(f"/agent/appel/{call.id}/corriger").get_data(as_text=True)
    box = re.search(rf'name="dispute_invoices" value="{invoice.id}"[^>]*>', form).group(0)
    assert "checked" in box and "disabled" not in box
    assert '<option value="prix" selected>' in form
    assert "Remise de 5 % oubliée" in form
