"""Supervisor controls: each one changes one thing and writes an audit Event with its actor.

Pause or resume a campaign, change the queue weights (stored in ``settings_overrides`` and
applied over ``config.toml`` at the next queue refresh), reassign a callback or a debtor to
an agent, force-release a claimed debtor, mark a debtor do-not-call or insolvent, resend a
dead email. The caller commits.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.config import Settings
from callcenter.domain.audit import record_event
from callcenter.domain.calls import is_terminal
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.outbox import resend_dead_email
from callcenter.domain.process import move_to_call
from callcenter.domain.queue.overrides import (
    QUEUE_SECTION,
    WEIGHT_LABELS,
    effective_settings,
)
from callcenter.domain.queue.refresh import refresh_debtors
from callcenter.models import (
    AgentState,
    Call,
    Callback,
    CallbackStatus,
    Campaign,
    Debtor,
    OutboxEmail,
    QueueItem,
    QueueState,
    Role,
    SettingOverride,
    User,
)

MAX_WEIGHT = 100_000.0
INSOLVENCY_STATUSES = (
    "procédure de sauvegarde",
    "redressement judiciaire",
    "liquidation judiciaire",
)


def _debtor(session: Session, debtor_id: int) -> Debtor:
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        raise DomainError("Débiteur introuvable.")
    return debtor


def _agent(session: Session, agent_id: int | None, field: str = "agent_id") -> User:
    user = session.get(User, agent_id) if agent_id else None
    if user is None or not user.active or user.role != Role.AGENT:
        raise ValidationFailed({field: "Choisissez un chargé de relance actif."})
    return user


def set_campaign_paused(
    session: Session,
    *,
    campaign_id: int,
    paused: bool,
    actor_id: int,
    now: datetime,
    settings: Settings,
) -> Campaign:
    """Pause or resume a campaign. Paused, its debtors stay in the queue but set aside with
    the reason « Campagne en pause » (no agent is handed one, the supervisor sees why);
    resumed, they are scored again at once."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("Campagne introuvable.")
    if campaign.paused == paused:
        state = "déjà en pause" if paused else "déjà active"
        raise DomainError(f"La campagne « {campaign.name} » est {state}.")
    campaign.paused = paused
    session.add(campaign)
    record_event(
        session,
        type="campaign.paused" if paused else "campaign.resumed",
        actor_id=actor_id,
        payload={"campaign_id": campaign.id, "code": campaign.code, "name": campaign.name},
        at=now,
    )
    session.flush()
    debtor_ids = session.exec(
        select(QueueItem.debtor_id).where(QueueItem.campaign_id == campaign.id)
    ).all()
    refresh_debtors(session, debtor_ids=debtor_ids, now=now, settings=settings)
    return campaign


def _parse_weight(key: str, raw: str) -> float | str:
    text = raw.strip().replace(",", ".").replace("\u202f", "").replace(" ", "")
    try:
        value = float(text)
    except ValueError:
        return f"{WEIGHT_LABELS[key]} : « {raw} » n'est pas un nombre."
    if not math.isfinite(value) or abs(value) > MAX_WEIGHT:
        return f"{WEIGHT_LABELS[key]} : indiquez un nombre entre -100 000 et 100 000."
    if value < 0 and key != "penalty_per_attempt_today":
        return f"{WEIGHT_LABELS[key]} : le poids ne peut pas être négatif."
    return value


