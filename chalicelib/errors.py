"""Domain errors. Domain code raises these; `chalicelib.http` maps them to HTTP in one place."""
from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a client can cause. `status` is the HTTP status it maps to."""

    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ServiceError):
    """Bad input from the client (400). `field` names the parameter or body field at fault."""

    status = 400

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class NotFound(ServiceError):
    status = 404

    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(detail)


class Unauthenticated(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class UnsupportedMediaType(ServiceError):
    status = 415


class StaleUpdate(Exception):
    """A conditional write found the object no longer in the state the caller expected."""


class Throttled(Exception):
    """The store refused for load (throttling, a conflicting transaction, a transient fault): retry later.
    Never a refused precondition. The bulk state machine's Retry names this error type."""
