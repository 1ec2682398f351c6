"""Posting a signed JSON notice to the creditor's systems (HTTP), behind a small port."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Protocol


class DeliveryFailed(Exception):
    """The receiver did not take the notice: a refusal (its status) or no answer."""


class WebhookPoster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...


class HttpPoster:
    """Plain HTTP(S) POST with a short timeout; any 2xx is taken, anything else fails."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self.timeout_seconds = timeout_seconds

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as refused:
            raise DeliveryFailed(f"refusée par le destinataire ({refused.code})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryFailed(f"destinataire injoignable ({reason})") from None