def set_queue_weights(
    session: Session,
    *,
    values: dict[str, str],
    actor_id: int,
    now: datetime,
    settings: Settings,
) -> dict[str, tuple[float, float]]:
    """Store the weights that differ from the ones in force; returns key → (before, after).

    A value equal to ``config.toml`` removes the override. All or nothing: one bad value and
    nothing is stored.
    """
    errors: dict[str, str] = {}
    parsed: dict[str, float] = {}
    for key, raw in values.items():
        if key not in WEIGHT_LABELS:
            errors[key] = f"Poids inconnu : « {key} »."
            continue
        result = _parse_weight(key, raw)
        if isinstance(result, str):
            errors[key] = result
        else:
            parsed[key] = result
    if errors:
        raise ValidationFailed(errors)
    current = effective_settings(session, settings).queue
    changes = {
        key: (float(getattr(current, key)), value)
        for key, value in parsed.items()
        if float(getattr(current, key)) != value
    }
    if not changes:
        raise DomainError("Aucun poids n'a changé.")
    existing = {
        row.key: row
        for row in session.exec(
            select(SettingOverride).where(SettingOverride.section == QUEUE_SECTION)
        )
    }
    for key, (_before, after) in changes.items():
        row = existing.get(key)
        if after == float(getattr(settings.queue, key)):
            if row is not None:
                session.delete(row)
            continue
        row = row or SettingOverride(section=QUEUE_SECTION, key=key)
        row.value = after
        row.updated_by_id = actor_id
        row.updated_at = now
        session.add(row)
    record_event(
        session,
        type="queue.weights",
        actor_id=actor_id,
        payload={key: {"before": b, "after": a} for key, (b, a) in changes.items()},
        at=now,
    )
    session.flush()
    return changes


def reassign_callback(
    session: Session, *, callback_id: int, agent_id: int, actor_id: int, now: datetime
) -> Callback:
    """Give a pending callback to another agent (it becomes theirs, personally)."""
    callback = session.get(Callback, callback_id)
    if callback is None or callback.status != CallbackStatus.PENDING:
        raise DomainError("Seul un rappel en attente peut être réattribué.")
    agent = _agent(session, agent_id)
    previous = callback.agent_id
    callback.agent_id = agent.id
    callback.personal = True
    session.add(callback)
    record_event(
        session,
        type="callback.reassigned",
        actor_id=actor_id,
        debtor_id=callback.debtor_id,
        payload={
            "callback_id": callback.id,
            "from": previous,
            "to": agent.id,
            "agent": agent.full_name,
        },
        at=now,
    )
    session.flush()
    return callback


def reassign_debtor(
    session: Session, *, debtor_id: int, agent_id: int, actor_id: int, now: datetime
) -> Debtor:
    """Make an agent the owner (« chargé attitré ») of a debtor."""
    debtor = _debtor(session, debtor_id)
    agent = _agent(session, agent_id)
    if debtor.owner_id == agent.id:
        raise DomainError(f"{agent.full_name} est déjà le chargé attitré de ce débiteur.")
    previous = debtor.owner_id
    debtor.owner_id = agent.id
    debtor.updated_at = now
    session.add(debtor)
    record_event(
        session,
        type="debtor.reassigned",
        actor_id=actor_id,
        debtor_id=debtor.id,
        payload={"from": previous, "to": agent.id, "agent": agent.full_name},
        at=now,
    )
    session.flush()
    return debtor


def force_release(session: Session, *, debtor_id: int, actor_id: int, now: datetime) -> int:
    """Take a claimed debtor back from its agent and return it to the queue at once."""
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor_id)).first()
    if item is None or item.state != QueueState.CLAIMED:
        raise DomainError("Ce débiteur n'est réservé par aucun chargé.")
    holder = item.claimed_by_id
    if holder is not None and _call_in_hand(session, item=item, agent_id=holder):
        raise DomainError(
            "Le chargé est en appel ou en post-appel avec ce débiteur : il doit d'abord noter "
            "l'issue de l'appel. Réessayez ensuite."
        )
    result = session.execute(
        sa.update(QueueItem)
        .where(QueueItem.id == item.id, QueueItem.state == QueueState.CLAIMED)
        .values(state=QueueState.READY, claimed_by_id=None, claimed_at=None, lease_until=None)
    )
    if result.rowcount != 1:
        raise DomainError("Ce débiteur n'est réservé par aucun chargé.")
    record_event(
        session,
        type="queue.force_released",
        actor_id=actor_id,
        debtor_id=debtor_id,
        payload={"agent_id": holder},
        at=now,
    )
    session.flush()
    session.expire(item)
    return holder or 0


