"""User accounts: creation, password hashing and login throttling.

Passwords are hashed with Argon2id. Failed logins are stored in the database,
so throttling holds across every web process: after ``max_failures`` failures
for one address (or four times that from one client) within the window, logins
are refused until the window has passed, even with the right password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from callcenter.domain.audit import record_event
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.models import AgentState, LoginAttempt, Role, User

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("mot de passe factice pour égaliser les temps")

ROLE_LABELS = {
    Role.AGENT: "Chargé de relance",
    Role.SUPERVISOR: "Superviseur",
    Role.ADMIN: "Administrateur",
}

AGENT_STATE_LABELS = {
    AgentState.OFFLINE: "Hors ligne",
    AgentState.AVAILABLE: "Disponible",
    AgentState.ON_CALL: "En appel",
    AgentState.WRAP_UP: "Post-appel",
    AgentState.PAUSED: "En pause",
}

CLIENT_FAILURE_FACTOR = 4


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)


class LoginRefused(DomainError):
    """Wrong credentials, a disabled account, or too many recent failures."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    full_name: str,
    role: str,
    password: str,
    min_password_length: int = 10,
    actor_id: int | None = None,
    now: datetime,
) -> User:
    """Create an account, refusing a bad address, a short password or a taken address."""
    errors: dict[str, str] = {}
    email = normalise_email(email)
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        errors["email"] = "Adresse e-mail invalide."
    if not full_name.strip():
        errors["full_name"] = "Le nom est obligatoire."
    if role not in set(Role):
        errors["role"] = "Rôle inconnu (agent, supervisor ou admin)."
    if len(password) < min_password_length:
        errors["password"] = (
            f"Le mot de passe doit compter au moins {min_password_length} caractères."
        )
    if "email" not in errors and session.exec(select(User).where(User.email == email)).first():
        errors["email"] = "Un compte existe déjà avec cette adresse."
    if errors:
        raise ValidationFailed(errors)
    user = User(
        email=email,
        full_name=full_name.strip(),
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record_event(
        session,
        type="user.created",
        actor_id=actor_id,
        payload={"user_id": user.id, "email": email, "role": role},
        at=now,
    )
    return user


def _recent_failures(session: Session, column, value: str, since: datetime) -> int:
    last_success = session.exec(
        select(sa.func.max(LoginAttempt.at)).where(column == value, LoginAttempt.succeeded)
    ).one()
    start = max(since, last_success) if last_success else since
    return session.exec(
        select(sa.func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.at > start, sa.not_(LoginAttempt.succeeded))
    ).one()


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    remote_addr: str = "",
    policy: ThrottlePolicy = ThrottlePolicy(),
    now: datetime,
) -> User:
    """Check credentials and record the attempt; raise LoginRefused with a French reason."""
    email = normalise_email(email)
    since = now - policy.window
    throttled = _recent_failures(session, LoginAttempt.email, email, since) >= policy.max_failures
    if remote_addr and not throttled:
        throttled = (
            _recent_failures(session, LoginAttempt.remote_addr, remote_addr, since)
            >= policy.max_failures * CLIENT_FAILURE_FACTOR
        )
    if throttled:
        session.add(LoginAttempt(email=email, remote_addr=remote_addr, succeeded=False, at=now))
        minutes = int(policy.window.total_seconds() // 60)
        raise LoginRefused(f"Trop de tentatives de connexion. Réessayez dans {minutes} minutes.")
    user = session.exec(select(User).where(User.email == email)).first()
    valid = password_matches(user.password_hash if user else _DUMMY_HASH, password)
    succeeded = bool(user and valid and user.active)
    session.add(LoginAttempt(email=email, remote_addr=remote_addr, succeeded=succeeded, at=now))
    if not succeeded:
        if user and valid and not user.active:
            raise LoginRefused("Ce compte est désactivé. Contactez votre administrateur.")
        raise LoginRefused("Adresse e-mail ou mot de passe incorrect.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record_event(session, type="user.login", actor_id=user.id, payload={"ip": remote_addr}, at=now)
    return user


def update_user(
    session: Session, *, user_id: int, role: str, active: bool, actor_id: int, now: datetime
) -> User:
    """Change a user's role or switch the account off; an admin cannot lock themselves out."""
    user = session.get(User, user_id)
    if user is None:
        raise DomainError("Utilisateur introuvable.")
    if role not in set(Role):
        raise ValidationFailed({"role": "Rôle inconnu (agent, supervisor ou admin)."})
    if user_id == actor_id and (role != Role.ADMIN or not active):
        raise DomainError("Vous ne pouvez pas retirer vos propres droits d'administrateur.")
    changes = {
        name: value
        for name, value in (("role", role), ("active", active))
        if getattr(user, name) != value
    }
    if not changes:
        return user
    for name, value in changes.items():
        setattr(user, name, value)
    record_event(
        session,
        type="user.updated",
        actor_id=actor_id,
        payload={"user_id": user.id, "email": user.email, **changes},
        at=now,
    )
    session.flush()
    return user
