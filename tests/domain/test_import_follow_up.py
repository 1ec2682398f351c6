"""A payment import settles promises and moves the debtor in the queue, in the same transaction."""

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from callcenter.domain.queue import refresh_debtors, sync_ladder
from callcenter.domain.queue.rules import exclusion_labels
from callcenter.models import Promise, QueueItem
from tests.domain.imports_helpers import do_import, write
from tests.factories import make_contact, make_debtor, make_invoice

NOW = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_payment_import_keeps_the_promise_and_the_debtor_leaves_the_queue(
    engine, settings, tmp_path
):
    with Session(engine, expire_on_commit=False) as session:
        sync_ladder(session, settings=settings)
        debtor = make_debtor(session, account_code="C042")
        make_contact(session, debtor)
        make_invoice(
            session,
            debtor,
            number="FA-1",
            due_date=NOW.date() - timedelta(days=20),
            amount_cents=120_000,
        )
        promise = Promise(
            debtor_id=debtor.id,
            amount_cents=120_000,
            promised_date=NOW.date() + timedelta(days=2),
            created_at=NOW - timedelta(days=3),
        )
        session.add(promise)
        refresh_debtors(session, debtor_ids=[debtor.id], now=NOW, settings=settings)
        session.commit()
        before = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
        # a pending promise holds the process: no call while it runs
        assert before.state == "excluded"
        assert any(
            r.startswith("Promesse de paiement en cours")
            for r in exclusion_labels(before.exclusion_reasons)
        )

    csv = (
        "Code client;Référence;Date de règlement;Montant;N° facture\n"
        f"C042;VIR-77;{NOW.date().strftime('%d/%m/%Y')};1 200,00;FA-1\n"
    )
    report = do_import(
        engine, "payments", write(tmp_path, "reglements.csv", csv), settings=settings, now=NOW
    )
    assert report.ok, report.errors

    with Session(engine) as session:
        assert session.get(Promise, promise.id).status == "kept"
        after = session.exec(select(QueueItem).where(QueueItem.debtor_id == debtor.id)).one()
        assert after.state == "excluded"
        assert exclusion_labels(after.exclusion_reasons) == ["Aucune facture ouverte"]
