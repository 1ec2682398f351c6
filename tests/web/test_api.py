"""The API for the creditor's systems: keys, pushes through the import's checks, pages read
back, and every answer checked against the OpenAPI document the code builds."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlmodel import Session, select

from callcenter.db import session_scope
from callcenter.domain.api_access import create_token
from callcenter.domain.audit import record_event
from callcenter.models import ApiToken, Debtor, Event, Invoice, Payment, WebhookDelivery
from callcenter.web.api import OPERATIONS, PUBLIC, openapi_document
from tests.conftest import TEST_NOW, TEST_TODAY, make_settings
from tests.factories import make_debtor, make_invoice, make_promise


@pytest.fixture
def engine_of(app):
    return app.extensions["callcenter"].engine


def _key(engine, *, write: bool = True, name: str = "ERP") -> str:
    with session_scope(engine) as session:
        return create_token(session, name=name, can_write=write, actor_id=None, now=TEST_NOW).secret


def _auth(secret: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **headers}


def _schema_check(document: dict, model_name: str, body: object) -> None:
    schema = {"$ref": f"#/components/schemas/{model_name}", **document}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, [error.message for error in errors]


DEBTORS = [
    {"account_code": "C001", "name": "Menuiserie Morel SARL", "payment_terms_days": 30},
    {"account_code": "C002", "name": "Garage Dupuis", "siren": "732829320"},
]
INVOICES = [
    {
        "account_code": "C001",
        "number": "FA-2026-001",
        "issue_date": "2026-09-01",
        "due_date": "2026-10-01",
        "amount_cents": 125_050,
    },
    {
        "account_code": "C002",
        "number": "FA-2026-002",
        "issue_date": "2026-09-15",
        "amount_cents": 48_000,
        "open_amount_cents": 20_000,
    },
]


def test_the_document_is_valid_openapi_and_covers_every_route(app):
    document = openapi_document()
    validate(document)
    declared = {op.endpoint for op in OPERATIONS}
    routes = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert routes - PUBLIC == declared
    for op in OPERATIONS:
        assert op.method.lower() in document["paths"][op.path]


def test_no_key_no_api_and_a_staff_session_opens_nothing(app, client, login, engine_of):
    login("admin")
    for op in OPERATIONS:
        response = client.open(f"/api/v1{op.path}", method=op.method, json={})
        assert response.status_code == 401, op.path
        assert "Clé d'API absente, inconnue ou révoquée" in response.get_json()["error"]
    secret = _key(engine_of)
    bogus = secret[:-4] + "abcd"
    assert client.get("/api/v1/promises", headers=_auth(bogus)).status_code == 401
    # and a key opens no staff page
    anonymous = app.test_client()
    page = anonymous.get("/supervision/", headers=_auth(secret))
    assert page.status_code == 302 and "/connexion" in page.headers["Location"]


def test_a_read_key_reads_and_a_revoked_key_is_refused(client, engine_of):
    reader = _key(engine_of, write=False)
    assert client.get("/api/v1/promises", headers=_auth(reader)).status_code == 200
    refused = client.post("/api/v1/debtors", headers=_auth(reader), json=DEBTORS[0])
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "Cette clé ne permet que la lecture."
    with session_scope(engine_of) as session:
        token = session.exec(select(ApiToken)).one()
        token.revoked_at = TEST_NOW
        session.add(token)
    assert client.get("/api/v1/promises", headers=_auth(reader)).status_code == 401


def test_a_push_goes_through_the_import_and_is_replayed_not_redone(client, engine_of):
    secret = _key(engine_of)
    first = client.post("/api/v1/debtors", headers=_auth(secret), json={"records": DEBTORS})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["counts"]["debtors"]["created"] == 2
    headers = _auth(secret, **{"Idempotency-Key": "lot-001"})
    body = json.dumps({"records": INVOICES})
    sent = client.post(
        "/api/v1/invoices", headers=headers, data=body, content_type="application/json"
    )
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["counts"]["invoices"]["created"] == 2
    again = client.post(
        "/api/v1/invoices", headers=headers, data=body, content_type="application/json"
    )
    assert again.status_code == 200
    assert again.get_json() == sent.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        "/api/v1/invoices",
        headers=headers,
        data=json.dumps({"records": INVOICES[:1]}),
        content_type="application/json",
    )
    assert other.status_code == 409
    assert "déjà servi pour une autre requête" in other.get_json()["error"]
    with Session(engine_of) as session:
        invoices = {i.number: i for i in session.exec(select(Invoice)).all()}
    assert invoices["FA-2026-001"].amount_cents == 125_050
    assert invoices["FA-2026-002"].open_amount_cents == 20_000
    # the natural key: the same invoice sent again without a key updates, never duplicates
    resent = client.post("/api/v1/invoices", headers=_auth(secret), json=INVOICES[0])
    assert resent.status_code == 200
    with Session(engine_of) as session:
        assert len(session.exec(select(Invoice)).all()) == 2


def test_a_push_is_all_or_nothing_with_each_problem_by_record_and_field(client, engine_of):
    secret = _key(engine_of)
    client.post("/api/v1/debtors", headers=_auth(secret), json={"records": DEBTORS})
    typed = [dict(INVOICES[0]), {**INVOICES[1], "amount_cents": "quarante"}, {"number": "X"}]
    refused = client.post("/api/v1/invoices", headers=_auth(secret), json={"records": typed})
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["error"] == "La requête est refusée : rien n'a été enregistré."
    assert {"record": 1, "field": "amount_cents", "message": "Nombre entier attendu."} in body[
        "errors"
    ]
    assert {"record": 2, "field": "account_code", "message": "Valeur obligatoire manquante."} in (
        body["errors"]
    )
    # what only the import's rules see: a number too long, an unknown debtor
    checked = [dict(INVOICES[0]), {**INVOICES[1], "number": "N" * 300}]
    refused = client.post("/api/v1/invoices", headers=_auth(secret), json={"records": checked})
    assert refused.status_code == 422
    (problem,) = refused.get_json()["errors"]
    assert (problem["record"], problem["field"]) == (1, "number")
    assert "caractères" in problem["message"]
    with Session(engine_of) as session:
        assert session.exec(select(Invoice)).all() == []
    too_many = client.post(
        "/api/v1/debtors",
        headers=_auth(secret),
        json={"records": [DEBTORS[0]] * 10_001},
    )
    assert too_many.status_code == 422
    assert (
        too_many.get_json()["errors"][0]["message"] == "Au plus 10000 enregistrements par requête."
    )


def test_pages_follow_the_cursor_and_the_update_time(client, engine_of):
    with session_scope(engine_of) as session:
        debtor = make_debtor(session, account_code="C042")
        for days in range(5):
            promise = make_promise(session, debtor, promised_date=TEST_TODAY + timedelta(days=days))
            promise.created_at = TEST_NOW - timedelta(days=10 - days)
            session.add(promise)
    secret = _key(engine_of, write=False)
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"after": cursor} if cursor else {})}
        page = client.get("/api/v1/promises", headers=_auth(secret), query_string=query).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen)
    since = (TEST_NOW - timedelta(days=7, hours=1)).isoformat()
    recent = client.get(
        "/api/v1/promises", headers=_auth(secret), query_string={"updated_since": since}
    ).get_json()
    assert len(recent["items"]) == 2  # created 7 and 6 days ago
    assert recent["items"][0]["account_code"] == "C042"
    bad = client.get("/api/v1/promises", headers=_auth(secret), query_string={"limit": 0})
    assert bad.status_code == 422
    assert bad.get_json()["errors"][0]["field"] == "limit"


def test_every_operation_answers_as_the_document_says(client, engine_of):
    document = openapi_document()
    with session_scope(engine_of) as session:
        debtor = make_debtor(session, account_code="C001")
        make_invoice(session, debtor, due_date=TEST_TODAY - timedelta(days=40))
        make_promise(session, debtor)
    secret = _key(engine_of)
    bodies = {
        "/debtors": {"records": DEBTORS},
        "/contacts": {"account_code": "C001", "full_name": "Julie Morel", "email": "j@morel.fr"},
        "/invoices": {"records": INVOICES},
        "/payments": {
            "account_code": "C001",
            "reference": "VIR-77",
            "paid_on": "2026-11-02",
            "amount_cents": 10_000,
            "invoice_reference": "FA-2026-001",
        },
    }
    for op in sorted(OPERATIONS, key=lambda o: o.method != "POST"):
        response = client.open(
            f"/api/v1{op.path}", method=op.method, headers=_auth(secret), json=bodies.get(op.path)
        )
        assert response.status_code == 200, (op.path, response.get_json())
        _schema_check(document, op.response.__name__, response.get_json())
        refused = client.open(f"/api/v1{op.path}", method=op.method, headers=_auth("cc_x"))
        _schema_check(document, "Error", refused.get_json())
    with Session(engine_of) as session:
        assert session.exec(select(Payment)).one().reference == "VIR-77"
        calls = session.exec(select(Event).where(Event.type == "api.call")).all()
    assert len(calls) == len(OPERATIONS)  # unknown keys are not attributed
    assert calls[0].payload["key"] == "ERP"


def test_a_key_is_held_to_its_requests_per_minute(tmp_path, database_url):
    from callcenter import create_app

    app = create_app(make_settings(tmp_path, database_url, api={"requests_per_minute": 3}))
    client = app.test_client()
    secret = _key(app.extensions["callcenter"].engine, write=False)
    answers = [client.get("/api/v1/promises", headers=_auth(secret)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    app.extensions["callcenter"].engine.dispose()


def test_an_admin_creates_a_key_shown_once_and_revokes_it(client, login, engine_of):
    _user, token = login("admin")
    page = client.post(
        "/admin/cles-api",
        data={"name": "ERP Sage", "access": "write", "csrf_token": token},
    )
    assert page.status_code == 201
    html = page.get_data(as_text=True)
    secret = html.split('<code id="new-key">')[1].split("</code>")[0]
    assert secret.startswith("cc_")
    assert secret not in client.get("/admin/cles-api").get_data(as_text=True)
    with Session(engine_of) as session:
        stored = session.exec(select(ApiToken)).one()
        assert stored.token_hash != secret and secret not in stored.token_hash
    assert client.get("/api/v1/promises", headers=_auth(secret)).status_code == 200
    empty = client.post("/admin/cles-api", data={"name": " ", "csrf_token": token})
    assert empty.status_code == 422
    assert "Donnez un nom à la clé" in empty.get_data(as_text=True)
    client.post(f"/admin/cles-api/{stored.id}/revoquer", data={"csrf_token": token})
    assert client.get("/api/v1/promises", headers=_auth(secret)).status_code == 401
    with Session(engine_of) as session:
        types = {e.type for e in session.exec(select(Event)).all()}
    assert {"api.token_created", "api.token_revoked"} <= types


def test_the_reference_page_is_french_and_public(client):
    page = client.get("/api/v1/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "API pour les logiciels du créancier" in text
    assert "POST /api/v1/invoices" in text
    assert client.get("/api/v1/openapi.json").get_json()["openapi"] == "3.1.0"


def test_debtors_pushed_are_in_the_queue(client, engine_of):
    secret = _key(engine_of)
    client.post("/api/v1/debtors", headers=_auth(secret), json={"records": DEBTORS})
    client.post("/api/v1/invoices", headers=_auth(secret), json={"records": INVOICES})
    with Session(engine_of) as session:
        names = {d.account_code for d in session.exec(select(Debtor)).all()}
        events = session.exec(select(Event).where(Event.type == "import.applied")).all()
    assert names == {"C001", "C002"}
    assert len(events) == 2 and events[0].payload["source"] == "API (ERP)"


def test_an_admin_adds_a_notification_address_and_a_supervisor_resends_a_dead_notice(
    client, login, engine_of
):
    _user, token = login("admin")
    refused = client.post(
        "/admin/cles-api/notifications", data={"url": "ftp://erp", "csrf_token": token}
    )
    assert refused.status_code == 422
    assert "Adresse invalide" in refused.get_data(as_text=True)
    added = client.post(
        "/admin/cles-api/notifications",
        data={"url": "http://127.0.0.1:9/notifications", "csrf_token": token},
    )
    assert added.status_code == 201
    secret = added.get_data(as_text=True).split('<code id="new-secret">')[1].split("</code>")[0]
    assert secret.startswith("whsec_")
    assert secret not in client.get("/admin/cles-api").get_data(as_text=True)
    with session_scope(engine_of) as session:
        debtor = make_debtor(session, account_code="C555")
        record_event(session, type="dispute.opened", debtor_id=debtor.id, at=TEST_NOW)
        delivery = session.exec(select(WebhookDelivery)).one()
        delivery.status = "dead"
        delivery.last_error = "destinataire injoignable"
        session.add(delivery)
        delivery_id = delivery.id
    page = client.get("/supervision/cockpit/controles").get_data(as_text=True)
    assert "Litige ouvert" in page and "C555" in page
    resent = client.post(
        f"/supervision/cockpit/notifications/{delivery_id}/renvoyer",
        data={"csrf_token": token},
    )
    assert resent.status_code == 303
    with Session(engine_of) as session:
        assert session.get(WebhookDelivery, delivery_id).status == "pending"
