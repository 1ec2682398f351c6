"""``callcenter letters …``: the reminder letter and the formal notice of one account, as PDF."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from callcenter.db import read_only, session_scope
from callcenter.domain.errors import DomainError


@click.group("letters", cls=AppGroup)
def letters_group() -> None:
    """Lettres de relance et mises en demeure (PDF)."""


def _generate(kind: str, account_code: str, output: str | None) -> None:
    from callcenter.domain.letters import LETTER_TEMPLATES_DIR, build_letter, record_letter
    from callcenter.providers.pdf import render_pdf

    state = current_app.extensions["callcenter"]
    settings = state.settings
    today = state.clock.today()
    try:
        with session_scope(read_only(state.engine)) as session:
            letter = build_letter(
                session, account_code=account_code, kind=kind, today=today, settings=settings
            )
    except DomainError as error:
        raise click.ClickException(error.message) from None
    path = Path(output) if output else Path(letter.filename)
    if not path.parent.is_dir():
        raise click.ClickException(f"Dossier de destination introuvable : {path.parent}")
    pdf = render_pdf(letter.html, base_url=LETTER_TEMPLATES_DIR)
    try:
        path.write_bytes(pdf)
    except OSError as error:
        raise click.ClickException(f"Impossible d'écrire {path} : {error.strerror}") from None
    with session_scope(state.engine) as session:
        record_letter(session, letter=letter, now=state.clock.now(), settings=settings)
    count = len(letter.invoice_numbers)
    click.echo(
        f"{letter.content.title} pour {letter.content.debtor_name} : {path} "
        f"({count} facture{'s' if count > 1 else ''}, {letter.content.total})."
    )
    if letter.content.address_missing:
        click.echo(
            "Attention : adresse postale du débiteur inconnue. Complétez-la (import des "
            "débiteurs : colonnes Adresse, Code postal, Ville) avant l'envoi.",
            err=True,
        )


@letters_group.command("relance")
@click.argument("account_code")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Fichier PDF à écrire.")
def letter_reminder(account_code: str, output: str | None) -> None:
    """Lettre de relance (ferme et courtoise) pour le compte ACCOUNT_CODE."""
    _generate("relance", account_code, output)


@letters_group.command("mise-en-demeure")
@click.argument("account_code")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Fichier PDF à écrire.")
def letter_formal_notice(account_code: str, output: str | None) -> None:
    """Mise en demeure de payer (délai de [letters] payment_deadline_days jours)."""
    _generate("mise_en_demeure", account_code, output)
