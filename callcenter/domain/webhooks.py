"""Telling the creditor's systems what happened: promises made, kept or broken, plans agreed
or broken, disputes opened or resolved.

When such an event is written to the timeline (``audit.record_event``), one delivery per
active endpoint is queued in the same transaction, so an event and its notice exist
together or not at all. The delivery job posts them (``jobs/webhooks.py``), signed with the
endpoint's secret: header ``X-Callcenter-Signature: t=<unix time>,v1=<HMAC-SHA256 of
"<t>.<body>">``; a receiver recomputes it and refuses a timestamp more than five minutes
old (replay). A failed delivery is retried with the email outbox's backoff, then dead and
listed for a supervisor, who may send it again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from callcenter.domain.errors import DomainError, ValidationFailed
from callcenter.domain.retries import DEFAULT_DELIVERY_POLICY, DeliveryPolicy
from callcenter.models import (
    Debtor,
    EmailStatus,
    Event,
    WebhookDelivery,
    WebhookEndpoint,
)

# timeline event → the name the creditor's systems receive
NOTIFIED = {
    "promise.created": "promise.made",
    "promise.kept": "promise.kept",
    "promise.broken": "promise.broken",
    "payment_plan.created": "payment_plan.agreed",
    "payment_plan.kept": "payment_plan.kept",
    "payment_plan.broken": "payment_plan.broken",
    "dispute.opened": "dispute.opened",
    "dispute.resolved": "dispute.resolved",
}
WEBHOOK_LABELS = {
    "promise.made": "Promesse de paiement",
    "promise.kept": "Promesse tenue",
    "promise.broken": "Promesse non tenue",
    "payment_plan.agreed": "Échéancier convenu",
    "payment_plan.kept": "Échéancier tenu",
    "payment_plan.broken": "Échéancier non tenu",
    "dispute.opened": "Litige ouvert",
    "dispute.resolved": "Litige résolu",
}
SIGNATURE_HEADER = "X-Callcenter-Signature"
MAX_URL = 500
_ENDPOINTS_KEY = "webhook_endpoints"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def create_endpoint(
    session: Session, *, url: str, actor_id: int | None, now: datetime, allow_http: bool
) -> WebhookEndpoint:
    """A new endpoint; its secret is on the row (shown once by the page that creates it)."""
    url = url.strip()
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if not url:
        raise ValidationFailed({"url": "Indiquez l'adresse qui recevra les notifications."})
    if len(url) > MAX_URL:
        raise ValidationFailed({"url": f"L'adresse ne doit pas dépasser {MAX_URL} caractères."})
    if parts.scheme not in schemes or not parts.hostname:
        expected = "https:// (ou http:// hors production)" if allow_http else "https://"
        raise ValidationFailed({"url": f"Adresse invalide : elle doit commencer par {expected}."})
    endpoint = WebhookEndpoint(
        url=url, secret="whsec_" + secrets.token_urlsafe(32), created_by_id=actor_id, created_at=now
    )
    session.add(endpoint)
    session.flush()
    session.info.pop(_ENDPOINTS_KEY, None)
    session.add(
        Event(
            type="webhook.endpoint_created",
            actor_id=actor_id,
            payload={"url": url},
            at=now,
        )
    )
    return endpoint


def deactivate_endpoint(
    session: Session, *, endpoint_id: int, actor_id: int | None, now: datetime
) -> None:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.active:
        raise DomainError("Cette adresse ne reçoit déjà plus de notifications.")
    endpoint.active = False
    session.add(endpoint)
    session.info.pop(_ENDPOINTS_KEY, None)
    session.add(
        Event(
            type="webhook.endpoint_disabled",
            actor_id=actor_id,
            payload={"url": endpoint.url},
            at=now,
        )
    )
    session.flush()


def endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.exec(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all())


def _active_endpoint_ids(session: Session) -> list[int]:
    """Read once per unit of work: events are many, endpoints few and rarely changed."""
    if _ENDPOINTS_KEY not in session.info:
        session.info[_ENDPOINTS_KEY] = list(
            session.exec(select(WebhookEndpoint.id).where(WebhookEndpoint.active)).all()
        )
    return session.info[_ENDPOINTS_KEY]


def queue_notices(session: Session, event: Event) -> None:
    """Called for every timeline event: one delivery per active endpoint for the notified
    kinds, in the event's transaction."""
    name = NOTIFIED.get(event.type)
    if name is None:
        return
    targets = _active_endpoint_ids(session)
    if not targets:
        return
    account = session.get(Debtor, event.debtor_id) if event.debtor_id else None
    payload = {
        "id": secrets.token_hex(12),
        "type": name,
        "occurred_at": event.at.isoformat(),
        "account_code": account.account_code if account else None,
        "data": event.payload,
    }
    for endpoint_id in targets:
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_type=name,
                payload=payload,
                next_attempt_at=event.at,
                created_at=event.at,
            )
        )


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()


def claim_due_deliveries(
    session: Session, *, now: datetime, limit: int, policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY
) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Lease the due deliveries to this sender (as the email outbox does); the caller commits
    before posting."""
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == EmailStatus.PENDING, WebhookDelivery.next_attempt_at <= now
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due).all())
    if not ids:
        return []
    session.exec(
        sa.update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(ids))
        .values(next_attempt_at=now + policy.lease, attempts=WebhookDelivery.attempts + 1)
    )
    return list(
        session.exec(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(col(WebhookDelivery.id).in_(ids))
            .order_by(WebhookDelivery.id)
            .execution_options(populate_existing=True)
        ).all()
    )


def mark_delivered(session: Session, *, delivery_id: int, now: datetime) -> None:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is not None and delivery.status == EmailStatus.PENDING:
        delivery.status = EmailStatus.SENT
        delivery.delivered_at = now
        delivery.last_error = None
        session.add(delivery)
        session.flush()


def mark_delivery_failed(
    session: Session,
    *,
    delivery_id: int,
    error: str,
    now: datetime,
    policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY,
) -> str:
    """Retry later with the outbox's backoff, or dead after the last attempt."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != EmailStatus.PENDING:
        return delivery.status if delivery else ""
    delivery.last_error = error[:2000]
    if delivery.attempts >= policy.max_attempts:
        delivery.status = EmailStatus.DEAD
    else:
        delivery.next_attempt_at = policy.retry_at(delivery.attempts, now)
    session.add(delivery)
    session.flush()
    return delivery.status


def dead_deliveries(session: Session, *, limit: int = 50) -> list[tuple[WebhookDelivery, str]]:
    return [
        (delivery, url)
        for delivery, url in session.exec(
            select(WebhookDelivery, WebhookEndpoint.url)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.status == EmailStatus.DEAD)
            .order_by(col(WebhookDelivery.id).desc())
            .limit(limit)
        ).all()
    ]


def resend_delivery(
    session: Session, *, delivery_id: int, actor_id: int | None, now: datetime
) -> WebhookDelivery:
    """A supervisor sends a dead notice again (audited)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != EmailStatus.DEAD:
        raise DomainError("Cette notification n'est pas en échec : rien à renvoyer.")
    delivery.status = EmailStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    session.add(delivery)
    session.add(
        Event(
            type="webhook.resend",
            actor_id=actor_id,
            payload={"delivery_id": delivery.id, "event": delivery.event_type},
            at=now,
        )
    )
    session.flush()
    return delivery
