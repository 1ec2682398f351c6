"""callcenter: a call-campaign assistant for debt collection in French SMEs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from callcenter.clock import Clock
    from callcenter.config import Settings


def create_app(
    settings: Settings | None = None,
    providers: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> Flask:
    """The one wiring point: settings, database, providers, the clock and blueprints."""
    from callcenter.web import build_app

    return build_app(settings=settings, providers=providers, clock=clock)
