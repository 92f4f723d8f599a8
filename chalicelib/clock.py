"""The service's notion of now. Times are kept at millisecond precision, UTC, everywhere, so what a
response shows can be sent back as a filter and compare equal. The clock itself is the composition
root's (`chalicelib.wiring`), so tests inject one without sleeping."""
from __future__ import annotations

from datetime import datetime
from typing import Callable


def now() -> datetime:
    from chalicelib.wiring import services
    return truncate_ms(services().clock())


def truncate_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Inject a clock (tests); None restores the real one."""
    from chalicelib.wiring import services, system_clock
    services().clock = fn or system_clock
