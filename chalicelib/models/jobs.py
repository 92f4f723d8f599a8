"""Reading jobs: one walker over the jobs table's indexes, used by every reader.

Every read of many jobs is an `IndexRead`: which index (or the table itself, by job id), which
partitions, a range on the index's sort key and a residual filter. `walk` reads it lazily, merging
the partitions in key order, and can resume strictly after a key; a cursor is that key (with a
direction) in one opaque format (`encode_cursor`). So:

- the v6 list plans an `IndexRead` from its filter (`read_for_filter`: job ids are read directly; then
  recipe, batch, job type + status, job type, status, and the whole-table `by-modified` index), walks
  only what the page needs when the order is `last_modified` (either way), and counts with
  `Select=COUNT` over the same key ranges (index entries of the matches only);
- a bulk chunk walks the same `IndexRead` ascending, a chunk at a time, from its cursor;
- a history search walks an `IndexRead` built from its plan (`read_by`, `read_by_job_types`,
  `read_created`, `read_by_ids`) to the end, counting round trips and items with a `ReadMeter`.
"""
from __future__ import annotations

import base64
import heapq
import itertools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Collection, Iterable, Iterator

from pynamodb.expressions.condition import Condition
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib.domain import (
    EventRecord,
    InputLinkRecord,
    JobDataRecord,
    JobFilter,
    JobRecord,
    OrderKey,
    Page,
    StatusGroup,
)
from chalicelib.errors import InvalidInput
from chalicelib.models import counters
from chalicelib.models.fast_reads import record_reader, use_fast_reads
from chalicelib.models.tables import (
    Job,
    JobData,
    JobInputFile,
    TriggerEvent,
    commit,
    get_by_keys,
    get_or_none,
    to_item,
    to_record,
    update_item,
    write_transaction,
)

MAX_TYPE_STATUS_PARTITIONS = 4
SCAN_SEGMENTS = 4
_KEY_ID_WIDTH = 12
_LAST_ID = 10 ** _KEY_ID_WIDTH - 1
_CURSOR_KEY = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z#)?\d{12}$")
TABLE = "table (BatchGetItem)"


def modified_key(last_modified: datetime, job_id: int) -> str:
    stamp = last_modified.astimezone(timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z#{job_id:0{_KEY_ID_WIDTH}d}"


def queue_key(priority: int, queued: datetime, job_id: int) -> str:
    """Lower priority numbers first, then first in first out."""
    return f"{int(priority):010d}#{modified_key(queued, job_id)}"


def type_status_key(job_type_id: int, status: str) -> str:
    return f"{job_type_id}#{status}"


def _id_key(job_id: int) -> str:
    return f"{job_id:0{_KEY_ID_WIDTH}d}"


# --- what to read ------------------------------------------------------------------------------------

_INDEXES: dict[str, GlobalSecondaryIndex] = {
    index.Meta.index_name: index for index in (
        Job.by_modified, Job.by_status, Job.by_type, Job.by_type_status, Job.by_batch, Job.by_recipe,
        Job.by_owner, Job.by_project, Job.by_created)}


@dataclass(frozen=True)
class IndexRead:
    """Partitions of one index (or job ids of the table), a sort key range (inclusive) and a residual
    filter. The sort key is `modified_key` (last_modified#id), `created_key` for `by-created`, and the
    zero-padded id for the table."""

    index: str
    partitions: tuple[Any, ...]
    low: str | None = None
    high: str | None = None
    residual: Condition | None = None
    # For the table (job ids): the filter, evaluated on each job read.
    matches: JobFilter | None = None

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, "partitions": len(self.partitions), "residual": self.residual is not None}

    @property
    def key_condition(self) -> str:
        name = "created_key" if self.index == "by-created" else "modified_key"
        if self.index == TABLE:
            return ""
        if self.low and self.high:
            return f"{name} BETWEEN {self.low} AND {self.high}"
        if self.low:
            return f"{name} >= {self.low}"
        if self.high:
            return f"{name} <= {self.high}"
        return ""

    @property
    def empty(self) -> bool:
        return bool(self.low and self.high and self.low > self.high) or not self.partitions


def _time_bounds(after: datetime | None, before: datetime | None) -> tuple[str | None, str | None]:
    low = modified_key(_ceil_ms(after), 0) if after else None
    high = modified_key(_floor_ms(before), _LAST_ID) if before else None
    return low, high


