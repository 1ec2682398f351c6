"""The JSON API for the creditor's systems (``/api/v1``): push debtors, contacts, invoices and
payments; read promises, plans, disputes, call outcomes, the process and the aged balance.

A key (``Authorization: Bearer cc_…``, created by an administrator) opens the API and
nothing else; a staff session opens nothing here. Every call is audited, limited per key
(``[api] requests_per_minute``), and answered in JSON with French messages. A push is all or
nothing, goes through the file import's checks, and is replayed, not redone, when sent
again with the same ``Idempotency-Key``. The OpenAPI document is built from the operations
declared below and their pydantic models (``/api/v1/openapi.json``), with a French
reference page at ``/api/v1/``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from callcenter.domain import api_sync
from callcenter.domain.aging import aged_balance
from callcenter.domain.api_access import authenticate, record_api_call
from callcenter.domain.imports import run_records_import
from callcenter.models import ApiIdempotency, ApiToken
from callcenter.web import api_models as m
from callcenter.web import clock, csrf, db, state
from callcenter.web.request_size import MIB, accepts_upload

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PUBLIC = {"api.reference", "api.openapi"}
MAX_IDEMPOTENCY_KEY = 200
REFUSED = "La requête est refusée : rien n'a été enregistré."
REPLAYED = "Même clé, même corps : la réponse est rejouée, rien n'est refait."


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    endpoint: str
    summary: str
    write: bool
    response: type[BaseModel]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    path: str,
    *,
    summary: str,
    response: type[BaseModel],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    write: bool = False,
) -> Callable[[Callable], Callable]:
    """Declare an operation: its route, and its entry in the OpenAPI document."""

    def register(view: Callable) -> Callable:
        OPERATIONS.append(
            Operation(method, path, f"api.{view.__name__}", summary, write, response, body, query)
        )
        bp.add_url_rule(path, view.__name__, view, methods=[method])
        return view

    return register


# --- answers -------------------------------------------------------------------------


def _error(status: int, message: str, problems: list[dict] | None = None, **headers: str):
    body = m.Error(error=message, errors=[m.Problem(**p) for p in problems or []])
    response = jsonify(body.model_dump(exclude_none=True))
    response.status_code = status
    response.headers.update(headers)
    return response


PYDANTIC_MESSAGES = {
    "missing": "Valeur obligatoire manquante.",
    "extra_forbidden": "Champ inconnu.",
    "int_parsing": "Nombre entier attendu.",
    "int_type": "Nombre entier attendu.",
    "int_from_float": "Nombre entier attendu (des centimes, sans virgule).",
    "string_type": "Texte attendu.",
    "bool_type": "Vrai ou faux attendu.",
    "bool_parsing": "Vrai ou faux attendu.",
    "date_parsing": "Date attendue au format AAAA-MM-JJ.",
    "date_from_datetime_parsing": "Date attendue au format AAAA-MM-JJ.",
    "date_type": "Date attendue au format AAAA-MM-JJ.",
    "datetime_parsing": "Date et heure attendues (ISO 8601, par exemple 2026-12-01T08:00:00Z).",
    "datetime_from_date_parsing": "Date et heure attendues (ISO 8601).",
    "datetime_type": "Date et heure attendues (ISO 8601).",
    "list_type": "Liste attendue.",
    "model_type": "Objet JSON attendu.",
    "model_attributes_type": "Objet JSON attendu.",
    "dict_type": "Objet JSON attendu.",
    "json_invalid": "JSON illisible.",
}


def _pydantic_message(error: dict[str, Any]) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "too_short":
        return "Au moins un enregistrement est attendu."
    if kind == "too_long":
        return f"Au plus {m.MAX_RECORDS} enregistrements par requête."
    if kind == "greater_than_equal":
        return f"La valeur doit être supérieure ou égale à {context.get('ge')}."
    if kind == "less_than_equal":
        return f"La valeur doit être inférieure ou égale à {context.get('le')}."
    if kind == "literal_error":
        return f"Valeur attendue parmi : {context.get('expected')}."
    return PYDANTIC_MESSAGES.get(kind, "Valeur invalide.")


def _problems(error: ValidationError) -> list[dict]:
    out = []
    for item in error.errors():
        location = [part for part in item["loc"] if part != "records"]
        record = next((part for part in location if isinstance(part, int)), None)
        field = next((part for part in reversed(location) if isinstance(part, str)), None)
        out.append({"record": record, "field": field, "message": _pydantic_message(item)})
    return out


def _parse(model: type[BaseModel], data: Any):
    try:
        return model.model_validate(data), None
    except ValidationError as error:
        return None, _error(
            422, "La requête est refusée : rien n'a été enregistré.", _problems(error)
        )


def _json(model: type[BaseModel], payload: Any):
    response = jsonify(model.model_validate(payload).model_dump(mode="json"))
    return response


# --- keys, limits, audit -------------------------------------------------------------


class _Limiter:
    """Requests per key over the last minute, in this process (each worker counts its own)."""

    def __init__(self) -> None:
        self.seen: dict[int, deque[datetime]] = defaultdict(deque)
        self.lock = threading.Lock()

    def allow(self, key: int, now: datetime, per_minute: int) -> bool:
        with self.lock:
            window = self.seen[key]
            while window and now - window[0] >= timedelta(minutes=1):
                window.popleft()
            if len(window) >= per_minute:
                return False
            window.append(now)
            return True


def _limiter() -> _Limiter:
    """This app's counts (each app, each worker process, counts its own)."""
    return current_app.extensions.setdefault("api_limiter", _Limiter())


