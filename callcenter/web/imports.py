"""Receivables imports: upload, dry-run report, apply (supervisors and admins).

The uploaded file is kept under ``data_dir/imports`` between the check and the apply; its
batch row holds the dry-run report. Applying runs the whole import again in one transaction,
committed only if the file is still valid. A readable CSV/XLSX file that failed its check is
kept too, so that its columns can be associated to fields (saved per source) and checked again;
the saved mappings are listed, edited and deleted under ``/imports/correspondances``."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.imports import IMPORT_KINDS, ImportReport, run_import
from callcenter.domain.imports.columns import load_mapping, mapped_headers
from callcenter.domain.imports.mappings import (
    ColumnChoice,
    delete_column_mapping,
    fields_of,
    is_mappable,
    proposed_choices,
    read_columns,
    save_column_mapping,
    saved_mappings,
    source_names,
)
from callcenter.domain.imports.report import ENTITY_LABELS, KIND_LABELS
from callcenter.domain.imports.sources import FileRefused
from callcenter.models import ImportBatch, ImportMapping, Role
from callcenter.web import clock, db, htmx, state
from callcenter.web.auth import guard_blueprint
from callcenter.web.request_size import MIB, accepts_upload

bp = Blueprint("imports", __name__, url_prefix="/imports")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)

ALLOWED_SUFFIXES = {".csv", ".txt", ".xlsx", ".tsv"}


def _upload_dir() -> Path:
    directory = state().settings.uploads_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _recent():
    return db().exec(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(20)).all()


def _page(template: str, status: int = 200, **context):
    context.setdefault("form", {})
    context.setdefault("form_error", None)
    context.setdefault("notice", None)
    if "columns" not in context:
        context["columns"] = _columns_form(context.get("batch"))
    kind = context["form"].get("kind", "")
    context.update(
        kinds=KIND_LABELS,
        entity_labels=ENTITY_LABELS,
        source_field=_source_field(kind),
    )
    if htmx and template == "imports/home.html":
        return render_template("imports/_workspace.html", **context), status
    return render_template(template, **context), status


def _source_field(kind: str) -> dict:
    """The saved sources of the kind chosen in the upload form (first kind by default)."""
    if kind not in KIND_LABELS:
        kind = next(iter(KIND_LABELS))
    return {"kind": kind, "mappable": is_mappable(kind), "names": source_names(db(), kind=kind)}


def _stored_file(batch: ImportBatch | None) -> Path | None:
    """The file of a batch that can still be checked again with another column mapping."""
    if batch is None or batch.status == "applied" or not is_mappable(batch.kind):
        return None
    if not batch.stored_path or not Path(batch.stored_path).exists():
        return None
    return Path(batch.stored_path)


def _columns_form(
    batch: ImportBatch | None,
    *,
    choices: list[ColumnChoice] | None = None,
    name: str | None = None,
    errors: dict[str, str] | None = None,
) -> dict | None:
    """The « Associer les colonnes » form of a batch whose file is kept, prefilled with the
    mapping the check used (saved mapping of the source, else the French headers)."""
    path = _stored_file(batch)
    if path is None:
        return None
    if choices is None:
        try:
            found = read_columns(path)
        except FileRefused:
            return None
        saved = (
            load_mapping(db(), name=batch.mapping_name, kind=batch.kind)
            if batch.mapping_name
            else None
        )
        choices = proposed_choices(batch.kind, found.header, saved, found.samples)
    return {
        "choices": choices,
        "fields": fields_of(batch.kind),
        "name": (batch.mapping_name or "") if name is None else name,
        "errors": errors or {},
        "sources": source_names(db(), kind=batch.kind),
    }


@bp.get("/")
def home():
    return _page("imports/home.html", batches=_recent(), report=None, batch=None)


@bp.get("/sources")
def source_field():
    """The source field of the upload form for the kind chosen: its saved sources."""
    return render_template(
        "imports/_source_field.html",
        source_field=_source_field(request.args.get("kind", "")),
        form=request.args,
    )


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
        now=clock().now(),
    )
    if report.ok and not dry_run:
        session.commit()
    else:
        session.rollback()
    return report


@bp.post("/verifier")
@accepts_upload(lambda settings: settings.web.max_upload_mib * MIB)
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
    try:
        report = _run(batch, dry_run=True, terms=int(terms))
    except BaseException:
        stored.unlink(missing_ok=True)  # no batch will ever name it: never leave it behind
        raise
    session = db()
    batch.report = {**report.to_dict(), "payment_terms_days": int(terms)}
    batch.error_count = report.error_count + (1 if report.refused else 0)
    batch.status = "checked" if report.ok else "refused"
    if not report.ok and (report.refused or not is_mappable(kind)):
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
        form=form,  # the kind and the terms stay as chosen for the next file
    )


def _batch(batch_id: int) -> ImportBatch:
    batch = db().get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    return batch


def _stored_report(batch: ImportBatch) -> ImportReport | None:
    if "kind" not in batch.report:
        return None
    return ImportReport.from_dict(
        {k: v for k, v in batch.report.items() if k != "payment_terms_days"}
    )


@bp.get("/<int:batch_id>")
def show(batch_id: int):
    batch = _batch(batch_id)
    return _page(
        "imports/home.html",
        batches=_recent(),
        report=_stored_report(batch),
        batch=batch,
        form={"kind": batch.kind},
    )


GONE = "Ce fichier n'est plus disponible : renvoyez-le pour associer ses colonnes."


@bp.post("/<int:batch_id>/colonnes")
def map_columns(batch_id: int):
    """Save the column mapping chosen for the batch's file under a source name, then check the
    same file again with it (the new report is shown at once)."""
    batch = _batch(batch_id)
    path = _stored_file(batch)
    try:
        found = read_columns(path) if path else None
    except FileRefused:
        found = None
    if found is None:
        return _page(
            "imports/home.html", 409, batches=_recent(), report=None, batch=None, form_error=GONE
        )
    choices = proposed_choices(batch.kind, found.header, None, found.samples)
    name = request.form.get("mapping_name", "")
    errors = _save_posted_choices(batch.kind, name, choices)
    session = db()
    if errors:
        return _page(
            "imports/home.html",
            422,
            batches=_recent(),
            report=_stored_report(batch),
            batch=batch,
            columns=_columns_form(batch, choices=choices, name=name, errors=errors),
        )
    batch.mapping_name = name.strip()
    session.commit()
    terms = int(batch.report.get("payment_terms_days", 30))
    report = _run(batch, dry_run=True, terms=terms)
    batch = session.get(ImportBatch, batch_id)
    batch.report = {**report.to_dict(), "payment_terms_days": terms}
    batch.error_count = report.error_count + (1 if report.refused else 0)
    batch.status = "checked" if report.ok else "refused"
    session.commit()
    return _page(
        "imports/home.html",
        200 if report.ok else 422,
        batches=_recent(),
        report=report,
        batch=batch,
        notice=(
            f"Correspondance « {batch.mapping_name} » enregistrée ; "
            "le fichier a été vérifié à nouveau."
        ),
    )


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
        batch.applied_at = clock().now()
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


def _mappings_page(status: int = 200, **context):
    """The saved mappings, or the one being edited: full page, or its panel for htmx."""
    context.setdefault("editing", None)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    context.update(mappings=saved_mappings(db()), kinds=KIND_LABELS)
    context["field_labels"] = {
        kind: {spec.name: spec.label for spec in fields_of(kind)}
        for kind in KIND_LABELS
        if is_mappable(kind)
    }
    template = "imports/_mappings.html" if htmx else "imports/mappings.html"
    return render_template(template, **context), status


def _mapping(mapping_id: int) -> ImportMapping:
    row = db().get(ImportMapping, mapping_id)
    if row is None or not is_mappable(row.kind):
        abort(404)
    return row


def _editing(row: ImportMapping, *, choices=None, errors=None) -> dict:
    headers = mapped_headers(row.mapping)
    return {
        "mapping": row,
        "choices": choices or proposed_choices(row.kind, headers, row.mapping),
        "fields": fields_of(row.kind),
        "errors": errors or {},
    }


@bp.get("/correspondances")
def mappings():
    return _mappings_page()


@bp.get("/correspondances/<int:mapping_id>")
def edit_mapping(mapping_id: int):
    return _mappings_page(editing=_editing(_mapping(mapping_id)))


def _save_posted_choices(kind: str, name: str, choices) -> dict[str, str] | None:
    """Take each column's field from the form and save the mapping in the request's
    transaction; the French errors, with nothing saved, when it is refused."""
    for position, choice in enumerate(choices):
        choice.chosen = request.form.get(f"column-{position}", "").strip()
    session = db()
    try:
        save_column_mapping(
            session,
            kind=kind,
            name=name,
            choices=[(choice.header, choice.chosen) for choice in choices],
            actor_id=current_user.id,
            now=clock().now(),
        )
    except ValidationFailed as refused:
        session.rollback()
        return refused.errors
    return None


@bp.post("/correspondances/<int:mapping_id>")
def update_mapping(mapping_id: int):
    """Change the field of each column of a saved mapping (same columns, same source)."""
    row = _mapping(mapping_id)
    name, kind = row.name, row.kind
    choices = proposed_choices(kind, mapped_headers(row.mapping), row.mapping)
    errors = _save_posted_choices(kind, name, choices)
    if errors:
        return _mappings_page(
            422, editing=_editing(_mapping(mapping_id), choices=choices, errors=errors)
        )
    db().commit()
    page, status = _mappings_page(notice=f"Correspondance « {name} » enregistrée.")
    return page, status, {"HX-Push-Url": url_for("imports.mappings")}


@bp.post("/correspondances/<int:mapping_id>/supprimer")
def delete_mapping(mapping_id: int):
    session = db()
    try:
        row = delete_column_mapping(
            session, mapping_id=mapping_id, actor_id=current_user.id, now=clock().now()
        )
    except DomainError as refused:
        session.rollback()
        return _mappings_page(404, error=refused.message)
    session.commit()
    return _mappings_page(notice=f"Correspondance « {row.name} » supprimée.")
