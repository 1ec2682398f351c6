from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from callcenter.domain.accounts import (
    LoginRefused,
    ThrottlePolicy,
    authenticate,
    change_password,
    create_user,
    password_matches,
    sign_out_everywhere,
    update_user,
)
from callcenter.domain.errors import ValidationFailed
from callcenter.models import Event, LoginAttempt, User, utcnow

PASSWORD = "correct-horse-battery"


@pytest.fixture
def agent(session):
    user = create_user(
        session,
        email="Agent@Exemple.fr",
        full_name="Léa Martin",
        role="agent",
        password=PASSWORD,
        now=utcnow(),
    )
    session.commit()
    return user


def test_created_user_has_a_hashed_password_and_an_audit_entry(session, agent):
    assert agent.email == "agent@exemple.fr"
    assert PASSWORD not in agent.password_hash
    assert agent.password_hash.startswith("$argon2id$")
    assert password_matches(agent.password_hash, PASSWORD)
    event = session.exec(select(Event).where(Event.type == "user.created")).one()
    assert event.payload["user_id"] == agent.id


def test_create_user_reports_every_bad_field_in_french(session, agent):
    with pytest.raises(ValidationFailed) as failed:
        create_user(
            session,
            email="agent@exemple.fr",
            full_name=" ",
            role="boss",
            password="court",
            now=utcnow(),
        )
    assert failed.value.errors == {
        "full_name": "Le nom est obligatoire.",
        "role": "Rôle inconnu (agent, supervisor ou admin).",
        "password": "Le mot de passe doit compter au moins 10 caractères.",
        "email": "Un compte existe déjà avec cette adresse.",
    }
    with pytest.raises(ValidationFailed, match="Adresse e-mail invalide"):
        create_user(
            session,
            email="pas-une-adresse",
            full_name="X",
            role="agent",
            password=PASSWORD,
            now=utcnow(),
        )


def test_authenticate_accepts_the_right_password_whatever_the_case_of_the_address(session, agent):
    user = authenticate(
        session,
        email=" AGENT@exemple.fr ",
        password=PASSWORD,
        now=utcnow(),
    )
    assert user.id == agent.id


@pytest.mark.parametrize(
    ("email", "password"),
    [("agent@exemple.fr", "mauvais-mot-de-passe"), ("inconnu@exemple.fr", PASSWORD)],
)
def test_authenticate_refuses_without_saying_which_part_is_wrong(session, agent, email, password):
    with pytest.raises(LoginRefused, match="Adresse e-mail ou mot de passe incorrect"):
        authenticate(
            session,
            email=email,
            password=password,
            now=utcnow(),
        )


def test_disabled_account_is_refused(session, agent):
    agent.active = False
    session.commit()
    with pytest.raises(LoginRefused, match="désactivé"):
        authenticate(
            session,
            email="agent@exemple.fr",
            password=PASSWORD,
            now=utcnow(),
        )


def test_throttle_blocks_even_the_right_password_until_the_window_passes(session, agent):
    policy = ThrottlePolicy(max_failures=3, window=timedelta(minutes=15))
    start = utcnow()
    for minute in range(3):
        with pytest.raises(LoginRefused, match="incorrect"):
            authenticate(
                session,
                email="agent@exemple.fr",
                password="faux",
                policy=policy,
                now=start + timedelta(minutes=minute),
            )
    with pytest.raises(LoginRefused, match="Trop de tentatives"):
        authenticate(
            session,
            email="agent@exemple.fr",
            password=PASSWORD,
            policy=policy,
            now=start + timedelta(minutes=3),
        )
    later = start + timedelta(minutes=3) + timedelta(minutes=15, seconds=1)
    assert (
        authenticate(
            session, email="agent@exemple.fr", password=PASSWORD, policy=policy, now=later
        ).id
        == agent.id
    )


def test_a_success_resets_the_failure_count(session, agent):
    policy = ThrottlePolicy(max_failures=2)
    now = utcnow()
    with pytest.raises(LoginRefused):
        authenticate(session, email="agent@exemple.fr", password="faux", policy=policy, now=now)
    authenticate(
        session,
        email="agent@exemple.fr",
        password=PASSWORD,
        policy=policy,
        now=now + timedelta(seconds=1),
    )
    with pytest.raises(LoginRefused, match="incorrect"):
        authenticate(
            session,
            email="agent@exemple.fr",
            password="faux",
            policy=policy,
            now=now + timedelta(seconds=2),
        )


def test_one_client_guessing_many_addresses_is_throttled(session, agent):
    policy = ThrottlePolicy(max_failures=2)
    now = utcnow()
    for index in range(8):
        with pytest.raises(LoginRefused, match="incorrect"):
            authenticate(
                session,
                email=f"x{index}@exemple.fr",
                password="faux",
                remote_addr="203.0.113.9",
                policy=policy,
                now=now,
            )
    with pytest.raises(LoginRefused, match="Trop de tentatives"):
        authenticate(
            session,
            email="agent@exemple.fr",
            password=PASSWORD,
            remote_addr="203.0.113.9",
            policy=policy,
            now=now,
        )
    assert (
        authenticate(
            session,
            email="agent@exemple.fr",
            password=PASSWORD,
            remote_addr="198.51.100.7",
            policy=policy,
            now=now,
        ).id
        == agent.id
    )


