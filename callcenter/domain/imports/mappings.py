"""Saved column mappings edited by hand: the columns of a file with the field chosen for each,
the rules a mapping must follow before it is saved, and saving or deleting it (audited).

A mapping belongs to a source (the tool or export that produced the file) and a kind of file;
it maps each header as written to a field, ``""`` meaning the column is ignored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

from sqlmodel import Session, col, select

from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.imports.columns import (
    FIELDS,
    IGNORE,
    KINDS,
    SHEET_KEY,
    FieldSpec,
    normalise_header,
    resolve,
    save_mapping,
)
from callcenter.domain.imports.sources import open_table
from callcenter.models import ImportMapping

NAME_MAX_LENGTH = 80
SAMPLE_ROWS = 2
SAMPLE_MAX_LENGTH = 40
NOT_MAPPABLE = "Le FEC a des colonnes fixes : il n'a pas de correspondance de colonnes."


@dataclass
class ColumnChoice:
    """One column of a file: its header, the field chosen for it and a few of its values."""

    header: str
    chosen: str = IGNORE
    recognised: bool = False
    samples: list[str] = field(default_factory=list)


@dataclass
class FileColumns:
    """The header of a file and, per column, its first values."""

    header: list[str]
    samples: list[list[str]]


def is_mappable(kind: str) -> bool:
    """Only CSV/XLSX kinds take a mapping: the FEC's columns are fixed by law."""
    return kind in KINDS


def fields_of(kind: str) -> tuple[FieldSpec, ...]:
    if not is_mappable(kind):
        raise DomainError(NOT_MAPPABLE)
    return FIELDS[kind]


def read_columns(path: Path, *, sample_rows: int = SAMPLE_ROWS) -> FileColumns:
    """The header and the first ``sample_rows`` values of each column, streamed from the file:
    a large file is never read whole. Raises ``FileRefused`` for an unreadable file."""
    with open_table(Path(path)) as table:
        header = [str(title).strip() for title in table.header]
        rows = [cells for _line, cells in islice(table.rows, sample_rows)]
    samples = []
    for index in range(len(header)):
        values = (str(row[index]).strip() for row in rows if index < len(row))
        samples.append([value[:SAMPLE_MAX_LENGTH] for value in values if value])
    return FileColumns(header, samples)


def proposed_choices(
    kind: str,
    header: list[str],
    saved: dict[str, str] | None = None,
    samples: list[list[str]] | None = None,
) -> list[ColumnChoice]:
    """Each non-blank column with the field the import would use today: the saved mapping of
    the source first, then the French headers recognised by default; an unknown column is
    proposed as ignored and flagged as not recognised."""
    used = resolve(kind, header, saved).used
    choices = []
    for index, raw in enumerate(header):
        title = str(raw).strip()
        if not title:
            continue
        choices.append(
            ColumnChoice(
                header=title,
                chosen=used.get(title, IGNORE),
                recognised=title in used,
                samples=(samples[index] if samples and index < len(samples) else []),
            )
        )
    return choices


