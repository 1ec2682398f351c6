"""Which column of a file feeds which field: French headers recognised by default, and a
mapping saved per source (``ImportMapping``) that overrides them and is reused next time."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from callcenter.models import ImportMapping

IGNORE = ""
SHEET_KEY = "#feuille"
"""In a saved mapping, not a column: the name of the workbook sheet to read for this source."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    required: bool
    aliases: tuple[str, ...]


def _f(name: str, label: str, required: bool, *aliases: str) -> FieldSpec:
    return FieldSpec(name, label, required, (label, *aliases))


ACCOUNT = (
    "Code client",
    "Compte",
    "Compte client",
    "Code tiers",
    "N° client",
    "Numéro client",
    "Client",
    "Compte auxiliaire",
    "CompAuxNum",
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "debtors": (
        _f("account_code", "Code client", True, *ACCOUNT),
        _f(
            "name",
            "Raison sociale",
            True,
            "Nom",
            "Société",
            "Dénomination",
            "Nom du client",
            "CompAuxLib",
        ),
        _f("siren", "SIREN", False, "N° SIREN", "SIRET", "N° SIRET"),
        _f("segment", "Segment", False, "Catégorie", "Catégorie client"),
        _f(
            "payment_terms_days",
            "Délai de paiement",
            False,
            "Délai de paiement (jours)",
            "Conditions de paiement",
            "Délai (jours)",
        ),
        _f("address_line1", "Adresse", False, "Adresse 1", "Adresse ligne 1", "Rue"),
        _f("address_line2", "Complément d'adresse", False, "Adresse 2", "Adresse ligne 2"),
        _f("postal_code", "Code postal", False, "CP"),
        _f("city", "Ville", False, "Commune", "Localité"),
        _f("country", "Pays", False),
    ),
    "contacts": (
        _f("account_code", "Code client", True, *ACCOUNT),
        _f("full_name", "Nom du contact", True, "Contact", "Interlocuteur", "Nom"),
        _f("civility", "Civilité", False, "Titre", "Civ"),
        _f("role", "Fonction", False, "Rôle", "Poste"),
        _f("phone", "Téléphone", False, "Tél", "Tel", "Téléphone fixe", "Fixe"),
        _f("mobile", "Portable", False, "Mobile", "Téléphone portable", "Tél portable"),
        _f("email", "E-mail", False, "Email", "Courriel", "Adresse e-mail", "Mail"),
        _f("is_billing", "Contact facturation", False, "Facturation", "Payeur"),
    ),
    "invoices": (
        _f("account_code", "Code client", True, *ACCOUNT),
        _f(
            "number",
            "N° facture",
            True,
            "Numéro de facture",
            "Facture",
            "N° de facture",
            "Numéro facture",
            "N° pièce",
            "Pièce",
            "Référence facture",
        ),
        _f(
            "issue_date",
            "Date facture",
            True,
            "Date de facture",
            "Date",
            "Date pièce",
            "Date d'émission",
        ),
        _f("due_date", "Échéance", False, "Date d'échéance", "Date échéance"),
        _f("amount", "Montant TTC", True, "Montant", "Total TTC", "Montant facture"),
        _f(
            "open_amount",
            "Reste dû",
            False,
            "Reste à payer",
            "Solde",
            "Montant restant",
            "Restant dû",
        ),
        _f("currency", "Devise", False),
    ),
    "payments": (
        _f("account_code", "Code client", True, *ACCOUNT),
        _f(
            "reference",
            "Référence",
            True,
            "Référence règlement",
            "Réf. règlement",
            "N° règlement",
            "Référence paiement",
            "N° de règlement",
        ),
        _f("paid_on", "Date de règlement", True, "Date règlement", "Date de paiement", "Date"),
        _f("amount", "Montant", True, "Montant réglé", "Montant du règlement", "Montant TTC"),
        _f("method", "Mode de règlement", False, "Mode", "Moyen de paiement"),
        _f(
            "invoice_reference",
            "N° facture",
            False,
            "Facture",
            "Facture réglée",
            "Numéro de facture",
        ),
    ),
}
KINDS = tuple(FIELDS)


def normalise_header(text: str) -> str:
    """``« N° Facture »`` → ``n facture``: no accents, case or punctuation."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", bare).split())


def field_labels(kind: str) -> dict[str, str]:
    return {spec.name: spec.label for spec in FIELDS[kind]}


@dataclass
class Resolution:
    """Field → column index; errors as ``(column, message)``; the mapping actually used."""

    columns: dict[str, int]
    errors: list[tuple[str | None, str]]
    used: dict[str, str]


def resolve(kind: str, header: list[str], explicit: dict[str, str] | None = None) -> Resolution:
    """Map each header to a field: explicit mapping (header → field, ``""`` to ignore) first,
    then the French default headers. Unknown and duplicated columns, and missing required
    fields, are errors."""
    specs = {spec.name: spec for spec in FIELDS[kind]}
    by_alias: dict[str, str] = {}
    for spec in FIELDS[kind]:
        for alias in spec.aliases:
            by_alias.setdefault(normalise_header(alias), spec.name)
    explicit_norm = {normalise_header(k): v for k, v in (explicit or {}).items() if k != SHEET_KEY}
    columns: dict[str, int] = {}
    used: dict[str, str] = {}
    errors: list[tuple[str | None, str]] = []
    for index, raw in enumerate(header):
        title = str(raw).strip()
        if not title:
            continue
        key = normalise_header(title)
        if key in explicit_norm:
            name = explicit_norm[key]
            if name and name not in specs:
                errors.append((title, f"Champ « {name} » inconnu dans la correspondance."))
                continue
        else:
            name = by_alias.get(key)
            if name is None:
                errors.append(
                    (
                        title,
                        f"Colonne inconnue « {title} » : renommez-la, ou associez-la à un "
                        "champ (ou « ignorer ») dans la correspondance des colonnes.",
                    )
                )
                continue
        if not name:
            used[title] = IGNORE
            continue
        if name in columns:
            errors.append(
                (
                    title,
                    f"Deux colonnes pour le même champ « {specs[name].label} » "
                    f"(« {header[columns[name]]} » et « {title} »).",
                )
            )
            continue
        columns[name] = index
        used[title] = name
    for spec in FIELDS[kind]:
        if spec.required and spec.name not in columns:
            errors.append(
                (
                    None,
                    f"Colonne obligatoire absente : « {spec.label} » "
                    f"(en-têtes reconnus : {', '.join(spec.aliases[:4])}…).",
                )
            )
    return Resolution(columns, errors, used)


def mapped_headers(mapping: dict[str, str]) -> list[str]:
    """The file columns a saved mapping names (not its sheet)."""
    return [header for header in mapping if header != SHEET_KEY]


def load_mapping(session: Session, *, name: str, kind: str) -> dict[str, str] | None:
    row = session.exec(
        select(ImportMapping).where(ImportMapping.name == name, ImportMapping.kind == kind)
    ).first()
    return dict(row.mapping) if row else None


def save_mapping(
    session: Session, *, name: str, kind: str, mapping: dict[str, str], now: datetime | None = None
) -> ImportMapping:
    """Create or replace the mapping of this source and kind."""
    row = session.exec(
        select(ImportMapping).where(ImportMapping.name == name, ImportMapping.kind == kind)
    ).first()
    if row is None:
        row = ImportMapping(name=name, kind=kind, mapping=mapping, created_at=now, updated_at=now)
        session.add(row)
    elif row.mapping != mapping:
        row.mapping = mapping
        row.updated_at = now
    session.flush()
    return row