def read_for_filter(f: JobFilter) -> IndexRead:
    """The index whose partition key covers the most selective filter of a v6 list or bulk operation."""
    if f.job_ids:
        return IndexRead(TABLE, tuple(sorted(set(f.job_ids))), matches=f)
    if f.projects is not None and not f.projects:
        return IndexRead(TABLE, ())  # a caller with no project sees no job
    low, high = _time_bounds(f.modified_after, f.modified_before)
    covered: set[str] = set()
    partitions: Iterable[Any]
    if f.recipe_ids:
        index, partitions, covered = "by-recipe", f.recipe_ids, {"recipe_ids"}
    elif f.batch_ids:
        index, partitions, covered = "by-batch", f.batch_ids, {"batch_ids"}
    elif f.job_type_ids and f.statuses and len(f.job_type_ids) * len(f.statuses) <= MAX_TYPE_STATUS_PARTITIONS:
        index = "by-type-status"
        partitions = [type_status_key(t, s) for t in f.job_type_ids for s in f.statuses]
        covered = {"job_type_ids", "statuses"}
    elif f.job_type_ids:
        index, partitions, covered = "by-type", f.job_type_ids, {"job_type_ids"}
    elif f.statuses:
        index, partitions, covered = "by-status", f.statuses, {"statuses"}
    elif f.projects is not None:
        index, partitions, covered = "by-project", f.projects, {"projects"}
    else:
        index, partitions = "by-modified", ("jobs",)
    return IndexRead(index, tuple(sorted(set(partitions))), low, high, _residual(f, covered))


_BY_ATTRIBUTE = {"owner": "by-owner", "project": "by-project", "status": "by-status", "all": "by-modified"}


def read_by(attribute: str, values: Iterable[Any], modified_after: datetime | None = None,
            modified_before: datetime | None = None, projects: tuple[str, ...] | None = None) -> IndexRead:
    """Jobs whose `attribute` (owner, project, status, or "all") is one of `values`, last modified in
    the window; with `projects`, only jobs of those projects (the caller's scope)."""
    low, high = _time_bounds(modified_after, modified_before)
    if projects is not None and attribute == "all":
        attribute, values = "project", projects
    partitions = ("jobs",) if attribute == "all" else tuple(sorted(set(values)))
    residual = Job.project.is_in(*projects) if projects and attribute != "project" else None
    if projects is not None and not projects:
        partitions = ()
    return IndexRead(_BY_ATTRIBUTE[attribute], partitions, low, high, residual)


def read_by_job_types(job_type_ids: Iterable[int], statuses: Iterable[str] = (),
                      modified_after: datetime | None = None, modified_before: datetime | None = None) -> IndexRead:
    low, high = _time_bounds(modified_after, modified_before)
    type_ids, wanted = sorted(set(job_type_ids)), sorted(set(statuses))
    if wanted:
        return IndexRead("by-type-status", tuple(type_status_key(t, s) for t in type_ids for s in wanted), low, high)
    return IndexRead("by-type", tuple(type_ids), low, high)


def read_created(after: datetime | None, before: datetime | None) -> IndexRead:
    """Jobs by submission time (the history's submissionTime ranges)."""
    low, high = _time_bounds(after, before)
    return IndexRead("by-created", ("jobs",), low, high)


def read_by_ids(job_ids: Iterable[int]) -> IndexRead:
    return IndexRead(TABLE, tuple(sorted(set(job_ids))))


def _residual(f: JobFilter, covered: set[str]) -> Condition | None:
    conditions: list[Condition] = []

    def one_of(name: str, attribute: Any, values: tuple[Any, ...]) -> None:
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
    one_of("projects", Job.project, f.projects or ())
    if f.is_superseded is not None:
        conditions.append(Job.is_superseded == f.is_superseded)
    if f.source_started is not None:
        conditions.append(Job.source_started >= f.source_started)
    if f.source_ended is not None:
        conditions.append(Job.source_ended <= f.source_ended)
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def job_matches(job: JobRecord, f: JobFilter) -> bool:
    """The filter evaluated in memory, for jobs read directly by id."""
    def within(value: Any, values: tuple[Any, ...]) -> bool:
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
    if f.projects is not None and job.project not in f.projects:
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


# --- the walker --------------------------------------------------------------------------------------

@dataclass
class ReadMeter:
    """What a read cost: requests sent and items DynamoDB read (ScannedCount), for `explain`."""

    round_trips: int = 0
    items_read: int = 0

    def add(self, other: "ReadMeter") -> None:
        self.round_trips += other.round_trips
        self.items_read += other.items_read


