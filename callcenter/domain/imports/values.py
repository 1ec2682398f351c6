"""Cell parsers for French exports: amounts with a decimal comma, dd/mm/yyyy dates, SIREN,
phone numbers and e-mail addresses. Each parser returns the value or raises ``BadValue``
with a French message naming what was read."""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from callcenter.domain.limits import CONTROL_CHARACTERS

_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")
_AMOUNT = re.compile(r"^([+-]?)(\d*)(?:[.,](\d{1,2}))?$")
_GROUPED_AMOUNT = re.compile(
    r"^([+-]?)(\d{1,3}(?:\.\d{3})+),(\d{1,2})$|^([+-]?)(\d{1,3}(?:,\d{3})+)\.(\d{1,2})$"
)
_THIRD_DECIMAL = re.compile(r"^[+-]?\d*[.,]\d{3,}$")
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})" + _TIME)
_FR_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})" + _TIME)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
MAX_CENTS = 2_147_483_647
"""The largest amount read, 21 474 836,47 €: money columns are 32-bit integers on PostgreSQL
(SQL sums over them stay integers); beyond it a cell is refused, not a database error."""
TRUE_WORDS = frozenset({"oui", "o", "vrai", "x", "1", "yes", "true"})
FALSE_WORDS = frozenset({"non", "n", "faux", "0", "no", "false", ""})


class BadValue(ValueError):
    """A cell that cannot be read; ``message`` is French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean(value: object) -> str:
    """A cell as trimmed text (XLSX cells may be numbers or dates), on one line: a line
    break or a control character inside a name or a reference would break the emails and
    letters it ends up in, so it is refused, not stored."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if CONTROL_CHARACTERS.search(text):
        raise BadValue(
            "Retour à la ligne ou caractère de contrôle interdit dans ce champ : "
            "corrigez la cellule."
        )
    return text


def bounded(text: str, limit: int) -> str:
    """``text`` when it fits a column of ``limit`` characters: SQLite would store a longer
    one as it is and PostgreSQL refuse the whole import, so it is refused here, on its line."""
    if len(text) > limit:
        raise BadValue(
            f"Texte trop long : {limit} caractères au plus dans cette colonne "
            f"(la cellule en a {len(text):_}).".replace("_", "\u202f")
        )
    return text


def cents(value: object, *, allow_negative: bool = False) -> int:
    """``1 250,50`` / ``1250.50`` / ``0000000074,70`` → cents; refuses negatives by default,
    and amounts beyond ``MAX_CENTS``."""
    if value.__class__ is str:
        text = value.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
        if len(text) > 3 and text[-3] == ",":
            digits = text[:-3] + text[-2:]
            if digits.isdecimal():
                amount = int(digits)
                if amount <= MAX_CENTS:
                    return amount
                raise _too_large(value)
        whole, separator, fraction = text.partition(",")
        if whole.isdecimal() and (not separator or (fraction.isdecimal() and len(fraction) <= 2)):
            amount = int(whole) * 100
            if separator:
                amount += int(fraction) * (10 if len(fraction) == 1 else 1)
            if amount <= MAX_CENTS:
                return amount
            raise _too_large(value)
    amount = _cents(value, allow_negative)
    if abs(amount) > MAX_CENTS:
        raise _too_large(value)
    return amount


def _too_large(value: object) -> BadValue:
    return BadValue(f"Montant trop élevé « {value} » : au plus 21 474 836,47 €.")


def _cents(value: object, allow_negative: bool) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise BadValue(f"Montant invalide « {value} » : attendu par exemple 1 250,50.")
        scaled = value * 100
        if abs(scaled) > MAX_CENTS:  # also a float too large to become an integer
            raise _too_large(value)
        amount = round(scaled)
    else:
        sign, whole, fraction = _amount_parts(value)
        amount = int(whole or 0) * 100 + int((fraction or "0").ljust(2, "0"))
        if sign == "-":
            amount = -amount
    if amount < 0 and not allow_negative:
        raise BadValue(f"Montant négatif « {value} » : un montant doit être positif ou nul.")
    return amount


