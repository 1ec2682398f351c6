"""The work queue as supervisors see it: depth, top rows with reasons, exclusions."""

from __future__ import annotations

from flask import Blueprint

from callcenter.models import Role
from callcenter.web.auth import guard_blueprint

bp = Blueprint("queue", __name__, url_prefix="/supervision/file")
guard_blueprint(bp, Role.SUPERVISOR, Role.ADMIN)
