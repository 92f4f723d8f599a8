"""Parsing of query parameters and JSON bodies into typed values, with 400s that name the parameter.

The rules are the v6 contract's: repeated keys for multiple values, `true|t|1|false|f|0` booleans,
ISO-8601 date-times with an offset or durations, and the pagination defaults."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

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

    def __init__(self, body: dict[str, Any], allowed: Iterable[str] | BodySpec, ignored: Iterable[str] = ()) -> None:
        self.body = body
        if isinstance(allowed, BodySpec):  # the declared body: every field checked now, as documented
            spec = allowed
            spec.check(body)
            allowed, ignored = spec.field_names(), spec.ignored
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


# --- declarative definitions: what the door checks is what the OpenAPI document states --------------------
#
# A `Param` (query or path parameter) and a `BodySpec` of `Field`s (a JSON body) each validate a request
# (`check_query`, `Body`) and write their own JSON schema (`chalicelib.openapi`), so the document cannot
# promise less or more than the service enforces. Checks that depend on stored data (a workspace that must
# exist, a job type's interface) or on two fields at once (`started` before `ended`) stay in the use cases;
# the document states them in words.

MAX_ID = 2**63 - 1             # ids are 64-bit integers
MAX_REPEAT = 1000              # values of one repeated query parameter
MAX_QUERY_STRING = 1024        # characters of one free-text query value (cursors excepted)
MAX_CURSOR = 2048
BOOLEAN_WORDS = ("true", "True", "TRUE", "t", "T", "1", "false", "False", "FALSE", "f", "F", "0")
# ISO-8601 / RFC 3339 date-time with an offset, years 2 to 9998 (so that any offset stays within years 1-9999
# in UTC), seconds 0-59; or a duration back from now in days, hours, minutes and seconds (at most ~270 years).
_YEAR = r"(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])"
DATE_TIME_PATTERN = (_YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
                     r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")
_H, _M, _S = r"[0-9]{1,7}H", r"[0-9]{1,8}M", r"[0-9]{1,9}(\.[0-9]{1,6})?S"
_CLOCK = f"T({_H}({_M})?({_S})?|{_M}({_S})?|{_S})"
DURATION_PATTERN = f"P([0-9]{{1,5}}D({_CLOCK})?|{_CLOCK})"
_DATE_TIME = re.compile(f"^{DATE_TIME_PATTERN}$")
_DURATION = re.compile(f"^{DURATION_PATTERN}$")
_ASCII_INT = re.compile(r"^-?[0-9]{1,19}$")


def date_time_schema(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description, "anyOf": [
        {"format": "date-time", "pattern": f"^{DATE_TIME_PATTERN}$"}, {"pattern": f"^{DURATION_PATTERN}$"}]}


def check_date_time(name: str, text: str) -> None:
    """The door's check of a date-time value (the document's pattern); parsing and ranges come after it."""
    if not (_DURATION.match(text) or (_DATE_TIME.match(text) and _valid_date(text))):
        raise InvalidInput(f'Invalid ISO-8601 datetime for "{name}": {text!r} (a date-time with an offset, such as '
                           '2026-01-31T12:00:00Z, years 2-9998, or a duration such as PT3H or P2D)', field=name)


def _valid_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def ascii_int(text: str) -> int | None:
    """An integer written in ASCII digits (int() also takes other scripts' digits, spaces and `_`)."""
    return int(text) if _ASCII_INT.match(text) else None


@dataclass(frozen=True)
class Param:
    """One query (or path) parameter: its type and constraints, checked at the door and documented."""
    name: str
    kind: str                       # integer | boolean | string | datetime | lenient (any string: page_size)
    description: str
    repeat: bool = False
    location: str = "query"
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    min_length: int | None = None
    # What a refused value answers: 400 naming the parameter, or 404 (`page`, as the original answered).
    not_found: bool = False
    message: str | None = None      # the 400's detail for a value not in `enum` ({value} is replaced)

    def value_schema(self) -> dict[str, Any]:
        if self.kind == "datetime":
            return date_time_schema("ISO-8601 date-time with an offset (years 2-9998), or a duration back from "
                                    "now such as PT3H or P2D")
        if self.kind == "boolean":
            return {"type": "string", "enum": list(BOOLEAN_WORDS)}
        schema: dict[str, Any] = {"type": "integer" if self.kind == "integer" else "string"}
        if self.kind == "integer":
            schema["format"] = "int64"
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum), ("maxLength", self.max_length),
                           ("minLength", self.min_length)):
            if value is not None:
                schema[key] = value
        if self.enum:
            schema["enum"] = list(self.enum)
        return schema

    def openapi(self) -> dict[str, Any]:
        schema = self.value_schema()
        if self.location == "query" and not self.min_length and self.kind != "lenient":
            # An empty value (`?status=`) is taken as absent, as the original console sends unset filters.
            schema = {"anyOf": [schema, {"type": "string", "enum": [""]}]}
        if self.repeat:
            schema = {"type": "array", "items": schema, "maxItems": MAX_REPEAT}
        entry: dict[str, Any] = {"name": self.name, "in": self.location,
                                 "required": self.required or self.location == "path",
                                 "description": self.description, "schema": schema}
        if self.repeat:
            entry.update({"style": "form", "explode": True})
        return entry

    def refuse(self, message: str) -> InvalidInput | NotFound:
        return NotFound("Invalid page.") if self.not_found else InvalidInput(message, field=self.name)

    def check(self, values: Sequence[str]) -> None:
        name = self.name
        if not self.repeat and len(values) > 1:
            raise self.refuse(f'Parameter "{name}" may be given once (it was given {len(values)} times)')
        if len(values) > MAX_REPEAT:
            raise self.refuse(f'Parameter "{name}" is given more than {MAX_REPEAT} times')
        for text in values:
            self.check_value(text)

    def check_value(self, text: str) -> None:
        name = self.name
        if self.kind == "integer":
            value = ascii_int(text)
            if value is None:
                raise self.refuse(f'Parameter must be a valid integer: "{name}"')
            low = self.minimum if self.minimum is not None else -MAX_ID
            high = self.maximum if self.maximum is not None else MAX_ID
            if not low <= value <= high:
                raise self.refuse(f'Parameter "{name}" must be from {low} to {high}')
        elif self.kind == "boolean":
            if text not in BOOLEAN_WORDS:
                raise self.refuse(f'Parameter must be a valid boolean: "{name}" (true|t|1|false|f|0)')
        elif self.kind == "datetime":
            check_date_time(name, text)
        elif self.kind == "string":
            if self.enum and text not in self.enum:
                raise self.refuse(self.message.format(value=text) if self.message else
                                  f'Invalid value for "{name}": {text!r}. Choices: {", ".join(self.enum)}')
            if self.max_length is not None and len(text) > self.max_length:
                raise self.refuse(f'Parameter "{name}" is longer than {self.max_length} characters')
            if self.min_length is not None and len(text) < self.min_length:
                raise self.refuse(f'Parameter "{name}" must not be empty')
        elif self.kind != "lenient":
            raise ValueError(self.kind)


