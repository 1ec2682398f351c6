"""The outcome catalogue an agent chooses from after a call.

The catalogue lives in the ``dispositions`` table so that administrators can
rename, reorder or deactivate entries; these defaults are inserted when missing
and never overwrite an administrator's change. The first nine active entries
get the keyboard shortcuts 1–9 on the agent's screen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlmodel import Session, select

from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.models import Disposition


@dataclass(frozen=True)
class DefaultDisposition:
    code: str
    label: str
    human_answered: bool = False
    right_party_contact: bool = False
    is_promise: bool = False
    is_payment_plan: bool = False
    is_dispute: bool = False
    is_callback: bool = False
    is_final: bool = False
    is_do_not_call: bool = False
    recap_template: str | None = None


DEFAULT_DISPOSITIONS: tuple[DefaultDisposition, ...] = (
    DefaultDisposition(
        "promise", "Promesse de paiement", True, True, is_promise=True, recap_template="promise"
    ),
    DefaultDisposition(
        "payment_plan",
        "Échéancier accepté",
        True,
        True,
        is_payment_plan=True,
        recap_template="payment_plan",
    ),
    DefaultDisposition("dispute", "Litige", True, True, is_dispute=True, recap_template="dispute"),
    DefaultDisposition("callback", "Rappel demandé", True, False, is_callback=True),
    DefaultDisposition("already_paid", "Déjà payé", True, True, recap_template="already_paid"),
    DefaultDisposition("wrong_party", "Mauvais interlocuteur", True, False),
    DefaultDisposition("wrong_number", "Faux numéro"),
    DefaultDisposition("voicemail", "Répondeur", recap_template="attempt"),
    DefaultDisposition("no_answer", "Pas de réponse", recap_template="attempt"),
    DefaultDisposition("refusal", "Refus de payer", True, True),
    DefaultDisposition(
        "invoice_not_received",
        "Facture non reçue",
        True,
        True,
        recap_template="invoice_resend",
    ),
    DefaultDisposition(
        "do_not_call", "Ne plus appeler", True, False, is_final=True, is_do_not_call=True
    ),
)


def sync_default_dispositions(session: Session) -> int:
    """Insert the default entries that are missing; returns how many were added."""
    existing = set(session.exec(select(Disposition.code)).all())
    added = 0
    for position, default in enumerate(DEFAULT_DISPOSITIONS, start=1):
        if default.code in existing:
            continue
        session.add(Disposition(position=position, **asdict(default)))
        added += 1
    session.flush()
    return added


def active_dispositions(session: Session) -> list[Disposition]:
    return list(
        session.exec(
            select(Disposition)
            .where(Disposition.active)
            .order_by(Disposition.position, Disposition.id)
        ).all()
    )


def update_disposition(
    session: Session,
    *,
    disposition_id: int,
    label: str,
    position: int,
    active: bool,
    actor_id: int,
    now: datetime,
) -> Disposition:
    """Rename, reorder or switch off an outcome; its code and effects stay as they are."""
    disposition = session.get(Disposition, disposition_id)
    if disposition is None:
        raise DomainError("Issue d'appel introuvable.")
    label = label.strip()
    errors = {}
    if not label or len(label) > 120:
        errors["label"] = "Le libellé est obligatoire (120 caractères au plus)."
    if not 0 <= position <= 999:
        errors["position"] = "L'ordre doit être un nombre entre 0 et 999."
    if errors:
        raise ValidationFailed(errors)
    before = {
        "label": disposition.label,
        "position": disposition.position,
        "active": disposition.active,
    }
    disposition.label, disposition.position, disposition.active = label, position, active
    record_event(
        session,
        type="disposition.updated",
        actor_id=actor_id,
        payload={
            "code": disposition.code,
            "before": before,
            "after": {"label": label, "position": position, "active": active},
        },
        at=now,
    )
    session.flush()
    return disposition
