"""Reading jobs: query planning over the jobs table's indexes, paging and counting.

A list request is served in three steps:

1. plan  - pick the index whose partition key covers the most selective filter (job ids are read
           directly; then recipe, batch, job type + status, job type, status, and the whole-table
           `by-modified` index), the partitions to read (one per filter value), the key range on
           `modified_key` (the `started`/`ended` filters) and a residual filter for the rest;
2. page  - when the order is `last_modified` (either way) the index already holds it: the
           partitions are read lazily, merged, and only what the page needs is fetched; a cursor
           (the position of the last row) makes every following page cost what page 1 costs.
           Any other order reads all matches from the index and sorts them in memory;
3. count - `Select=COUNT` over the same key ranges, which reads index entries of the matches only.
"""
from __future__ import annotations

import base64
import heapq
import itertools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator

from chalicelib.domain import JobFilter, OrderKey, Page
from chalicelib.errors import InvalidInput
from chalicelib.models.tables import (
    Job,
    JobData,
    JobInputFile,
    TriggerEvent,
    get_by_keys,
    get_or_none,
    write_transaction,
)

MAX_TYPE_STATUS_PARTITIONS = 4
_KEY_ID_WIDTH = 12
_CURSOR_KEY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z#\d{12}$")


def modified_key(last_modified: datetime, job_id: int) -> str:
    stamp = last_modified.astimezone(timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z#{job_id:0{_KEY_ID_WIDTH}d}"


def queue_key(priority: int, queued: datetime, job_id: int) -> str:
    """Lower priority numbers first, then first in first out."""
    return f"{int(priority):010d}#{modified_key(queued, job_id)}"


def type_status_key(job_type_id: int, status: str) -> str:
    return f"{job_type_id}#{status}"


# --- plan ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    index: Any | None            # a GlobalSecondaryIndex, or None for a direct read by job id
    partitions: tuple            # hash key values to read
    low: str | None              # modified_key bounds, inclusive
    high: str | None
    residual: Any | None         # a PynamoDB condition on the remaining filters

    def describe(self) -> dict:
        name = self.index.Meta.index_name if self.index is not None else "table (BatchGetItem)"
        return {"index": name, "partitions": len(self.partitions), "residual": self.residual is not None}


def plan_query(f: JobFilter) -> Plan:
    low = _ceil_ms(f.modified_after) if f.modified_after else None
    high = _floor_ms(f.modified_before) if f.modified_before else None
    low_key = modified_key(low, 0) if low else None
    high_key = modified_key(high, 10 ** _KEY_ID_WIDTH - 1) if high else None
    if f.job_ids:
        return Plan(None, tuple(sorted(set(f.job_ids))), low_key, high_key, None)
    covered: set[str] = set()
    if f.recipe_ids:
        index, partitions, covered = Job.by_recipe, f.recipe_ids, {"recipe_ids"}
    elif f.batch_ids:
        index, partitions, covered = Job.by_batch, f.batch_ids, {"batch_ids"}
    elif f.job_type_ids and f.statuses and len(f.job_type_ids) * len(f.statuses) <= MAX_TYPE_STATUS_PARTITIONS:
        index = Job.by_type_status
        partitions = tuple(type_status_key(t, s) for t in f.job_type_ids for s in f.statuses)
        covered = {"job_type_ids", "statuses"}
    elif f.job_type_ids:
        index, partitions, covered = Job.by_type, f.job_type_ids, {"job_type_ids"}
    elif f.statuses:
        index, partitions, covered = Job.by_status, f.statuses, {"statuses"}
    else:
        index, partitions = Job.by_modified, ("jobs",)
    return Plan(index, tuple(sorted(set(partitions))), low_key, high_key, _residual(f, covered))


def _residual(f: JobFilter, covered: set[str]):
    conditions = []

    def one_of(name: str, attribute, values) -> None:
        if values and name not in covered:
            conditions.append(attribute.is_in(*values))

    one_of("statuses", Job.status, f.statuses)
    one_of("job_type_ids", Job.job_type_id, f.job_type_ids)
    one_of("batch_ids", Job.batch_id, f.batch_ids)
    one_of("recipe_ids", Job.recipe_id, f.recipe_ids)
    one_of("error_ids", Job.error_id, f.error_ids)
    one_of("error_categories", Job.error_category, f.error_categories)
    one_of("source_sensor_classes", Job.source_sensor_class, f.source_sensor_classes)
    one_of("source_sensors", Job.source_sensor, f.source_sensors)
    one_of("source_collections", Job.source_collection, f.source_collections)
    one_of("source_tasks", Job.source_task, f.source_tasks)
    if f.is_superseded is not None:
        conditions.append(Job.is_superseded == f.is_superseded)
    if f.source_started is not None:
        conditions.append(Job.source_started >= f.source_started)
    if f.source_ended is not None:
        conditions.append(Job.source_ended <= f.source_ended)
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def job_matches(job: Job, f: JobFilter) -> bool:
    """The filter evaluated in memory, for jobs read directly by id."""
    def within(value, values) -> bool:
        return not values or value in values

    if f.modified_after and job.last_modified < f.modified_after:
        return False
    if f.modified_before and job.last_modified > f.modified_before:
        return False
    if f.source_started and (job.source_started is None or job.source_started < f.source_started):
        return False
    if f.source_ended and (job.source_ended is None or job.source_ended > f.source_ended):
        return False
    if f.is_superseded is not None and bool(job.is_superseded) != f.is_superseded:
        return False
    return all((
        within(job.status, f.statuses), within(job.job_type_id, f.job_type_ids),
        within(job.batch_id, f.batch_ids), within(job.recipe_id, f.recipe_ids),
        within(job.error_id, f.error_ids), within(job.error_category, f.error_categories),
        within(job.source_sensor_class, f.source_sensor_classes), within(job.source_sensor, f.source_sensors),
        within(job.source_collection, f.source_collections), within(job.source_task, f.source_tasks),
    ))


def _ceil_ms(value: datetime) -> datetime:
    truncated = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return truncated if truncated == value else truncated + timedelta(milliseconds=1)


def _floor_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# --- orders ----------------------------------------------------------------------------------------

def _error_title(job: Job):
    return (job.error or {}).get("title") if job.error else None


def _duration(job: Job):
    return (job.ended - job.started) if job.ended and job.started else None


SORT_KEYS: dict[str, Callable[[Job], Any]] = {
    "id": lambda j: j.id,
    "status": lambda j: j.status,
    "created": lambda j: j.created,
    "queued": lambda j: j.queued,
    "started": lambda j: j.started,
    "ended": lambda j: j.ended,
    "last_status_change": lambda j: j.last_status_change,
    "last_modified": lambda j: j.last_modified,
    "superseded": lambda j: j.superseded,
    "is_superseded": lambda j: j.is_superseded,
    "num_exes": lambda j: j.num_exes,
    "max_tries": lambda j: j.max_tries,
    "priority": lambda j: j.priority,
    "input_file_size": lambda j: j.input_file_size,
    "source_started": lambda j: j.source_started,
    "source_ended": lambda j: j.source_ended,
    "source_sensor_class": lambda j: j.source_sensor_class,
    "source_sensor": lambda j: j.source_sensor,
    "source_collection": lambda j: j.source_collection,
    "source_task": lambda j: j.source_task,
    "job_type": lambda j: (j.job_type_name, j.job_type_version),
    "job_type__name": lambda j: j.job_type_name,
    "job_type__version": lambda j: j.job_type_version,
    "job_type__id": lambda j: j.job_type_id,
    "duration": _duration,
    "recipe": lambda j: j.recipe_id,
    "batch": lambda j: j.batch_id,
    "node": lambda j: j.node_id,
    "error": lambda j: j.error_id,
    "error.category": lambda j: j.error_category,
    "error__category": lambda j: j.error_category,
    "error.title": _error_title,
    "error__title": _error_title,
}


def index_order(order: list[OrderKey]) -> bool | None:
    """The index's direction (True = descending) when the index holds the order, else None."""
    if not order:
        return False
    first = order[0]
    if first.field != "last_modified":
        return None
    rest = order[1:]
    if all(key.field in ("id", "last_modified") and key.descending == first.descending for key in rest):
        return first.descending
    return None


class _Last:
    """Sorts after every value: NULLs go last ascending and first descending, as in PostgreSQL."""

    def __lt__(self, other):
        return False

    def __gt__(self, other):
        return not isinstance(other, _Last)

    def __eq__(self, other):
        return isinstance(other, _Last)


_NULL = _Last()


class _Reversed:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        return other.value < self.value

    def __eq__(self, other):
        return self.value == other.value


def sort_jobs(jobs: list[Job], order: list[OrderKey]) -> list[Job]:
    def key(job: Job):
        parts = []
        for item in order:
            value = SORT_KEYS[item.field](job)
            value = _NULL if value is None else value
            parts.append(_Reversed(value) if item.descending else value)
        parts.append(job.id)
        return parts
    return sorted(jobs, key=key)


# --- cursors ---------------------------------------------------------------------------------------

def encode_cursor(direction: str, key: str) -> str:
    raw = json.dumps({"d": direction, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[str, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        direction, key = raw["d"], raw["k"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput('Invalid cursor: "cursor"', field="cursor") from None
    if direction not in ("after", "before") or not isinstance(key, str) or not _CURSOR_KEY.match(key):
        raise InvalidInput('Invalid cursor: "cursor"', field="cursor")
    return direction, key


def _after(key: str) -> str:
    stamp, job_id = key.split("#")
    return f"{stamp}#{int(job_id) + 1:0{_KEY_ID_WIDTH}d}"


def _before(key: str) -> str:
    stamp, job_id = key.split("#")
    return f"{stamp}#{max(int(job_id) - 1, 0):0{_KEY_ID_WIDTH}d}"


# --- execution -------------------------------------------------------------------------------------

def _range_condition(index, low: str | None, high: str | None):
    attribute = Job.modified_key
    if low and high:
        return attribute.between(low, high) if low <= high else None
    if low:
        return attribute >= low
    if high:
        return attribute <= high
    return None


def _stream(plan: Plan, partition, low, high, descending: bool, chunk: int) -> Iterator[Job]:
    if low and high and low > high:
        return iter(())
    return plan.index.query(
        partition,
        range_key_condition=_range_condition(plan.index, low, high),
        filter_condition=plan.residual,
        scan_index_forward=not descending,
        page_size=max(1, min(chunk, 1000)),
    )


def count_jobs(plan: Plan) -> int:
    if plan.index is None:
        raise ValueError("direct reads are counted by the caller")
    total = 0
    for partition in plan.partitions:
        if plan.low and plan.high and plan.low > plan.high:
            continue
        total += Job.count(
            partition,
            range_key_condition=_range_condition(plan.index, plan.low, plan.high),
            filter_condition=plan.residual,
            index_name=plan.index.Meta.index_name,
        )
    return total


def list_jobs(f: JobFilter, order: list[OrderKey], offset: int, limit: int, cursor: str | None) -> Page:
    if f.matches_nothing:
        return Page(count=0, rows=[])
    plan = plan_query(f)
    descending = index_order(order)
    if plan.index is None:
        matches = [job for job in Job.batch_get(plan.partitions) if job_matches(job, f)]
        ordered = sort_jobs(matches, order or [OrderKey("last_modified")])
        return Page(count=len(ordered), rows=ordered[offset:offset + limit])
    if descending is None:
        matches = list(_read_all(plan))
        ordered = sort_jobs(matches, order)
        return Page(count=len(ordered), rows=ordered[offset:offset + limit])
    count = count_jobs(plan)
    rows = _index_page(plan, descending, offset, limit, cursor)
    page = Page(count=count, rows=rows)
    if rows:
        page.before = encode_cursor("before", rows[0].modified_key)
        page.after = encode_cursor("after", rows[-1].modified_key)
    return page


def _read_all(plan: Plan) -> Iterable[Job]:
    for partition in plan.partitions:
        yield from _stream(plan, partition, plan.low, plan.high, False, 1000)


def _index_page(plan: Plan, descending: bool, offset: int, limit: int, cursor: str | None) -> list[Job]:
    low, high = plan.low, plan.high
    reverse_read = False
    skip = offset
    if cursor:
        direction, key = decode_cursor(cursor)
        skip = 0
        # "before" walks back from the first row of the next page: read the other way, then flip.
        reverse_read = direction == "before"
        moving_up = (direction == "after") != descending
        if moving_up:
            low = max(low, _after(key)) if low else _after(key)
        else:
            high = min(high, _before(key)) if high else _before(key)
    read_descending = descending != reverse_read
    needed = skip + limit
    streams = len(plan.partitions)
    chunk = -(-needed // streams) + (1 if streams > 1 else 0)
    if plan.residual is not None:
        chunk = max(chunk, 100)
    iterators = [_stream(plan, p, low, high, read_descending, chunk) for p in plan.partitions]
    merged = iterators[0] if streams == 1 else heapq.merge(
        *iterators, key=lambda job: job.modified_key, reverse=read_descending)
    rows = list(itertools.islice(merged, skip, needed))
    return rows[::-1] if reverse_read else rows


def get_job(job_id: int, consistent: bool = False) -> Job | None:
    return get_or_none(Job, job_id, consistent=consistent)


def get_jobs(job_ids: Iterable[int]) -> dict[int, Job]:
    return get_by_keys(Job, job_ids, lambda job: job.id)


# --- writes ----------------------------------------------------------------------------------------

def derive_keys(job: Job) -> Job:
    """Set the index keys that mirror other attributes; every write of a whole job goes through here."""
    job.modified_key = modified_key(job.last_modified, job.id)
    job.created_key = modified_key(job.created, job.id)
    if job.status == "QUEUED":
        job.queue_shard, job.queue_key = "queued", queue_key(job.priority, job.queued or job.created, job.id)
    else:
        job.queue_shard = job.queue_key = None
    job.type_status = type_status_key(job.job_type_id, job.status)
    job.shard = "jobs"
    return job


def insert_jobs(jobs: list[tuple[Job, JobData, list[JobInputFile]]]) -> None:
    """Write new jobs with their data and input links (batched: 25 items a round trip)."""
    with Job.batch_write() as job_batch, JobData.batch_write() as data_batch, \
            JobInputFile.batch_write() as link_batch:
        for job, data, links in jobs:
            job_batch.save(derive_keys(job))
            data.job_id = job.id
            data_batch.save(data)
            for link in links:
                link_batch.save(link)


def replace_job(job: Job) -> None:
    """Unconditional full write (seeding and tests); state changes use conditional updates."""
    derive_keys(job).save()


def get_job_data(job_id: int, consistent: bool = False) -> JobData | None:
    return get_or_none(JobData, job_id, consistent=consistent)


def insert_queued_job(job: Job, data: JobData, links: list[JobInputFile], event: TriggerEvent) -> None:
    """Write a new job with its data, input links and trigger event in one transaction: all or nothing.

    The ids must be new: they come from counters, so a failed condition is a bug (a
    `TransactWriteError`, answered 500), never something a client caused."""
    data.job_id = job.id
    with write_transaction() as transaction:
        transaction.save(derive_keys(job), condition=Job.id.does_not_exist())
        transaction.save(data, condition=JobData.job_id.does_not_exist())
        transaction.save(event, condition=TriggerEvent.id.does_not_exist())
        for link in links:
            transaction.save(link)


def queued_jobs(limit: int) -> Iterator[Job]:
    """QUEUED jobs in dispatch order: lowest priority number first, then first queued."""
    return Job.by_queue.query("queued", limit=limit, page_size=min(limit, 100))


def count_running(job_type_id: int) -> int:
    return Job.count(type_status_key(job_type_id, "RUNNING"), index_name=Job.by_type_status.Meta.index_name)


def jobs_in_status(status: str, before: datetime | None = None) -> Iterator[Job]:
    """Jobs now in `status`, optionally only those last modified before a time (sweeps)."""
    condition = Job.modified_key < modified_key(before, 0) if before else None
    return Job.by_status.query(status, range_key_condition=condition)


def jobs_modified_between(f: JobFilter) -> Iterator[Job]:
    """Every job whose last_modified is in the filter's window, from the by-modified index."""
    plan = plan_query(JobFilter(modified_after=f.modified_after, modified_before=f.modified_before))
    return _read_all(plan)
