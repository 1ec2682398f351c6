"""Every table of the product.

Money is stored in integer cents. Timestamps are aware UTC datetimes: the
``UTCDateTime`` column type stores naive UTC (SQLite keeps no zone) and hands
back aware values, so no comparison ever mixes naive and aware times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database; naive values are refused."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: timestamps are aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def timestamp(*, nullable: bool = True, index: bool = False, default_now: bool = False) -> Any:
    """A UTC timestamp field."""
    if default_now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=nullable, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AgentState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class QueueState(StrEnum):
    READY = "ready"
    CLAIMED = "claimed"
    EXCLUDED = "excluded"
    DONE = "done"


class PromiseStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    PARTIAL = "partial"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class DisputeStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    REJECTED = "rejected"


class CallbackStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    full_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.AGENT, max_length=20)
    active: bool = True
    agent_state: str = Field(default=AgentState.OFFLINE, max_length=20)
    state_since: datetime | None = timestamp()
    pause_code: str | None = Field(default=None, max_length=40)
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = timestamp(nullable=False, default_now=True)


class LoginAttempt(SQLModel, table=True):
    """One login try, kept to throttle guessing across every web process."""

    __tablename__ = "login_attempts"
    __table_args__ = (sa.Index("ix_login_attempts_email_at", "email", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    remote_addr: str = Field(default="", max_length=64)
    succeeded: bool = False
    at: datetime = timestamp(nullable=False, default_now=True, index=True)


class Debtor(SQLModel, table=True):
    __tablename__ = "debtors"

    id: int | None = Field(default=None, primary_key=True)
    account_code: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=200, index=True)
    siren: str | None = Field(default=None, max_length=9, index=True)
    segment: str = Field(default="standard", max_length=40)
    time_zone: str = Field(default="Europe/Paris", max_length=64)
    language: str = Field(default="fr", max_length=8)
    owner_id: int | None = Field(default=None, foreign_key="users.id")
    payment_terms_days: int = 30
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=12)
    city: str | None = Field(default=None, max_length=120)
    country: str | None = Field(default=None, max_length=80)
    do_not_call: bool = False
    insolvency_status: str | None = Field(default=None, max_length=40)
    insolvency_date: date | None = None
    risk: int = 0
    credit_cents: int = 0
    created_at: datetime = timestamp(nullable=False, default_now=True)
    updated_at: datetime = timestamp(nullable=False, default_now=True)


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", index=True)
    full_name: str = Field(max_length=120)
    civility: str | None = Field(default=None, max_length=10)  # « Madame » or « Monsieur »
    role: str = Field(default="", max_length=80)
    phone: str | None = Field(default=None, max_length=16, index=True)
    mobile: str | None = Field(default=None, max_length=16)
    email: str | None = Field(default=None, max_length=254)
    is_billing: bool = False
    email_opt_out: bool = False
    created_at: datetime = timestamp(nullable=False, default_now=True)


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        sa.Index("ix_invoices_debtor_status_due", "debtor_id", "status", "due_date"),
        sa.Index(
            "ix_invoices_open_aging",
            "debtor_id",
            "due_date",
            "disputed",
            "open_amount_cents",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id")
    number: str = Field(max_length=60, unique=True, index=True)
    issue_date: date
    due_date: date
    amount_cents: int
    open_amount_cents: int
    currency: str = Field(default="EUR", max_length=3)
    status: str = Field(default=InvoiceStatus.OPEN, max_length=20)
    disputed: bool = False
    paused_until: date | None = None
    pause_reason: str | None = Field(default=None, max_length=200)
    reminder_count: int = 0
    dunning_stage: str | None = Field(default=None, max_length=40)
    last_reminder_at: datetime | None = timestamp()
    pdf_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp(nullable=False, default_now=True)
    updated_at: datetime = timestamp(nullable=False, default_now=True)


class Payment(SQLModel, table=True):
    __tablename__ = "payments"

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", index=True)
    reference: str = Field(max_length=80, unique=True, index=True)
    paid_on: date = Field(index=True)
    amount_cents: int
    method: str = Field(default="virement", max_length=40)
    invoice_reference: str | None = Field(default=None, max_length=60)
    unallocated_cents: int = 0
    unmatched: bool = False
    created_at: datetime = timestamp(nullable=False, default_now=True)


class PaymentAllocation(SQLModel, table=True):
    __tablename__ = "payment_allocations"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    amount_cents: int


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=120)
    kind: str = Field(default="collection", max_length=20)
    paused: bool = False
    created_at: datetime = timestamp(nullable=False, default_now=True)


class Scenario(SQLModel, table=True):
    """The dunning ladder of one debtor segment."""

    __tablename__ = "scenarios"

    id: int | None = Field(default=None, primary_key=True)
    segment: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=120)


class ScenarioStep(SQLModel, table=True):
    """One rung of a ladder: an action so many days from the due date (negative: before)."""

    __tablename__ = "scenario_steps"
    __table_args__ = (sa.UniqueConstraint("scenario_id", "offset_days", "action"),)

    id: int | None = Field(default=None, primary_key=True)
    scenario_id: int = Field(foreign_key="scenarios.id", index=True)
    offset_days: int
    action: str = Field(max_length=40)
    label: str = Field(max_length=120)
    campaign_id: int | None = Field(default=None, foreign_key="campaigns.id")
    condition: str | None = Field(default=None, max_length=200)
    max_attempts: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    catch_up: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class CaseStatus(StrEnum):
    ACTIVE = "active"
    APPROVAL = "approval"
    CLOSED = "closed"


class DunningCase(SQLModel, table=True):
    """Where one debtor stands in its dunning process: the step reached, when, and what was done.

    A step's action is done once (email queued, letter recorded, debtor reached or attempts
    exhausted, approval given); the next step is due ``next_due_at``, counted from that action,
    so the process follows what was done rather than the invoices' age. The step's offset,
    action and label are kept here too: an admin's later edit of the ladder applies from the
    next step on, never retroactively.
    """

    __tablename__ = "dunning_cases"

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", unique=True)
    status: str = Field(default=CaseStatus.ACTIVE, max_length=20, index=True)
    step_id: int | None = None
    step_offset_days: int = 0
    step_action: str = Field(max_length=40)
    step_label: str = Field(max_length=120)
    reached_at: datetime = timestamp(nullable=False)
    done_at: datetime | None = timestamp()
    action_note: str | None = Field(default=None, max_length=200)
    next_due_at: datetime | None = timestamp()
    hold_reason: str | None = Field(default=None, max_length=200)
    entered_by: str = Field(default="calendar", max_length=20)
    opened_at: datetime = timestamp(nullable=False)
    closed_at: datetime | None = timestamp()
    updated_at: datetime = timestamp(nullable=False)


HELD_STATE = sa.text("state = 'claimed'")


class QueueItem(SQLModel, table=True):
    __tablename__ = "queue_items"
    __table_args__ = (
        sa.Index("ix_queue_items_state_score", "state", "score"),
        sa.Index(
            "ix_queue_items_holder",
            "claimed_by_id",
            sqlite_where=HELD_STATE,
            postgresql_where=HELD_STATE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", unique=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaigns.id")
    stage: str | None = Field(default=None, max_length=40)
    score: float = 0
    reasons: list[dict[str, Any]] = json_field(list)
    state: str = Field(default=QueueState.READY, max_length=20)
    exclusion_reasons: list[str] = json_field(list)
    claimed_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    claimed_at: datetime | None = timestamp()
    lease_until: datetime | None = timestamp()
    next_eligible_at: datetime | None = timestamp()
    refreshed_at: datetime | None = timestamp()


class Disposition(SQLModel, table=True):
    """The outcome catalogue agents choose from after a call."""

    __tablename__ = "dispositions"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    label: str = Field(max_length=120)
    position: int = 0
    human_answered: bool = False
    right_party_contact: bool = False
    is_promise: bool = False
    is_payment_plan: bool = False
    is_dispute: bool = False
    is_callback: bool = False
    is_final: bool = False
    is_do_not_call: bool = False
    recap_template: str | None = Field(default=None, max_length=60)
    active: bool = True


class Call(SQLModel, table=True):
    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_debtor_created", "debtor_id", "created_at"),
        sa.Index("ix_calls_day", "created_at", "agent_id", "disposition_code", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id")
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    agent_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    provider: str = Field(default="simulated", max_length=20)
    provider_call_id: str | None = Field(default=None, max_length=64, unique=True)
    to_number: str | None = Field(default=None, max_length=16)
    from_number: str | None = Field(default=None, max_length=16)
    provider_status: str | None = Field(default=None, max_length=20)
    answered_by: str | None = Field(default=None, max_length=40)
    started_at: datetime | None = timestamp()
    answered_at: datetime | None = timestamp()
    ended_at: datetime | None = timestamp()
    wrap_up_ended_at: datetime | None = timestamp()
    duration_seconds: int | None = None
    recording_sid: str | None = Field(default=None, max_length=64)
    recording_url: str | None = Field(default=None, max_length=500)
    recording_duration_seconds: int | None = None
    disposition_code: str | None = Field(default=None, max_length=40)
    non_payment_reason: str | None = Field(default=None, max_length=40)
    notes: str = ""
    flagged: bool = False
    created_at: datetime = timestamp(nullable=False, default_now=True)


class Promise(SQLModel, table=True):
    __tablename__ = "promises"
    __table_args__ = (
        sa.Index("ix_promises_status_date", "status", "promised_date"),
        sa.Index("ix_promises_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", index=True)
    call_id: int | None = Field(default=None, foreign_key="calls.id")
    agent_id: int | None = Field(default=None, foreign_key="users.id")
    amount_cents: int
    promised_date: date
    grace_days: int = 3
    tolerance_cents: int = 0
    paid_cents: int = 0
    status: str = Field(default=PromiseStatus.PENDING, max_length=20)
    resolved_at: datetime | None = timestamp()
    created_at: datetime = timestamp(nullable=False, default_now=True)


class PromiseInvoice(SQLModel, table=True):
    __tablename__ = "promise_invoices"

    promise_id: int = Field(foreign_key="promises.id", primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", primary_key=True)


class PaymentPlan(SQLModel, table=True):
    __tablename__ = "payment_plans"

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", index=True)
    call_id: int | None = Field(default=None, foreign_key="calls.id")
    agent_id: int | None = Field(default=None, foreign_key="users.id")
    total_cents: int
    status: str = Field(default=PromiseStatus.PENDING, max_length=20)
    created_at: datetime = timestamp(nullable=False, default_now=True)


class Instalment(SQLModel, table=True):
    __tablename__ = "instalments"
    __table_args__ = (sa.UniqueConstraint("plan_id", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="payment_plans.id", index=True)
    sequence: int
    due_date: date
    amount_cents: int
    paid_cents: int = 0
    status: str = Field(default=PromiseStatus.PENDING, max_length=20)


class Dispute(SQLModel, table=True):
    __tablename__ = "disputes"

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", index=True)
    call_id: int | None = Field(default=None, foreign_key="calls.id")
    opened_by_id: int | None = Field(default=None, foreign_key="users.id")
    category: str = Field(max_length=40)
    description: str = ""
    status: str = Field(default=DisputeStatus.OPEN, max_length=20)
    resolution: str | None = None
    created_at: datetime = timestamp(nullable=False, default_now=True)
    resolved_at: datetime | None = timestamp()


class DisputeInvoice(SQLModel, table=True):
    __tablename__ = "dispute_invoices"

    dispute_id: int = Field(foreign_key="disputes.id", primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", primary_key=True)


class Callback(SQLModel, table=True):
    """A call-back agreed with the debtor: personal (one agent) or for anyone."""

    __tablename__ = "callbacks"
    __table_args__ = (sa.Index("ix_callbacks_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int = Field(foreign_key="debtors.id", index=True)
    call_id: int | None = Field(default=None, foreign_key="calls.id")
    agent_id: int | None = Field(default=None, foreign_key="users.id")
    personal: bool = False
    due_at: datetime = timestamp(nullable=False)
    reassign_after: datetime | None = timestamp()
    status: str = Field(default=CallbackStatus.PENDING, max_length=20)
    note: str = ""
    created_at: datetime = timestamp(nullable=False, default_now=True)


class OutboxEmail(SQLModel, table=True):
    """An email to send, written in the same transaction as what caused it."""

    __tablename__ = "outbox_emails"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=120, unique=True)
    debtor_id: int | None = Field(default=None, foreign_key="debtors.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    call_id: int | None = Field(default=None, foreign_key="calls.id")
    template: str = Field(max_length=60)
    to_address: str = Field(max_length=254)
    reply_to: str | None = Field(default=None, max_length=254)
    subject: str = Field(max_length=250)
    body_text: str
    body_html: str
    status: str = Field(default=EmailStatus.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = timestamp(nullable=False, default_now=True)
    message_id: str = Field(max_length=250)
    last_error: str | None = None
    sent_at: datetime | None = timestamp(index=True)
    created_at: datetime = timestamp(nullable=False, default_now=True)


class Event(SQLModel, table=True):
    """The debtor's timeline and the audit log: who did what, when."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_debtor_at", "debtor_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    debtor_id: int | None = Field(default=None, foreign_key="debtors.id")
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    type: str = Field(max_length=60, index=True)
    payload: dict[str, Any] = json_field(dict)
    at: datetime = timestamp(nullable=False, default_now=True, index=True)


