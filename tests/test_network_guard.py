import socket

import httpx
import pytest

from conftest import NetworkBlocked


def test_real_request_fails_loudly() -> None:
    with pytest.raises((NetworkBlocked, httpx.ConnectError)) as info:
        httpx.get("https://api.openai.com/v1/models", timeout=2)
    assert "network" in str(info.value) or isinstance(info.value, NetworkBlocked)


def test_direct_socket_to_public_address_is_blocked() -> None:
    with socket.socket() as sock, pytest.raises(NetworkBlocked):
        sock.connect(("8.8.8.8", 53))
