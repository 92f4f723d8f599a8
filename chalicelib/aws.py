"""boto3 clients, created lazily and once per process (each costs 30-60 ms; cold start matters)."""
from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            import boto3

            from chalicelib.config import get_settings
            _clients[service] = boto3.session.Session().client(service, region_name=get_settings().region)
        return _clients[service]


def reset_clients() -> None:
    with _lock:
        _clients.clear()
