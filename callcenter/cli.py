"""The ``callcenter`` command (Flask CLI): database, demo data, users."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

from callcenter.config import ConfigError, load_settings
from callcenter.db import session_scope
from callcenter.import_cli import import_group
from callcenter.letters_cli import letters_group
from callcenter.queue_cli import queue_group
from callcenter.speech_cli import speech_group


def _create_app():
    from callcenter import create_app

    try:
        app = create_app(load_settings())
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(app.extensions["callcenter"].engine.dispose)
    return app


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def main() -> None:
    """Callcenter : assistant de campagnes de relance téléphonique."""


main.add_command(import_group)
main.add_command(queue_group)
main.add_command(letters_group)
main.add_command(speech_group)


def _state():
    return current_app.extensions["callcenter"]


@main.group()
def db() -> None:
    """Schéma de la base de données."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Crée ou met à jour le schéma (SQLite ou PostgreSQL)."""
    from callcenter.domain.dispositions import sync_default_dispositions
    from callcenter.domain.queue import load_ladder, sync_ladder
    from callcenter.migrate import upgrade

    state = _state()
    upgrade(state.settings.database_url, revision)
    if revision == "head":
        with session_scope(state.engine) as session:
            added = sync_default_dispositions(session)
            if not load_ladder(session):
                sync_ladder(session, settings=state.settings)
        if added:
            click.echo(f"Catalogue des issues d'appel : {added} entrées ajoutées.")
    click.echo("Schéma de la base à jour.")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revient à une révision antérieure du schéma."""
    from callcenter.migrate import downgrade

    downgrade(_state().settings.database_url, revision)
    click.echo(f"Schéma ramené à la révision {revision}.")


@main.command("demo")
@click.option("--debtors", type=click.IntRange(min=1), default=None, help="Nombre de débiteurs.")
@click.option("--seed", type=int, default=None, help="Graine : mêmes données à chaque fois.")
@click.option(
    "--invoices-per-debtor", type=click.FloatRange(min=1), default=10.0, show_default=True
)
@click.option("--if-empty", is_flag=True, help="Ne fait rien si la base contient déjà des données.")
def demo(debtors: int | None, seed: int | None, invoices_per_debtor: float, if_empty: bool) -> None:
    """Charge des données de démonstration réalistes (déterministes)."""
    from sqlmodel import Session, select

    from callcenter.demo import DEMO_PASSWORD, generate_demo
    from callcenter.domain.errors import DomainError
    from callcenter.models import Debtor, User

    state = _state()
    settings = state.settings
    with Session(state.engine) as session:
        populated = session.exec(select(Debtor.id).limit(1)).first() is not None
        demo_users = session.exec(select(User).where(User.email.like("%@demo.fr"))).all()
    if populated and if_empty:
        click.echo("Données déjà présentes : chargement de la démonstration ignoré.")
        _print_logins([(u.email, u.role, u.full_name) for u in demo_users], DEMO_PASSWORD)
        return
    today = state.clock.today()
    with click.progressbar(length=1, label="Génération des données") as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        try:
            report = generate_demo(
                state.engine,
                debtors=debtors or settings.demo.debtors,
                seed=settings.demo.seed if seed is None else seed,
                today=today,
                invoices_per_debtor=invoices_per_debtor,
                progress=progress,
            )
        except DomainError as error:
            raise click.ClickException(error.message) from None
    click.echo(
        f"{report.debtors} débiteurs, {report.contacts} contacts, {report.invoices} factures, "
        f"{report.payments} paiements en {report.seconds:.1f} s."
    )
    from callcenter.jobs.maintenance import recompute_queue
    from callcenter.queue_cli import echo_queue_summary

    refreshed = recompute_queue(state.engine, now=state.clock.now(), settings=settings)
    with session_scope(state.engine) as session:
        click.echo(
            f"File d'appels calculée : {refreshed.ready} dossiers prêts, "
            f"{refreshed.excluded} exclus."
        )
        echo_queue_summary(session)
    _print_logins([(u.email, u.role, u.full_name) for u in report.users], DEMO_PASSWORD)


def _print_logins(users: list[tuple[str, str, str]], password: str) -> None:
    if not users:
        return
    click.echo(f"\nComptes de démonstration (mot de passe : {password})")
    for email, role, name in users:
        click.echo(f"  {role:<11} {email:<28} {name}")


@main.group()
def users() -> None:
    """Comptes utilisateurs."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option(
    "--role",
    type=click.Choice(["agent", "supervisor", "admin"]),
    default="agent",
    show_default=True,
)
@click.password_option("--password", prompt="Mot de passe", confirmation_prompt=True)
def users_create(email: str, full_name: str, role: str, password: str) -> None:
    """Crée un compte (agent, superviseur ou administrateur)."""
    from callcenter.domain.accounts import create_user
    from callcenter.domain.errors import ValidationFailed

    state = _state()
    try:
        with session_scope(state.engine) as session:
            user = create_user(
                session,
                email=email,
                full_name=full_name,
                role=role,
                password=password,
                min_password_length=state.settings.security.password_min_length,
                now=state.clock.now(),
            )
    except ValidationFailed as failed:
        raise click.ClickException(" ".join(failed.errors.values())) from None
    click.echo(f"Compte créé : {user.email} ({role}).")


