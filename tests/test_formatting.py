from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter import formatting


@pytest.mark.parametrize(
    ("cents", "expected"),
    [
        (125050, "1\u202f250,50\xa0€"),
        (0, "0,00\xa0€"),
        (5, "0,05\xa0€"),
        (-99, "-0,99\xa0€"),
        (123456789, "1\u202f234\u202f567,89\xa0€"),
    ],
)
def test_money_is_french(cents, expected):
    assert formatting.money(cents) == expected


def test_dates_are_french_and_in_the_readers_time_zone():
    paris = ZoneInfo("Europe/Paris")
    assert formatting.day(date(2026, 12, 15)) == "15/12/2026"
    late_evening_utc = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert formatting.day(late_evening_utc, paris) == "01/01/2027"
    assert formatting.day(late_evening_utc, ZoneInfo("America/Martinique")) == "31/12/2026"
    assert formatting.moment(datetime(2026, 7, 1, 12, 5, tzinfo=UTC), paris) == "01/07/2026 14:05"
    with pytest.raises(ValueError):
        formatting.day(late_evening_utc)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+33465713803", "04 65 71 38 03"),
        ("0465713803", "04 65 71 38 03"),
        ("+33612345678", "06 12 34 56 78"),
        ("+442079460000", "+44 20 7946 0000"),
        ("pas un numéro", "pas un numéro"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_numbers_are_shown_the_french_way(stored, shown):
    assert formatting.phone(stored) == shown
