"""The service's notion of now. Times are kept at millisecond precision, UTC, everywhere, so what a
response shows can be sent back as a filter and compare equal."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

_now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def now() -> datetime:
    return truncate_ms(_now())


def truncate_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Inject a clock (tests); None restores the real one."""
    global _now
    _now = fn or (lambda: datetime.now(timezone.utc))
