"""The client address: X-Forwarded-For is believed only from the configured reverse proxies."""

from __future__ import annotations

import ipaddress

import pytest

from callcenter.web.proxies import client_address

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "expected"),
    [
        # Nothing trusted (the default): the header is anyone's to write.
        ("203.0.113.9", "198.51.100.7", [], "203.0.113.9"),
        ("10.0.0.2", "198.51.100.7", [], "10.0.0.2"),
        # A peer that is not a trusted proxy cannot speak for someone else.
        ("203.0.113.9", "198.51.100.7", PROXIES, "203.0.113.9"),
        # One trusted proxy: the address it saw.
        ("10.0.0.2", "198.51.100.7", PROXIES, "198.51.100.7"),
        # The client wrote its own X-Forwarded-For: only what the proxy appended counts.
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", PROXIES, "198.51.100.7"),
        # Two trusted proxies in a row.
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.3", PROXIES, "198.51.100.7"),
        # Every hop trusted: the left-most one.
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", PROXIES, "10.0.0.4"),
        # A trusted proxy without the header.
        ("10.0.0.2", "", PROXIES, "10.0.0.2"),
        # An unreadable hop stops the walk at the last proxy passed.
        ("10.0.0.2", "198.51.100.7, n'importe quoi", PROXIES, "10.0.0.2"),
        # IPv6, and an IPv4 peer written as an IPv4-mapped IPv6 address.
        ("2001:db8::1", "2001:db8:ffff::2, 2a01:e0a::5", PROXIES, "2a01:e0a::5"),
        ("::ffff:10.0.0.2", "198.51.100.7", PROXIES, "198.51.100.7"),
        # No peer address at all (a Unix socket).
        ("", "198.51.100.7", PROXIES, ""),
    ],
)
def test_client_address(peer, forwarded_for, trusted, expected):
    assert client_address(peer, forwarded_for, trusted) == expected
