"""Calling windows in the debtor's time zone: hours, week-ends, DST, holidays of each territory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.config import QueueSettings
from callcenter.domain.queue.eligibility import calling_window

DEFAULT = QueueSettings()

WINDOW_CASES = {
    # name: (zone, UTC moment, open?, words of the reason)
    "paris_monday_morning": ("Europe/Paris", datetime(2026, 3, 30, 7, 30), True, None),
    "paris_friday_before_dst_change": (
        "Europe/Paris",
        datetime(2026, 3, 27, 7, 30),
        False,
        "08:30 heure locale",
    ),
    "paris_dst_sunday": ("Europe/Paris", datetime(2026, 3, 29, 9, 0), False, "dimanche"),
    "paris_after_autumn_change": ("Europe/Paris", datetime(2026, 10, 26, 8, 0), True, None),
    "paris_lunch": ("Europe/Paris", datetime(2026, 3, 30, 11, 0), False, "13:00 heure locale"),
    "paris_end_of_day_exclusive": (
        "Europe/Paris",
        datetime(2026, 3, 30, 16, 30),
        False,
        "18:30 heure locale",
    ),
    "paris_saturday": ("Europe/Paris", datetime(2026, 3, 28, 9, 0), False, "samedi"),
    "paris_1_may": ("Europe/Paris", datetime(2026, 5, 1, 8, 0), False, "Fête du Travail"),
    "paris_on_guadeloupe_holiday": ("Europe/Paris", datetime(2026, 5, 27, 14, 0), True, None),
    "guadeloupe_abolition_day": (
        "America/Guadeloupe",
        datetime(2026, 5, 27, 14, 0),
        False,
        "Abolition de l'esclavage",
    ),
    "guadeloupe_morning_no_dst": ("America/Guadeloupe", datetime(2026, 3, 30, 13, 30), True, None),
    "guadeloupe_too_early": (
        "America/Guadeloupe",
        datetime(2026, 3, 30, 8, 0),
        False,
        "04:00 heure locale",
    ),
    "guadeloupe_1_may": ("America/Guadeloupe", datetime(2026, 5, 1, 14, 0), False, "jour férié"),
    "reunion_abolition_day": (
        "Indian/Reunion",
        datetime(2027, 12, 20, 6, 0),
        False,
        "Abolition de l'esclavage",
    ),
    "paris_on_reunion_holiday": ("Europe/Paris", datetime(2027, 12, 20, 9, 0), True, None),
    "reunion_open_on_guadeloupe_holiday": (
        "Indian/Reunion",
        datetime(2026, 5, 27, 6, 0),
        True,
        None,
    ),
    "martinique_holiday": ("America/Martinique", datetime(2026, 5, 22, 14, 0), False, "férié"),
    "mayotte_holiday": ("Indian/Mayotte", datetime(2026, 4, 27, 7, 0), False, "férié"),
    "guyane_holiday": ("America/Cayenne", datetime(2026, 6, 10, 13, 0), False, "férié"),
    "unknown_zone": ("Mars/Olympus", datetime(2026, 3, 30, 8, 0), False, "Fuseau horaire inconnu"),
}


@pytest.mark.parametrize("case", WINDOW_CASES, ids=list(WINDOW_CASES))
def test_calling_window(case):
    zone, moment, is_open, words = WINDOW_CASES[case]
    window = calling_window(zone, moment.replace(tzinfo=UTC), DEFAULT)
    assert window.open is is_open, window.reason
    if words:
        assert words in window.reason


def test_reopening_after_a_friday_evening_is_monday_nine():
    window = calling_window("Europe/Paris", datetime(2026, 3, 27, 18, 0, tzinfo=UTC), DEFAULT)
    assert window.reopens_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_holidays_can_be_ignored_and_days_configured():
    settings = QueueSettings(public_holidays=False, calling_weekdays=[1, 2, 3, 4, 5, 6])
    assert calling_window("Europe/Paris", datetime(2026, 5, 1, 8, 0, tzinfo=UTC), settings).open
    assert calling_window("Europe/Paris", datetime(2026, 3, 28, 9, 0, tzinfo=UTC), settings).open
