"""Keys for the creditor's systems: created and revoked by an administrator, audited.

A key is shown once, at creation; only its SHA-256 is stored (a key is 256 random bits, so a
fast hash is enough: there is nothing to guess). A key reads; a key « lecture et écriture »
also pushes debtors, contacts, invoices and payments. A revoked key is refused at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.models import ApiToken

TOKEN_PREFIX = "cc_"
MAX_NAME = 80
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, *, name: str, can_write: bool, actor_id: int | None, now: datetime
) -> IssuedToken:
    """A new key; its secret is in the result and nowhere else."""
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": "Donnez un nom à la clé (par exemple « ERP Sage »)."})
    if len(name) > MAX_NAME:
        raise ValidationFailed({"name": f"Le nom ne doit pas dépasser {MAX_NAME} caractères."})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=token_hash(secret),
        prefix=secret[:10],
        can_write=can_write,
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(token)
    session.flush()
    record_event(
        session,
        type="api.token_created",
        actor_id=actor_id,
        payload={"name": name, "write": can_write, "prefix": token.prefix},
        at=now,
    )
    return IssuedToken(token, secret)


def revoke_token(session: Session, *, token_id: int, actor_id: int | None, now: datetime) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise DomainError("Clé inconnue.")
    if token.revoked_at is not None:
        raise DomainError("Cette clé est déjà révoquée.")
    token.revoked_at = now
    session.add(token)
    record_event(
        session,
        type="api.token_revoked",
        actor_id=actor_id,
        payload={"name": token.name, "prefix": token.prefix},
        at=now,
    )
    session.flush()


def authenticate(session: Session, *, secret: str) -> ApiToken | None:
    """The live key with this secret, or None (unknown, malformed and revoked alike)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(secret))).first()
    if token is None or token.revoked_at is not None:
        return None
    return token


def record_api_call(
    session: Session, *, token_id: int, method: str, path: str, status: int, now: datetime
) -> None:
    """Every call is audited, with the key that made it (in its own short transaction)."""
    token = session.get(ApiToken, token_id)
    if token is None:
        return
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        session.add(token)
    record_event(
        session,
        type="api.call",
        payload={
            "key": token.name,
            "prefix": token.prefix,
            "method": method,
            "path": path[:200],
            "status": status,
        },
        at=now,
    )


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(ApiToken.created_at.desc())).all())