class Transcript(SQLModel, table=True):
    __tablename__ = "transcripts"
    __table_args__ = (sa.UniqueConstraint("call_id", "track"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    track: str = Field(max_length=20)
    text: str = ""
    words: list[dict[str, Any]] = json_field(list)
    confidence: float | None = None
    created_at: datetime = timestamp(nullable=False, default_now=True)


class ImportMapping(SQLModel, table=True):
    """A saved column mapping of one source (file header → field), reused at each import."""

    __tablename__ = "import_mappings"
    __table_args__ = (sa.UniqueConstraint("name", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    kind: str = Field(max_length=20)
    mapping: dict[str, Any] = json_field(dict)
    created_at: datetime = timestamp(nullable=False, default_now=True)
    updated_at: datetime = timestamp(nullable=False, default_now=True)


class ImportBatch(SQLModel, table=True):
    """One uploaded file: its dry-run report, then whether it was applied."""

    __tablename__ = "import_batches"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    source_name: str = Field(max_length=255)
    mapping_name: str | None = Field(default=None, max_length=80)
    status: str = Field(default="checked", max_length=20)
    report: dict[str, Any] = json_field(dict)
    error_count: int = 0
    stored_path: str | None = Field(default=None, max_length=500)
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = timestamp(nullable=False, default_now=True, index=True)
    applied_at: datetime | None = timestamp()


class SettingOverride(SQLModel, table=True):
    """A value a supervisor changed from the UI, applied over ``config.toml`` (section, key)."""

    __tablename__ = "settings_overrides"
    __table_args__ = (sa.UniqueConstraint("section", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    section: str = Field(max_length=40)
    key: str = Field(max_length=60)
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_by_id: int | None = Field(default=None, foreign_key="users.id")
    updated_at: datetime = timestamp(nullable=False, default_now=True)


class LivePartial(SQLModel, table=True):
    """What the recogniser heard so far on one track of a call in progress (Media Streams).

    Kept in the database so any web process can show it to the agent.
    """

    __tablename__ = "live_partials"
    __table_args__ = (sa.UniqueConstraint("call_id", "track"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    track: str = Field(max_length=20)
    partial: str = ""
    heard: str = ""
    updated_at: datetime = timestamp(nullable=False, default_now=True)


class ApiToken(SQLModel, table=True):
    """A key for the creditor's systems (ERP): shown once, stored as its SHA-256 only."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    can_write: bool = False
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = timestamp(nullable=False, default_now=True)
    revoked_at: datetime | None = timestamp()
    last_used_at: datetime | None = timestamp()


class ApiIdempotency(SQLModel, table=True):
    """The answer to a write request sent with an ``Idempotency-Key``, replayed on a retry."""

    __tablename__ = "api_idempotency"
    __table_args__ = (sa.UniqueConstraint("token_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(foreign_key="api_tokens.id")
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = json_field(dict)
    created_at: datetime = timestamp(nullable=False, default_now=True, index=True)


class WebhookEndpoint(SQLModel, table=True):
    """An address of the creditor's systems told of promises and disputes as they happen.
    The secret signs each delivery (HMAC-SHA256); it is kept to sign, shown once."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=100)
    active: bool = True
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = timestamp(nullable=False, default_now=True)


class WebhookDelivery(SQLModel, table=True):
    """One event to deliver to one endpoint: retried with backoff, then dead (listed for a
    supervisor, who may send it again)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id", index=True)
    event_type: str = Field(max_length=60)
    payload: dict[str, Any] = json_field(dict)
    status: str = Field(default=EmailStatus.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = timestamp(nullable=False, default_now=True)
    last_error: str | None = None
    created_at: datetime = timestamp(nullable=False, default_now=True)
    delivered_at: datetime | None = timestamp()
