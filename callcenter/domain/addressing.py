"""How a contact is addressed, on the phone and in emails: « Madame Dupré » when the civility
is known (civility and surname, as a French professional greets), else the full name."""

from __future__ import annotations

from callcenter.models import Contact


def addressed(contact: Contact | None) -> str:
    """« Madame Dupré » (civility + last word of the name), or the full name as recorded."""
    if contact is None:
        return ""
    name = contact.full_name.strip()
    if contact.civility and name:
        return f"{contact.civility} {name.split()[-1]}"
    return name


def greeting(contact: Contact | None) -> str:
    """The first words of a call: « Bonjour Madame Dupré » or « Bonjour »."""
    name = addressed(contact) if contact is not None and contact.civility else ""
    return f"Bonjour {name}" if name else "Bonjour"
