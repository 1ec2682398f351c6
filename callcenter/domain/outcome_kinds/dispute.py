"""A dispute: a category, what the debtor contests, on the ticked invoices. Those invoices
leave dunning (the queue and the process skip them) until the dispute is resolved."""

from __future__ import annotations

from callcenter.domain.audit import record_event
from callcenter.domain.outcome_kinds.base import (
    MAX_DISPUTE_DESCRIPTION,
    Created,
    OutcomeContext,
    OutcomeKind,
    invoice_ids,
)
from callcenter.models import Call, Dispute, DisputeInvoice

DISPUTE_CATEGORIES = {
    "qualite": "Qualité de la prestation ou du produit",
    "quantite": "Quantité livrée",
    "prix": "Prix ou remise",
    "livraison": "Livraison (retard, absence, dommage)",
    "facturation": "Erreur de facturation",
    "autre": "Autre motif",
}


class DisputeKind(OutcomeKind):
    kind = "dispute"
    flag = "is_dispute"
    has_fields = True

    def check(self, context: OutcomeContext):
        errors: dict[str, str] = {}
        form, invoices = context.form, context.invoices
        if form.dispute_category not in DISPUTE_CATEGORIES:
            errors["dispute_category"] = "Choisissez le motif du litige."
        description = form.dispute_description.strip()
        if not description:
            errors["dispute_description"] = "Décrivez ce que le client conteste."
        elif len(description) > MAX_DISPUTE_DESCRIPTION:
            errors["dispute_description"] = (
                f"La description ne doit pas dépasser {MAX_DISPUTE_DESCRIPTION} caractères."
            )
        ids = invoice_ids(form.dispute_invoices, invoices, "dispute_invoices", errors)
        if not ids and "dispute_invoices" not in errors:
            errors["dispute_invoices"] = "Cochez au moins une facture contestée."
        already = [invoices[i].number for i in ids if invoices[i].disputed]
        if already:
            errors["dispute_invoices"] = (
                f"Déjà en litige : {', '.join(already)}. Décochez les factures déjà contestées."
            )
        return errors, ids

    def apply(self, context: OutcomeContext, call: Call, checked: list[int], created: Created):
        session, now, form = context.session, context.now, context.form
        dispute = Dispute(
            debtor_id=context.debtor.id,
            call_id=call.id,
            opened_by_id=context.agent_id,
            category=form.dispute_category,
            description=form.dispute_description.strip()[:MAX_DISPUTE_DESCRIPTION],
            created_at=now,
        )
        session.add(dispute)
        session.flush()
        for invoice_id in checked:
            session.add(DisputeInvoice(dispute_id=dispute.id, invoice_id=invoice_id))
            context.invoices[invoice_id].disputed = True
            context.invoices[invoice_id].updated_at = now
        record_event(
            session,
            type="dispute.opened",
            actor_id=context.agent_id,
            debtor_id=context.debtor.id,
            payload={
                "id": dispute.id,
                "category": dispute.category,
                "category_label": DISPUTE_CATEGORIES[dispute.category],
                "description": dispute.description,
                "invoice_ids": checked,
            },
            at=now,
        )
        created.dispute = dispute
