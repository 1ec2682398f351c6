"""The client's address, seen through the reverse proxies the configuration trusts."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from flask import request

from callcenter.web import state

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """Who sent the request: the direct peer, unless it is a trusted proxy; then the right-most
    address of X-Forwarded-For that is not itself a trusted proxy. Entries left of it were
    written by the client and are never believed; an unreadable entry stops the walk at the
    last proxy passed."""
    address = _parse(peer)
    if address is None:
        return peer
    hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
    while hops and any(address in network for network in trusted):
        previous = _parse(hops.pop())
        if previous is None:
            break
        address = previous
    return str(address)


def request_client_address() -> str:
    """The client address of the current request (every place the app needs it reads this)."""
    return client_address(
        request.remote_addr or "",
        request.headers.get("X-Forwarded-For", ""),
        state().settings.web.trusted_proxy_networks(),
    )