def sort_key_of(read: IndexRead, job: JobRecord) -> str:
    if read.index == TABLE:
        return _id_key(job.id)
    if read.index == "by-created":
        return modified_key(job.created, job.id)
    return modified_key(job.last_modified, job.id)


def walk(read: IndexRead, descending: bool = False, page_size: int = 100,
         meter: ReadMeter | None = None) -> Iterator[tuple[str, JobRecord]]:
    """`(sort key, job)` of every job the read selects, in sort key order across its partitions, read
    lazily `page_size` items a request per partition."""
    meter = meter if meter is not None else ReadMeter()
    if read.empty:
        return iter(())
    if read.index == TABLE:
        return _walk_ids(read, descending, meter)
    streams = [_walk_partition(read, partition, descending, page_size, meter) for partition in read.partitions]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda pair: pair[0], reverse=descending)


def _job_reader() -> Callable[[dict[str, Any]], JobRecord]:
    """The record of a raw Job item of a Query or Scan page, with pages kept as the JSON said them."""
    use_fast_reads(Job)
    return record_reader(Job, JobRecord)


def _walk_partition(read: IndexRead, partition: Any, descending: bool, page_size: int,
                    meter: ReadMeter) -> Iterator[tuple[str, JobRecord]]:
    index = _INDEXES[read.index]
    attribute = Job.created_key if read.index == "by-created" else Job.modified_key
    read_job = _job_reader()
    result = index.query(partition, range_key_condition=_range(attribute, read.low, read.high),
                         filter_condition=read.residual, scan_index_forward=not descending,
                         page_size=max(1, min(page_size, 1000)))
    for raw_page in result.page_iter:
        meter.round_trips += 1
        meter.items_read += raw_page.get("ScannedCount", len(raw_page.get("Items", [])))
        for raw in raw_page.get("Items", []):
            job = read_job(raw)
            yield sort_key_of(read, job), job


def _walk_ids(read: IndexRead, descending: bool, meter: ReadMeter) -> Iterator[tuple[str, JobRecord]]:
    ids = sorted((job_id for job_id in read.partitions
                  if (read.low is None or _id_key(job_id) >= read.low)
                  and (read.high is None or _id_key(job_id) <= read.high)), reverse=descending)
    for start in range(0, len(ids), 100):
        batch = ids[start:start + 100]
        found = get_by_keys(Job, JobRecord, batch, lambda job: job.id)
        meter.round_trips += 1
        meter.items_read += len(found)
        for job_id in batch:
            job = found.get(job_id)
            if job is not None and (read.matches is None or job_matches(job, read.matches)):
                yield _id_key(job.id), job


def _range(attribute: Any, low: str | None, high: str | None) -> Condition | None:
    if low and high:
        return attribute.between(low, high)
    if low:
        return attribute >= low
    if high:
        return attribute <= high
    return None


def after_key(read: IndexRead, key: str, descending: bool = False) -> IndexRead:
    """The same read, narrowed to what lies strictly after `key` in the walking direction."""
    if read.index == TABLE:
        job_id = int(key.rsplit("#", 1)[-1])
        following, preceding = _id_key(job_id + 1), _id_key(max(job_id - 1, 0))
    else:
        stamp, job_id_text = key.split("#")
        job_id = int(job_id_text)
        following, preceding = f"{stamp}#{_id_key(job_id + 1)}", f"{stamp}#{_id_key(max(job_id - 1, 0))}"
    if descending:
        return replace(read, high=min(read.high, preceding) if read.high else preceding)
    return replace(read, low=max(read.low, following) if read.low else following)


def until_key(read: IndexRead, key: str) -> IndexRead:
    """The same read, ending at `key` (inclusive)."""
    return replace(read, high=min(read.high, key) if read.high else key)


@dataclass(frozen=True)
class Seen:
    """The sort keys of the entries a first page read from one end of its read's range, in walking order;
    `complete` when that was every entry of the range."""

    keys: list[str]
    descending: bool
    complete: bool

    def count_within(self, low: str, high: str) -> int | None:
        """How many entries lie in [low, high], when the page saw all of that range; else None. A page walks
        from its range's start: ascending it saw everything below its last key, descending everything above."""
        inside = sum(1 for key in self.keys if low <= key <= high)
        if self.complete:
            return inside
        if not self.keys:
            return None
        last = self.keys[-1]
        return inside if (last < low if self.descending else last > high) else None


