"""Parsing of query parameters and JSON bodies into typed values, with 400s that name the parameter.

The rules are the v6 contract's: repeated keys for multiple values, `true|t|1|false|f|0` booleans,
ISO-8601 date-times with an offset or durations, and the pagination defaults."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from chalicelib.errors import InvalidInput, NotFound
from chalicelib.timeutil import parse_timestamp

if TYPE_CHECKING:
    from chalice.app import MultiDict

TRUE_WORDS = {"true", "t", "1"}
FALSE_WORDS = {"false", "f", "0"}


class QueryParams:
    """Read-only view of a query string where every key may repeat."""

    def __init__(self, multi: Mapping[str, Sequence[str]] | None) -> None:
        self._multi = {k: [v for v in vs] for k, vs in (multi or {}).items()}

    @classmethod
    def from_chalice(cls, params: MultiDict | None) -> "QueryParams":
        if params is None:
            return cls({})
        return cls({key: params.getlist(key) for key in params})

    def values(self, name: str) -> list[str]:
        return [v for v in self._multi.get(name, []) if v != ""]

    def first(self, name: str) -> str | None:
        values = self.values(name)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return bool(self.values(name))

    def items(self) -> Iterable[tuple[str, list[str]]]:
        return self._multi.items()


def parse_int(name: str, text: str) -> int:
    try:
        return int(text.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(f'Parameter must be a valid integer: "{name}"', field=name) from None


def parse_bool(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidInput(f'Parameter must be a valid boolean: "{name}"', field=name)


def int_list(params: QueryParams, name: str) -> list[int]:
    return [parse_int(name, v) for v in params.values(name)]


def choice_list(params: QueryParams, name: str, choices: Sequence[str]) -> list[str]:
    values = params.values(name)
    for value in values:
        if value not in choices:
            raise InvalidInput(
                f'Invalid value for "{name}": {value!r}. Choices: {", ".join(choices)}', field=name)
    return values


def optional_bool(params: QueryParams, name: str) -> bool | None:
    value = params.first(name)
    return None if value is None else parse_bool(name, value)


def optional_time(params: QueryParams, name: str, now: datetime) -> datetime | None:
    value = params.first(name)
    return None if value is None else parse_timestamp(name, value, now)


def check_range(start_name: str, start: datetime | None, end_name: str, end: datetime | None) -> None:
    if start is not None and end is not None:
        if start == end:
            raise InvalidInput(f'"{start_name}" and "{end_name}" must not be equal', field=start_name)
        if start > end:
            raise InvalidInput(f'"{start_name}" must be before "{end_name}"', field=start_name)


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int
    cursor: str | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


# A page past this one lies beyond any list the service can hold (and its offset beyond what a list can skip).
MAX_PAGE = 10_000_000


def page_request(params: QueryParams, default_size: int = 100, max_size: int = 1000) -> PageRequest:
    """`page` < 1 or not an integer is 404 "Invalid page." (the original's answer); a bad or
    non-positive `page_size` falls back to the default and a large one is clamped."""
    raw_page = params.first("page")
    page = 1
    if raw_page is not None:
        try:
            page = int(raw_page)
        except ValueError:
            raise NotFound("Invalid page.") from None
        if not 1 <= page <= MAX_PAGE:
            raise NotFound("Invalid page.")
    size = default_size
    raw_size = params.first("page_size")
    if raw_size is not None:
        try:
            size = int(raw_size)
        except ValueError:
            size = default_size
        if size < 1:
            size = default_size
    return PageRequest(page=page, page_size=min(size, max_size), cursor=params.first("cursor"))


class Body:
    """Typed access to a JSON body object; unknown fields are refused up front so a typo never
    silently drops a setting."""

    def __init__(self, body: dict[str, Any], allowed: Iterable[str], ignored: Iterable[str] = ()) -> None:
        self.body = body
        unknown = sorted(set(body) - set(allowed) - set(ignored))
        if unknown:
            raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}", field=unknown[0])

    def has(self, name: str) -> bool:
        return name in self.body and self.body[name] is not None

    def _typed(self, name: str, kinds: tuple[type, ...], label: str, required: bool) -> Any:
        if name not in self.body or self.body[name] is None:
            if required:
                raise InvalidInput(f'Missing required parameter: "{name}"', field=name)
            return None
        value = self.body[name]
        # bool is an int in Python; JSON true is never a valid integer here.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise InvalidInput(f'"{name}" must be {label}', field=name)
        return value

    def string(self, name: str, required: bool = False, max_length: int = 1024) -> str | None:
        value = self._typed(name, (str,), "a string", required)
        if value is not None and (len(value) > max_length or (required and not value.strip())):
            raise InvalidInput(f'"{name}" must be a non-empty string of at most {max_length} characters',
                               field=name)
        return value

    def boolean(self, name: str, required: bool = False) -> bool | None:
        return self._typed(name, (bool,), "a boolean", required)

    def integer(self, name: str, required: bool = False, minimum: int | None = None) -> int | None:
        value = self._typed(name, (int,), "an integer", required)
        if value is not None and minimum is not None and value < minimum:
            raise InvalidInput(f'"{name}" must be at least {minimum}', field=name)
        return value

    def obj(self, name: str, required: bool = False) -> dict[str, Any] | None:
        return self._typed(name, (dict,), "a JSON object", required)