@main.command("web")
def web() -> None:
    """Sert l'application web (gunicorn, processus et threads) à l'adresse configurée."""
    from gunicorn.app.base import BaseApplication

    from callcenter.db import keep_prepared_statements
    from callcenter.web.server import gunicorn_options, settle_heap

    settings = _state().settings
    engine = _state().engine
    app = current_app._get_current_object()

    def fresh_pool(_server, _worker) -> None:
        """A forked worker must not share the parent's database connections."""
        engine.dispose(close=False)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in gunicorn_options(settings).items():
                self.cfg.set(name, value)
            self.cfg.set("post_fork", fresh_pool)

        def load(self):
            return app

    click.echo(f"Callcenter sur http://{settings.web.host}:{settings.web.port}")
    keep_prepared_statements(engine)
    settle_heap()
    Server().run()


@main.command("mailcatcher")
def mailcatcher() -> None:
    """Serveur SMTP local de démonstration : garde chaque message reçu (page « Courriels »)."""
    import signal
    import threading

    from callcenter.providers.mailcatcher import start_catcher

    settings = _state().settings
    folder = settings.data_path / "mailcatcher"
    controller = start_catcher(folder, settings.mail.smtp_host, settings.mail.smtp_port)
    click.echo(
        f"Capteur de courriels sur smtp://{settings.mail.smtp_host}:{settings.mail.smtp_port} "
        f"(messages dans {folder})"
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    controller.stop()


@main.command("scheduler")
def scheduler() -> None:
    """Planificateur (envoi des courriels, promesses…) ; un seul leader à la fois."""
    import logging
    import signal
    import threading

    from callcenter.jobs.leader import leader_lock_for
    from callcenter.jobs.scheduler import JobContext, run_scheduler
    from callcenter.providers.mail import transport_from_settings
    from callcenter.providers.telephony import build_telephony

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state = _state()
    stop = threading.Event()
    announced: list[bool] = []

    def on_leadership(leader: bool) -> None:
        if not leader and not announced:
            click.echo("Un autre planificateur est actif : celui-ci reste en attente.")
            announced.append(True)

    telephony = state.providers.get("telephony") or build_telephony(state.settings, state.clock)

    def delete_recording(*, recording_sid: str | None, recording_url: str | None) -> None:
        if recording_sid:
            telephony.delete_recording(recording_sid)

    context = JobContext(
        state.settings,
        state.engine,
        transport_from_settings(state.settings),
        delete_recording=delete_recording,
        clock=state.clock,
        telephony=telephony,
    )
    lock = leader_lock_for(state.engine, state.settings.data_path)

    def stop_now(*_args) -> None:
        """SIGTERM: claim nothing more and give back what is not sent, within seconds."""
        stop.set()
        context.stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_now)
    click.echo("Planificateur démarré.")
    if not run_scheduler(context, lock, stop=stop, on_leadership=on_leadership):
        click.echo("Arrêt : une tâche n'a pas fini à temps, elle est interrompue.", err=True)
        os._exit(0)
    click.echo("Planificateur arrêté.")