def test_every_attempt_is_recorded(session, agent):
    with pytest.raises(LoginRefused):
        authenticate(
            session,
            email="agent@exemple.fr",
            password="faux",
            now=utcnow(),
        )
    authenticate(
        session,
        email="agent@exemple.fr",
        password=PASSWORD,
        now=utcnow(),
    )
    session.commit()
    outcomes = session.exec(select(LoginAttempt.succeeded).order_by(LoginAttempt.id)).all()
    assert outcomes == [False, True]
    assert session.exec(select(sa.func.count()).select_from(User)).one() == 1


def test_another_accounts_success_never_resets_the_client_count(session, agent):
    """A guesser cannot wipe its failures by signing in to its own account between guesses."""
    create_user(
        session,
        email="pirate@exemple.fr",
        full_name="Paul Pirate",
        role="agent",
        password=PASSWORD,
        now=utcnow(),
    )
    policy = ThrottlePolicy(max_failures=2)
    now = utcnow()

    def attempt(email: str, password: str):
        return authenticate(
            session,
            email=email,
            password=password,
            remote_addr="203.0.113.9",
            policy=policy,
            now=now,
        )

    for index in range(7):
        with pytest.raises(LoginRefused, match="incorrect"):
            attempt(f"x{index}@exemple.fr", "faux")
        now += timedelta(seconds=1)
    attempt("pirate@exemple.fr", PASSWORD)
    now += timedelta(seconds=1)
    with pytest.raises(LoginRefused, match="incorrect"):
        attempt("x7@exemple.fr", "faux")
    now += timedelta(seconds=1)
    with pytest.raises(LoginRefused, match="Trop de tentatives"):
        attempt("agent@exemple.fr", PASSWORD)


def test_a_success_clears_that_accounts_own_failures_from_the_client_count(session, agent):
    """An office behind one address is not locked out by its own mistyped passwords."""
    policy = ThrottlePolicy(max_failures=2)
    now = utcnow()

    def attempt(email: str, password: str):
        return authenticate(
            session,
            email=email,
            password=password,
            remote_addr="203.0.113.9",
            policy=policy,
            now=now,
        )

    with pytest.raises(LoginRefused, match="incorrect"):
        attempt("agent@exemple.fr", "faux")
    now += timedelta(seconds=1)
    attempt("agent@exemple.fr", PASSWORD)
    for index in range(7):
        now += timedelta(seconds=1)
        with pytest.raises(LoginRefused, match="incorrect"):
            attempt(f"x{index}@exemple.fr", "faux")
    now += timedelta(seconds=1)
    assert attempt("agent@exemple.fr", PASSWORD).id == agent.id


WEAK = "Ce mot de passe est trop facile à deviner : "
ADVICE = ". Préférez une phrase de plusieurs mots peu courants, sans lien avec vous."


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaaaa", "il répète un même caractère"),
        ("1234567890", "il fait partie des mots de passe les plus utilisés"),
        ("motdepasse", "c'est un mot de passe très courant"),
        ("abcdefghijk", "il contient une suite comme « abc » ou « 6543 »"),
        ("01/02/1990xx", "il contient une date"),
        ("nina.roux@exemple.fr", "il reprend votre nom ou votre adresse e-mail"),
    ],
)
def test_a_guessable_password_is_refused_with_its_reason_in_french(session, password, reason):
    with pytest.raises(ValidationFailed) as failed:
        create_user(
            session,
            email="nina.roux@exemple.fr",
            full_name="Nina Roux",
            role="agent",
            password=password,
            now=utcnow(),
        )
    assert failed.value.errors == {"password": WEAK + reason + ADVICE}


def test_a_long_passphrase_is_accepted(session):
    """zxcvbn reads at most 72 characters; a longer passphrase is still judged, not refused."""
    user = create_user(
        session,
        email="nina.roux@exemple.fr",
        full_name="Nina Roux",
        role="agent",
        password="porte-fenêtre cerise tambour " * 4,
        now=utcnow(),
    )
    assert user.id


def test_changing_a_password_checks_it_and_signs_the_user_out(session, agent):
    version = agent.session_version
    with pytest.raises(ValidationFailed) as failed:
        change_password(session, user_id=agent.id, password="lea martin", now=utcnow())
    assert failed.value.errors["password"].startswith(WEAK + "il reprend votre nom")
    change_password(
        session,
        user_id=agent.id,
        password="gravier-lucarne-ombelle",
        actor_id=agent.id,
        now=utcnow(),
    )
    session.commit()
    session.refresh(agent)
    assert password_matches(agent.password_hash, "gravier-lucarne-ombelle")
    assert agent.session_version == version + 1
    event = session.exec(select(Event).where(Event.type == "user.password_changed")).one()
    assert event.payload["user_id"] == agent.id and "gravier" not in str(event.payload)


def test_logout_role_change_and_deactivation_each_raise_the_session_version(session, agent):
    admin = create_user(
        session,
        email="admin@exemple.fr",
        full_name="Alain Dupré",
        role="admin",
        password=PASSWORD,
        now=utcnow(),
    )
    versions = [agent.session_version]
    sign_out_everywhere(session, user_id=agent.id)
    update_user(
        session, user_id=agent.id, role="supervisor", active=True, actor_id=admin.id, now=utcnow()
    )
    update_user(
        session, user_id=agent.id, role="supervisor", active=True, actor_id=admin.id, now=utcnow()
    )
    update_user(
        session, user_id=agent.id, role="supervisor", active=False, actor_id=admin.id, now=utcnow()
    )
    session.commit()
    session.refresh(agent)
    versions.append(agent.session_version)
    assert versions == [0, 3]
