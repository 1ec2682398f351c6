"""Call scripts: one TOML file per situation in ``scripts_appel/``, rendered with the brief.

A script has ordered steps (``etapes``), a branch per reason for non-payment
(``motifs``: oubli, trésorerie, litige, administratif) and a conclusion that
announces the recap email. The script is chosen by the debtor's situation: a
broken promise first, then the dunning stage. Values come from the pre-call
brief; in strict mode a missing value is an error, so a script can never be
read to a debtor with a blank where an amount should be. A script's wording
follows the debtor's history (``history``: spoken to by phone, written to), so
it never says « nous avons déjà pris contact » to a debtor nobody reached.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jinja2 import ChainableUndefined, Environment, StrictUndefined, UndefinedError

from callcenter.config import PROJECT_ROOT
from callcenter.domain.errors import DomainError
from callcenter.models import Call, Disposition, EmailStatus, Event, OutboxEmail

SCRIPTS_DIR = PROJECT_ROOT / "scripts_appel"

NON_PAYMENT_REASONS = {
    "oubli": "Oubli",
    "tresorerie": "Trésorerie",
    "litige": "Litige",
    "administratif": "Problème administratif",
}

SCRIPT_FOR_SITUATION = {
    "preventive_call": "appel_preventif",
    "first_call": "premiere_relance",
    "second_call": "deuxieme_relance",
    "broken_promise": "promesse_non_tenue",
    "dispute_follow_up": "suivi_litige",
    "payment_plan": "negociation_echeancier",
    "voicemail": "message_repondeur",
}

LATER_PHONE_STAGES = {"second_call", "letter", "formal_notice", "litigation"}


class ScriptValueMissing(DomainError):
    """The brief lacks a value the script needs."""


@dataclass(frozen=True)
class Section:
    title: str
    text: str


@dataclass(frozen=True)
class RenderedScript:
    code: str
    title: str
    goal: str
    steps: list[Section]
    branches: dict[str, Section]
    conclusion: list[Section]


class _VisibleUndefined(ChainableUndefined):
    """Lenient mode for the live screen: a missing value shows as a marker, never a blank."""

    def __str__(self) -> str:
        return f"[{self._undefined_name} inconnu]"


@lru_cache(maxsize=32)
def load_script(code: str, directory: Path = SCRIPTS_DIR) -> dict[str, Any]:
    path = directory / f"{code}.toml"
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise DomainError(f"Script d'appel introuvable : {path.name}") from None


def available_scripts(directory: Path = SCRIPTS_DIR) -> dict[str, str]:
    """Script code → French title, for the agent's script picker."""
    return {
        path.stem: load_script(path.stem, directory)["titre"]
        for path in sorted(directory.glob("*.toml"))
    }


@dataclass(frozen=True)
class ContactHistory:
    """What the debtor already heard from us, for the script's wording."""

    spoken: bool  # a person answered one of our calls (a recorded outcome)
    written: bool  # an email left, or a letter was produced

    def as_context(self) -> dict[str, bool]:
        return {"spoken": self.spoken, "written": self.written}


def contact_history(session, *, debtor_id: int, before: datetime) -> ContactHistory:
    """Two bounded EXISTS queries: an answered call with its outcome, a sent email or a letter."""
    spoken = session.execute(
        sa.select(
            sa.exists().where(
                Call.debtor_id == debtor_id,
                Call.created_at < before,
                Call.disposition_code == Disposition.code,
                Disposition.human_answered,
            )
        )
    ).scalar_one()
    written = session.execute(
        sa.select(
            sa.or_(
                sa.exists().where(
                    OutboxEmail.debtor_id == debtor_id, OutboxEmail.status == EmailStatus.SENT
                ),
                sa.exists().where(
                    Event.debtor_id == debtor_id,
                    Event.type == "letter.generated",
                    Event.at < before,
                ),
            )
        )
    ).scalar_one()
    return ContactHistory(spoken=bool(spoken), written=bool(written))


def choose_situation(
    *, stage: str | None, has_broken_promise: bool, only_disputed_left: bool
) -> str:
    """Which script fits: a broken promise first, then disputes, then the ladder stage."""
    if has_broken_promise:
        return "broken_promise"
    if only_disputed_left:
        return "dispute_follow_up"
    if stage == "preventive_call":
        return "preventive_call"
    if stage in LATER_PHONE_STAGES:
        return "second_call"
    return "first_call"


def _environment(strict: bool) -> Environment:
    return Environment(
        undefined=StrictUndefined if strict else _VisibleUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )


def render_script(code: str, context: dict[str, Any], *, strict: bool = True) -> RenderedScript:
    """Render every section of a script with the brief's values."""
    raw = load_script(code)
    environment = _environment(strict)

    def render(text: str) -> str:
        try:
            return environment.from_string(text).render(context).strip()
        except UndefinedError as missing:
            raise ScriptValueMissing(
                f"Script « {raw['titre']} » : valeur manquante ({missing.message})."
            ) from None

    def sections(items: list[dict[str, str]]) -> list[Section]:
        return [Section(render(item["titre"]), render(item["texte"])) for item in items]

    return RenderedScript(
        code=code,
        title=raw["titre"],
        goal=render(raw.get("objectif", "")),
        steps=sections(raw.get("etapes", [])),
        branches={
            reason: Section(render(branch["titre"]), render(branch["texte"]))
            for reason, branch in raw.get("motifs", {}).items()
        },
        conclusion=sections(raw.get("conclusion", [])),
    )
