"""boto3 clients, created lazily and once per process by the composition root (`chalicelib.wiring`)."""
from __future__ import annotations

from typing import Any


def client(service: str) -> Any:
    from chalicelib.wiring import client as wired_client
    return wired_client(service)


def reset_clients() -> None:
    """Forget the clients (a test's fresh emulated account)."""
    from chalicelib.wiring import caches
    with caches().lock:
        caches().clients.clear()
