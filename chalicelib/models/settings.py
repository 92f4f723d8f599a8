"""Persistence of service-wide settings."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from chalicelib.models.tables import SystemSetting
from chalicelib.wiring import caches

_CACHE_SECONDS = 2.0


def get(name: str, default: Any = None, max_age: float = _CACHE_SECONDS) -> Any:
    """The setting's value; read at most every `max_age` seconds per process (the dispatcher asks on
    every fill)."""
    cache = caches().setting_values
    key = (SystemSetting.Meta.table_name, name)
    cached = cache.get(key)
    if cached and time.monotonic() - cached[0] < max_age:
        return cached[1]
    try:
        value = SystemSetting.get(name, consistent_read=True).value
    except SystemSetting.DoesNotExist:
        value = default
    cache[key] = (time.monotonic(), value)
    return value


def put(name: str, value: Any, now: datetime) -> None:
    SystemSetting(name, value=value, last_modified=now).save()
    caches().setting_values[(SystemSetting.Meta.table_name, name)] = (time.monotonic(), value)


SCHEDULER = "scheduler"


def scheduler_paused() -> bool:
    """The console's scheduler switch: while paused nothing is dispatched (running jobs go on)."""
    return bool((get(SCHEDULER, {}) or {}).get("is_paused", False))
