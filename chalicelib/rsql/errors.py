"""Errors for bad RSQL queries. Every one is an `InvalidInput` (HTTP 400) on the `q` parameter.

Each error carries a message `key` and `params` so `messages.render(error, locale)` can say the
same thing in any supported language; `detail` holds the default-locale (en_US) rendering.
`position` is the 0-based character index in `q` where the problem is, when one is known.
"""
from __future__ import annotations

from typing import Any

from chalicelib.errors import InvalidInput


class RsqlError(InvalidInput):
    """Base of every query error (400)."""

    def __init__(self, key: str, position: int | None = None, **params: Any) -> None:
        from chalicelib.rsql.messages import DEFAULT_LOCALE, render_key

        self.key = key
        self.position = position
        self.params = params
        super().__init__(render_key(key, position, params, DEFAULT_LOCALE), field="q")

    def localized(self, locale: str | None) -> str:
        from chalicelib.rsql.messages import render
        return render(self, locale)

    def context(self) -> dict[str, Any]:
        return {"position": self.position} if self.position is not None and self.position >= 0 else {}


class RsqlSyntaxError(RsqlError):
    """The text of `q` is not valid RSQL (position always set)."""

    def __init__(self, key: str, position: int, **params: Any) -> None:
        super().__init__(key, position, **params)


class RsqlLimitError(RsqlError):
    """`q` is within the grammar but over one of the size limits."""


class RsqlSelectorError(RsqlError):
    """A selector that is not in the field catalog."""


class RsqlOperatorError(RsqlError):
    """An operator the selector's type does not support."""


class RsqlValueError(RsqlError):
    """A value that does not convert to the selector's type."""
