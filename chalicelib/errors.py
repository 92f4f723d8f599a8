"""Domain errors. Domain code raises these; they know nothing of HTTP. The handler layer maps them to
status codes in one table (`chalicelib.handlers.common.HTTP_STATUS`)."""
from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error a client can cause. `detail` is the message a client reads."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def localized(self, locale: str | None) -> str:
        """The message in `locale` where the error knows other languages (the history's do)."""
        return self.detail

    def context(self) -> dict[str, Any]:
        """More about where the problem is, for the faces that report it (`position` in a query)."""
        return {}


class InvalidInput(ServiceError):
    """Bad input from the client. `field` names the parameter or body field at fault."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class NotFound(ServiceError):
    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(detail)


class Unauthenticated(ServiceError):
    """No credentials, or credentials nobody issued."""


class Forbidden(ServiceError):
    """Credentials that do not allow this action or project."""


class Conflict(ServiceError):
    """The request contradicts what is stored (an existing name, a repeated key with another body)."""


class UnsupportedMediaType(ServiceError):
    """A body in a format the service does not read."""


class PayloadTooLarge(ServiceError):
    """A request body larger than the service accepts (an upload over the API's cap)."""


class StaleUpdate(Exception):
    """A conditional write found the object no longer in the state the caller expected."""


class Throttled(Exception):
    """The store refused for load (throttling, a conflicting transaction, a transient fault): retry later.
    Never a refused precondition. The bulk state machine's Retry names this error type."""
