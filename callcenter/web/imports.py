"""Receivables imports: upload, dry-run report, apply (supervisors and admins).

The uploaded file is kept under ``data_dir/imports`` between the check and the apply; its
batch row holds the dry-run report. Applying runs the whole import again in one transaction,
committed only if the file is still valid."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlmodel import select

from callcenter.domain.imports import IMPORT_KINDS, ImportReport, run_import
from callcenter.domain.imports.report import ENTITY_LABELS, KIND_LABELS
from callcenter.models import ImportBatch, Role, utcnow
from callcenter.web import db, htmx, state
from callcenter.web.auth import guard_blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)

ALLOWED_SUFFIXES = {".csv", ".txt", ".xlsx", ".tsv"}


def _upload_dir() -> Path:
    directory = state().settings.data_path / "imports"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _recent():
    return db().exec(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(20)).all()


def _page(template: str, status: int = 200, **context):
    context.setdefault("form", {})
    context.setdefault("form_error", None)
    context.update(kinds=KIND_LABELS, entity_labels=ENTITY_LABELS)
    if htmx and template == "imports/home.html":
        return render_template("imports/_workspace.html", **context), status
    return render_template(template, **context), status


@bp.get("/")
def home():
    return _page("imports/home.html", batches=_recent(), report=None, batch=None)


def _run(batch: ImportBatch, *, dry_run: bool, terms: int) -> ImportReport:
    session = db()
    report = run_import(
        session,
        kind=batch.kind,
        path=Path(batch.stored_path),
        source_name=batch.source_name,
        dry_run=dry_run,
        mapping_name=batch.mapping_name,
        actor_id=current_user.id,
        payment_terms_days=terms,
        settings=state().settings,
    )
    if report.ok and not dry_run:
        session.commit()
    else:
        session.rollback()
    return report


@bp.post("/verifier")
def check():
    form = request.form.to_dict()
    kind = form.get("kind", "")
    upload = request.files.get("file")
    error = None
    if kind not in IMPORT_KINDS:
        error = "Choisissez le type de fichier à importer."
    elif upload is None or not upload.filename:
        error = "Choisissez un fichier."
    elif Path(upload.filename).suffix.lower() not in ALLOWED_SUFFIXES:
        error = "Format non pris en charge : envoyez un fichier CSV, TXT (FEC) ou XLSX."
    terms = form.get("payment_terms_days", "30").strip() or "30"
    if error is None and (not terms.isdigit() or int(terms) > 365):
        error = "Délai de paiement invalide : un nombre de jours entre 0 et 365."
    if error:
        return _page(
            "imports/home.html",
            422,
            batches=_recent(),
            report=None,
            batch=None,
            form=form,
            form_error=error,
        )
    suffix = Path(upload.filename).suffix.lower()
    stored = _upload_dir() / f"{secrets.token_hex(16)}{suffix}"
    upload.save(stored)
    batch = ImportBatch(
        kind=kind,
        source_name=Path(upload.filename).name[:255],
        mapping_name=(form.get("mapping_name") or "").strip()[:80] or None,
        stored_path=str(stored),
        created_by_id=current_user.id,
        report={"payment_terms_days": int(terms)},
    )
    report = _run(batch, dry_run=True, terms=int(terms))
    session = db()
    batch.report = {**report.to_dict(), "payment_terms_days": int(terms)}
    batch.error_count = report.error_count + (1 if report.refused else 0)
    batch.status = "checked" if report.ok else "refused"
    if not report.ok:
        stored.unlink(missing_ok=True)
        batch.stored_path = None
    session.add(batch)
    session.commit()
    return _page(
        "imports/home.html",
        200 if report.ok else 422,
        batches=_recent(),
        report=report,
        batch=batch,
    )


def _batch(batch_id: int) -> ImportBatch:
    batch = db().get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.get("/<int:batch_id>")
def show(batch_id: int):
    batch = _batch(batch_id)
    report = (
        ImportReport.from_dict({k: v for k, v in batch.report.items() if k != "payment_terms_days"})
        if "kind" in batch.report
        else None
    )
    return _page("imports/home.html", batches=_recent(), report=report, batch=batch)


@bp.post("/<int:batch_id>/appliquer")
def apply(batch_id: int):
    batch = _batch(batch_id)
    if batch.status != "checked" or not batch.stored_path or not Path(batch.stored_path).exists():
        return _page(
            "imports/home.html",
            409,
            batches=_recent(),
            report=None,
            batch=None,
            form_error="Cet import n'est plus applicable : renvoyez le fichier.",
        )
    terms = int(batch.report.get("payment_terms_days", 30))
    report = _run(batch, dry_run=False, terms=terms)
    session = db()
    batch = session.get(ImportBatch, batch_id)
    batch.report = {**report.to_dict(), "payment_terms_days": terms}
    batch.error_count = report.error_count + (1 if report.refused else 0)
    if report.ok:
        batch.status = "applied"
        batch.applied_at = utcnow()
        Path(batch.stored_path).unlink(missing_ok=True)
        batch.stored_path = None
    else:
        batch.status = "refused"
    session.commit()
    return _page(
        "imports/home.html",
        200 if report.ok else 422,
        batches=_recent(),
        report=report,
        batch=batch,
    )