def check_mapping(kind: str, *, name: str, choices: list[tuple[str, str]]) -> dict[str, str]:
    """The mapping ``header → field`` of the choices ``(header, field)``, or ``ValidationFailed``
    with French messages keyed ``name``, ``fields`` (every required field must be mapped) and
    ``column-N`` (the N-th choice: unknown field, field already chosen for another column)."""
    specs = {spec.name: spec for spec in fields_of(kind)}
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "Donnez un nom à la source (par exemple « Export Sage »)."
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = (
            f"Le nom de la source ne doit pas dépasser {NAME_MAX_LENGTH} caractères "
            f"({len(name)} saisis)."
        )
    mapping: dict[str, str] = {}
    chosen_by: dict[str, str] = {}
    by_header: dict[str, str] = {}
    for position, (raw_header, raw_field) in enumerate(choices):
        header, chosen = raw_header.strip(), raw_field.strip()
        key = f"column-{position}"
        if chosen and chosen not in specs:
            errors[key] = f"Champ inconnu « {chosen} » : choisissez un champ de la liste."
            continue
        twin = by_header.get(normalise_header(header))
        if twin is not None and (chosen or twin):
            errors[key] = (
                f"Deux colonnes portent l'en-tête « {header} » : renommez l'une d'elles dans "
                "le fichier, ou ignorez les deux."
            )
            continue
        by_header[normalise_header(header)] = chosen
        if chosen and chosen in chosen_by and chosen_by[chosen] != header:
            errors[key] = (
                f"Le champ « {specs[chosen].label} » est déjà choisi pour la colonne "
                f"« {chosen_by[chosen]} » : un champ ne reçoit qu'une colonne."
            )
            continue
        if chosen:
            chosen_by[chosen] = header
        mapping[header] = chosen
    if not choices:
        errors["fields"] = "Aucune colonne à associer : le fichier n'a pas d'en-tête."
    else:
        missing = [
            spec.label for spec in specs.values() if spec.required and spec.name not in chosen_by
        ]
        if len(missing) == 1:
            errors.setdefault(
                "fields", f"Associez une colonne au champ obligatoire « {missing[0]} »."
            )
        elif missing:
            listed = ", ".join(f"« {label} »" for label in missing)
            errors.setdefault(
                "fields", f"Associez une colonne à chaque champ obligatoire : {listed}."
            )
    if errors:
        raise ValidationFailed(errors)
    return mapping


def save_column_mapping(
    session: Session,
    *,
    kind: str,
    name: str,
    choices: list[tuple[str, str]],
    actor_id: int,
    now: datetime,
) -> ImportMapping:
    """Validate and save the mapping of a source (replacing the one it had); a change is
    audited with the mapping before and after, saving the same mapping again records nothing."""
    mapping = check_mapping(kind, name=name, choices=choices)
    name = name.strip()
    previous = session.exec(
        select(ImportMapping).where(ImportMapping.name == name, ImportMapping.kind == kind)
    ).first()
    before = dict(previous.mapping) if previous else None
    if before and SHEET_KEY in before:  # the columns change, the sheet to read stays
        mapping[SHEET_KEY] = before[SHEET_KEY]
    row = save_mapping(session, name=name, kind=kind, mapping=mapping, now=now)
    if before == mapping:
        return row
    record_event(
        session,
        type="import_mapping.saved",
        actor_id=actor_id,
        payload={
            "mapping_id": row.id,
            "name": name,
            "kind": kind,
            "before": before,
            "after": mapping,
        },
        at=now,
    )
    session.flush()
    return row


def delete_column_mapping(
    session: Session, *, mapping_id: int, actor_id: int, now: datetime | None = None
) -> ImportMapping:
    """Delete a saved mapping; the next file of that source falls back to the French headers."""
    row = session.get(ImportMapping, mapping_id)
    if row is None:
        raise DomainError("Correspondance introuvable : elle a peut-être déjà été supprimée.")
    record_event(
        session,
        type="import_mapping.deleted",
        actor_id=actor_id,
        payload={"mapping_id": row.id, "name": row.name, "kind": row.kind, "before": row.mapping},
        at=now,
    )
    session.delete(row)
    session.flush()
    return row


def saved_mappings(session: Session) -> list[ImportMapping]:
    return list(
        session.exec(
            select(ImportMapping).order_by(col(ImportMapping.name), col(ImportMapping.kind))
        ).all()
    )


def source_names(session: Session, *, kind: str) -> list[str]:
    """The sources having a saved mapping for this kind of file, by name."""
    if not is_mappable(kind):
        return []
    return list(
        session.exec(
            select(ImportMapping.name)
            .where(ImportMapping.kind == kind)
            .order_by(col(ImportMapping.name))
        ).all()
    )
