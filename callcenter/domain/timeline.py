"""The debtor's timeline, in French, from the events table (calls, emails, promises, payments…)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.domain.calls import ANSWERED_BY_LABELS, STATUS_LABELS, duration_label
from callcenter.formatting import day, money, quantity
from callcenter.models import Event, User


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    at: datetime
    type: str
    kind: str
    title: str
    detail: str
    actor: str | None


# Field names stored in events, as the reader says them.
FIELD_LABELS = {
    "full_name": "nom",
    "phone": "téléphone",
    "mobile": "mobile",
    "email": "e-mail",
    "name": "raison sociale",
    "siren": "SIREN",
    "segment": "segment",
    "payment_terms_days": "délai de paiement",
    "address_line1": "adresse",
    "address_line2": "complément d'adresse",
    "postal_code": "code postal",
    "city": "ville",
    "country": "pays",
}


def _fields(names: list[str]) -> str:
    return ", ".join(FIELD_LABELS.get(name, name) for name in names)


def _amount(payload: dict[str, Any], key: str = "amount_cents") -> str:
    value = payload.get(key)
    return money(int(value)) if value is not None else ""


def _date(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    return day(date.fromisoformat(value)) if value else ""


def _commitment(payload: dict[str, Any]) -> str:
    text = f"{_amount(payload)} pour le {_date(payload, 'due_on')}"
    if payload.get("paid_cents"):
        text += f", reçu {_amount(payload, 'paid_cents')}"
    return text


def _call(payload: dict[str, Any]) -> str:
    parts = [payload.get("disposition_label", "")]
    if payload.get("reason_label"):
        parts.append(f"motif : {payload['reason_label']}")
    if payload.get("contact_name"):
        parts.append(f"avec {payload['contact_name']}")
    if payload.get("notes"):
        parts.append(f"« {payload['notes']} »")
    return " — ".join(part for part in parts if part)


def _correction(payload: dict[str, Any]) -> str:
    before = (payload.get("before") or {}).get("disposition_label", "")
    after = (payload.get("after") or {}).get("disposition_label", "")
    return f"« {before} » remplacée par « {after} »"


def _call_status(payload: dict[str, Any]) -> str:
    status = payload.get("status", "")
    text = STATUS_LABELS.get(status, status)
    if status == "in-progress" and payload.get("answered_by"):
        text += " par " + ANSWERED_BY_LABELS.get(payload["answered_by"], payload["answered_by"])
    if status == "completed" and payload.get("duration_seconds") is not None:
        text += f", durée {duration_label(payload['duration_seconds'])}"
    return text


def _recording(payload: dict[str, Any]) -> str:
    if payload.get("status") != "completed":
        return "aucun enregistrement reçu"
    if payload.get("duration_seconds"):
        return f"durée {duration_label(payload['duration_seconds'])}"
    return "disponible"


def _import(payload: dict[str, Any]) -> str:
    parts = [payload.get("source", "")]
    if payload.get("debtor_created"):
        parts.append("débiteur créé")
    if payload.get("debtor_changed"):
        parts.append("fiche mise à jour : " + _fields(payload["debtor_changed"]))
    for key, singular, plural in (
        ("invoices_created", "facture créée", "factures créées"),
        ("invoices_updated", "facture mise à jour", "factures mises à jour"),
        ("payments", "paiement", "paiements"),
    ):
        if payload.get(key):
            parts.append(quantity(int(payload[key]), singular, plural))
    return " — ".join(str(part) for part in parts if part)


def _transcribed(payload: dict[str, Any]) -> str:
    labels = {"agent": "agent", "debtor": "débiteur", "mixed": "appel"}
    tracks = ", ".join(labels.get(track, track) for track in payload.get("tracks", []))
    return f"{payload.get('words', 0)} mots — canaux : {tracks}"


def _flagged(payload: dict[str, Any]) -> str:
    seconds = int(float(payload.get("at_seconds") or 0))
    minutes, rest = divmod(seconds, 60)
    moment = f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"
    phrase = payload.get("phrase", "")
    return f"« {payload.get('sentence', '')} » à {moment} (phrase de pression : {phrase})"


LETTER_KIND_LABELS = {"relance": "Lettre de relance", "mise_en_demeure": "Mise en demeure"}
ENTRY_LABELS = {"catch_up": "entrée par l'étape de rattrapage (encours ancien)"}


def _dunning_step(payload: dict[str, Any]) -> str:
    parts = [f"« {payload.get('step', '')} »"]
    if payload.get("note"):
        parts.append(payload["note"])
    if payload.get("entered_by") in ENTRY_LABELS:
        parts.append(ENTRY_LABELS[payload["entered_by"]])
    return " — ".join(parts)


KINDS: dict[str, tuple[str, str, Callable[[dict[str, Any]], str]]] = {
    "call.outcome": ("call", "Appel", _call),
    "call.corrected": ("call", "Issue de l'appel corrigée", _correction),
    "call.started": (
        "call",
        "Appel lancé",
        lambda p: " — ".join(
            part for part in (p.get("to_number", ""), p.get("contact_name", "")) if part
        ),
    ),
    "call.status": ("call", "Suivi d'appel", _call_status),
    "call.consent_announced": ("call", "Annonce d'enregistrement diffusée", lambda p: ""),
    "call.recording": ("call", "Enregistrement de l'appel", _recording),
    "call.recording_objection": (
        "call",
        "Opposition à l'enregistrement",
        lambda p: "l'enregistrement est arrêté et supprimé",
    ),
    "call.recording_deleted": ("call", "Enregistrement supprimé", lambda p: p.get("reason", "")),
    "call.transcribed": ("call", "Appel transcrit", _transcribed),
    "call.transcription_failed": (
        "call",
        "Transcription impossible",
        lambda p: p.get("reason", ""),
    ),
    "call.flagged": ("call", "Appel signalé au superviseur", _flagged),
    "promise.created": ("promise", "Promesse de paiement", _commitment),
    "promise.kept": ("promise", "Promesse tenue", _commitment),
    "promise.partial": ("promise", "Promesse partiellement tenue", _commitment),
    "promise.broken": ("promise", "Promesse non tenue", _commitment),
    "promise.cancelled": ("promise", "Promesse annulée", _commitment),
    "payment_plan.created": (
        "promise",
        "Échéancier accepté",
        lambda p: f"{_amount(p, 'total_cents')} en {p.get('instalments', '?')} échéances",
    ),
    "payment_plan.kept": ("promise", "Échéancier respecté", lambda p: _amount(p, "total_cents")),
    "payment_plan.broken": (
        "promise",
        "Échéancier non respecté",
        lambda p: _amount(p, "total_cents"),
    ),
    "instalment.kept": ("promise", "Échéance payée", _commitment),
    "instalment.partial": ("promise", "Échéance partiellement payée", _commitment),
    "instalment.broken": ("promise", "Échéance impayée", _commitment),
    "dispute.opened": (
        "dispute",
        "Litige ouvert",
        lambda p: f"{p.get('category_label', '')} — {p.get('description', '')}".strip(" —"),
    ),
    "dispute.resolved": ("dispute", "Litige résolu", lambda p: p.get("resolution", "")),
    "callback.scheduled": (
        "callback",
        "Rappel prévu",
        lambda p: p.get("when_label", "") + (" (personnel)" if p.get("personal") else ""),
    ),
    "contact.updated": (
        "contact",
        "Coordonnées corrigées",
        lambda p: _fields(p.get("fields", [])),
    ),
    "email.sent": ("email", "E-mail envoyé", lambda p: p.get("subject", "")),
    "email.cancelled": ("email", "E-mail annulé", lambda p: p.get("reason", "")),
    "email.dead": ("email", "E-mail en échec", lambda p: p.get("error", "")),
    "email.resend": ("email", "E-mail renvoyé", lambda p: ""),
    "payments.applied": (
        "payment",
        "Paiements reçus",
        lambda p: f"solde après imputation : {_amount(p, 'open_cents')}",
    ),
    "import": ("import", "Import", _import),
    "queue.skipped": ("queue", "Dossier passé", lambda p: p.get("reason", "")),
    "debtor.do_not_call": ("queue", "Ne plus appeler", lambda p: p.get("reason", "")),
    "debtor.insolvency": (
        "queue",
        "Procédure collective",
        lambda p: p.get("status") or p.get("insolvency_status") or "",
    ),
    "debtor.reassigned": ("queue", "Gestionnaire changé", lambda p: p.get("agent", "")),
    "callback.reassigned": ("callback", "Rappel réattribué", lambda p: p.get("agent", "")),
    "queue.force_released": ("queue", "Dossier libéré par un superviseur", lambda p: ""),
    "letter.generated": (
        "letter",
        "Courrier généré",
        lambda p: p.get("label") or LETTER_KIND_LABELS.get(p.get("kind", ""), ""),
    ),
    "dunning.step_reached": ("queue", "Étape de relance atteinte", _dunning_step),
    "dunning.step_done": ("queue", "Étape de relance faite", _dunning_step),
    "dunning.approved": ("queue", "Étape validée par un superviseur", _dunning_step),
    "dunning.sent_back": (
        "queue",
        "Renvoyé aux appels par un superviseur",
        lambda p: f"« {p.get('step', '')} » écartée, reprise à « {p.get('to', '')} »",
    ),
    "dunning.moved": (
        "queue",
        "Appel avancé par un superviseur",
        lambda p: f"« {p.get('step', '')} » → « {p.get('to', '')} » : {p.get('reason', '')}",
    ),
    "dunning.closed": ("queue", "Relance terminée", lambda p: p.get("note", "")),
    "ladder.email_queued": ("email", "Relance par e-mail", lambda p: p.get("step", "")),
    "recording.purged": ("call", "Enregistrement supprimé (durée de conservation)", lambda p: ""),
}


def describe(event: Event, actor: str | None) -> TimelineEntry:
    kind, title, detail = KINDS.get(event.type, ("other", event.type, lambda _p: ""))
    try:
        text = detail(event.payload or {})
    except (KeyError, TypeError, ValueError):
        text = ""
    return TimelineEntry(
        id=event.id,
        at=event.at,
        type=event.type,
        kind=kind,
        title=title,
        detail=text,
        actor=actor,
    )


def describe_events(session: Session, *, debtor_id: int, limit: int) -> list[TimelineEntry]:
    """Newest first, with the name of who did it (plain rows: a long history stays cheap)."""
    rows = session.execute(
        select(Event.id, Event.at, Event.type, Event.payload, Event.actor_id, User.full_name)
        .join(User, col(User.id) == Event.actor_id, isouter=True)
        .where(Event.debtor_id == debtor_id)
        .order_by(sa.desc(Event.at), sa.desc(Event.id))
        .limit(limit)
    ).all()
    return [
        describe(Event(id=id_, at=at, type=type_, payload=payload, actor_id=actor_id), actor)
        for id_, at, type_, payload, actor_id, actor in rows
    ]


def count_events(session: Session, *, debtor_id: int) -> int:
    return session.execute(
        select(sa.func.count()).select_from(Event).where(Event.debtor_id == debtor_id)
    ).scalar_one()
