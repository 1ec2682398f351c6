"""``callcenter import {debtors,contacts,invoices,payments,fec} FILE``: check, then import.

The whole file is validated first; any error and nothing is written (exit code 1). With
``--dry-run`` the report is printed and nothing is written either."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import Session

from callcenter.domain.imports.columns import FIELDS

KIND_HELP = {
    "debtors": "Importe les débiteurs (code client, raison sociale, SIREN…).",
    "contacts": "Importe les contacts des débiteurs (nom, téléphone, e-mail…).",
    "invoices": "Importe les factures (numéro, dates, montant TTC, reste dû…).",
    "payments": "Importe les règlements et les affecte aux factures.",
    "fec": "Importe clients, factures et règlements d'un FEC (comptes 411, lettrage).",
}


@click.group("import", cls=AppGroup)
def import_group() -> None:
    """Import de fichiers CSV, XLSX ou FEC (débiteurs, contacts, factures, règlements)."""


def _parse_map(values: tuple[str, ...], kind: str) -> dict[str, str]:
    """``--map "Colonne=champ"`` (``champ`` vide : colonne ignorée)."""
    known = {spec.name for spec in FIELDS.get(kind, ())}
    mapping = {}
    for item in values:
        column, separator, field = item.partition("=")
        field = field.strip()
        if not separator or not column.strip():
            raise click.BadParameter(f"« {item} » : attendu « Colonne=champ ».", param_hint="--map")
        if field and field not in known:
            raise click.BadParameter(
                f"champ « {field} » inconnu ; champs possibles : {', '.join(sorted(known))}.",
                param_hint="--map",
            )
        mapping[column.strip()] = field
    return mapping


def _run(
    kind: str, file: Path, dry_run: bool, mapping_name, maps, payment_terms_days, sheet=None
) -> None:
    from callcenter.domain.errors import DomainError
    from callcenter.domain.imports import run_import

    engine = current_app.extensions["callcenter"].engine
    explicit = _parse_map(maps, kind)
    size = max(file.stat().st_size, 1) if file.is_file() else 1
    try:
        with click.progressbar(length=size, label=f"Lecture de {file.name}") as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(max(0, min(done, bar.length) - bar.pos))

            with Session(engine, expire_on_commit=False) as session:
                try:
                    report = run_import(
                        session,
                        kind=kind,
                        path=file,
                        dry_run=dry_run,
                        mapping_name=mapping_name,
                        explicit_mapping=explicit,
                        payment_terms_days=payment_terms_days,
                        progress=progress,
                        sheet=sheet,
                        settings=current_app.extensions["callcenter"].settings,
                        now=current_app.extensions["callcenter"].clock.now(),
                    )
                except DomainError as error:
                    session.rollback()
                    raise click.ClickException(error.message) from None
                if report.ok and not dry_run:
                    session.commit()
                else:
                    session.rollback()
    finally:
        engine.dispose()
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)
    click.echo(
        "Simulation terminée : rien n'a été enregistré." if dry_run else "Import enregistré."
    )


def _command(kind: str):
    # No exists=True: click would say « Path ... does not exist » in English; the import
    # refuses a missing file or a folder in French.
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Vérifie et compte sans rien enregistrer.")
    @click.option(
        "--mapping",
        "mapping_name",
        default=None,
        help="Nom de la source : sa correspondance de colonnes enregistrée est réutilisée, "
        "et mise à jour après un import réussi.",
    )
    @click.option(
        "--map",
        "maps",
        multiple=True,
        metavar="COLONNE=CHAMP",
        help="Associe une colonne du fichier à un champ (vide : colonne ignorée).",
    )
    @click.option(
        "--payment-terms-days",
        type=click.IntRange(0, 365),
        default=30,
        show_default=True,
        help="Délai de paiement des nouveaux débiteurs (échéance calculée quand le fichier "
        "n'en donne pas, toujours pour un FEC).",
    )
    @click.option(
        "--feuille",
        "sheet",
        default=None,
        metavar="NOM",
        help="Classeur XLSX : nom de la feuille à lire (par défaut, la première qui contient "
        "des données).",
    )
    def command(file: Path, dry_run: bool, mapping_name, maps, payment_terms_days, sheet) -> None:
        _run(kind, file, dry_run, mapping_name, maps, payment_terms_days, sheet)

    command.__doc__ = KIND_HELP[kind]
    return import_group.command(kind)(command)


for _kind in KIND_HELP:
    _command(_kind)
