"""Creating or updating debtors, contacts and payments from validated rows.

Identity: a debtor by its account code, a contact by its debtor and name, a payment by its
reference. A row equal to what is stored counts as unchanged and writes nothing; every debtor
created or changed gets an ``import`` event on its timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from callcenter.domain.imports.report import Counts
from callcenter.models import Contact, Debtor, Event, Invoice, Payment

_CHUNK = 500


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class DebtorRow:
    line: int
    account_code: str
    name: str
    siren: str | None = None
    segment: str | None = None
    payment_terms_days: int | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None


ADDRESS_FIELDS = ("address_line1", "address_line2", "postal_code", "city", "country")


@dataclass
class ContactRow:
    line: int
    account_code: str
    full_name: str
    civility: str | None = None
    role: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    is_billing: bool | None = None


@dataclass
class PaymentRow:
    line: int
    reference: str
    account_code: str
    paid_on: date
    amount_cents: int
    method: str | None = None
    invoice_reference: str | None = None
    preferred_numbers: list[str] = field(default_factory=list)


def text_limits(*models: type) -> dict[str, int]:
    """The declared length of each short text column of ``models`` by field name (the first
    model naming a field wins): what an import may put in it."""
    limits: dict[str, int] = {}
    for model in models:
        for column in model.__table__.columns:
            length = getattr(column.type, "length", None)
            if isinstance(length, int):
                limits.setdefault(column.name, length)
    return limits


LIMITS = {
    "debtors": text_limits(Debtor),
    "contacts": text_limits(Contact, Debtor),
    "invoices": text_limits(Invoice, Debtor),
    "payments": text_limits(Payment, Debtor),
}


def debtor_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(codes))):
        found.update(
            session.exec(
                select(Debtor.account_code, Debtor.id).where(Debtor.account_code.in_(chunk))
            ).all()
        )
    return found


def stored_payments(
    session: Session, references: Iterable[str]
) -> dict[str, tuple[str, date, int]]:
    """Payments already stored under these references: debtor account code, date, amount."""
    found: dict[str, tuple[str, date, int]] = {}
    for chunk in _chunks(sorted(set(references))):
        for reference, code, paid_on, amount in session.exec(
            select(Payment.reference, Debtor.account_code, Payment.paid_on, Payment.amount_cents)
            .join(Debtor, Debtor.id == Payment.debtor_id)
            .where(Payment.reference.in_(chunk))
        ):
            found[reference] = (code, paid_on, amount)
    return found


def _event(debtor_id: int, actor_id: int | None, source: str, now: datetime, **payload) -> dict:
    return {
        "debtor_id": debtor_id,
        "actor_id": actor_id,
        "type": "import",
        "payload": {"source": source, **payload},
        "at": now,
    }


def upsert_debtors(
    session: Session,
    rows: list[DebtorRow],
    *,
    default_terms: int,
    actor_id: int | None,
    source: str,
    now: datetime,
) -> Counts:
    """Fields absent from the file (empty cell or no column) keep their stored value."""
    counts = Counts()
    existing: dict[str, Debtor] = {}
    for chunk in _chunks([row.account_code for row in rows]):
        for debtor in session.exec(
            select(Debtor)
            .where(Debtor.account_code.in_(chunk))
            .execution_options(populate_existing=True)
        ):
            existing[debtor.account_code] = debtor
    new_rows = []
    events = []
    for row in rows:
        debtor = existing.get(row.account_code)
        if debtor is None:
            counts.created += 1
            new_rows.append(
                {
                    "account_code": row.account_code,
                    "name": row.name,
                    "siren": row.siren,
                    "segment": row.segment or "standard",
                    "payment_terms_days": (
                        default_terms if row.payment_terms_days is None else row.payment_terms_days
                    ),
                    **{name: getattr(row, name) or None for name in ADDRESS_FIELDS},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        changes = {}
        for name in ("name", "siren", "segment", "payment_terms_days", *ADDRESS_FIELDS):
            value = getattr(row, name)
            if value not in (None, "") and getattr(debtor, name) != value:
                changes[name] = value
        if not changes:
            counts.unchanged += 1
            continue
        counts.updated += 1
        for name, value in changes.items():
            setattr(debtor, name, value)
        debtor.updated_at = now
        events.append(_event(debtor.id, actor_id, source, now, debtor_changed=sorted(changes)))
    if new_rows:
        for chunk in _chunks(new_rows, 5_000):
            session.connection().execute(sa.insert(Debtor.__table__), chunk)
        ids = debtor_ids(session, (row["account_code"] for row in new_rows))
        events.extend(
            _event(ids[row["account_code"]], actor_id, source, now, debtor_created=True)
            for row in new_rows
        )
    session.flush()
    if events:
        session.connection().execute(sa.insert(Event.__table__), events)
    return counts


def upsert_contacts(
    session: Session,
    rows: list[ContactRow],
    *,
    ids: dict[str, int],
    actor_id: int | None,
    source: str,
    now: datetime,
) -> Counts:
    counts = Counts()
    existing: dict[tuple[int, str], Contact] = {}
    for chunk in _chunks(sorted(set(ids.values()))):
        for contact in session.exec(
            select(Contact)
            .where(Contact.debtor_id.in_(chunk))
            .execution_options(populate_existing=True)
        ):
            existing.setdefault((contact.debtor_id, contact.full_name.casefold()), contact)
    events: dict[int, dict] = {}
    for row in rows:
        debtor_id = ids[row.account_code]
        contact = existing.get((debtor_id, row.full_name.casefold()))
        values = {
            name: getattr(row, name)
            for name in ("civility", "role", "phone", "mobile", "email", "is_billing")
            if getattr(row, name) not in (None, "")
        }
        if contact is None:
            contact = Contact(debtor_id=debtor_id, full_name=row.full_name, **values)
            session.add(contact)
            existing[(debtor_id, row.full_name.casefold())] = contact
            counts.created += 1
        else:
            changes = {k: v for k, v in values.items() if getattr(contact, k) != v}
            if not changes:
                counts.unchanged += 1
                continue
            for name, value in changes.items():
                setattr(contact, name, value)
            counts.updated += 1
        event = events.setdefault(debtor_id, _event(debtor_id, actor_id, source, now, contacts=[]))
        event["payload"]["contacts"].append(row.full_name)
    session.flush()
    if events:
        session.connection().execute(sa.insert(Event.__table__), list(events.values()))
    return counts


def upsert_payments(
    session: Session,
    rows: list[PaymentRow],
    *,
    ids: dict[str, int],
    actor_id: int | None,
    source: str,
    now: datetime,
) -> tuple[Counts, list[int], dict[int, list[int]]]:
    """Returns counts, the ids of the payments to allocate (new, or changed: their previous
    allocation is undone first) and, per payment, the invoices it names (same debtor only)."""
    from callcenter.domain.imports.allocation import undo_allocations

    counts = Counts()
    existing: dict[str, Payment] = {}
    for chunk in _chunks([row.reference for row in rows]):
        for payment in session.exec(
            select(Payment)
            .where(Payment.reference.in_(chunk))
            .execution_options(populate_existing=True)
        ):
            existing[payment.reference] = payment
    named = sorted(
        {number for row in rows for number in [row.invoice_reference, *row.preferred_numbers]}
        - {None, ""}
    )
    invoices: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(named):
        for number, invoice_id, debtor_id in session.exec(
            select(Invoice.number, Invoice.id, Invoice.debtor_id).where(Invoice.number.in_(chunk))
        ):
            invoices[number] = (invoice_id, debtor_id)
    changed: list[Payment] = []
    to_allocate: list[Payment] = []
    preferred_numbers: dict[str, list[str]] = {}
    for row in rows:
        debtor_id = ids[row.account_code]
        values = {
            "debtor_id": debtor_id,
            "paid_on": row.paid_on,
            "amount_cents": row.amount_cents,
            "invoice_reference": row.invoice_reference or None,
        }
        if row.method:
            values["method"] = row.method
        preferred_numbers[row.reference] = [
            n for n in [row.invoice_reference, *row.preferred_numbers] if n
        ]
        payment = existing.get(row.reference)
        if payment is None:
            payment = Payment(reference=row.reference, created_at=now, **values)
            session.add(payment)
            counts.created += 1
            to_allocate.append(payment)
            continue
        changes = {k: v for k, v in values.items() if getattr(payment, k) != v}
        if not changes:
            counts.unchanged += 1
            continue
        counts.updated += 1
        changed.append(payment)
        for name, value in changes.items():
            setattr(payment, name, value)
        to_allocate.append(payment)
    if changed:
        session.flush()
        undo_allocations(session, [payment.id for payment in changed], now=now)
    session.flush()
    preferred: dict[int, list[int]] = {}
    for payment in to_allocate:
        preferred[payment.id] = [
            invoices[number][0]
            for number in preferred_numbers[payment.reference]
            if number in invoices and invoices[number][1] == payment.debtor_id
        ]
    return counts, [payment.id for payment in to_allocate], preferred
