"""A payment plan: a total in dated instalments, within the policy's bounds and a year. It
suspends the process while it is followed; a missed instalment resumes it at a call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from callcenter.domain.audit import record_event
from callcenter.domain.outcome_kinds.base import (
    PLAN_HORIZON,
    Created,
    OutcomeContext,
    OutcomeKind,
    optional_cents,
    optional_date,
)
from callcenter.domain.promises import validate_payment_plan
from callcenter.formatting import day
from callcenter.models import Call, Instalment, PaymentPlan


@dataclass(frozen=True)
class CheckedPlan:
    total_cents: int | None
    rows: list[tuple[date | None, int | None]]


class PaymentPlanKind(OutcomeKind):
    kind = "payment_plan"
    flag = "is_payment_plan"
    has_fields = True

    def check(self, context: OutcomeContext):
        errors: dict[str, str] = {}
        form, today = context.form, context.today
        total = optional_cents(form.plan_total, "plan_total", errors)
        rows = []
        for index, (due_text, amount_text) in enumerate(
            zip(form.plan_dates, form.plan_amounts, strict=False), start=1
        ):
            if not due_text.strip() and not amount_text.strip():
                continue
            rows.append(
                (
                    optional_date(due_text, f"instalment_{index}", errors),
                    optional_cents(amount_text, f"instalment_{index}", errors),
                )
            )
        if total is None and "plan_total" not in errors:
            errors["plan_total"] = "Indiquez le montant total de l'échéancier."
        elif total is not None:
            open_undisputed = sum(
                i.open_amount_cents for i in context.invoices.values() if not i.disputed
            )
            for name, message in validate_payment_plan(
                total_cents=total,
                instalments=rows,
                open_balance_cents=open_undisputed,
                today=today,
                policy=context.policy,
            ).items():
                errors.setdefault(name, message)
        latest = today + PLAN_HORIZON
        for index, (due_on, _amount) in enumerate(rows, start=1):
            if due_on is not None and due_on > latest:
                errors.setdefault(
                    f"instalment_{index}",
                    f"Échéance {index} : la date doit tomber au plus tard le {day(latest)} "
                    "(un an).",
                )
        return errors, CheckedPlan(total, rows)

    def apply(self, context: OutcomeContext, call: Call, checked: CheckedPlan, created: Created):
        session = context.session
        plan = PaymentPlan(
            debtor_id=context.debtor.id,
            call_id=call.id,
            agent_id=context.agent_id,
            total_cents=checked.total_cents,
            created_at=context.now,
        )
        session.add(plan)
        session.flush()
        for sequence, (due_on, amount) in enumerate(checked.rows, start=1):
            session.add(
                Instalment(plan_id=plan.id, sequence=sequence, due_date=due_on, amount_cents=amount)
            )
        record_event(
            session,
            type="payment_plan.created",
            actor_id=context.agent_id,
            debtor_id=context.debtor.id,
            payload={
                "id": plan.id,
                "total_cents": checked.total_cents,
                "instalments": len(checked.rows),
            },
            at=context.now,
        )
        created.plan = plan
