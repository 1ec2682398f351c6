"""The webhook sender: claims due notices, posts each one signed, records the outcome.

One notice at a time, each in its own short transaction after the post: a receiver that
refuses or does not answer delays only its own notices (retried, then dead), never the
others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from callcenter.db import session_scope
from callcenter.domain.webhooks import (
    SIGNATURE_HEADER,
    body_of,
    claim_due_deliveries,
    mark_delivered,
    mark_delivery_failed,
    sign,
)
from callcenter.jobs.context import JobContext
from callcenter.providers.webhooks import DeliveryFailed, HttpPoster, WebhookPoster

log = logging.getLogger("callcenter.webhooks")
WEBHOOK_POLL_SECONDS = 30


@dataclass
class WebhookReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def deliver_webhooks(
    engine: Engine, poster: WebhookPoster, *, now: Callable[[], datetime], batch_size: int = 100
) -> WebhookReport:
    report = WebhookReport()
    with session_scope(engine) as session:
        claimed = [
            (delivery.id, endpoint.url, endpoint.secret, body_of(delivery))
            for delivery, endpoint in claim_due_deliveries(session, now=now(), limit=batch_size)
        ]
    for delivery_id, url, secret, body in claimed:
        moment = now()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(moment.timestamp()), body),
            "User-Agent": "callcenter-webhooks/1",
        }
        try:
            poster.post(url, body, headers)
        except DeliveryFailed as failure:
            with session_scope(engine) as session:
                status = mark_delivery_failed(
                    session, delivery_id=delivery_id, error=str(failure), now=now()
                )
            if status == "dead":
                report.dead += 1
                log.warning("notification %s abandonnée : %s", delivery_id, failure)
            else:
                report.retried += 1
            continue
        except Exception as unexpected:  # a poison notice never stops the others
            log.exception("notification %s : erreur inattendue", delivery_id)
            with session_scope(engine) as session:
                mark_delivery_failed(
                    session, delivery_id=delivery_id, error=repr(unexpected), now=now()
                )
            report.retried += 1
            continue
        with session_scope(engine) as session:
            mark_delivered(session, delivery_id=delivery_id, now=now())
        report.delivered += 1
    return report


def deliver_webhooks_job(context: JobContext) -> None:
    poster = context.webhook_poster or HttpPoster()
    report = deliver_webhooks(context.engine, poster, now=context.now)
    if report.delivered or report.dead:
        log.info("notifications : %s remises, %s abandonnées", report.delivered, report.dead)
