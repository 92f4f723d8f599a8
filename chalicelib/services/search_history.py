"""Search the job history: `GET /v1/jobs/history`.

parse `q` -> AND the caller's visibility rule into the tree -> plan the cheapest read -> read
candidates -> keep those the whole tree accepts -> sort by `attr` (ties by jobId) -> offset/limit ->
render. Errors carry a message key so they can be rendered in the caller's locale.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import rsql
from chalicelib.auth import Principal
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.models import history as history_store
from chalicelib.params import QueryParams, parse_bool
from chalicelib.rsql.plan import plan as plan_query
from chalicelib.views.history import SORTABLE, history_job, render

MAX_LIMIT = 1000

MESSAGES = {
    "en_US": {
        "offset": 'Parameter "offset" must be an integer >= 0',
        "limit": 'Parameter "limit" must be an integer from 1 to 1000',
        "attr": 'Unknown sort field "attr": {value}. Fields: {fields}',
        "asc": 'Parameter "{name}" must be true or false',
    },
    "pt_BR": {
        "offset": 'O parâmetro "offset" deve ser um inteiro >= 0',
        "limit": 'O parâmetro "limit" deve ser um inteiro de 1 a 1000',
        "attr": 'Campo de ordenação desconhecido em "attr": {value}. Campos: {fields}',
        "asc": 'O parâmetro "{name}" deve ser true ou false',
    },
}


class HistoryParameterError(InvalidInput):
    def __init__(self, key: str, field: str, **params: Any) -> None:
        super().__init__(MESSAGES["en_US"][key].format(**params), field=field)
        self.key, self.params = key, params

    def localized(self, locale: str) -> str:
        return MESSAGES.get(locale, MESSAGES["en_US"])[self.key].format(**self.params)


@dataclass(frozen=True)
class HistoryQuery:
    q: str | None
    offset: int
    limit: int
    attr: str
    ascending: bool
    show_parameters: bool
    explain: bool
    locale: str


def parse_query(params: QueryParams) -> HistoryQuery:
    locale = rsql.normalize_locale(params.first("locale"))
    offset = _integer(params, "offset", 0)
    if offset is None or offset < 0:
        raise HistoryParameterError("offset", "offset")
    limit = _integer(params, "limit", MAX_LIMIT)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise HistoryParameterError("limit", "limit")
    attr = params.first("attr") or "submissionTime"
    if attr not in SORTABLE:
        raise HistoryParameterError("attr", "attr", value=attr, fields=", ".join(SORTABLE))
    raw_q = params._multi.get("q")  # noqa: SLF001 - an empty q= is an error, an absent one is not
    return HistoryQuery(
        q=raw_q[0] if raw_q else None, offset=offset, limit=limit, attr=attr,
        ascending=_boolean(params, "asc", False), show_parameters=_boolean(params, "showParam", True),
        explain=_boolean(params, "explain", False), locale=locale)


def _integer(params: QueryParams, name: str, default: int) -> int | None:
    raw = params.first(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _boolean(params: QueryParams, name: str, default: bool) -> bool:
    raw = params.first(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise HistoryParameterError("asc", name, name=name)
    return parse_bool(name, raw)


def visibility(principal: Principal) -> rsql.Node | None:
    """An admin sees every job; anyone else the jobs of their own projects."""
    if principal.is_admin:
        return None
    return rsql.visibility_rule("projectId", principal.projects)


class _Key:
    """Sort key with None last (ascending) and first (descending), ties by numeric jobId ascending."""

    __slots__ = ("value", "job_id", "descending")

    def __init__(self, value, job_id: int, descending: bool) -> None:
        self.value, self.job_id, self.descending = value, job_id, descending

    def __lt__(self, other: "_Key") -> bool:
        if self.value == other.value:
            return self.job_id < other.job_id
        if self.value is None or other.value is None:
            return other.value is None if not self.descending else self.value is None
        return self.value < other.value if not self.descending else self.value > other.value


def search(query: HistoryQuery, principal: Principal) -> dict:
    tree = rsql.prepare(query.q, visibility(principal))
    plan = plan_query(tree)
    read = history_store.read_candidates(plan)
    rows = [history_job(job) for job in read.jobs]
    matches = [row for row in rows if tree is None or rsql.evaluate(tree, row)]
    numeric = query.attr in ("jobId", "groupId")  # ids are strings in the history, but sort as numbers
    matches.sort(key=lambda row: _Key(int(row[query.attr]) if numeric else row[query.attr], int(row["jobId"]),
                                      not query.ascending))
    window = matches[query.offset:query.offset + query.limit]
    body: dict[str, Any] = {
        "total": len(matches), "offset": query.offset, "limit": query.limit,
        "jobs": [render(row, query.show_parameters) for row in window],
    }
    if query.explain:
        body["plan"] = {
            "index": read.index, "partitions": read.partitions[:20], "partition_count": len(read.partitions),
            "key_condition": read.key_condition or None, "served_by_index": plan.used,
            "residual": "the whole query, re-checked on each candidate" if tree is not None else None,
            "round_trips": read.round_trips, "items_read": read.items_read, "candidates": len(rows),
            "matches": len(matches),
        }
    return body


def delete_from_history(job_id_text: str, principal: Principal) -> None:
    if not job_id_text.isdigit():
        raise NotFound()
    from chalicelib.models.jobs import get_job
    job = get_job(int(job_id_text))
    if job is None or (not principal.is_admin and job.project not in principal.projects):
        raise NotFound()
    if not history_store.mark_deleted(job.id):
        raise NotFound()