def _operation() -> Operation | None:
    return next((op for op in OPERATIONS if op.endpoint == request.endpoint), None)


@bp.before_request
def require_key():
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else ""
    token = authenticate(db(), secret=secret)
    if token is None:
        return _error(
            401,
            "Clé d'API absente, inconnue ou révoquée (en-tête « Authorization: Bearer … »).",
            **{"WWW-Authenticate": "Bearer"},
        )
    g.api_token = token
    op = _operation()
    if op is not None and op.write and not token.can_write:
        return _error(403, "Cette clé ne permet que la lecture.")
    if not _limiter().allow(token.id, clock().now(), state().settings.api.requests_per_minute):
        return _error(
            429,
            "Trop de requêtes avec cette clé : réessayez dans une minute.",
            **{"Retry-After": "60"},
        )
    return None


@bp.after_request
def commit_and_audit(response: Response) -> Response:
    token: ApiToken | None = g.get("api_token")
    token_id = token.id if token is not None else None  # read before a rollback expires it
    session = g.get("db")
    if session is not None:
        if 200 <= response.status_code < 300 and request.method == "POST":
            session.commit()
        else:
            session.rollback()
    if token_id is not None:
        with Session(state().engine) as audit:
            record_api_call(
                audit,
                token_id=token_id,
                method=request.method,
                path=request.path,
                status=response.status_code,
                now=clock().now(),
            )
            audit.commit()
    return response


# --- push ----------------------------------------------------------------------------


def _push(kind: str, batch_model: type[BaseModel], record_model: type[m.RecordIn]):
    raw = request.get_data()
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        return _error(422, "Le corps de la requête n'est pas du JSON lisible.")
    if isinstance(data, dict) and "records" not in data:
        data = {"records": [data]}  # one record, sent alone
    batch, refused = _parse(batch_model, data)
    if refused is not None:
        return refused
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        return _error(422, f"L'en-tête Idempotency-Key dépasse {MAX_IDEMPOTENCY_KEY} caractères.")
    digest = hashlib.sha256(raw).hexdigest()
    session = db()
    token: ApiToken = g.api_token
    if key:
        seen = session.exec(
            select(ApiIdempotency).where(
                ApiIdempotency.token_id == token.id, ApiIdempotency.key == key
            )
        ).first()
        if seen is not None:
            if seen.request_hash != digest:
                return _error(409, "Cette clé d'idempotence a déjà servi pour une autre requête.")
            response = jsonify(seen.response)
            response.status_code = seen.status_code
            response.headers["Idempotent-Replayed"] = "true"
            return response
    now = clock().now()
    records = [record.import_fields() for record in batch.records]
    report = run_records_import(
        session,
        kind=kind,
        records=records,
        source_name=f"API ({token.name})",
        actor_id=None,
        now=now,
        settings=state().settings,
    )
    if not report.ok:
        problems = [_import_problem(issue, record_model) for issue in report.errors]
        message = report.refused or REFUSED
        return _error(422, message, problems)
    result = m.PushResult(
        received=len(records),
        counts={
            entity: m.Counts(created=c.created, updated=c.updated, unchanged=c.unchanged)
            for entity, c in report.counts.items()
        },
        notes=[*report.notes, *(issue.message for issue in report.skipped)],
    ).model_dump(mode="json")
    if key:
        session.add(
            ApiIdempotency(
                token_id=token.id,
                key=key,
                request_hash=digest,
                status_code=200,
                response=result,
                created_at=now,
            )
        )
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return _error(409, "Une requête avec cette clé d'idempotence est déjà en cours.")
    return jsonify(result)


def _import_problem(issue, record_model: type[m.RecordIn]) -> dict:
    back = {imported: api for api, imported in record_model.RENAMED.items()}
    record = issue.line - 2 if issue.line and issue.line >= 2 else None
    field = back.get(issue.column, issue.column) if issue.column else None
    return {"record": record, "field": field, "message": issue.message}


def _max_body(settings) -> int:
    return settings.api.max_request_mib * MIB


@operation(
    "POST",
    "/debtors",
    summary="Envoyer des débiteurs (un seul, ou jusqu'à 10 000 dans « records »)",
    body=m.DebtorBatch,
    response=m.PushResult,
    write=True,
)
@accepts_upload(_max_body)
def push_debtors():
    return _push("debtors", m.DebtorBatch, m.DebtorIn)


