"""Small factories for test rows: sensible defaults, every field overridable, flushed not committed.

debtor = make_debtor(session, segment="key_account")
make_contact(session, debtor)
make_invoice(session, debtor, due_date=today - timedelta(days=20), amount_cents=120_000)
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from callcenter.models import (
    Call,
    Callback,
    Contact,
    Debtor,
    Invoice,
    OutboxEmail,
    Promise,
    Role,
    User,
    utcnow,
)

_sequence = itertools.count(1)


def _next() -> int:
    return next(_sequence)


def _save(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row


def make_user(session: Session, *, role: str = Role.AGENT, **fields: Any) -> User:
    n = _next()
    values = {
        "email": f"{role}{n}@exemple.fr",
        "full_name": f"Utilisateur {n}",
        "password_hash": "non-utilisable",
        "role": role,
    }
    return _save(session, User(**(values | fields)))


def make_debtor(session: Session, **fields: Any) -> Debtor:
    n = _next()
    values = {"account_code": f"C{n:06d}", "name": f"Société Test {n}"}
    return _save(session, Debtor(**(values | fields)))


def make_contact(session: Session, debtor: Debtor, **fields: Any) -> Contact:
    n = _next()
    values = {
        "debtor_id": debtor.id,
        "full_name": f"Contact {n}",
        "phone": f"+3319900{n % 10000:04d}",
        "email": f"contact{n}@exemple.example",
        "is_billing": True,
    }
    return _save(session, Contact(**(values | fields)))


def make_invoice(session: Session, debtor: Debtor, **fields: Any) -> Invoice:
    n = _next()
    due = fields.pop("due_date", date.today() - timedelta(days=20))
    amount = fields.pop("amount_cents", 100_000)
    values = {
        "debtor_id": debtor.id,
        "number": f"F{n:07d}",
        "issue_date": due - timedelta(days=30),
        "due_date": due,
        "amount_cents": amount,
        "open_amount_cents": amount,
    }
    return _save(session, Invoice(**(values | fields)))


def make_call(session: Session, debtor: Debtor, **fields: Any) -> Call:
    at: datetime = fields.pop("at", None) or utcnow()
    values = {"debtor_id": debtor.id, "created_at": at, "started_at": at}
    return _save(session, Call(**(values | fields)))


def make_callback(session: Session, debtor: Debtor, **fields: Any) -> Callback:
    values = {"debtor_id": debtor.id, "due_at": utcnow()}
    return _save(session, Callback(**(values | fields)))


def make_promise(session: Session, debtor: Debtor, **fields: Any) -> Promise:
    values = {"debtor_id": debtor.id, "amount_cents": 50_000, "promised_date": date.today()}
    return _save(session, Promise(**(values | fields)))


def make_email(session: Session, debtor: Debtor, **fields: Any) -> OutboxEmail:
    n = _next()
    values = {
        "idempotency_key": f"test-{n}",
        "debtor_id": debtor.id,
        "template": "relance",
        "to_address": f"contact{n}@exemple.example",
        "subject": "Relance",
        "body_text": "Bonjour",
        "body_html": "<p>Bonjour</p>",
        "message_id": f"<test-{n}@exemple.fr>",
    }
    return _save(session, OutboxEmail(**(values | fields)))
