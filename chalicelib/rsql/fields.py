"""The searchable fields of the job history and how query values convert to their types.

The catalog is the only bridge from a selector to data: each public selector names a key of
the history-shaped job dict (or of one of its algorithms / parameters). Nothing in a query can
name any other attribute.

Types and their operators:
- text:    == != =in= =out= (with `*` wildcards at the start and/or end) and =gt= =ge= =lt= =le=
           (lexicographic, no wildcard). Matching is case-sensitive; `%`, `_`, `\\`, `.` are literal.
- integer, number, date: all eight operators.
- boolean (`true|false`), enum (upper case, as listed): == != =in= =out= only.
- date:    `yyyy/MM/dd[ HH:mm[:ss[.SSS]]]` + required zone `+hh|-hh|+hhmm|-hhmm`, converted to
           epoch milliseconds (UTC), so every comparison is at millisecond precision.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any, Literal

from chalicelib.rsql.errors import RsqlValueError


class FieldType(str, Enum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"


class Scope(str, Enum):
    """Where the field lives: on the job, on each algorithm, or on each algorithm parameter."""

    JOB = "job"
    ALGORITHM = "algorithm"
    PARAMETER = "parameter"


EQUALITY_OPERATORS = ("==", "!=", "=in=", "=out=")
ORDERING_OPERATORS = ("=gt=", "=ge=", "=lt=", "=le=")
NEGATED_OPERATORS = frozenset(("!=", "=out="))
_ORDERED_TYPES = frozenset((FieldType.TEXT, FieldType.INTEGER, FieldType.NUMBER, FieldType.DATE))


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    key: str
    scope: Scope = Scope.JOB
    allowed: tuple[str, ...] = ()  # enum values

    @property
    def operators(self) -> tuple[str, ...]:
        if self.type in _ORDERED_TYPES:
            return EQUALITY_OPERATORS + ORDERING_OPERATORS
        return EQUALITY_OPERATORS


EXIT_STATUS = (
    "UNKNOWN", "SUCCESS", "EXECUTION_ERROR", "JOB_IDENTIFIER_NOT_FOUND", "UNEXPECTED_MACHINE_ERROR",
    "PROJECT_NOT_FOUND", "FAILED_SETUP_EXECUTION_ENVIRONMENT", "NO_PERMISSION",
    "NO_MACHINE_AVAILABLE", "KILLED", "LOST", "UNDEFINED",
)
JOB_STATUS = (
    "SCHEDULED", "INIT", "UPLOADING", "QUEUED", "EXECUTING", "DOWNLOADING", "FINISHED", "UNKNOWN",
)
JOB_TYPE = ("ALGORITHM", "FLOW")
PARAMETER_TYPE = ("INPUT_FILE", "INTEGER", "BOOLEAN", "STRING", "NUMBER", "OBJECT", "ARRAY")

_T, _I, _N, _B, _D, _E = (
    FieldType.TEXT, FieldType.INTEGER, FieldType.NUMBER, FieldType.BOOLEAN, FieldType.DATE, FieldType.ENUM,
)


def _catalog(*fields: Field) -> Mapping[str, Field]:
    return MappingProxyType({f.name: f for f in fields})


CATALOG: Mapping[str, Field] = _catalog(
    Field("jobId", _T, "jobId"),
    Field("groupId", _T, "groupId"),
    Field("projectId", _T, "projectId"),
    Field("jobOwner", _T, "jobOwner"),
    Field("automaticallyMachineSelection", _B, "automaticallyMachineSelection"),
    Field("numberOfProcesses", _I, "numberOfProcesses"),
    Field("numberOfProcessesByMachine", _I, "numberOfProcessesByMachine"),
    Field("submissionTime", _D, "submissionTime"),
    Field("description", _T, "description"),
    Field("priority", _I, "priority"),
    Field("multipleExecution", _B, "multipleExecution"),
    Field("jobType", _E, "jobType", allowed=JOB_TYPE),
    Field("numberOfAttempts", _I, "numberOfAttempts"),
    Field("executionMachine", _T, "executionMachine"),
    Field("endTime", _D, "endTime"),
    Field("exitCode", _I, "exitCode"),
    Field("guiltyNodeId", _T, "guiltyNodeId"),
    Field("exitStatus", _E, "exitStatus", allowed=EXIT_STATUS),
    # Measurements: the spec's sample has `"cpuTime": 0.0`, so these accept decimals too.
    Field("cpuTime", _N, "cpuTime"),
    Field("wallclockTime", _N, "wallclockTime"),
    Field("ramMemory", _N, "ramMemory"),
    Field("flowId", _I, "flowId"),
    Field("flowVersion", _I, "flowVersion"),
    Field("flowName", _T, "flowName"),
    Field("lastModifiedTime", _D, "lastModifiedTime"),
    Field("isDeleted", _B, "isDeleted"),
    Field("jobStatus", _E, "jobStatus", allowed=JOB_STATUS),
    Field("algorithmId", _T, "algorithmId", Scope.ALGORITHM),
    Field("algorithmVersion", _T, "algorithmVersion", Scope.ALGORITHM),
    Field("algorithmName", _T, "algorithmName", Scope.ALGORITHM),
    # paramId is the input's name (`parameterId`), not the numeric `id`: like the other param*
    # selectors it names what a user sees, and the numeric id is not stable across job types.
    Field("paramId", _T, "parameterId", Scope.PARAMETER),
    Field("paramLabel", _T, "label", Scope.PARAMETER),
    Field("paramValue", _T, "value", Scope.PARAMETER),
    Field("paramType", _E, "type", Scope.PARAMETER, allowed=PARAMETER_TYPE),
)

# -- text patterns --------------------------------------------------------------------------------

MatchKind = Literal["exact", "prefix", "suffix", "contains"]


@dataclass(frozen=True, slots=True)
class TextPattern:
    """A text value with its `*` wildcards resolved. Matching is plain string operations:
    no regular expression is ever built from user text."""

    kind: MatchKind
    text: str

    def matches(self, value: str) -> bool:
        if self.kind == "exact":
            return value == self.text
        if self.kind == "prefix":
            return value.startswith(self.text)
        if self.kind == "suffix":
            return value.endswith(self.text)
        return self.text in value


def text_pattern(raw: str) -> TextPattern | None:
    """`abc` exact, `abc*` prefix, `*abc` suffix, `*abc*` contains; None if a `*` is elsewhere.

    A lone `*` is a suffix match of "" (any non-null value); `**` contains "".
    """
    lead = raw.startswith("*")
    core = raw[1:] if lead else raw
    trail = core.endswith("*")
    if trail:
        core = core[:-1]
    if "*" in core:
        return None
    kind: MatchKind = ("contains" if trail else "suffix") if lead else ("prefix" if trail else "exact")
    return TextPattern(kind, core)


# -- value conversion -----------------------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_INT64 = 2**63
_DATE = re.compile(
    r"([0-9]{4})/([0-9]{2})/([0-9]{2})"
    r"(?: ([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?)?"
    r"(?:([+-])([0-9]{2})([0-9]{2})?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def convert(field: Field, op: str, raw: str, pos: int = -1) -> Any:
    """Convert one query value for `field` under `op`, or raise `RsqlValueError` at `pos`."""
    t = field.type
    if t is FieldType.TEXT:
        if op in EQUALITY_OPERATORS:
            pattern = text_pattern(raw)
            if pattern is None:
                raise _bad("wildcard_middle", field, raw, pos)
            return pattern
        if "*" in raw:
            raise RsqlValueError("wildcard_ordering", pos, selector=field.name, operator=op)
        return raw
    if t is FieldType.INTEGER:
        if not _INTEGER.fullmatch(raw):
            raise _bad("invalid_integer", field, raw, pos)
        number = int(raw)
        if not -_INT64 <= number < _INT64:
            raise _bad("integer_out_of_range", field, raw, pos)
        return number
    if t is FieldType.NUMBER:
        if not _NUMBER.fullmatch(raw):
            raise _bad("invalid_number", field, raw, pos)
        return int(raw) if _INTEGER.fullmatch(raw) else float(raw)
    if t is FieldType.BOOLEAN:
        if raw not in ("true", "false"):
            raise _bad("invalid_boolean", field, raw, pos)
        return raw == "true"
    if t is FieldType.ENUM:
        if raw not in field.allowed:
            raise RsqlValueError(
                "invalid_enum", pos, selector=field.name, value=_clip(raw), allowed=field.allowed
            )
        return raw
    return parse_date(raw, field, pos)


def parse_date(raw: str, field: Field, pos: int = -1) -> int:
    """A query date -> epoch milliseconds (UTC). The zone is required; nothing is clamped."""
    m = _DATE.fullmatch(raw)
    if m is None:
        # A '+' zone sent unencoded in a URL arrives as a space: say so rather than "bad format".
        head, space, tail = raw.rpartition(" ")
        if space and (m2 := _DATE.fullmatch(f"{head}+{tail}")) and m2.group(8):
            raise _bad("date_zone_plus", field, raw, pos)
        raise _bad("invalid_date", field, raw, pos)
    year, month, day, hour, minute, second, millis, sign, zh, zm = m.groups()
    if millis is not None and len(millis) != 3:
        raise _bad("date_millis", field, raw, pos)
    if sign is None:
        raise _bad("date_zone_missing", field, raw, pos)
    if int(zh) > 23 or (zm is not None and int(zm) > 59):
        raise _bad("invalid_zone", field, raw, pos)
    offset = timedelta(hours=int(zh), minutes=int(zm or 0))
    try:
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            int(millis or 0) * 1000, tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:
        raise _bad("impossible_date", field, raw, pos) from None
    return (when - _EPOCH) // _MS


def _bad(key: str, field: Field, raw: str, pos: int) -> RsqlValueError:
    return RsqlValueError(key, pos, selector=field.name, value=_clip(raw))


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- stored values --------------------------------------------------------------------------------


def epoch_ms(value: datetime | str | int) -> int:
    """A stored time -> epoch milliseconds (UTC), truncated to the millisecond.

    Accepts an aware datetime, a naive one (taken as UTC: the history is kept in UTC), an ISO
    string such as `2019-06-12T21:24:25.342` (no zone = UTC) or `...Z` / `...+00:00`, or an int
    that already is epoch milliseconds.
    """
    if isinstance(value, int):
        return value
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - _EPOCH) // _MS


def from_epoch_ms(ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime (for a planner that needs datetimes)."""
    return _EPOCH + ms * _MS


def stored_value(field: Field, value: Any) -> Any:
    """Normalise a stored scalar to the type query values convert to (None stays None).

    Tolerant of the shapes a history dict may hold: numbers as int/float/Decimal or numeric
    text, booleans as bool or "true"/"false", enums in any case (the spec's own sample shows
    `"exitStatus": "success"`).
    """
    if value is None:
        return None
    t = field.type
    if t is FieldType.TEXT:
        return value if isinstance(value, str) else str(value)
    if t is FieldType.DATE:
        return epoch_ms(value)
    if t is FieldType.ENUM:
        return str(value).upper()
    if t is FieldType.BOOLEAN:
        if isinstance(value, str):
            return {"true": True, "false": False}.get(value.lower())
        return bool(value)
    if isinstance(value, bool):  # a bool is an int in Python; never a count or a measure
        return None
    if isinstance(value, (int, float, Decimal)):
        return value
    text = str(value)
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return None
