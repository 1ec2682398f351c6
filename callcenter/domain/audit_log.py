"""The audit log as a supervisor reads it: who did what, to which debtor, when, in French."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.domain.accounts import AGENT_STATE_LABELS, ROLE_LABELS
from callcenter.domain.queue.ladder import SEGMENT_TITLES
from callcenter.domain.timeline import KINDS
from callcenter.models import Debtor, Event, User

PAGE_SIZE = 50
MAX_EXPORT_ROWS = 50_000
# Call mechanics, written for every call: the timeline tells them, the audit log does not.
ROUTINE_TYPES = ("call.status", "call.started", "call.consent_announced", "call.transcribed")


def _agent_state(payload: dict[str, Any]) -> str:
    before = AGENT_STATE_LABELS.get(payload.get("from"), "")
    after = AGENT_STATE_LABELS.get(payload.get("to"), "")
    return f"{before} → {after}" if before else after


def _changed(payload: dict[str, Any]) -> str:
    after = payload.get("after") or {}
    label = after.get("label") or payload.get("name") or ""
    return label


def _segment(payload: dict[str, Any]) -> str:
    segment = payload.get("segment")
    return f"segment {SEGMENT_TITLES.get(segment, segment)}" if segment else ""


def _user(payload: dict[str, Any]) -> str:
    parts = [payload.get("email") or ""]
    if payload.get("role") in ROLE_LABELS:
        parts.append(ROLE_LABELS[payload["role"]])
    return " — ".join(part for part in parts if part)


# Actions that have no place on a debtor's timeline: their French label and detail.
ADMIN_KINDS: dict[str, tuple[str, Any]] = {
    "agent.state": ("Changement d'état", _agent_state),
    "call.corrected": ("Issue de l'appel corrigée", None),
    "campaign.paused": ("Campagne suspendue", _changed),
    "campaign.resumed": ("Campagne reprise", _changed),
    "queue.weights": (
        "Pondérations de la file modifiées",
        lambda p: f"{len(p)} réglage{'s' if len(p) > 1 else ''} modifié{'s' if len(p) > 1 else ''}",
    ),
    "disposition.updated": ("Issue du catalogue modifiée", _changed),
    "ladder.step_saved": ("Étape de relance enregistrée", _segment),
    "ladder.step_deleted": ("Étape de relance supprimée", _segment),
    "import_mapping.saved": ("Correspondance d'import enregistrée", lambda p: ""),
    "import_mapping.deleted": ("Correspondance d'import supprimée", lambda p: ""),
    "import.applied": ("Import appliqué", lambda p: ""),
    "user.created": ("Compte créé", _user),
    "user.updated": ("Compte modifié", _user),
    "user.password_changed": ("Mot de passe changé", _user),
    "user.login": ("Connexion", lambda p: ""),
    "api.call": (
        "Appel de l'API",
        lambda p: f"clé « {p['key']} » : {p['method']} {p['path']} → {p['status']}",
    ),
    "api.token_created": (
        "Clé d'API créée",
        lambda p: f"« {p['name']} », {'lecture et écriture' if p.get('write') else 'lecture'}",
    ),
    "api.token_revoked": ("Clé d'API révoquée", lambda p: f"« {p['name']} »"),
    "webhook.endpoint_created": ("Adresse de notification ajoutée", lambda p: p["url"]),
    "webhook.endpoint_disabled": ("Adresse de notification désactivée", lambda p: p["url"]),
    "webhook.resend": ("Notification renvoyée", lambda p: ""),
}


def audit_label(event_type: str) -> str:
    """The French name of an audited action (the timeline's where it has one)."""
    if event_type in ADMIN_KINDS:
        return ADMIN_KINDS[event_type][0]
    if event_type in KINDS:
        return KINDS[event_type][1]
    return "Autre action"


def audit_detail(event_type: str, payload: dict[str, Any]) -> str:
    describe = ADMIN_KINDS.get(event_type, (None, None))[1]
    if describe is None and event_type in KINDS:
        describe = KINDS[event_type][2]
    if describe is None:
        return ""
    try:
        return describe(payload or {})
    except (KeyError, TypeError, ValueError, AttributeError):
        return ""


@dataclass(frozen=True)
class AuditFilters:
    person_id: int | None = None
    debtor: str = ""  # account code, or part of the name
    day: date | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    person: str
    action: str
    debtor_name: str
    account_code: str
    detail: str


def _statement(filters: AuditFilters, zone: ZoneInfo):
    statement = (
        select(Event, User.full_name, Debtor.name, Debtor.account_code)
        .join(User, col(User.id) == Event.actor_id)
        .outerjoin(Debtor, col(Debtor.id) == Event.debtor_id)
        .where(col(Event.actor_id).is_not(None), col(Event.type).not_in(ROUTINE_TYPES))
    )
    if filters.person_id is not None:
        statement = statement.where(Event.actor_id == filters.person_id)
    needle = filters.debtor.strip().lower()
    if needle:
        statement = statement.where(
            sa.or_(
                sa.func.lower(Debtor.account_code) == needle,
                sa.func.lower(Debtor.name).contains(needle, autoescape=True),
            )
        )
    if filters.day is not None:
        start = datetime.combine(filters.day, time(0), tzinfo=zone)
        end = datetime.combine(filters.day + timedelta(days=1), time(0), tzinfo=zone)
        statement = statement.where(Event.at >= start, Event.at < end)
    return statement.order_by(col(Event.at).desc(), col(Event.id).desc())


def _entry(row) -> AuditEntry:
    event, person, debtor_name, account_code = row
    return AuditEntry(
        id=event.id,
        at=event.at,
        person=person,
        action=audit_label(event.type),
        debtor_name=debtor_name or "",
        account_code=account_code or "",
        detail=audit_detail(event.type, event.payload),
    )


def audit_page(
    session: Session, *, filters: AuditFilters, zone: ZoneInfo, page: int = 1
) -> tuple[list[AuditEntry], bool]:
    """One page of audited actions, newest first, and whether another page follows."""
    offset = (max(page, 1) - 1) * PAGE_SIZE
    rows = session.exec(_statement(filters, zone).offset(offset).limit(PAGE_SIZE + 1)).all()
    return [_entry(row) for row in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE


def iter_audit_entries(
    session: Session, *, filters: AuditFilters, zone: ZoneInfo, chunk: int = 500
) -> Iterator[AuditEntry]:
    """Every audited action matching the filters, newest first, up to ``MAX_EXPORT_ROWS``."""
    for offset in range(0, MAX_EXPORT_ROWS, chunk):
        rows = session.exec(_statement(filters, zone).offset(offset).limit(chunk)).all()
        yield from map(_entry, rows)
        if len(rows) < chunk:
            return


def audit_people(session: Session) -> list[tuple[int, str]]:
    """Everyone who may appear in the log (every account), by name."""
    return [
        (user_id, name)
        for user_id, name in session.exec(select(User.id, User.full_name).order_by(User.full_name))
    ]