def _call_in_hand(session: Session, *, item: QueueItem, agent_id: int) -> bool:
    """The holder has a call to this debtor, placed during this hold, whose outcome is not
    yet written: still live, or ended while the agent is in wrap-up. Releasing then would
    refuse the outcome of a real call, and no outcome of a real call may be lost."""
    calls = session.exec(
        select(Call).where(
            Call.debtor_id == item.debtor_id,
            Call.agent_id == agent_id,
            col(Call.disposition_code).is_(None),
            Call.created_at >= item.claimed_at,
        )
    ).all()
    if not calls:
        return False
    agent = session.get(User, agent_id)
    in_wrap_up = agent is not None and agent.agent_state == AgentState.WRAP_UP
    return any(in_wrap_up or not is_terminal(call) for call in calls)


def mark_do_not_call(
    session: Session,
    *,
    debtor_id: int,
    reason: str,
    actor_id: int,
    now: datetime,
    settings: Settings,
) -> Debtor:
    """Never call this debtor again; the queue excludes them at once."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"reason": "Indiquez pourquoi ne plus appeler ce débiteur."})
    if len(reason) > 200:
        raise ValidationFailed({"reason": "Le motif ne doit pas dépasser 200 caractères."})
    debtor = _debtor(session, debtor_id)
    if debtor.do_not_call:
        raise DomainError("Ce débiteur est déjà marqué « ne plus appeler ».")
    debtor.do_not_call = True
    debtor.updated_at = now
    session.add(debtor)
    record_event(
        session,
        type="debtor.do_not_call",
        actor_id=actor_id,
        debtor_id=debtor.id,
        payload={"reason": reason},
        at=now,
    )
    session.flush()
    refresh_debtors(session, debtor_ids=[debtor.id], now=now, settings=settings)
    return debtor


def call_now(
    session: Session,
    *,
    debtor_id: int,
    reason: str,
    actor_id: int,
    now: datetime,
    settings: Settings,
) -> str:
    """Bring a case forward to its next call step now; the queue offers it at once."""
    _debtor(session, debtor_id)
    today = now.astimezone(ZoneInfo(settings.app.timezone)).date()
    label = move_to_call(
        session,
        debtor_id=debtor_id,
        reason=reason,
        actor_id=actor_id,
        now=now,
        today=today,
        settings=settings,
    )
    refresh_debtors(session, debtor_ids=[debtor_id], now=now, settings=settings)
    return label


def mark_insolvent(
    session: Session,
    *,
    debtor_id: int,
    status: str,
    judgment_date: date | None,
    actor_id: int,
    now: datetime,
    settings: Settings,
) -> Debtor:
    """Record a collective procedure: reminders and calls stop from the next refresh (now)."""
    errors: dict[str, str] = {}
    if status not in INSOLVENCY_STATUSES:
        errors["status"] = "Choisissez la procédure : " + ", ".join(INSOLVENCY_STATUSES) + "."
    if judgment_date is None:
        errors["judgment_date"] = "Indiquez la date du jugement (jj/mm/aaaa)."
    elif judgment_date > now.date():
        errors["judgment_date"] = "La date du jugement ne peut pas être dans le futur."
    if errors:
        raise ValidationFailed(errors)
    debtor = _debtor(session, debtor_id)
    debtor.insolvency_status = status
    debtor.insolvency_date = judgment_date
    debtor.updated_at = now
    session.add(debtor)
    record_event(
        session,
        type="debtor.insolvency",
        actor_id=actor_id,
        debtor_id=debtor.id,
        payload={"status": status, "date": judgment_date.isoformat() if judgment_date else None},
        at=now,
    )
    session.flush()
    refresh_debtors(session, debtor_ids=[debtor.id], now=now, settings=settings)
    return debtor


def resend_email(session: Session, *, email_id: int, actor_id: int, now: datetime) -> OutboxEmail:
    """Put a dead email back in the outbox (the outbox writes the ``email.resend`` event)."""
    return resend_dead_email(session, email_id=email_id, actor_id=actor_id, now=now)
