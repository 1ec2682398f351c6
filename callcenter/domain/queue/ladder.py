"""The dunning ladder, materialised in the Scenario, ScenarioStep and Campaign tables.

The settings (``[ladder]`` of config.toml) are written into the tables by ``sync_ladder``;
the queue then reads the tables, so an admin can later edit a ladder in the database.
Where each debtor stands on its ladder is kept by the dunning process (``domain/process.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from callcenter.config import PHONE_ACTIONS, Settings
from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.models import Campaign, Scenario, ScenarioStep

COLLECTION_CAMPAIGN = "relance_telephone"
PREVENTIVE_CAMPAIGN = "appel_preventif"
DEFAULT_SEGMENT = "standard"
_CAMPAIGNS = {
    "call": (COLLECTION_CAMPAIGN, "Relance téléphonique", "collection"),
    "preventive_call": (PREVENTIVE_CAMPAIGN, "Appels préventifs", "preventive"),
}
_MIN_AMOUNT = "montant_min="
SEGMENT_LABELS = {"standard": "standard", "key_account": "grand compte", "small": "petit compte"}
SEGMENT_TITLES = {segment: label.capitalize() for segment, label in SEGMENT_LABELS.items()}


@dataclass(frozen=True)
class LadderRung:
    """One step as the queue uses it; ``rank`` orders every rung of every segment."""

    rank: int
    segment: str
    offset_days: int
    action: str
    label: str
    min_amount_cents: int
    campaign_id: int | None
    campaign_paused: bool = False
    step_id: int | None = None
    max_attempts: int = 3
    catch_up: bool = False

    @property
    def is_phone(self) -> bool:
        return self.action in PHONE_ACTIONS

    @property
    def position(self) -> tuple[int, bool, str]:
        """Order of the rungs of one ladder: by day, a call after the other actions."""
        return rung_position(self.offset_days, self.action)

    @property
    def stage(self) -> str:
        """The stage name stored on the queue row (at most 40 characters)."""
        return f"J{self.offset_days:+d} {self.label}"[:40]


def rung_position(offset_days: int, action: str) -> tuple[int, bool, str]:
    return (offset_days, action in PHONE_ACTIONS, action)


def _condition(min_amount_cents: int) -> str | None:
    return f"{_MIN_AMOUNT}{min_amount_cents}" if min_amount_cents else None


def min_amount_of(step: ScenarioStep) -> int:
    """The invoice amount from which a rung applies (0: every invoice)."""
    return _min_amount(step.condition)


def _min_amount(condition: str | None) -> int:
    if condition and condition.startswith(_MIN_AMOUNT):
        return int(condition[len(_MIN_AMOUNT) :])
    return 0


def _campaigns(session: Session) -> dict[str, int]:
    ids: dict[str, int] = {}
    for action, (code, name, kind) in _CAMPAIGNS.items():
        campaign = session.exec(select(Campaign).where(Campaign.code == code)).first()
        if campaign is None:
            campaign = Campaign(code=code, name=name, kind=kind)
            session.add(campaign)
            session.flush()
        ids[action] = campaign.id
    return ids


def sync_ladder(session: Session, *, settings: Settings) -> None:
    """Write the configured ladders into the tables; running it twice changes nothing."""
    campaigns = _campaigns(session)
    for segment in type(settings.ladder).model_fields:
        scenario = session.exec(select(Scenario).where(Scenario.segment == segment)).first()
        if scenario is None:
            label = SEGMENT_LABELS.get(segment, segment)
            scenario = Scenario(segment=segment, name=f"Relance {label}")
            session.add(scenario)
            session.flush()
        existing = {
            (step.offset_days, step.action): step
            for step in session.exec(
                select(ScenarioStep).where(ScenarioStep.scenario_id == scenario.id)
            )
        }
        for wanted in settings.ladder.for_segment(segment):
            step = existing.pop((wanted.offset_days, wanted.action), None)
            if step is None:
                step = ScenarioStep(
                    scenario_id=scenario.id, offset_days=wanted.offset_days, action=wanted.action
                )
            step.label = wanted.label
            step.campaign_id = campaigns.get(wanted.action)
            step.condition = _condition(wanted.min_amount_cents)
            step.max_attempts = wanted.attempts
            step.catch_up = wanted.catch_up
            session.add(step)
        for stale in existing.values():
            session.delete(stale)
    session.flush()


def load_ladder(session: Session) -> list[LadderRung]:
    """Every rung in the tables, ranked by segment, day and phone last on a tie (plain rows,
    no ORM objects: every refresh reads it)."""
    step = ScenarioStep
    rows = session.execute(
        sa.select(
            Scenario.segment,
            step.id,
            step.offset_days,
            step.action,
            step.label,
            step.condition,
            step.campaign_id,
            step.max_attempts,
            step.catch_up,
        ).join(Scenario, Scenario.id == step.scenario_id)
    ).all()
    paused = set(session.execute(sa.select(Campaign.id).where(Campaign.paused)).scalars())
    ordered = sorted(rows, key=lambda r: (r.segment, *rung_position(r.offset_days, r.action)))
    return [
        LadderRung(
            rank=rank,
            segment=row.segment,
            offset_days=row.offset_days,
            action=row.action,
            label=row.label,
            min_amount_cents=_min_amount(row.condition),
            campaign_id=row.campaign_id,
            campaign_paused=row.campaign_id in paused,
            step_id=row.id,
            max_attempts=row.max_attempts,
            catch_up=row.catch_up,
        )
        for rank, row in enumerate(ordered, start=1)
    ]


def current_ladder(session: Session, settings: Settings) -> list[LadderRung]:
    """The ladder from the tables, written from the settings the first time."""
    rungs = load_ladder(session)
    if not rungs:
        sync_ladder(session, settings=settings)
        rungs = load_ladder(session)
    return rungs


def preventive_horizon(rungs: list[LadderRung]) -> int:
    """How many days before its due date an invoice may meet its first (preventive) step."""
    return max([0, *(-r.offset_days for r in rungs)])


def ladder_segment(segment: str, rungs: list[LadderRung]) -> str:
    """The ladder a debtor follows: its own segment's, or the standard one."""
    return segment if any(r.segment == segment for r in rungs) else DEFAULT_SEGMENT


