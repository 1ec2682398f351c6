"""Agent workspace speed: brief render and outcome save, through the real web stack.

Limits (issue « Agent workspace »): brief render p95 ≤ 60 ms for a debtor with 300
invoices and 1,000 timeline events; outcome save p95 ≤ 50 ms.

    .venv/bin/python bench/bench_workspace.py [--runs 200] [--database-url URL]

Each run measures a full HTTP request through Flask (routing, session, CSRF, domain,
SQL, template), in one process, on a fresh database made for the run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from support import fresh_database, percentile

from callcenter import create_app
from callcenter.config import parse_settings
from callcenter.db import session_scope
from callcenter.demo import generate_demo
from callcenter.domain.accounts import create_user
from callcenter.domain.dispositions import sync_default_dispositions
from callcenter.domain.queue import refresh_all, sync_ladder
from callcenter.models import Contact, Debtor, Event, Invoice, QueueItem

BRIEF_LIMIT_MS = 60
SAVE_LIMIT_MS = 50
PASSWORD = "mot-de-passe-bench"
EVENT_TYPES = ("call.outcome", "email.sent", "promise.created", "promise.kept", "import")


def build_heavy_debtor(session, today: date) -> int:
    debtor = Debtor(account_code="BENCH-300", name="Débiteur volumineux SAS", segment="standard")
    session.add(debtor)
    session.flush()
    session.add(
        Contact(
            debtor_id=debtor.id,
            full_name="Claire Compta",
            phone="+33199001234",
            email="claire@volumineux.example",
            is_billing=True,
        )
    )
    now = datetime.now(UTC)
    invoices = []
    for index in range(300):
        due = today - timedelta(days=20 - (index % 40))
        amount = 10_000 + index * 137
        invoices.append(
            {
                "debtor_id": debtor.id,
                "number": f"BENCH-{index:05d}",
                "issue_date": due - timedelta(days=30),
                "due_date": due,
                "amount_cents": amount,
                "open_amount_cents": amount,
                "status": "open",
                "disputed": index % 50 == 0,
                "currency": "EUR",
                "reminder_count": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    session.execute(sa.insert(Invoice), invoices)
    events = [
        {
            "debtor_id": debtor.id,
            "type": EVENT_TYPES[index % len(EVENT_TYPES)],
            "payload": {
                "disposition_label": "Pas de réponse",
                "subject": "Relance",
                "amount_cents": 12_345,
                "due_on": today.isoformat(),
                "source": "bench.csv",
            },
            "at": now - timedelta(minutes=index),
        }
        for index in range(1000)
    ]
    session.execute(sa.insert(Event), events)
    return debtor.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--background-debtors", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_database(args.database_url, migrate=True) as url,
    ):
        settings = parse_settings(
            {
                "app": {"data_dir": folder},
                "database": {"url": url},
                "queue": {
                    "calling_weekdays": [1, 2, 3, 4, 5, 6, 7],
                    "calling_hours": ["00:00-23:59"],
                    "public_holidays": False,
                    "max_attempts_per_week": 100000,
                    "min_hours_between_attempts": 0.0,
                },
            },
            base_dir=folder,
            environ={"CALLCENTER_SECRET_KEY": "bench-" + "x" * 40},
        )
        app = create_app(settings)
        engine = app.extensions["callcenter"].engine
        today = date.today()
        generate_demo(engine, debtors=args.background_debtors, seed=7, today=today)
        with session_scope(engine) as session:
            sync_default_dispositions(session)
            sync_ladder(session, settings=settings)
            debtor_id = build_heavy_debtor(session, today)
            agent = create_user(
                session,
                email="bench.agent@exemple.fr",
                full_name="Agent Bench",
                role="agent",
                password=PASSWORD,
            )
            agent_id = agent.id
            refresh_all(session, now=datetime.now(UTC), settings=settings)

        client = app.test_client()
        page = client.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post(
            "/connexion",
            data={"email": "bench.agent@exemple.fr", "password": PASSWORD, "csrf_token": token},
        )
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/agent/").get_data(as_text=True)
        ).group(1)
        headers = {"HX-Request": "true", "X-CSRFToken": token}

        def hold() -> None:
            with engine.begin() as connection:
                connection.execute(
                    sa.update(QueueItem)
                    .where(QueueItem.debtor_id == debtor_id)
                    .values(
                        state="claimed",
                        claimed_by_id=agent_id,
                        claimed_at=datetime.now(UTC),
                        lease_until=datetime.now(UTC) + timedelta(minutes=15),
                    )
                )

        hold()
        brief_ms = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get("/agent/", headers=headers)
            brief_ms.append((time.perf_counter() - start) * 1000)
            page = response.get_data(as_text=True)
            assert response.status_code == 200 and "BENCH-00299" in page
            assert "sur 1\u202f0" in page and "Afficher tout l'historique" in page

        history_ms = []
        for _ in range(max(args.runs // 4, 10)):
            start = time.perf_counter()
            response = client.get(f"/agent/dossier/{debtor_id}/historique?tout=1", headers=headers)
            history_ms.append((time.perf_counter() - start) * 1000)
            assert response.get_data(as_text=True).count('<li class="tl-') >= 1000

        save_ms = []
        for index in range(args.runs):
            hold()
            data = (
                {"disposition": "no_answer"}
                if index % 2
                else {"disposition": "callback", "callback_at": "2099-01-01T10:00"}
            )
            if index % 2 == 0:
                data["callback_at"] = (datetime.now() + timedelta(days=1)).strftime(
                    "%Y-%m-%dT10:00"
                )
            start = time.perf_counter()
            response = client.post(f"/agent/dossier/{debtor_id}/issue", data=data, headers=headers)
            save_ms.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
        engine.dispose()

    backend = "PostgreSQL" if args.database_url else "SQLite"
    for label, values, limit in (
        ("rendu de la fiche (300 factures, 1 000 événements)", brief_ms, BRIEF_LIMIT_MS),
        ("enregistrement d'une issue", save_ms, SAVE_LIMIT_MS),
        ("historique complet à la demande (1 000 événements)", history_ms, None),
    ):
        p50 = statistics.median(values)
        p95 = percentile(values, 0.95)
        verdict = (
            "sans limite"
            if limit is None
            else f"limite {limit} ms : " + ("OK" if p95 <= limit else "AU-DESSUS")
        )
        print(
            f"{backend} · {label} : p50 {p50:.1f} ms, p95 {p95:.1f} ms "
            f"({verdict}) sur {len(values)} requêtes"
        )


if __name__ == "__main__":
    main()
