"""What every outcome handler shares: the form as typed, the context of the call being
recorded, what the handlers created, and the parsing of the form's fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlmodel import Session

from callcenter.config import Settings
from callcenter.domain.imports.values import BadValue, cents, parse_date
from callcenter.domain.promises import PromisePolicy
from callcenter.models import (
    Call,
    Callback,
    Contact,
    Debtor,
    Disposition,
    Dispute,
    Invoice,
    PaymentPlan,
    Promise,
)

MAX_NOTES = 4000
MAX_DISPUTE_DESCRIPTION = 2000
MAX_CONTACT_NAME = 120  # Contact.full_name
MAX_CONTACT_EMAIL = 254  # Contact.email
MAX_PHONE_TEXT = 30  # « +33 (0)4 65 71 38 03 » and its spaces
MAX_AMOUNT_TEXT = 20  # « 21 474 836,47 € » (MAX_CENTS) with its spaces, and some room
CALLBACK_HORIZON = timedelta(days=60)
PLAN_HORIZON = timedelta(days=365)

Errors = dict[str, str]


@dataclass
class OutcomeForm:
    """The outcome as typed by the agent (strings, as a form sends them)."""

    disposition: str
    reason: str = ""
    contact_id: str = ""
    notes: str = ""
    promise_amount: str = ""
    promise_date: str = ""
    promise_invoices: list[str] = field(default_factory=list)
    plan_total: str = ""
    plan_dates: list[str] = field(default_factory=list)
    plan_amounts: list[str] = field(default_factory=list)
    dispute_category: str = ""
    dispute_description: str = ""
    dispute_invoices: list[str] = field(default_factory=list)
    callback_at: str = ""
    callback_personal: bool = False
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""


@dataclass
class OutcomeContext:
    """The call being recorded, as every handler reads it (loaded once)."""

    session: Session
    form: OutcomeForm
    disposition: Disposition
    debtor: Debtor
    agent_id: int
    contact: Contact | None
    invoices: dict[int, Invoice]  # the debtor's open invoices
    notes: str
    now: datetime
    settings: Settings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.app.timezone)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    @property
    def policy(self) -> PromisePolicy:
        promises = self.settings.promises
        return PromisePolicy(
            horizon_days=promises.horizon_days,
            grace_days=promises.grace_days,
            tolerance_cents=promises.tolerance_cents,
            max_instalments=promises.max_instalments,
        )


@dataclass
class Created:
    """What the handlers wrote, for the recap and the agent's confirmation."""

    promise: Promise | None = None
    plan: PaymentPlan | None = None
    dispute: Dispute | None = None
    callback: Callback | None = None


class OutcomeKind:
    """What one kind of outcome does. ``check`` reads its part of the form and returns the
    field errors and what ``apply`` needs; ``apply`` writes its rows and timeline events
    (only when every handler's check passed: all or nothing)."""

    kind: ClassVar[str]
    flag: ClassVar[str | None] = None  # the catalogue's flag that selects this kind
    codes: ClassVar[tuple[str, ...]] = ()  # or the disposition codes it handles
    has_fields: ClassVar[bool] = False  # its fields: templates/agent/outcome_kinds/<kind>.html

    def selects(self, disposition: Disposition) -> bool:
        return bool(self.flag and getattr(disposition, self.flag, False)) or (
            disposition.code in self.codes
        )

    def check(self, context: OutcomeContext) -> tuple[Errors, Any]:
        return {}, None

    def apply(self, context: OutcomeContext, call: Call, checked: Any, created: Created) -> None:
        return None


def optional_cents(text: str, field_name: str, errors: Errors) -> int | None:
    if not text.strip():
        return None
    if len(text.strip()) > MAX_AMOUNT_TEXT:
        errors[field_name] = f"Le montant ne doit pas dépasser {MAX_AMOUNT_TEXT} caractères."
        return None
    try:
        return cents(text)
    except BadValue as bad:
        errors[field_name] = bad.message
        return None


def optional_date(text: str, field_name: str, errors: Errors) -> date | None:
    if not text.strip():
        return None
    try:
        return parse_date(text)
    except BadValue as bad:
        errors[field_name] = bad.message
        return None


def invoice_ids(values: list[str], own: dict[int, Invoice], field_name: str, errors) -> list[int]:
    """The ticked invoices, each one of the debtor's open invoices."""
    ids = []
    for value in values:
        if not str(value).isdigit() or int(value) not in own:
            errors[field_name] = "Facture inconnue pour ce débiteur."
            return []
        ids.append(int(value))
    return sorted(set(ids))
