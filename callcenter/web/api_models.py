"""The API's request and response bodies (pydantic): validation, and the OpenAPI document.

Money in integer cents, dates as ``AAAA-MM-JJ``, times in ISO 8601 with their offset.
Records pushed are handed to the file import's checks (``run_records_import``) in the
import's own field names: ``import_fields`` is the only translation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_RECORDS = 10_000
MAX_PAGE = 1000


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


class RecordIn(ApiModel):
    """A record to push; ``import_fields`` gives it in the file import's field names."""

    RENAMED: ClassVar[dict[str, str]] = {}  # API field → import field

    def import_fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in self.model_dump(exclude_unset=True).items():
            field = self.RENAMED.get(name, name)
            if value is None:
                out[field] = ""
            elif isinstance(value, bool):
                out[field] = "oui" if value else "non"
            elif name.endswith("_cents"):
                out[field] = _cents_text(value)
            elif isinstance(value, date):
                out[field] = value.isoformat()
            else:
                out[field] = str(value)
        return out


class DebtorIn(RecordIn):
    account_code: str = Field(description="Code client (clé naturelle)")
    name: str = Field(description="Raison sociale")
    siren: str | None = None
    segment: str | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None


class ContactIn(RecordIn):
    account_code: str
    full_name: str
    civility: str | None = Field(default=None, description="Madame ou Monsieur")
    role: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    is_billing: bool | None = None


class InvoiceIn(RecordIn):
    RENAMED: ClassVar[dict[str, str]] = {
        "amount_cents": "amount",
        "open_amount_cents": "open_amount",
    }

    account_code: str
    number: str = Field(description="N° de facture (clé naturelle)")
    issue_date: date
    due_date: date | None = None
    amount_cents: int = Field(description="Montant TTC en centimes")
    open_amount_cents: int | None = Field(default=None, description="Reste dû en centimes")
    currency: str | None = None


class PaymentIn(RecordIn):
    RENAMED: ClassVar[dict[str, str]] = {"amount_cents": "amount"}

    account_code: str
    reference: str = Field(description="Référence du règlement (clé naturelle)")
    paid_on: date
    amount_cents: int = Field(description="Montant en centimes")
    method: str | None = None
    invoice_reference: str | None = Field(default=None, description="N° de la facture réglée")


def _batch(record: type[RecordIn], name: str) -> type[ApiModel]:
    return type(
        name,
        (ApiModel,),
        {
            "__annotations__": {"records": list[record]},
            "records": Field(min_length=1, max_length=MAX_RECORDS),
            "__module__": __name__,
        },
    )


DebtorBatch = _batch(DebtorIn, "DebtorBatch")
ContactBatch = _batch(ContactIn, "ContactBatch")
InvoiceBatch = _batch(InvoiceIn, "InvoiceBatch")
PaymentBatch = _batch(PaymentIn, "PaymentBatch")


class Counts(ApiModel):
    created: int
    updated: int
    unchanged: int


class PushResult(ApiModel):
    received: int
    counts: dict[str, Counts]
    notes: list[str]


class Problem(ApiModel):
    record: int | None = Field(default=None, description="Rang de l'enregistrement (0 = premier)")
    field: str | None = None
    message: str


class Error(ApiModel):
    error: str
    errors: list[Problem] = []


class PageQuery(ApiModel):
    updated_since: datetime | None = Field(
        default=None, description="Seulement ce qui a été créé ou modifié depuis cet instant"
    )
    after: int | None = Field(default=None, ge=0, description="Curseur : le dernier id lu")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


class PromiseOut(ApiModel):
    id: int
    account_code: str
    amount_cents: int
    promised_date: date
    paid_cents: int
    status: Literal["pending", "kept", "broken", "cancelled"]
    invoices: list[str]
    created_at: datetime
    resolved_at: datetime | None


class InstalmentOut(ApiModel):
    sequence: int
    due_date: date
    amount_cents: int
    paid_cents: int
    status: str


class PlanOut(ApiModel):
    id: int
    account_code: str
    total_cents: int
    status: str
    instalments: list[InstalmentOut]
    created_at: datetime


class DisputeOut(ApiModel):
    id: int
    account_code: str
    category: str
    description: str
    status: str
    resolution: str | None
    invoices: list[str]
    created_at: datetime
    resolved_at: datetime | None


class OutcomeOut(ApiModel):
    id: int
    account_code: str
    disposition: str
    notes: str
    answered: bool
    started_at: datetime
    ended_at: datetime | None


class CaseOut(ApiModel):
    id: int
    account_code: str
    status: str
    step: str
    action: str
    reached_at: datetime
    done_at: datetime | None
    next_due_at: datetime | None
    updated_at: datetime


def _page_of(item: type[ApiModel], name: str) -> type[ApiModel]:
    return type(
        name,
        (ApiModel,),
        {
            "__annotations__": {"items": list[item], "next_cursor": int | None},
            "__module__": __name__,
        },
    )


PromisePage = _page_of(PromiseOut, "PromisePage")
PlanPage = _page_of(PlanOut, "PlanPage")
DisputePage = _page_of(DisputeOut, "DisputePage")
OutcomePage = _page_of(OutcomeOut, "OutcomePage")
CasePage = _page_of(CaseOut, "CasePage")


class AgingQuery(ApiModel):
    as_of: date | None = Field(default=None, description="Date d'arrêté (aujourd'hui sinon)")
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


class AgingAmountsOut(ApiModel):
    not_due: int
    days_1_30: int
    days_31_60: int
    days_61_90: int
    over_90: int
    disputed: int
    total: int


class AgingRowOut(ApiModel):
    account_code: str
    name: str
    segment: str
    amounts: AgingAmountsOut
    credit_cents: int


class AgedBalanceOut(ApiModel):
    as_of: date
    debtors: int
    totals: AgingAmountsOut
    rows: list[AgingRowOut]
