"""Errors the domain raises, each carrying a French message for the person who caused it."""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken; ``message`` is French and shown as is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """Input was refused; ``errors`` maps each field to its French message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
