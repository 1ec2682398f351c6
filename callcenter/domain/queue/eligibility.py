"""Calling windows in the debtor's time zone (the other exclusions are worded in ``rules``).

A debtor is called only on a calling day, inside the configured hours of its own time zone,
and never on a public holiday of its territory (overseas departments have their own).
The window is computed per time zone in Python (there are few), then applied set-based.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from callcenter.config import QueueSettings

# Time zone → subdivision of holidays.France (overseas territories have their own holidays).
OVERSEAS_SUBDIVISIONS = {
    "America/Guadeloupe": "GP",
    "America/Martinique": "MQ",
    "America/Cayenne": "GY",
    "Indian/Reunion": "RE",
    "Indian/Mayotte": "YT",
    "America/St_Barthelemy": "BL",
    "America/Marigot": "MF",
    "America/Miquelon": "PM",
    "Pacific/Noumea": "NC",
    "Pacific/Tahiti": "PF",
    "Pacific/Wallis": "WF",
}
WEEKDAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

UNKNOWN_ZONE = "Fuseau horaire inconnu : {zone}"


@dataclass(frozen=True)
class Window:
    """Whether a time zone may be called at a moment, and if not why and until when."""

    open: bool
    reason: str | None = None
    reopens_at: datetime | None = None


def _hours(settings: QueueSettings) -> list[tuple[time, time]]:
    spans = []
    for text in settings.calling_hours:
        start, _, end = text.partition("-")
        spans.append((time.fromisoformat(start), time.fromisoformat(end)))
    return sorted(spans)


@lru_cache(maxsize=256)
def _holidays(zone: str, year: int) -> holidays.HolidayBase:
    subdivision = OVERSEAS_SUBDIVISIONS.get(zone)
    return holidays.France(subdiv=subdivision, years=year, language="fr")


def holiday_name(zone: str, day: date) -> str | None:
    """The public holiday of that day in the territory of ``zone``, if any."""
    return _holidays(zone, day.year).get(day)


def _closed_day(zone: str, day: date, settings: QueueSettings) -> str | None:
    if day.isoweekday() not in settings.calling_weekdays:
        return f"pas d'appel le {WEEKDAY_NAMES[day.weekday()]}"
    if settings.public_holidays:
        name = holiday_name(zone, day)
        if name:
            return f"jour férié ({name})"
    return None


def calling_window(zone: str, now: datetime, settings: QueueSettings) -> Window:
    """Open or closed for ``zone`` at ``now`` (aware), with the French reason and reopening."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return Window(False, UNKNOWN_ZONE.format(zone=zone))
    local = now.astimezone(tz)
    spans = _hours(settings)
    reason = _closed_day(zone, local.date(), settings)
    if reason is None:
        if any(start <= local.time() < end for start, end in spans):
            return Window(True)
        reason = f"hors des heures d'appel ({local:%H:%M} heure locale)"
    return Window(False, f"Hors plage d'appel : {reason}", _reopening(zone, local, spans, settings))


def _reopening(
    zone: str, local: datetime, spans: list[tuple[time, time]], settings: QueueSettings
) -> datetime | None:
    tz = local.tzinfo
    for ahead in range(0, 21):
        day = local.date() + timedelta(days=ahead)
        if _closed_day(zone, day, settings):
            continue
        for start, _end in spans:
            moment = datetime.combine(day, start, tzinfo=tz)
            if moment > local:
                return moment.astimezone(UTC)
    return None
