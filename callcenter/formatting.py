"""French formats for what people read: money, dates, times (Babel), phone numbers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale
from babel.dates import format_date, get_timezone_location
from babel.numbers import format_currency, format_decimal

LOCALE = Locale.parse("fr_FR")


@lru_cache(maxsize=65536)
def money(cents: int | None, currency: str = "EUR") -> str:
    """``125050`` → ``1 250,50 €`` (French grouping and a non-breaking space before €).

    Cached: a brief shows hundreds of amounts and Babel takes ~15 µs for each.
    """
    if cents is None:
        return ""
    return format_currency(Decimal(cents) / 100, currency, locale=LOCALE)


def number(value: float | int, digits: int = 0, optional: int = 0) -> str:
    """``1 250`` with ``digits`` decimals always shown and up to ``optional`` more
    (``number(4.0, 0, 3)`` → ``4``, ``number(0.25, 0, 3)`` → ``0,25``)."""
    decimals = "0" * digits + "#" * optional
    pattern = "#,##0" + ("." + decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=LOCALE)


def day(value: date | datetime | None, zone: ZoneInfo | None = None) -> str:
    """``15/12/2026``. An instant needs the reader's time zone to fall on a day."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if zone is None:
            raise ValueError("an instant is shown as a day only in a given time zone")
        value = value.astimezone(zone).date()
    return _day(value)


@lru_cache(maxsize=8192)
def _day(value: date) -> str:
    return format_date(value, format="dd/MM/yyyy", locale=LOCALE)


def moment(value: datetime | None, zone: ZoneInfo) -> str:
    """``15/12/2026 14:05`` in the reader's time zone (all digits: no locale data needed)."""
    if value is None:
        return ""
    return value.astimezone(zone).strftime("%d/%m/%Y %H:%M")


@lru_cache(maxsize=256)
def time_zone(name: str) -> str:
    """``Europe/Paris`` → ``Paris``, ``Indian/Reunion`` → ``La Réunion``: the place, in French."""
    try:
        return get_timezone_location(name, locale=LOCALE, return_city=True)
    except LookupError:
        return name


def quantity(count: int, singular: str, plural: str | None = None) -> str:
    """``1 facture``, ``2 factures``, ``0 facture`` (French: 0 and 1 take the singular);
    ``plural`` for words that do not just take an s (``ligne lue``/``lignes lues``)."""
    many = LOCALE.plural_form(abs(count)) != "one"
    word = (plural or singular + "s") if many else singular
    return f"{number(count)} {word}"


# Dialled from France with a leading 0: metropolitan France and the overseas departments.
FRENCH_DIALLING_REGIONS = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF"})


@lru_cache(maxsize=8192)
def phone(value: str | None) -> str:
    """``+33465713803`` → ``04 65 71 38 03``: a French number (overseas included) in national
    format, a foreign one in international format (``+32 2 123 45 67``). Stored and exported
    numbers stay E.164; anything that does not parse is shown as it is."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(parsed):
        return value
    if phonenumbers.region_code_for_number(parsed) in FRENCH_DIALLING_REGIONS:
        style = phonenumbers.PhoneNumberFormat.NATIONAL
    else:
        style = phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, style)
