"""Receivables imports: upload, dry-run report, apply (supervisors and admins)."""

from __future__ import annotations

from flask import Blueprint

from callcenter.models import Role
from callcenter.web.auth import guard_blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)
