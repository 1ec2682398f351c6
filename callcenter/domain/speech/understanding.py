"""What the debtor said, read as suggestions the agent confirms (never applied automatically).

French amounts ("mille deux cent cinquante euros") become cents through
``text2num``; dates through explicit rules for the collector's phrases ("fin du
mois", "sous huitaine", "la semaine prochaine", a weekday) and ``dateparser``
for a day and a month ("le quinze décembre"). Dispute words suggest the dispute
outcome, answering-machine phrases the "répondeur" outcome.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from text_to_num import alpha2digit

from callcenter.formatting import day, money

MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|"
    "septembre|octobre|novembre|décembre|decembre"
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
AMOUNT = re.compile(
    r"(?P<units>\d{1,3}(?:[  ]\d{3})+|\d+)(?:[,.](?P<decimals>\d{1,2}))?\s*(?:euros?|€)"
    r"(?:\s+(?:et\s+)?(?P<cents>\d{1,2})(?:\s*centimes?)?\b)?"
)
DAY_MONTH = re.compile(
    rf"\b(?P<day>\d{{1,2}}|1er|premier)\s+(?P<month>{MONTHS})(?:\s+(?P<year>\d{{4}}))?\b"
)
NUMERIC_DATE = re.compile(r"\b(?P<day>\d{1,2})/(?P<month>\d{1,2})(?:/(?P<year>\d{2,4}))?\b")
SMALL_NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6}
IN_DELAY = re.compile(
    r"\bdans\s+(?P<count>\d+|un|une|deux|trois|quatre|cinq|six)\s+(?P<unit>jours?|semaines?|mois)\b"
)
WEEKDAY = re.compile(rf"\b(?P<weekday>{'|'.join(WEEKDAYS)})(?P<next>\s+prochain)?\b")
DAY_OF_MONTH = re.compile(r"\b(?:le|au)\s+(?P<day>\d{1,2}|1er|premier)\b(?!\s*(?:euros?|€|/))")


@dataclass(frozen=True)
class Suggestion:
    """One suggestion for the outcome form, with the sentence that triggered it."""

    kind: str  # "promise", "dispute" or "voicemail"
    disposition: str
    label: str
    evidence: str
    amount_cents: int | None = None
    promised_on: date | None = None

    @property
    def amount_field(self) -> str:
        """The promise amount as the form expects it (French decimal comma)."""
        if self.amount_cents is None:
            return ""
        return f"{self.amount_cents // 100},{self.amount_cents % 100:02d}"


def normalise(text: str) -> str:
    """Lower case, typographic apostrophes straightened, accents kept."""
    return " ".join(text.lower().replace("’", "'").replace("`", "'").split())


def _fold(text: str) -> str:
    """Without accents, so "abime" matches "abîmé" whatever the recogniser wrote."""
    decomposed = unicodedata.normalize("NFKD", normalise(text))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def with_digits(text: str) -> str:
    """French number words as digits ("quinze" → "15"), as the rules below expect."""
    return alpha2digit(normalise(text), "fr")


def amounts_in(text: str) -> list[int]:
    """Every amount in euros said in the text, in cents, in order."""
    found = []
    for match in AMOUNT.finditer(with_digits(text)):
        euros = int(re.sub(r"\D", "", match["units"]))
        cents_text = match["decimals"] or match["cents"] or "0"
        cents = int(cents_text) * (10 if len(cents_text) == 1 and match["decimals"] else 1)
        found.append(euros * 100 + cents)
    return found


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _next_month(moment: date) -> tuple[int, int]:
    return (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)


def _day_in_coming_month(day_number: int, today: date) -> date | None:
    """ "le 15": this month's 15th if still to come, else next month's."""
    year, month = today.year, today.month
    for _ in range(2):
        if day_number <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day_number)
            if candidate >= today:
                return candidate
        year, month = _next_month(date(year, month, 1))
    return None


def _day_month(match: re.Match[str], today: date) -> date | None:
    import dateparser

    day_text = "1" if match["day"] in ("1er", "premier") else match["day"]
    phrase = f"{day_text} {match['month']}" + (f" {match['year']}" if match["year"] else "")
    parsed = dateparser.parse(
        phrase,
        languages=["fr"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": datetime(today.year, today.month, today.day),
            "REQUIRE_PARTS": ["day", "month"],
        },
    )
    if parsed is None:
        return None
    result = parsed.date()
    if not match["year"] and result < today:
        result = result.replace(year=result.year + 1)
    return result


def date_in(text: str, *, today: date) -> date | None:
    """The payment date the text speaks of, the first one said; None when there is none."""
    spoken = with_digits(text)
    folded = _fold(spoken)
    rules: list[tuple[int, int, date | None]] = []
    for pattern, value in (
        (r"\bfin (?:du|de) mois prochain\b", lambda: _month_end(*_next_month(today))),
        (r"\bfin (?:du|de) mois\b", lambda: _month_end(today.year, today.month)),
        (r"\bdebut (?:du|de) mois prochain\b", lambda: date(*_next_month(today), 1)),
        (r"\bsous huitaine\b", lambda: today + timedelta(days=8)),
        (r"\bsous quinzaine\b", lambda: today + timedelta(days=15)),
        (r"\bapres[- ]demain\b", lambda: today + timedelta(days=2)),
        (r"(?<!apres-)(?<!apres )\bdemain\b", lambda: today + timedelta(days=1)),
        (r"\baujourd'hui\b", lambda: today),
        # The coming week: its Monday, the earliest day the debtor committed to.
        (r"\bla semaine prochaine\b", lambda: today + timedelta(days=7 - today.weekday())),
    ):
        match = re.search(pattern, folded)
        if match:
            rules.append((match.start(), -len(match[0]), value()))
    for match in DAY_MONTH.finditer(spoken):
        rules.append((len(_fold(spoken[: match.start()])), 0, _day_month(match, today)))
    for match in NUMERIC_DATE.finditer(spoken):
        rules.append((len(_fold(spoken[: match.start()])), 0, _numeric(match, today)))
    for match in IN_DELAY.finditer(folded):
        count = SMALL_NUMBERS.get(match["count"]) or int(match["count"])
        unit = match["unit"]
        if unit.startswith("jour"):
            value = today + timedelta(days=count)
        elif unit.startswith("semaine"):
            value = today + timedelta(weeks=count)
        else:
            year, month = today.year, today.month + count
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
            value = min(
                date(year, month, min(today.day, calendar.monthrange(year, month)[1])),
                _month_end(year, month),
            )
        rules.append((match.start(), 0, value))
    for match in WEEKDAY.finditer(folded):
        target = WEEKDAYS.index(match["weekday"])
        ahead = (target - today.weekday()) % 7 or 7
        rules.append((match.start(), 0, today + timedelta(days=ahead)))
    if not rules:
        for match in DAY_OF_MONTH.finditer(folded):
            number = 1 if match["day"] in ("1er", "premier") else int(match["day"])
            rules.append((match.start(), 0, _day_in_coming_month(number, today)))
    found = sorted(
        (position, longest, value) for position, longest, value in rules if value is not None
    )
    return found[0][2] if found else None


def _numeric(match: re.Match[str], today: date) -> date | None:
    year = int(match["year"]) if match["year"] else today.year
    if year < 100:
        year += 2000
    try:
        value = date(year, int(match["month"]), int(match["day"]))
    except ValueError:
        return None
    if not match["year"] and value < today:
        value = value.replace(year=year + 1)
    return value


def phrase_in(text: str, phrases: Iterable[str]) -> str | None:
    """The first listed phrase said in the text (accents and case ignored)."""
    folded = f" {_fold(text)} "
    for phrase in phrases:
        needle = _fold(phrase)
        # A feminine or plural ending still matches ("abîmé" → "abîmées").
        if needle and re.search(rf"(?<!\w){re.escape(needle)}(?:e?s?)(?!\w)", folded):
            return phrase
    return None


def suggest(
    sentences: Iterable[str],
    *,
    today: date,
    dispute_phrases: Iterable[str],
    answering_machine_phrases: Iterable[str],
) -> list[Suggestion]:
    """Suggestions from the debtor's sentences: a promise (amount and/or date), a dispute,
    an answering machine. At most one of each kind: the first sentence that says it."""
    dispute_phrases = list(dispute_phrases)
    machine_phrases = list(answering_machine_phrases)
    amount: tuple[int, str] | None = None
    when: tuple[date, str] | None = None
    dispute: Suggestion | None = None
    machine: Suggestion | None = None
    for sentence in sentences:
        if not sentence.strip():
            continue
        if machine is None and (phrase := phrase_in(sentence, machine_phrases)):
            machine = Suggestion(
                kind="voicemail",
                disposition="voicemail",
                label=f"Répondeur ? « {phrase} » entendu",
                evidence=sentence,
            )
        if dispute is None and (phrase := phrase_in(sentence, dispute_phrases)):
            dispute = Suggestion(
                kind="dispute",
                disposition="dispute",
                label=f"Litige ? « {phrase} » entendu",
                evidence=sentence,
            )
        if amount is None and (values := amounts_in(sentence)):
            amount = (values[0], sentence)
        if when is None and (value := date_in(sentence, today=today)) is not None:
            when = (value, sentence)
    found = [item for item in (machine, dispute) if item is not None]
    if amount or when:
        parts = []
        if amount:
            parts.append(money(amount[0]))
        if when:
            parts.append(f"le {day(when[0])}")
        evidence = " … ".join(dict.fromkeys(item[1] for item in (amount, when) if item))
        found.insert(
            0,
            Suggestion(
                kind="promise",
                disposition="promise",
                label="Promesse ? " + " ".join(parts),
                evidence=evidence,
                amount_cents=amount[0] if amount else None,
                promised_on=when[0] if when else None,
            ),
        )
    return found