def count_matches(f: JobFilter, read: IndexRead, seen: Seen | None = None) -> int:
    """How many jobs match `f` (`read` is its index read): from the job counters when they can answer
    (`counters.plan_count`: a BatchGetItem of a few counters, plus the exact index entries of a time
    window's two partial seconds, which page 1 usually saw already: `seen`), else from the index entries
    of every match (`count`)."""
    plan = counters.plan_count(f)
    if plan is None:
        return count(read)
    edges = 0
    for low, high in plan.edges:
        low_key, high_key = modified_key(low, 0), modified_key(high, _LAST_ID)
        known = seen.count_within(low_key, high_key) if seen is not None else None
        edges += known if known is not None else count(IndexRead("by-modified", ("jobs",), low_key, high_key))
    return counters.read_plan(plan) + edges


def count(read: IndexRead) -> int:
    """How many jobs an index read selects, from index entries of the matches only (`Select=COUNT`). Direct reads
    by id are counted by their caller, which holds them all anyway."""
    if read.empty:
        return 0
    attribute = Job.created_key if read.index == "by-created" else Job.modified_key
    return sum(Job.count(partition, range_key_condition=_range(attribute, read.low, read.high),
                         filter_condition=read.residual, index_name=read.index)
               for partition in read.partitions)


def scan_all(meter: ReadMeter) -> list[JobRecord]:
    """Every job, by a parallel Scan (no index applies: bounded by the table, never repeated per page)."""
    parts = [ReadMeter() for _ in range(SCAN_SEGMENTS)]
    read_job = _job_reader()

    def segment(number: int) -> list[JobRecord]:
        found: list[JobRecord] = []
        for raw_page in Job.scan(segment=number, total_segments=SCAN_SEGMENTS).page_iter:
            parts[number].round_trips += 1
            parts[number].items_read += raw_page.get("ScannedCount", 0)
            found.extend(read_job(raw) for raw in raw_page.get("Items", []))
        return found

    with ThreadPoolExecutor(max_workers=SCAN_SEGMENTS) as pool:
        segments = list(pool.map(segment, range(SCAN_SEGMENTS)))
    for part in parts:
        meter.add(part)
    return [job for jobs in segments for job in jobs]


# --- cursors -----------------------------------------------------------------------------------------

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


# --- orders ------------------------------------------------------------------------------------------

def _error_title(job: JobRecord) -> Any:
    return (job.error or {}).get("title") if job.error else None


def _duration(job: JobRecord) -> timedelta | None:
    return (job.ended - job.started) if job.ended and job.started else None


SORT_KEYS: dict[str, Callable[[JobRecord], Any]] = {
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

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return not isinstance(other, _Last)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Last)

    def __hash__(self) -> int:
        return 0


_NULL = _Last()


class _Reversed:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: "_Reversed") -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def sort_jobs(jobs: list[JobRecord], order: list[OrderKey]) -> list[JobRecord]:
    def key(job: JobRecord) -> list[Any]:
        parts: list[Any] = []
        for item in order:
            value = SORT_KEYS[item.field](job)
            value = _NULL if value is None else value
            parts.append(_Reversed(value) if item.descending else value)
        parts.append(job.id)
        return parts
    return sorted(jobs, key=key)


# --- the v6 list -------------------------------------------------------------------------------------

def list_jobs(f: JobFilter, order: list[OrderKey], offset: int, limit: int, cursor: str | None) -> Page:
    if f.matches_nothing:
        return Page(count=0, rows=[])
    read = read_for_filter(f)
    descending = index_order(order)
    if read.index == TABLE or descending is None:
        matches = [job for _, job in walk(read, page_size=1000)]
        ordered = sort_jobs(matches, order or [OrderKey("last_modified")])
        return Page(count=len(ordered), rows=ordered[offset:offset + limit])
    keyed = _index_page(read, descending, offset, limit, cursor)
    seen = Seen([key for key, _ in keyed], descending, len(keyed) < limit) if not offset and not cursor else None
    total = count_matches(f, read, seen)
    page = Page(count=total, rows=[job for _, job in keyed])
    if keyed:
        page.before = encode_cursor("before", keyed[0][0])
        page.after = encode_cursor("after", keyed[-1][0])
    return page


