import socket

import pytest


def test_a_connection_off_this_machine_fails_the_test():
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(AssertionError, match="connexion réseau interdite"),
    ):
        sock.connect(("192.0.2.10", 80))


def test_loopback_connections_are_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