def check_query(params: QueryParams, declared: Sequence[Param]) -> None:
    """Every declared query parameter that is present, checked (types, ranges, choices, lengths, repeats) before
    any use case runs: 400 naming it. Undeclared parameters are ignored (the original console sends some)."""
    given = params._multi  # noqa: SLF001 - empty values count here
    if "" in given:
        raise InvalidInput("A query parameter has no name", field="query")
    for param in declared:
        raw = given.get(param.name, []) if param.location == "query" else []
        if len(raw) > MAX_REPEAT:
            raise param.refuse(f'Parameter "{param.name}" is given more than {MAX_REPEAT} times')
        values = raw if param.min_length else [value for value in raw if value != ""]
        if values:
            param.check(values)


# -- JSON bodies --

@dataclass(frozen=True)
class Field:
    """One field of a JSON body. `schema` adds what the use case checks further (documented, not re-checked)."""
    name: str
    kind: str                       # integer | boolean | string | object | array | datetime | any
    description: str = ""
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    min_length: int | None = None
    enum: tuple[Any, ...] | None = None
    pattern: str | None = None
    items: Field | None = None      # arrays: each item's definition
    max_items: int | None = None
    nullable: bool = False          # (optional fields are always nullable: null is taken as absent)
    message: str | None = None      # what a value not matching `pattern` is told (default: the pattern)
    # A check of the value that gives the use case's own message (it must accept exactly what `pattern` does:
    # tests/unit/test_api_inputs.py holds the two against each other).
    validator: Callable[[str, str], Any] | None = None
    schema: dict[str, Any] | None = None  # extra documentation-only keywords (e.g. an object's properties)

    def json_schema(self) -> dict[str, Any]:
        if self.kind == "datetime":
            out = date_time_schema(self.description or "ISO-8601 date-time with an offset, or a duration")
        elif self.kind == "any":
            out = {}
        else:
            out = {"type": self.kind}
        if self.kind == "integer":
            out.update({"format": "int64", "minimum": self.minimum if self.minimum is not None else -MAX_ID,
                        "maximum": self.maximum if self.maximum is not None else MAX_ID})
        for key, value in (("maxLength", self.max_length), ("minLength", self.min_length), ("pattern", self.pattern),
                           ("maxItems", self.max_items)):
            if value is not None:
                out[key] = value
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.items is not None:
            out["items"] = self.items.json_schema()
        if self.description and self.kind != "datetime":
            out["description"] = self.description
        if self.nullable or not self.required:  # an optional field may be null: taken as absent
            out["nullable"] = True
        out.update(self.schema or {})
        return out

    def check(self, path: str, value: Any) -> None:
        if value is None:
            if self.nullable or not self.required:
                return
            raise InvalidInput(f'Missing required parameter: "{path}"', field=path)
        expected = {"integer": int, "boolean": bool, "string": str, "object": dict, "array": list,
                    "datetime": str}.get(self.kind)
        if expected is not None and (not isinstance(value, expected)
                                     or (isinstance(value, bool) and expected is not bool)):
            article = "an" if self.kind in ("integer", "object", "array") else "a"
            label = {"object": "JSON object", "array": "list", "datetime": "date-time string"}.get(self.kind, self.kind)
            raise InvalidInput(f'"{path}" must be {article} {label}', field=path)
        if self.kind == "integer":
            low = self.minimum if self.minimum is not None else -MAX_ID
            high = self.maximum if self.maximum is not None else MAX_ID
            if not low <= value <= high:
                raise InvalidInput(f'"{path}" must be from {low} to {high}' if high != MAX_ID
                                   else f'"{path}" must be at least {low}', field=path)
        if self.kind == "datetime":
            check_date_time(path, value)
        if isinstance(value, str):
            if self.validator is not None:  # first: its message is the use case's own
                self.validator(value, path)
            if self.max_length is not None and len(value) > self.max_length:
                raise InvalidInput(f'"{path}" must be a string of at most {self.max_length} characters', field=path)
            if self.min_length is not None and len(value) < self.min_length:
                raise InvalidInput(f'"{path}" must be a non-empty string of at most {self.max_length} characters'
                                   if self.max_length else f'"{path}" must not be empty', field=path)
            if self.validator is None and self.pattern is not None and not re.search(self.pattern, value):
                raise InvalidInput(self.message or f'"{path}" must match {self.pattern}', field=path)
        if self.enum is not None and value not in self.enum:
            raise InvalidInput(f'Invalid value for "{path}": {value!r}. Choices: '
                               f'{", ".join(str(choice) for choice in self.enum)}', field=path)
        if isinstance(value, list):
            if self.max_items is not None and len(value) > self.max_items:
                raise InvalidInput(f'"{path}" holds more than {self.max_items} values', field=path)
            if self.items is not None:
                for item in value:
                    if item is None:
                        raise InvalidInput(f'"{path}" must not hold null', field=path)
                    self.items.check(path, item)


@dataclass(frozen=True)
class BodySpec:
    """A JSON object body: its fields (anything else is refused) and what it is called in the document."""
    name: str
    fields: tuple[Field, ...]
    ignored: tuple[str, ...] = ()   # accepted and ignored (the original console sends them)
    description: str = ""

    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    def json_schema(self) -> dict[str, Any]:
        properties = {field.name: field.json_schema() for field in self.fields}
        properties.update({name: {"description": "Accepted and ignored."} for name in self.ignored})
        schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
        required = [field.name for field in self.fields if field.required]
        if required:
            schema["required"] = required
        if self.description:
            schema["description"] = self.description
        return schema

    def check(self, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - set(self.field_names()) - set(self.ignored))
        if unknown:
            raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}", field=unknown[0])
        for field in self.fields:
            if field.required and body.get(field.name) is None:
                raise InvalidInput(f'Missing required parameter: "{field.name}"', field=field.name)
            field.check(field.name, body.get(field.name))
