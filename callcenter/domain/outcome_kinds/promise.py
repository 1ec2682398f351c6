"""A promise to pay: an amount by a date, for the invoices it covers (the undisputed,
unpaused balance when none is ticked). It suspends the process until its date + grace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from callcenter.domain.audit import record_event
from callcenter.domain.outcome_kinds.base import (
    Created,
    OutcomeContext,
    OutcomeKind,
    invoice_ids,
    optional_cents,
    optional_date,
)
from callcenter.domain.promises import validate_promise
from callcenter.models import Call, Promise, PromiseInvoice


@dataclass(frozen=True)
class CheckedPromise:
    amount_cents: int
    promised_date: date
    invoice_ids: list[int]


class PromiseKind(OutcomeKind):
    kind = "promise"
    flag = "is_promise"
    has_fields = True

    def check(self, context: OutcomeContext):
        errors: dict[str, str] = {}
        form, invoices, today = context.form, context.invoices, context.today
        amount = optional_cents(form.promise_amount, "promise_amount", errors)
        promised = optional_date(form.promise_date, "promise_date", errors)
        ids = invoice_ids(form.promise_invoices, invoices, "promise_invoices", errors) or sorted(
            # none ticked: the undisputed balance the agent sees, paused invoices left out
            i.id
            for i in invoices.values()
            if not i.disputed and (i.paused_until is None or i.paused_until <= today)
        )
        balance = sum(invoices[i].open_amount_cents for i in ids)
        for name, message in validate_promise(
            amount_cents=amount,
            promised_date=promised,
            open_balance_cents=balance,
            today=today,
            policy=context.policy,
        ).items():
            errors.setdefault(name, message)
        return errors, CheckedPromise(amount, promised, ids)

    def apply(self, context: OutcomeContext, call: Call, checked: CheckedPromise, created: Created):
        session, policy = context.session, context.policy
        promise = Promise(
            debtor_id=context.debtor.id,
            call_id=call.id,
            agent_id=context.agent_id,
            amount_cents=checked.amount_cents,
            promised_date=checked.promised_date,
            grace_days=policy.grace_days,
            tolerance_cents=policy.tolerance_cents,
            created_at=context.now,
        )
        session.add(promise)
        session.flush()
        for invoice_id in checked.invoice_ids:
            session.add(PromiseInvoice(promise_id=promise.id, invoice_id=invoice_id))
        record_event(
            session,
            type="promise.created",
            actor_id=context.agent_id,
            debtor_id=context.debtor.id,
            payload={
                "id": promise.id,
                "amount_cents": checked.amount_cents,
                "due_on": checked.promised_date.isoformat(),
                "invoice_ids": checked.invoice_ids,
            },
            at=context.now,
        )
        created.promise = promise
