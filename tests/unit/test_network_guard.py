import socket

import pytest

from tests.helpers.network_guard import NetworkBlocked


def test_non_loopback_connection_fails_loudly() -> None:
    with pytest.raises(NetworkBlocked), socket.create_connection(("192.0.2.1", 443), timeout=1):
        pass


def test_lookup_of_google_host_fails_loudly() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("oauth2.googleapis.com", 443)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with socket.create_connection(server.getsockname(), timeout=1):
        pass
    server.close()
