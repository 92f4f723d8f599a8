"""List jobs: `GET /v6/jobs/` parameters -> filter and order -> one page with its related objects."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib import clock
from chalicelib.domain import ERROR_CATEGORIES, EVERYTHING, JOB_STATUSES, JobFilter, OrderKey, Page, Scope
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.models import catalog
from chalicelib.models import jobs as job_store
from chalicelib.params import (
    PageRequest,
    QueryParams,
    check_range,
    choice_list,
    int_list,
    optional_bool,
    optional_time,
)

ORDER_FIELDS = tuple(job_store.SORT_KEYS)


def parse_filter(params: QueryParams, now: datetime | None = None) -> tuple[JobFilter, tuple[str, ...]]:
    """The filter, plus the job type names still to resolve to ids."""
    now = now or clock.now()
    started = optional_time(params, "started", now)
    ended = optional_time(params, "ended", now)
    check_range("started", started, "ended", ended)
    source_started = optional_time(params, "source_started", now)
    source_ended = optional_time(params, "source_ended", now)
    check_range("source_started", source_started, "source_ended", source_ended)
    return JobFilter(
        modified_after=started,
        modified_before=ended,
        source_started=source_started,
        source_ended=source_ended,
        source_sensor_classes=tuple(params.values("source_sensor_class")),
        source_sensors=tuple(params.values("source_sensor")),
        source_collections=tuple(params.values("source_collection")),
        # The spec's table spells it source_tasks; the field is source_task. Accept both.
        source_tasks=tuple(params.values("source_task") + params.values("source_tasks")),
        statuses=tuple(choice_list(params, "status", JOB_STATUSES)),
        job_ids=tuple(int_list(params, "job_id")),
        job_type_ids=tuple(int_list(params, "job_type_id")),
        batch_ids=tuple(int_list(params, "batch_id")),
        recipe_ids=tuple(int_list(params, "recipe_id")),
        error_ids=tuple(int_list(params, "error_id")),
        error_categories=tuple(choice_list(params, "error_category", ERROR_CATEGORIES)),
        is_superseded=optional_bool(params, "is_superseded"),
    ), tuple(params.values("job_type_name"))


def parse_order(params: QueryParams) -> list[OrderKey]:
    keys = []
    for raw in params.values("order"):
        descending = raw.startswith("-")
        name = raw[1:] if descending else raw
        if name not in job_store.SORT_KEYS:
            raise InvalidInput(f'Invalid order field: "{raw}"', field="order")
        keys.append(OrderKey(name, descending))
    return keys


def resolve_job_type_names(f: JobFilter, names: tuple[str, ...]) -> JobFilter:
    """Job type names become the ids of every version with that name (ANDed with job_type_id)."""
    if not names:
        return f
    ids = set(catalog.job_type_ids_named(names))
    if f.job_type_ids:
        ids &= set(f.job_type_ids)
    if not ids:
        return replace(f, matches_nothing=True)
    return replace(f, job_type_ids=tuple(sorted(ids)))


@dataclass
class JobListPage:
    page: Page
    job_types: dict
    superseded: dict


def list_jobs(params: QueryParams, page: PageRequest, scope: Scope = EVERYTHING) -> JobListPage:
    f, names = parse_filter(params)
    f = replace(f, projects=scope.projects)
    order = parse_order(params)
    f = resolve_job_type_names(f, names)
    result = job_store.list_jobs(f, order, page.offset, page.page_size, page.cursor)
    if page.page > 1 and page.offset >= result.count:
        raise NotFound("Invalid page.")
    return JobListPage(result, *related_of(result.rows))


def related_of(rows: list) -> tuple[dict, dict]:
    """One batched read for the job types a page shows (and, rarely, one for superseded jobs)."""
    superseded_ids = {job.superseded_job_id for job in rows if job.superseded_job_id is not None}
    superseded = job_store.get_jobs(superseded_ids)
    type_ids = {job.job_type_id for job in rows} | {job.job_type_id for job in superseded.values()}
    return catalog.get_job_types(type_ids), superseded
