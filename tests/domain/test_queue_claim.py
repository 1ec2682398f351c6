"""Claims: order, personal callbacks, leases, skip and release, and the concurrency proof."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from callcenter.config import Settings
from callcenter.db import create_db_engine, keep_prepared_statements
from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.queue import (
    claim_next,
    refresh_all,
    refresh_debtors,
    release,
    renew_lease,
    skip,
)
from callcenter.domain.queue.rules import exclusion_labels
from callcenter.models import Event, QueueItem, QueueState
from tests.domain.queue_helpers import NOW, TODAY
from tests.factories import make_callback, make_contact, make_debtor, make_invoice, make_user


def callable_debtor(session, *, amount_cents=100_000, **fields):
    debtor = make_debtor(session, **fields)
    make_contact(session, debtor)
    make_invoice(session, debtor, due_date=TODAY - timedelta(days=20), amount_cents=amount_cents)
    return debtor


def item_of(session, debtor):
    item = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
    session.refresh(item)
    return item


def test_best_score_first_and_never_twice(session, settings):
    low = callable_debtor(session, amount_cents=10_000)
    high = callable_debtor(session, amount_cents=5_000_000)
    first, second = make_user(session), make_user(session)
    refresh_all(session, now=NOW, settings=settings)
    a = claim_next(session, agent_id=first.id, now=NOW, settings=settings)
    b = claim_next(session, agent_id=second.id, now=NOW, settings=settings)
    assert (a.debtor_id, b.debtor_id) == (high.id, low.id)
    assert claim_next(session, agent_id=make_user(session).id, now=NOW, settings=settings) is None
    item = item_of(session, high)
    assert (item.state, item.claimed_by_id) == (QueueState.CLAIMED, first.id)
    assert item.lease_until == NOW + timedelta(minutes=15)


def test_the_web_servers_prepared_claim_gives_the_same_debtors(engine, settings):
    """The web server's connections run the claim as a prepared statement on PostgreSQL
    (kept across the rollback that ends a request); the claims are the same."""
    keep_prepared_statements(engine)
    with Session(engine, expire_on_commit=False) as session:
        low = callable_debtor(session, amount_cents=10_000)
        high = callable_debtor(session, amount_cents=5_000_000)
        first, second = make_user(session), make_user(session)
        refresh_all(session, now=NOW, settings=settings)
        session.commit()
    taken = []
    for agent in (first, second, first):
        with Session(engine) as session:
            claim = claim_next(session, agent_id=agent.id, now=NOW, settings=settings)
            session.commit()
            taken.append(claim.debtor_id)
            session.execute(sa.text("SELECT 1"))
    assert taken == [high.id, low.id, high.id]


def test_an_agent_holding_a_debtor_gets_it_back(session, settings):
    callable_debtor(session)
    callable_debtor(session)
    agent = make_user(session)
    refresh_all(session, now=NOW, settings=settings)
    first = claim_next(session, agent_id=agent.id, now=NOW, settings=settings)
    again = claim_next(session, agent_id=agent.id, now=NOW, settings=settings)
    assert again.debtor_id == first.debtor_id


def test_expired_lease_returns_to_the_queue_and_refresh_keeps_live_claims(session, settings):
    debtor = callable_debtor(session)
    first, second = make_user(session), make_user(session)
    refresh_all(session, now=NOW, settings=settings)
    claim_next(session, agent_id=first.id, now=NOW, settings=settings)
    refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
    assert item_of(session, debtor).claimed_by_id == first.id
    later = NOW + timedelta(minutes=10)
    assert claim_next(session, agent_id=second.id, now=later, settings=settings) is None
    renew_lease(session, agent_id=first.id, debtor_id=debtor.id, now=later)
    assert claim_next(session, agent_id=second.id, now=later, settings=settings) is None
    expired = later + timedelta(minutes=16)
    taken = claim_next(session, agent_id=second.id, now=expired, settings=settings)
    assert taken.debtor_id == debtor.id
    with pytest.raises(DomainError, match="plus réservé"):
        renew_lease(session, agent_id=first.id, debtor_id=debtor.id, now=expired)


def test_release_and_skip(session, settings):
    debtor = callable_debtor(session)
    agent = make_user(session)
    refresh_all(session, now=NOW, settings=settings)
    claim_next(session, agent_id=agent.id, now=NOW, settings=settings)
    release(session, agent_id=agent.id, debtor_id=debtor.id, now=NOW)
    assert item_of(session, debtor).state == QueueState.READY
    claim_next(session, agent_id=agent.id, now=NOW, settings=settings)
    with pytest.raises(ValidationFailed):
        skip(session, agent_id=agent.id, debtor_id=debtor.id, reason="  ", now=NOW)
    until = skip(session, agent_id=agent.id, debtor_id=debtor.id, reason="Standard fermé", now=NOW)
    assert until == NOW + timedelta(hours=1)
    event = session.exec(select(Event).where(Event.type == "queue.skipped")).one()
    assert (event.debtor_id, event.actor_id, event.payload["reason"]) == (
        debtor.id,
        agent.id,
        "Standard fermé",
    )
    assert claim_next(session, agent_id=agent.id, now=NOW, settings=settings) is None
    refresh_all(session, now=NOW + timedelta(minutes=5), settings=settings)
    assert item_of(session, debtor).next_eligible_at == until
    soon = until + timedelta(minutes=1)
    assert (
        claim_next(session, agent_id=agent.id, now=soon, settings=settings).debtor_id == debtor.id
    )
    with pytest.raises(DomainError):
        release(session, agent_id=make_user(session).id, debtor_id=debtor.id, now=soon)


def test_personal_callback_goes_to_its_agent_until_reassigned(session, settings):
    big = callable_debtor(session, amount_cents=9_000_000)
    owed = callable_debtor(session, amount_cents=10_000)
    owner, other = make_user(session), make_user(session)
    make_callback(
        session, owed, agent_id=owner.id, personal=True, due_at=NOW - timedelta(minutes=5)
    )
    refresh_all(session, now=NOW, settings=settings)
    assert claim_next(session, agent_id=other.id, now=NOW, settings=settings).debtor_id == big.id
    release(session, agent_id=other.id, debtor_id=big.id, now=NOW)
    mine = claim_next(session, agent_id=owner.id, now=NOW, settings=settings)
    assert (mine.debtor_id, mine.personal_callback) == (owed.id, True)
    release(session, agent_id=owner.id, debtor_id=owed.id, now=NOW)
    reassigned = NOW + timedelta(minutes=26)  # due 5 min before NOW, reassigned after 30 min
    taken = claim_next(session, agent_id=other.id, now=reassigned, settings=settings)
    assert taken.debtor_id == owed.id


def test_callback_for_anyone_jumps_the_queue(session, settings):
    callable_debtor(session, amount_cents=9_000_000)
    owed = callable_debtor(session, amount_cents=10_000)
    make_callback(session, owed, personal=False, due_at=NOW - timedelta(minutes=1))
    refresh_all(session, now=NOW, settings=settings)
    agent = make_user(session)
    assert claim_next(session, agent_id=agent.id, now=NOW, settings=settings).debtor_id == owed.id


def test_claim_rechecks_the_calling_window(session, settings):
    paris = callable_debtor(session, amount_cents=9_000_000)
    reunion = callable_debtor(session, amount_cents=10_000, time_zone="Indian/Reunion")
    refresh_all(session, now=NOW, settings=settings)  # 10:00 Paris, 12:00 Réunion
    lunch_in_reunion = NOW + timedelta(minutes=40)  # 10:40 Paris, 12:40 Réunion
    agent = make_user(session)
    first = claim_next(session, agent_id=agent.id, now=lunch_in_reunion, settings=settings)
    assert first.debtor_id == paris.id
    release(session, agent_id=agent.id, debtor_id=paris.id, now=lunch_in_reunion)
    session.execute(sa.update(QueueItem).where(QueueItem.debtor_id == paris.id).values(score=0))
    again = claim_next(session, agent_id=agent.id, now=lunch_in_reunion, settings=settings)
    assert again.debtor_id == paris.id
    item = item_of(session, reunion)
    assert item.state == QueueState.EXCLUDED
    assert "Hors plage d'appel" in exclusion_labels(item.exclusion_reasons)[0]


def _seed_for_concurrency(engine, settings: Settings, agents: int, debtors: int) -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        for k in range(debtors):
            callable_debtor(session, amount_cents=10_000 + k * 1_000)
        users = [make_user(session).id for _ in range(agents)]
        refresh_all(session, now=NOW, settings=settings)
        session.commit()
    return users


def _claim_in_thread(engine, agent_id: int, settings: Settings):
    with Session(engine, expire_on_commit=False) as session:
        claim = claim_next(session, agent_id=agent_id, now=NOW, settings=settings)
        session.commit()
    return claim.debtor_id if claim else None


def test_fifty_threads_claim_at_once(engine, settings):
    agents = _seed_for_concurrency(engine, settings, agents=50, debtors=60)
    results: dict[int, int | None] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(agents))

    def work(agent_id: int) -> None:
        try:
            barrier.wait()
            results[agent_id] = _claim_in_thread(engine, agent_id, settings)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    claimed = list(results.values())
    assert None not in claimed
    assert len(claimed) == 50
    assert len(set(claimed)) == 50
    with Session(engine) as session:
        rows = session.exec(select(QueueItem).where(QueueItem.state == QueueState.CLAIMED)).all()
        assert sorted(r.debtor_id for r in rows) == sorted(claimed)
        assert {r.claimed_by_id for r in rows} == set(agents)


def claim_in_process(url: str, agent_ids: list[int]) -> list[int | None]:
    """Run in a child process with its own engine: claim once per agent."""
    engine = create_db_engine(url)
    try:
        return [_claim_in_thread(engine, agent_id, Settings()) for agent_id in agent_ids]
    finally:
        engine.dispose()


def test_several_processes_claim_at_once(engine, settings, database_url):
    agents = _seed_for_concurrency(engine, settings, agents=40, debtors=45)
    chunks = [agents[i::4] for i in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(claim_in_process, [(database_url, chunk) for chunk in chunks])
    claimed = [debtor for chunk in results for debtor in chunk]
    assert None not in claimed
    assert len(claimed) == len(set(claimed)) == 40
