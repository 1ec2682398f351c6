"""The queue's rules in words: one table turns the codes a refresh stores into French.

The refresh (SQL) and the reference (``scoring.py``) compute the same numbers and codes and
store only those: a score component is ``{"code", "points", "args"}``, an exclusion is the
text ``code`` or ``code:argument``. Every French wording lives here, so the queue page, the
« pourquoi » panel, the brief and the counts per reason read the same sentence, and a
wording changes in one place.

Exclusion arguments are a single value after the first ``:`` (a count, a label, or a
sentence already in French: the calling window's reason and the process's hold reason
come from Python, ``eligibility.calling_window`` and ``process.waiting_reason``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from callcenter.domain.queue.ladder import SEGMENT_LABELS
from callcenter.formatting import money, quantity

SCORE_WORDING: dict[str, Callable[..., str]] = {
    "amount": lambda cents: f"{money(cents)} échus non contestés",
    "age": lambda count, days: (
        f"{quantity(count, 'facture échue', 'factures échues')} depuis {days} j"
    ),
    "broken": lambda count: quantity(count, "promesse non tenue", "promesses non tenues"),
    "promise_today": lambda: "promesse de paiement attendue aujourd'hui",
    "callback_due": lambda: "rappel convenu arrivé à échéance",
    "never_reached": lambda: "jamais joint au téléphone",
    "never_called": lambda: "jamais appelé",
    "since_call": lambda days: f"dernier appel il y a {days} j",
    "segment": lambda segment: f"segment {SEGMENT_LABELS.get(segment, segment)}",
    "risk": lambda risk: f"risque {risk}/100",
    "today_attempts": lambda count: f"{quantity(count, 'tentative')} aujourd'hui",
}


def _weekly_cap(argument: str) -> str:
    count, _, limit = argument.partition("/")
    return f"Plafond atteint : {count} tentatives sur 7 jours glissants (max. {limit})"


EXCLUSION_WORDING: dict[str, Callable[[str], str]] = {
    "closed": lambda text: text,
    "hold": lambda text: text,
    "do_not_call": lambda _: "Ne pas appeler : opposition enregistrée",
    "insolvency": lambda status: f"Procédure collective en cours ({status}) : relances suspendues",
    "nothing_open": lambda _: "Aucune facture ouverte",
    "all_blocked": lambda _: "Toutes les factures ouvertes sont contestées ou suspendues",
    "no_stage": lambda _: "Aucune facture à relancer à ce stade",
    "not_phone_stage": lambda label: f"Étape « {label} » : pas d'appel à ce stade",
    "campaign_paused": lambda _: "Campagne en pause : aucun débiteur n'en est distribué",
    "no_phone": lambda _: "Aucun numéro de téléphone",
    "callback_later": lambda _: "Rappel convenu plus tard : pas d'appel avant l'heure prévue",
    "weekly_cap": _weekly_cap,
    "min_gap": lambda hours: f"Dernière tentative il y a moins de {hours} h",
}


def component(code: str, points: int, *args: Any) -> dict[str, Any]:
    """A stored score component (what the SQL writes, built the same way in Python)."""
    return {"code": code, "points": points, "args": list(args)}


def exclusion(code: str, argument: object = None) -> str:
    """A stored exclusion: its code, and its one argument after « : »."""
    if code not in EXCLUSION_WORDING:
        raise KeyError(code)
    return code if argument is None else f"{code}:{argument}"


def reason_lines(stored: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score components as the pages show them: points and the French reason."""
    lines = []
    for item in stored:
        wording = SCORE_WORDING.get(item.get("code", ""))
        label = wording(*item.get("args", [])) if wording else item.get("label", "")
        lines.append({"points": item["points"], "label": label})
    return lines


def exclusion_label(entry: str) -> str:
    """The French reason of one stored exclusion (a row written before codes reads as is)."""
    code, _, argument = entry.partition(":")
    wording = EXCLUSION_WORDING.get(code)
    return wording(argument) if wording else entry


def exclusion_labels(entries: Iterable[str]) -> list[str]:
    return [exclusion_label(entry) for entry in entries]


def exclusion_code(entry: str) -> str:
    return entry.partition(":")[0]
