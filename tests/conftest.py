"""Shared fixtures, and a guard that makes any real network request fail loudly.

Only loopback addresses (the test servers pactx starts) and Unix sockets are allowed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class NetworkBlocked(RuntimeError):
    """Raised when a test tries to reach anything but loopback."""


def _is_loopback(host: Any) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(address: Any) -> None:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests may not use the network: tried to connect to {address!r}")


def _connect(self: socket.socket, address: Any) -> Any:
    _guard(address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> Any:
    _guard(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests may not use the network: tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's endpoint, keys, decoding choice, result cache, or the
    server families other tests detected."""
    from pactx.servers import forget

    for name in (
        "PACTX_BASE_URL", "PACTX_MODEL", "PACTX_API_KEY", "PACTX_MODE", "OPENAI_API_KEY",
        "PACTX_DECODING", "PACTX_EVALS_DIR", "PACTX_SERVER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path / "pactx-cache"))
    forget()


@pytest.fixture
def seed_lines() -> list[str]:
    """Every seed document, one per line, across both seed files."""
    if not SEEDS.is_dir():
        pytest.skip(f"seeds not found at {SEEDS}")
    lines: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PACTX_SKIP_EMBEDDED") == "1":
        skip = pytest.mark.skip(reason="PACTX_SKIP_EMBEDDED=1")
        for item in items:
            if "embedded" in item.keywords:
                item.add_marker(skip)