def _amount_parts(value: object) -> tuple[str, str, str]:
    """Sign, whole part and at most two decimals. One separator is the decimal one; a
    thousands separator is read only when the other separator follows as the decimal one
    (``1.234,56``, ``1,234.56``), in groups of three. ``1,234`` or ``1.234`` (three decimals,
    or thousands without decimals: ambiguous) and ``0,005`` are refused, never rounded."""
    text = str(value).translate(_SPACES).replace("€", "")
    if match := _AMOUNT.match(text):
        sign, whole, fraction = match.groups()
        if whole or fraction:
            return sign, whole, fraction or ""
    if match := _GROUPED_AMOUNT.match(text):
        sign, grouped, fraction = match.groups()[:3] if match.group(2) else match.groups()[3:]
        return sign, grouped.replace(".", "").replace(",", ""), fraction
    if _THIRD_DECIMAL.match(text):
        raise BadValue(
            f"Montant ambigu « {value} » : plus de deux décimales, ou séparateur de milliers "
            "sans décimales ; écrivez par exemple 1234,00 ou 1 234,56."
        )
    if text.count(",") + text.count(".") > 1:
        raise BadValue(
            f"Montant invalide « {value} » : séparateurs mal placés ; attendu par exemple "
            "1 250,50 ou 1.250,50."
        )
    raise BadValue(f"Montant invalide « {value} » : attendu par exemple 1 250,50.")


def parse_date(value: object, *, years: tuple[int, int] | None = None) -> date:
    """``15/01/2025`` (also ``15.01.25``, ``2025-01-15``, ``20250115``, a time of day after
    it, and XLSX dates). Anything else after the date is refused; a two-digit year is in the
    2000s, a four-digit year is read as written (``01/01/0001`` is year 1, not 2001). With
    ``years`` (first, last), a date outside that range is refused: a typing error, not a
    debt."""
    if isinstance(value, datetime):
        parsed = value.date()
        text = parsed.strftime("%d/%m/%Y")
    elif isinstance(value, date):
        parsed = value
        text = parsed.strftime("%d/%m/%Y")
    else:
        text = str(value).strip()
        parsed = _date_text(text)
    if years is not None and not years[0] <= parsed.year <= years[1]:
        raise BadValue(
            f"Date hors de la plage acceptée « {text} » : années {years[0]} à {years[1]} "
            "(réglage [imports] earliest_year / latest_year)."
        )
    return parsed


def _date_text(text: str) -> date:
    try:
        if match := _FR_DATE.match(text):
            day, month, year = (int(part) for part in match.groups())
            if len(match.group(3)) == 2:
                year += 2000
            return date(year, month, day)
        if match := _ISO_DATE.match(text) or _COMPACT_DATE.match(text):
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
    except ValueError:
        raise BadValue(f"Date impossible « {text} » : ce jour n'existe pas.") from None
    raise BadValue(f"Date invalide « {text} » : format attendu jj/mm/aaaa.")


def siren(value: str) -> str:
    """A SIREN (9 digits, Luhn key); a SIRET gives its SIREN."""
    digits = value.translate(_SPACES)
    if len(digits) == 14 and stdnum_siret.is_valid(digits):
        return digits[:9]
    if stdnum_siren.is_valid(digits):
        return stdnum_siren.compact(digits)
    raise BadValue(f"SIREN invalide « {value} » : 9 chiffres avec une clé de contrôle correcte.")


def phone(value: str, region: str = "FR") -> str:
    """A phone number in E.164 (``+33123456789``); French numbers by default."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise BadValue(f"Numéro de téléphone invalide « {value} ».")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise BadValue(f"Adresse e-mail invalide « {value} ».") from None


CIVILITIES = {
    "madame": "Madame",
    "mme": "Madame",
    "mademoiselle": "Madame",
    "mlle": "Madame",
    "monsieur": "Monsieur",
    "m": "Monsieur",
    "mr": "Monsieur",
}


def civility(value: str) -> str:
    """« Mme », « M. », « Monsieur »… as « Madame » or « Monsieur » (how a contact is
    greeted; « Mademoiselle » is no longer used in French administration)."""
    word = value.strip().lower().rstrip(".")
    if word not in CIVILITIES:
        raise BadValue(f"Civilité « {value} » non reconnue : attendu Madame ou Monsieur.")
    return CIVILITIES[word]


def flag(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadValue(f"Valeur « {value} » non reconnue : attendu oui ou non.")


def whole_days(value: str) -> int:
    text = value.strip().lower().removesuffix("jours").removesuffix("j").strip()
    if not text.isdigit() or int(text) > 365:
        raise BadValue(f"Délai de paiement invalide « {value} » : un nombre de jours (0 à 365).")
    return int(text)