@operation(
    "POST",
    "/contacts",
    summary="Envoyer des contacts",
    body=m.ContactBatch,
    response=m.PushResult,
    write=True,
)
@accepts_upload(_max_body)
def push_contacts():
    return _push("contacts", m.ContactBatch, m.ContactIn)


@operation(
    "POST",
    "/invoices",
    summary="Envoyer des factures (montants en centimes)",
    body=m.InvoiceBatch,
    response=m.PushResult,
    write=True,
)
@accepts_upload(_max_body)
def push_invoices():
    return _push("invoices", m.InvoiceBatch, m.InvoiceIn)


@operation(
    "POST",
    "/payments",
    summary="Envoyer des règlements et avoirs (montants en centimes)",
    body=m.PaymentBatch,
    response=m.PushResult,
    write=True,
)
@accepts_upload(_max_body)
def push_payments():
    return _push("payments", m.PaymentBatch, m.PaymentIn)


# --- pull ----------------------------------------------------------------------------


def _pull(reader, page_model: type[BaseModel]):
    query, refused = _parse(m.PageQuery, request.args.to_dict())
    if refused is not None:
        return refused
    page = reader(db(), after=query.after, updated_since=query.updated_since, limit=query.limit)
    return _json(page_model, {"items": page.items, "next_cursor": page.next_cursor})


@operation(
    "GET", "/promises", summary="Promesses de paiement", query=m.PageQuery, response=m.PromisePage
)
def list_promises():
    return _pull(api_sync.promises, m.PromisePage)


@operation("GET", "/payment-plans", summary="Échéanciers", query=m.PageQuery, response=m.PlanPage)
def list_payment_plans():
    return _pull(api_sync.payment_plans, m.PlanPage)


@operation("GET", "/disputes", summary="Litiges", query=m.PageQuery, response=m.DisputePage)
def list_disputes():
    return _pull(api_sync.disputes, m.DisputePage)


@operation(
    "GET",
    "/outcomes",
    summary="Issues d'appel enregistrées",
    query=m.PageQuery,
    response=m.OutcomePage,
)
def list_outcomes():
    return _pull(api_sync.outcomes, m.OutcomePage)


@operation(
    "GET",
    "/dunning-cases",
    summary="Étape de relance de chaque débiteur",
    query=m.PageQuery,
    response=m.CasePage,
)
def list_dunning_cases():
    return _pull(api_sync.dunning_cases, m.CasePage)


@operation(
    "GET",
    "/aged-balance",
    summary="Balance âgée par débiteur",
    query=m.AgingQuery,
    response=m.AgedBalanceOut,
)
def get_aged_balance():
    query, refused = _parse(m.AgingQuery, request.args.to_dict())
    if refused is not None:
        return refused
    as_of = query.as_of or clock().today()
    balance = aged_balance(db(), as_of=as_of, limit=query.limit, offset=query.offset)
    return _json(
        m.AgedBalanceOut,
        {
            "as_of": as_of,
            "debtors": balance.totals.debtors,
            "totals": vars(balance.totals.amounts),
            "rows": [
                {
                    "account_code": row.account_code,
                    "name": row.name,
                    "segment": row.segment,
                    "amounts": vars(row.amounts),
                    "credit_cents": row.credit_cents,
                }
                for row in balance.rows
            ],
        },
    )


# --- the document --------------------------------------------------------------------

ERROR_ANSWERS = {
    "401": "Clé absente, inconnue ou révoquée",
    "422": "Requête refusée (détail par enregistrement et par champ)",
    "429": "Trop de requêtes pour cette clé",
}


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 from the declared operations and their models."""
    models = {m.Error}
    for op in OPERATIONS:
        models.update(model for model in (op.response, op.body, op.query) if model is not None)
    _, schemas = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda x: x.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        answers: dict[str, Any] = {
            "200": {
                "description": "Réponse",
                "content": {"application/json": {"schema": _ref(op.response)}},
            }
        }
        errors = {**ERROR_ANSWERS}
        if op.write:
            errors["403"] = "Clé en lecture seule"
            errors["409"] = "Clé d'idempotence déjà servie pour une autre requête"
        for code, text in errors.items():
            answers[code] = {
                "description": text,
                "content": {"application/json": {"schema": _ref(m.Error)}},
            }
        entry: dict[str, Any] = {
            "operationId": op.endpoint.split(".", 1)[1],
            "summary": op.summary,
            "security": [{"cle": []}],
            "responses": answers,
        }
        if op.query is not None:
            entry["parameters"] = _parameters(op.query)
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.body)}},
            }
            entry["parameters"] = [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
                    "description": REPLAYED,
                }
            ]
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "API Callcenter pour les logiciels du créancier",
            "version": "1",
            "description": "Montants en centimes ; dates AAAA-MM-JJ ; messages en français.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"cle": {"type": "http", "scheme": "bearer"}},
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "description"},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema["properties"].items()
    ]


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/")
def reference():
    """The document as a French page: each operation, its parameters and an example."""
    document = openapi_document()
    return render_template("api/reference.html", document=document, operations=OPERATIONS)