def _index_page(read: IndexRead, descending: bool, offset: int, limit: int,
                cursor: str | None) -> list[tuple[str, JobRecord]]:
    reverse_read = False
    skip = offset
    if cursor:
        direction, key = decode_cursor(cursor)
        skip = 0
        # "before" walks back from the first row of the next page: read the other way, then flip.
        reverse_read = direction == "before"
        read = after_key(read, key, descending=descending != reverse_read)
    read_descending = descending != reverse_read
    needed = skip + limit
    streams = len(read.partitions)
    chunk = -(-needed // streams) + (1 if streams > 1 else 0)
    if read.residual is not None:
        chunk = max(chunk, 100)
    rows = list(itertools.islice(walk(read, read_descending, chunk), skip, needed))
    return rows[::-1] if reverse_read else rows


def chunk_of(f: JobFilter, modified_until: datetime, cursor: str | None,
             size: int) -> tuple[list[JobRecord], str | None]:
    """Up to `size` jobs matching `f` and last modified until `modified_until`, ascending, after
    `cursor`; and the cursor of the next chunk (None when nothing follows). Bulk operations read so."""
    if f.matches_nothing:
        return [], None
    read = read_for_filter(f)
    if read.index == TABLE:
        read = replace(read, matches=replace(f, modified_before=min(f.modified_before or modified_until,
                                                                    modified_until)))
    else:
        read = until_key(read, modified_key(modified_until, _LAST_ID))
    if cursor:
        _, key = decode_cursor(cursor)
        read = after_key(read, key)
    keyed = list(itertools.islice(walk(read, page_size=size + 1), size + 1))
    if len(keyed) <= size:
        return [job for _, job in keyed], None
    keyed = keyed[:size]
    return [job for _, job in keyed], encode_cursor("after", keyed[-1][0])


def read_jobs(read: IndexRead, meter: ReadMeter | None = None) -> list[JobRecord]:
    """Every job an index read selects (history candidates, console counts)."""
    return [job for _, job in walk(read, page_size=1000, meter=meter)]


# --- single reads ------------------------------------------------------------------------------------

def get_job(job_id: int, consistent: bool = False) -> JobRecord | None:
    return get_or_none(Job, JobRecord, job_id, consistent=consistent)


def get_jobs(job_ids: Iterable[int]) -> dict[int, JobRecord]:
    return get_by_keys(Job, JobRecord, job_ids, lambda job: job.id)


def get_job_data(job_id: int, consistent: bool = False) -> JobDataRecord | None:
    return get_or_none(JobData, JobDataRecord, job_id, consistent=consistent)


def job_input_links(job_id: int) -> list[InputLinkRecord]:
    return [to_record(link, InputLinkRecord) for link in JobInputFile.query(job_id)]


def queued_jobs(read_budget: int, skipping: Collection[int] = ()) -> Iterator[JobRecord]:
    """QUEUED jobs in dispatch order: lowest priority number first, then first queued. Jobs of the job types
    in `skipping` are left out by the store (a filter on each page); the caller may add types while it
    iterates, and the next page leaves them out too (the first 100: DynamoDB's limit for IN; any more are
    returned and the caller skips them). At most `read_budget` queue entries are read."""
    start = None
    read = 0
    read_job = _job_reader()
    while read < read_budget:
        skipped = tuple(skipping)[:100]
        result = Job.by_queue.query("queued", page_size=min(100, read_budget - read), last_evaluated_key=start,
                                    filter_condition=~Job.job_type_id.is_in(*skipped) if skipped else None)
        page = next(result.page_iter, None)
        if page is None:
            return
        read += page.get("ScannedCount", len(page.get("Items", [])))
        yield from (read_job(raw) for raw in page.get("Items", []))
        start = result.page_iter.last_evaluated_key
        if start is None:
            return


def count_running(job_type_id: int) -> int:
    return Job.count(type_status_key(job_type_id, "RUNNING"), index_name=Job.by_type_status.Meta.index_name)


def summarize_status(status: str, meter: ReadMeter | None = None,
                     projects: tuple[str, ...] | None = None) -> list[StatusGroup]:
    """The jobs now in `status`, grouped by job type (ordered by job type id), walked from that status's
    partition of the `by-status` index: reads the entries of those jobs only (up to 1,000 a round trip, 1 MB
    at most a page), never the table."""
    groups: dict[int, dict[str, Any]] = {}
    for _, job in walk(read_by("status", (status,), projects=projects), page_size=1000, meter=meter):
        group = groups.setdefault(job.job_type_id, {"count": 0, "started": None, "queued": None, "priority": None})
        group["count"] += 1
        for name, value in (("started", job.started), ("queued", job.queued)):
            if value is not None and (group[name] is None or value < group[name]):
                group[name] = value
        if group["priority"] is None or job.priority < group["priority"]:
            group["priority"] = job.priority
    return [StatusGroup(job_type_id=type_id, count=g["count"], earliest_started=g["started"],
                        earliest_queued=g["queued"], highest_priority=g["priority"])
            for type_id, g in sorted(groups.items())]


def jobs_in_status(status: str, before: datetime | None = None) -> Iterator[JobRecord]:
    """Jobs now in `status`, optionally only those last modified before a time (sweeps)."""
    condition = Job.modified_key < modified_key(before, 0) if before else None
    for item in Job.by_status.query(status, range_key_condition=condition):
        yield to_record(item, JobRecord)


# --- writes ------------------------------------------------------------------------------------------

def _item(job: JobRecord) -> Job:
    """The stored item of a whole job, with the index keys that mirror its other attributes."""
    item = to_item(job, Job)
    item.modified_key = modified_key(job.last_modified, job.id)
    item.created_key = modified_key(job.created, job.id)
    if job.status == "QUEUED":
        item.queue_shard, item.queue_key = "queued", queue_key(job.priority, job.queued or job.created, job.id)
    else:
        item.queue_shard = item.queue_key = None
    item.type_status = type_status_key(job.job_type_id, job.status)
    item.shard = "jobs"
    return item


def input_link(job_id: int, job_input: str, file_id: int) -> InputLinkRecord:
    return InputLinkRecord(job_id=job_id, link=f"{job_input}#{file_id}", job_input=job_input, file_id=file_id)


@dataclass
class NewJob:
    """A job to store with everything written beside it."""

    job: JobRecord
    data: JobDataRecord
    links: list[InputLinkRecord] = field(default_factory=list)
    event: EventRecord | None = None


def insert_jobs(jobs: list[NewJob]) -> None:
    """Write new jobs with their data and input links (batched: 25 items a round trip; seeding), then
    count them (one ADD per counter item touched; the ids must be new)."""
    with Job.batch_write() as job_batch, JobData.batch_write() as data_batch, \
            JobInputFile.batch_write() as link_batch:
        for new in jobs:
            job_batch.save(_item(new.job))
            data_batch.save(to_item(new.data, JobData))
            for link in new.links:
                link_batch.save(to_item(link, JobInputFile))
    counters.add_seeded(new.job for new in jobs)


def replace_job(job: JobRecord) -> None:
    """A full write of the job whatever it holds (seeding and tests: state changes use conditional
    updates), with its counters moved from what it was, in one transaction conditioned on that."""
    from pynamodb.exceptions import TransactWriteError
    for _ in range(5):
        before = get_job(job.id, consistent=True)
        condition = (Job.id.does_not_exist() if before is None
                     else (Job.status == before.status) & (Job.last_modified == before.last_modified)
                     & (Job.job_type_id == before.job_type_id))
        try:
            with write_transaction() as transaction:
                transaction.save(_item(job), condition=condition)
                counters.add_to_transaction(transaction, before, job)
            return
        except TransactWriteError:
            continue  # it changed since it was read: read it again
    raise RuntimeError(f"job {job.id} kept changing while it was replaced")


def insert_queued_job(new: NewJob) -> None:
    """Write a new job with its data, input links and trigger event in one transaction: all or nothing.

    The ids must be new: they come from counters, so a failed condition is a bug (answered 500), never
    something a client caused."""
    def build(transaction: TransactWrite) -> None:
        transaction.save(_item(new.job), condition=Job.id.does_not_exist())
        counters.add_to_transaction(transaction, None, new.job)
        transaction.save(to_item(new.data, JobData), condition=JobData.job_id.does_not_exist())
        if new.event is not None:
            transaction.save(to_item(new.event, TriggerEvent), condition=TriggerEvent.id.does_not_exist())
        for link in new.links:
            transaction.save(to_item(link, JobInputFile))
    commit(build)


def hide_from_history(job_id: int) -> bool:
    """Hide a job from the history (the job itself stays); False when there is no such job."""
    from pynamodb.exceptions import UpdateError
    try:
        update_item(Job(job_id), [Job.history_deleted.set(True)], Job.id.exists())
    except UpdateError as error:
        if getattr(error, "cause_response_code", "") == "ConditionalCheckFailedException":
            return False
        raise
    return True