LADDER_ACTION_LABELS = {
    "email": "E-mail",
    "preventive_call": "Appel préventif",
    "call": "Appel",
    "letter": "Lettre de relance",
    "formal_notice": "Mise en demeure",
    "litigation": "Contentieux",
}


def save_step(
    session: Session,
    *,
    scenario_id: int,
    step_id: int | None,
    offset_days: str,
    action: str,
    label: str,
    min_amount_cents: int,
    actor_id: int,
    now: datetime,
    attempts: str = "3",
    catch_up: bool = False,
) -> ScenarioStep:
    """Add or change one rung of a segment's ladder from the administration page.

    ``attempts``: calls of a call step before the process moves on if nobody answers;
    ``catch_up``: the call step where an old debt enters the process (one per ladder:
    marking one unmarks the others). A change applies to cases from their next step.

    The queue follows the tables at its next refresh; ``callcenter queue sync-ladder``
    puts ``config.toml``'s ladder back.
    """
    errors: dict[str, str] = {}
    try:
        offset = int(offset_days)
    except ValueError:
        offset = 0
        errors["offset_days"] = "Le jour doit être un nombre entier (négatif : avant l'échéance)."
    if not -90 <= offset <= 365:
        errors["offset_days"] = "Le jour doit être compris entre J-90 et J+365."
    if action not in LADDER_ACTION_LABELS:
        errors["action"] = "Action inconnue."
    label = label.strip()
    if not label or len(label) > 120:
        errors["label"] = "Le libellé est obligatoire (120 caractères au plus)."
    if min_amount_cents < 0:
        errors["min_amount"] = "Le montant minimum ne peut pas être négatif."
    try:
        max_attempts = int(attempts.strip() or "3")
    except ValueError:
        max_attempts = 0
    if not 1 <= max_attempts <= 10:
        errors["attempts"] = "Le nombre d'appels doit être un entier de 1 à 10."
    if catch_up and action not in PHONE_ACTIONS:
        errors["catch_up"] = "L'étape de rattrapage doit être un appel."
    scenario = session.get(Scenario, scenario_id)
    if scenario is None:
        raise DomainError("Scénario introuvable.")
    clash = session.exec(
        select(ScenarioStep).where(
            ScenarioStep.scenario_id == scenario_id,
            ScenarioStep.offset_days == offset,
            ScenarioStep.action == action,
        )
    ).first()
    if clash is not None and clash.id != step_id:
        errors["offset_days"] = "Ce scénario a déjà cette action ce jour-là."
    if errors:
        raise ValidationFailed(errors)
    step = session.get(ScenarioStep, step_id) if step_id else None
    if step_id and (step is None or step.scenario_id != scenario_id):
        raise DomainError("Étape introuvable.")
    before = None
    if step is None:
        step = ScenarioStep(scenario_id=scenario_id, offset_days=offset, action=action, label=label)
    else:
        before = {"offset_days": step.offset_days, "action": step.action, "label": step.label}
    step.offset_days, step.action, step.label = offset, action, label
    step.condition = _condition(min_amount_cents)
    step.max_attempts, step.catch_up = max_attempts, catch_up
    if catch_up:
        for other in session.exec(
            select(ScenarioStep).where(
                ScenarioStep.scenario_id == scenario_id, ScenarioStep.catch_up
            )
        ):
            if other is not step:
                other.catch_up = False
                session.add(other)
    step.campaign_id = _campaigns(session).get(action)
    session.add(step)
    session.flush()
    record_event(
        session,
        type="ladder.step_saved",
        actor_id=actor_id,
        payload={
            "segment": scenario.segment,
            "step_id": step.id,
            "before": before,
            "after": {
                "offset_days": offset,
                "action": action,
                "label": label,
                "attempts": max_attempts,
                "catch_up": catch_up,
            },
        },
        at=now,
    )
    return step


def delete_step(session: Session, *, step_id: int, actor_id: int, now: datetime) -> None:
    step = session.get(ScenarioStep, step_id)
    if step is None:
        raise DomainError("Étape introuvable.")
    scenario = session.get(Scenario, step.scenario_id)
    record_event(
        session,
        type="ladder.step_deleted",
        actor_id=actor_id,
        payload={
            "segment": scenario.segment if scenario else None,
            "offset_days": step.offset_days,
            "action": step.action,
            "label": step.label,
        },
        at=now,
    )
    session.delete(step)
    session.flush()
