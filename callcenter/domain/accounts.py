"""User accounts: creation, passwords, sessions and login throttling.

Passwords are hashed with Argon2id and must be hard to guess (zxcvbn score of 3 or
more, the user's own address and name counting as known words). Failed logins are
stored in the database, so throttling holds across every web process: after
``max_failures`` failures for one address (or four times that from one client)
within the window, logins are refused until the window has passed, even with the
right password. A successful login clears only that account's own failures.
Each user carries a session version: raising it signs out every open session.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import aliased
from sqlmodel import Session, select
from zxcvbn import zxcvbn

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

PASSWORD_MIN_SCORE = 3
# zxcvbn refuses longer input; the first 72 characters are a fair sample of a passphrase.
_ZXCVBN_MAX_LENGTH = 72
# zxcvbn keeps the user's words in a module-level dictionary during a check.
_zxcvbn_lock = threading.Lock()
_ZXCVBN_WARNINGS = {
    "Straight rows of keys are easy to guess.": "il suit une rangée de touches du clavier",
    "Short keyboard patterns are easy to guess.": "il suit un motif du clavier",
    'Repeats like "aaa" are easy to guess.': "il répète un même caractère",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': (
        "il répète un même motif"
    ),
    'Sequences like "abc" or "6543" are easy to guess.': (
        "il contient une suite comme « abc » ou « 6543 »"
    ),
    "Recent years are easy to guess.": "il contient une année récente",
    "Dates are often easy to guess.": "il contient une date",
    "This is a top-10 common password.": "il fait partie des mots de passe les plus utilisés",
    "This is a top-100 common password.": "il fait partie des mots de passe les plus utilisés",
    "This is a very common password.": "c'est un mot de passe très courant",
    "This is similar to a commonly used password.": ("il ressemble à un mot de passe très courant"),
    "A word by itself is easy to guess.": "un mot seul se devine facilement",
    "Names and surnames by themselves are easy to guess.": (
        "un nom ou un prénom seul se devine facilement"
    ),
    "Common names and surnames are easy to guess.": (
        "les noms et prénoms courants se devinent facilement"
    ),
}


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


def _personal_words(email: str, full_name: str) -> list[str]:
    """The user's address and name, whole and word by word, with and without accents, as
    zxcvbn's known words."""
    words = [email, full_name, *re.split(r"[\W_]+", f"{email} {full_name}")]
    plain = [
        unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode() for word in words
    ]
    return [word for word in words + plain if word.strip()]


def password_weakness(
    password: str, *, email: str, full_name: str, min_length: int = 10
) -> str | None:
    """Why ``password`` is refused, in French, or None: too short, or guessable (zxcvbn
    score below 3, the user's own address and name counting as known words)."""
    if len(password) < min_length:
        return f"Le mot de passe doit compter au moins {min_length} caractères."
    with _zxcvbn_lock:
        result = zxcvbn(
            password[:_ZXCVBN_MAX_LENGTH], user_inputs=_personal_words(email, full_name)
        )
    if result["score"] >= PASSWORD_MIN_SCORE:
        return None
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        reason = "il reprend votre nom ou votre adresse e-mail"
    else:
        reason = _ZXCVBN_WARNINGS.get(result["feedback"]["warning"], "il est trop prévisible")
    return (
        f"Ce mot de passe est trop facile à deviner : {reason}. "
        "Préférez une phrase de plusieurs mots peu courants, sans lien avec vous."
    )


def _revoke_sessions(user: User) -> None:
    """Every session signed in so far stops being accepted at its next request."""
    user.session_version = User.session_version + 1


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
    """Create an account, refusing a bad address, a weak password or a taken address."""
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
    weakness = password_weakness(
        password, email=email, full_name=full_name, min_length=min_password_length
    )
    if weakness:
        errors["password"] = weakness
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
    """Failures since ``since`` matching ``column == value``, leaving out each failure its own
    account has since made good with a successful login (never another account's success)."""
    success = aliased(LoginAttempt)
    cleared = (
        select(success.id)
        .where(
            success.email == LoginAttempt.email,
            success.succeeded,
            success.at >= LoginAttempt.at,
        )
        .exists()
    )
    return session.exec(
        select(sa.func.count())
        .select_from(LoginAttempt)
        .where(
            column == value,
            LoginAttempt.at > since,
            sa.not_(LoginAttempt.succeeded),
            sa.not_(cleared),
        )
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
    """Change a user's role or switch the account off; an admin cannot lock themselves out.
    Either change signs the user out of every open session."""
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
    _revoke_sessions(user)
    record_event(
        session,
        type="user.updated",
        actor_id=actor_id,
        payload={"user_id": user.id, "email": user.email, **changes},
        at=now,
    )
    session.flush()
    return user


def sign_out_everywhere(session: Session, *, user_id: int) -> None:
    """Logout: the session cookie just used, and any copy of it, stops being accepted."""
    user = session.get(User, user_id)
    if user is None:
        return
    _revoke_sessions(user)
    session.flush()


def change_password(
    session: Session,
    *,
    user_id: int,
    password: str,
    min_password_length: int = 10,
    actor_id: int | None = None,
    now: datetime,
) -> User:
    """Set a new password, refused if weak; every open session of the user is signed out."""
    user = session.get(User, user_id)
    if user is None:
        raise DomainError("Utilisateur introuvable.")
    weakness = password_weakness(
        password, email=user.email, full_name=user.full_name, min_length=min_password_length
    )
    if weakness:
        raise ValidationFailed({"password": weakness})
    user.password_hash = hash_password(password)
    _revoke_sessions(user)
    record_event(
        session,
        type="user.password_changed",
        actor_id=actor_id,
        payload={"user_id": user.id, "email": user.email},
        at=now,
    )
    session.flush()
    return user
