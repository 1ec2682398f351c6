"""What an import found and did: counts per kind of row, errors with line and column, notes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from callcenter.formatting import quantity

MAX_REPORTED_ISSUES = 1_000

ENTITY_LABELS = {
    "debtors": "Débiteurs",
    "contacts": "Contacts",
    "invoices": "Factures",
    "payments": "Paiements",
}
KIND_LABELS = {
    "debtors": "Débiteurs",
    "contacts": "Contacts",
    "invoices": "Factures",
    "payments": "Paiements",
    "fec": "FEC (Fichier des écritures comptables)",
}


@dataclass
class Issue:
    """One problem: the file's line (1 = header), the column as written, a French message."""

    line: int | None
    column: str | None
    message: str


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportReport:
    kind: str
    source: str
    dry_run: bool = True
    rows: int = 0
    counts: dict[str, Counts] = field(default_factory=dict)
    errors: list[Issue] = field(default_factory=list)
    error_count: int = 0
    skipped: list[Issue] = field(default_factory=list)
    skipped_count: int = 0
    notes: list[str] = field(default_factory=list)
    allocation: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    refused: str | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None and self.error_count == 0

    def count(self, entity: str) -> Counts:
        return self.counts.setdefault(entity, Counts())

    def error(self, line: int | None, column: str | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ISSUES:
            self.errors.append(Issue(line, column, message))

    def skip(self, line: int | None, column: str | None, message: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_REPORTED_ISSUES:
            self.skipped.append(Issue(line, column, message))

    def refuse(self, message: str) -> None:
        """The file as a whole cannot be read: nothing else is reported."""
        self.refused = message

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "errors": self.error_count,
            **{entity: asdict(counts) for entity, counts in self.counts.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        data = dict(data)
        data["counts"] = {name: Counts(**value) for name, value in data["counts"].items()}
        data["errors"] = [Issue(**issue) for issue in data["errors"]]
        data["skipped"] = [Issue(**issue) for issue in data["skipped"]]
        return cls(**data)

    @property
    def errors_by_line(self) -> list[Issue]:
        """The errors as a reader goes through the file: by line, the file-wide ones first."""
        return sorted(self.errors, key=lambda issue: issue.line or 0)

    def lines(self) -> list[str]:
        """The report in French, line by line, for the terminal."""
        mode = "Simulation (rien n'est enregistré)" if self.dry_run else "Import"
        out = [f"{mode} — {KIND_LABELS.get(self.kind, self.kind)} — {self.source}"]
        if self.refused:
            out.append(f"Fichier refusé : {self.refused}")
            return out
        out.append(f"Lignes lues : {self.rows}")
        for entity, counts in self.counts.items():
            out.append(
                f"{ENTITY_LABELS.get(entity, entity)} : {counts.created} à créer, "
                f"{counts.updated} à mettre à jour, "
                f"{quantity(counts.unchanged, 'inchangé')}"
            )
        if self.allocation:
            out.append(
                "Règlements : {allocations}, {paid_invoices}, {credit_payments} avec avoir restant "
                "au débiteur, {unmatched} sans facture correspondante (portés au crédit du "
                "débiteur)".format(**_allocation_words(self.allocation))
            )
        out.extend(self.notes)
        if self.skipped_count:
            out.append(f"Lignes ignorées : {self.skipped_count}")
            out.extend(_issue_line(issue) for issue in self.skipped)
        if self.error_count:
            out.append(f"Erreurs : {self.error_count} — rien n'a été enregistré.")
            out.extend(_issue_line(issue) for issue in self.errors_by_line)
            if self.error_count > len(self.errors):
                rest = self.error_count - len(self.errors)
                out.append(f"… et {quantity(rest, 'autre erreur', 'autres erreurs')}.")
        return out


def _allocation_words(allocation: dict[str, int]) -> dict[str, str]:
    count = {
        key: allocation.get(key, 0)
        for key in ("allocations", "paid_invoices", "credit_payments", "unmatched")
    }
    return {
        "allocations": quantity(count["allocations"], "affectation"),
        "paid_invoices": quantity(count["paid_invoices"], "facture soldée", "factures soldées"),
        "credit_payments": str(count["credit_payments"]),
        "unmatched": str(count["unmatched"]),
    }


def _issue_line(issue: Issue) -> str:
    where = []
    if issue.line is not None:
        where.append(f"ligne {issue.line}")
    if issue.column:
        where.append(f"colonne « {issue.column} »")
    text = ", ".join(where)
    prefix = (text[:1].upper() + text[1:] + " : ") if where else ""
    return f"  {prefix}{issue.message}"
