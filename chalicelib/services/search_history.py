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
from chalicelib.domain import JobRecord
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.models import catalog
from chalicelib.models import jobs as job_store
from chalicelib.params import QueryParams, parse_bool
from chalicelib.rsql.fields import from_epoch_ms, stored_value
from chalicelib.rsql.plan import HistoryPlan
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

    def localized(self, locale: str | None) -> str:
        return MESSAGES.get(rsql.normalize_locale(locale), MESSAGES["en_US"])[self.key].format(**self.params)


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

    def __init__(self, value: Any, job_id: int, descending: bool) -> None:
        self.value, self.job_id, self.descending = value, job_id, descending

    def __lt__(self, other: "_Key") -> bool:
        if self.value == other.value:
            return self.job_id < other.job_id
        if self.value is None or other.value is None:
            return other.value is None if not self.descending else self.value is None
        return self.value < other.value if not self.descending else self.value > other.value


@dataclass
class CandidateRead:
    """The jobs a plan's index read returned, and what reading them cost."""

    jobs: list[JobRecord]
    index: str
    partitions: list[Any]
    key_condition: str
    meter: job_store.ReadMeter


def _time(epoch_ms: int | None) -> Any:
    return from_epoch_ms(epoch_ms) if epoch_ms is not None else None


def _index_read(plan: HistoryPlan, meter: job_store.ReadMeter) -> job_store.IndexRead | None:
    """The plan mapped onto the store's index reads (None: no index applies)."""
    after, before = _time(plan.modified[0]), _time(plan.modified[1])
    if plan.kind == "ids":
        return job_store.read_by_ids(plan.values)
    if plan.kind == "created":
        return job_store.read_created(_time(plan.created[0]), _time(plan.created[1]))
    if plan.kind in ("owner", "project", "status"):
        return job_store.read_by(plan.kind, plan.values, after, before)
    if plan.kind == "modified":
        return job_store.read_by("all", (), after, before)
    if plan.kind == "algorithm":
        return job_store.read_by_job_types(_matching_job_types(plan, meter), plan.statuses, after, before)
    return None


def _matching_job_types(plan: HistoryPlan, meter: job_store.ReadMeter) -> list[int]:
    """Job types are few: read them all (one round trip) and keep those the algorithm terms accept."""
    matching = []
    job_types = catalog.all_job_types()
    meter.round_trips += 1
    meter.items_read += len(job_types)
    for job_type in job_types:
        values = {"algorithmId": job_type.name, "algorithmVersion": job_type.version,
                  "algorithmName": job_type.title or job_type.name}
        if all(p.test(stored_value(p.field, values[p.field.name])) for p in plan.algorithm):
            matching.append(job_type.id)
    return sorted(matching)


def read_candidates(plan: HistoryPlan) -> CandidateRead:
    meter = job_store.ReadMeter()
    read = _index_read(plan, meter)
    if read is None:
        jobs = job_store.scan_all(meter)
        return CandidateRead(jobs, "table (parallel Scan)", list(range(job_store.SCAN_SEGMENTS)), "", meter)
    jobs = job_store.read_jobs(read, meter)
    return CandidateRead(jobs, read.index, list(read.partitions), read.key_condition, meter)


def search(query: HistoryQuery, principal: Principal) -> dict[str, Any]:
    tree = rsql.prepare(query.q, visibility(principal))
    plan = plan_query(tree)
    read = read_candidates(plan)
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
        # What the index read returned includes jobs of other projects, which the visibility rule then drops:
        # only an admin (who sees every job) is told those figures.
        hidden = not principal.is_admin
        body["plan"] = {
            "index": read.index, "partitions": read.partitions[:20], "partition_count": len(read.partitions),
            "key_condition": read.key_condition or None, "served_by_index": plan.used,
            "residual": "the whole query, re-checked on each candidate" if tree is not None else None,
            "round_trips": None if hidden else read.meter.round_trips,
            "items_read": None if hidden else read.meter.items_read, "candidates": None if hidden else len(rows),
            "matches": len(matches),
        }
    return body


def delete_from_history(job_id_text: str, principal: Principal) -> None:
    if not job_id_text.isdigit():
        raise NotFound()
    job = job_store.get_job(int(job_id_text))
    if job is None or (not principal.is_admin and job.project not in principal.projects):
        raise NotFound()
    if not job_store.hide_from_history(job.id):
        raise NotFound()
