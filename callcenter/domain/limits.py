"""Bounded text: every short text column (names, addresses, references, labels, codes)
holds one line within its declared length, on SQLite as on PostgreSQL.

PostgreSQL refuses a value longer than its ``VARCHAR(n)`` with an error at commit (a 500),
SQLite stores it silently: checked here before every flush, so both databases behave the
same and the person gets a French message. Control characters (CR, LF, NUL…) in a name
break email headers and letters, so no short column may hold them; long texts (notes,
email bodies, transcripts) have no such limit.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callcenter.domain.errors import ValidationFailed

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def text_problem(value: str, limit: int) -> str | None:
    """Why ``value`` cannot be stored in a column of ``limit`` characters, in French."""
    if CONTROL_CHARACTERS.search(value):
        return "Ce texte ne peut contenir ni retour à la ligne ni caractère de contrôle."
    if len(value) > limit:
        return f"Ce texte ne peut pas dépasser {limit} caractères (il en a {len(value)})."
    return None


_bounded: dict[sa.orm.Mapper, list[tuple[str, int]]] = {}


def _text_length(column_type: sa.types.TypeEngine) -> int | None:
    """The declared length of a text column (SQLModel's ``AutoString`` decorates
    ``String``), or None for unbounded text and non-text columns."""
    base = column_type.impl if isinstance(column_type, sa.types.TypeDecorator) else column_type
    if isinstance(base, sa.String) and not isinstance(base, sa.Enum):
        return getattr(column_type, "length", None) or base.length
    return None


def _bounded_columns(mapper: sa.orm.Mapper) -> list[tuple[str, int]]:
    cached = _bounded.get(mapper)
    if cached is None:
        cached = [
            (attribute.key, length)
            for attribute in mapper.column_attrs
            for column in attribute.columns
            if (length := _text_length(column.type))
        ]
        _bounded[mapper] = cached
    return cached


def check_bounded_text(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Refuse (``ValidationFailed``, keyed by attribute) a new row, or a change to a row,
    whose short text is too long or holds a control character; nothing is written. Values
    a change leaves untouched are not judged: an old row can still be updated (an email
    with a broken address goes to the dead letters)."""
    errors: dict[str, str] = {}
    for row in (*session.new, *session.dirty):
        state = sa.inspect(row)
        for key, limit in _bounded_columns(state.mapper):
            if not state.pending and not state.attrs[key].history.has_changes():
                continue  # a stored value left as it was (its row may be repaired later)
            value = getattr(row, key, None)
            if isinstance(value, str):
                problem = text_problem(value, limit)
                if problem:
                    errors.setdefault(key, problem)
    if errors:
        raise ValidationFailed(errors)


def enforce_bounded_text() -> None:
    """Check every ORM flush of the process (idempotent)."""
    if not sa.event.contains(Session, "before_flush", check_bounded_text):
        sa.event.listen(Session, "before_flush", check_bounded_text)
