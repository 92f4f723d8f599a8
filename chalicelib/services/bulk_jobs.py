"""Bulk cancel and requeue (`POST /v6/jobs/cancel/`, `POST /v6/jobs/requeue/`).

1. The body compiles to the `JobFilter` the list endpoint uses (so "what `GET /v6/jobs/` shows with
   these filters" is what the operation acts on) and is recorded as a bulk operation (RUNNING).
2. A Step Functions execution named `bulk-<id>` (a repeated start does not run twice) loops on the
   chunk function (`process_chunk`): each call reads one page of matching jobs (at most CHUNK_SIZE) from
   the index the list's query plan picks, after the cursor the previous chunk returned, applies one
   conditional update per job that is eligible (0 writes for the others; JOBS_BULK_WRITERS at once),
   records the chunk's counts on the operation (one write) and returns the next cursor. Two state
   transitions per chunk.
   Exact counts: the operation stores the next chunk's `position` and start `cursor`; a chunk always does the
   chunk stored there and records its counts with one write conditioned on that position, so a retried
   chunk (its first try recorded) or an operation resumed after a restart never adds a chunk twice. Left
   short, not doubled: a chunk stopped (killed, timed out) after its job writes and before that record; the
   jobs it changed have left the range and are not read again (docs/api.md, "Bulk counts").
3. The operation acts on the jobs as they were last modified before it was requested: the key range
   ends just before the request time. That is what the operator saw, and it keeps the paging stable
   (every job this operation changes moves past the range, so it is never read twice).

4. A handful of jobs named by id (`job_ids` only, at most CHUNK_SIZE of them) is applied in the request,
   as that single chunk, before the 202: the console reloads the rows right after it. The operation is still
   recorded (SUCCEEDED, the same counts) and no state machine runs. Larger operations stay asynchronous.

Every per-job change states its precondition (the status and `num_exes` it was read with), so running a
chunk twice, or a cancel racing a completion, leaves each job in one consistent state.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.domain import (
    ERROR_CATEGORIES,
    EVERYTHING,
    JOB_STATUSES,
    BulkOperationRecord,
    JobFilter,
    JobRecord,
    Scope,
)
from chalicelib.errors import InvalidInput, NotFound, PayloadTooLarge, StaleUpdate
from chalicelib.models import bulk as bulk_store
from chalicelib.models import catalog, executions, job_state
from chalicelib.models import jobs as job_store
from chalicelib.params import MAX_ID, BodySpec, Field, check_range
from chalicelib.timeutil import iso, parse_timestamp
from chalicelib.wiring import services

log = logging.getLogger(__name__)

CHUNK_SIZE = 100
# The operation keeps its filter on one DynamoDB item (at most 400 KB): a list longer than this is refused.
MAX_LIST_VALUES = 1000
MAX_VISIBLE_OPERATIONS = 10_000
DRY_RUN_IDS = 20
KINDS = ("cancel", "requeue")
INT_LISTS = ("job_ids", "job_type_ids", "batch_ids", "recipe_ids", "error_ids")
FILTER_FIELDS = ("started", "ended", "status", *INT_LISTS, "job_types", "job_type_names", "error_categories",
                 "is_superseded")
OPTIONS = ("reason", "dry_run", "all", "priority")
IGNORED = ("url",)  # the original console sends its own URL in the body


# --- the body ---------------------------------------------------------------------------------------
# A list field takes a value, a list of values, or a list holding lists of values (`[["ALGORITHM"]]`, as the
# original console sends some): flattened, one level. Ids are integers 0 to 2**63-1, or strings of 1-18 digits.
MAX_NAME = 1024
ID_STRING = r"^[0-9]{1,18}$"
_ID_STRING = re.compile(ID_STRING)


def _list_schema(item: dict[str, Any], description: str, max_items: int = MAX_LIST_VALUES) -> dict[str, Any]:
    inner = {"type": "array", "maxItems": max_items, "items": item}
    return {"description": description, "nullable": True, "anyOf": [
        item, {"type": "array", "maxItems": max_items, "items": {"anyOf": [item, inner]}}]}


_ID = {"anyOf": [{"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_ID},
                 {"type": "string", "pattern": ID_STRING}]}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
_PAIR = {"type": "object", "additionalProperties": False, "required": ["name", "version"],
         "properties": {"name": _NAME, "version": _NAME}}


def _list_field(name: str, item: dict[str, Any], description: str, max_items: int = MAX_LIST_VALUES) -> Field:
    return Field(name, "any", schema=_list_schema(item, description, max_items))


def body_schema(kind: str) -> BodySpec:
    """The bulk body of `kind` (cancel or requeue): what `parse_request` accepts, for the OpenAPI document. The
    scalar fields are checked by it at the door; the list fields by `parse_request` itself, as described."""
    fields = [
        Field("started", "datetime", "Only jobs last modified at or after this time."),
        Field("ended", "datetime", "Only jobs last modified at or before this time (after `started`)."),
        _list_field("status", {"type": "string", "enum": list(JOB_STATUSES)}, "One status.", max_items=1),
        *(_list_field(name, _ID, "Ids (at most 1000: 413 above).") for name in INT_LISTS),
        _list_field("job_types", _PAIR, "Job types by name and version (each must exist)."),
        _list_field("job_type_names", _NAME, "Job type names (every version)."),
        _list_field("error_categories", {"type": "string", "enum": list(ERROR_CATEGORIES)}, "Error categories."),
        Field("is_superseded", "boolean"),
        Field("all", "boolean", "Required (true) when no filter is given: act on every job."),
        Field("reason", "string", "Stored on the operation and on each job changed.", max_length=1000),
        Field("dry_run", "boolean", "Only count the jobs that would change (200 `{count, job_ids}`)."),
    ]
    if kind == "requeue":
        fields.append(Field("priority", "integer", "Queue priority of the requeued jobs (as when a job is queued).",
                            minimum=1))
    return BodySpec(f"Bulk{kind.capitalize()}", tuple(fields), ignored=IGNORED)


BODIES = {kind: body_schema(kind) for kind in KINDS}


def _flat_list(body: dict, name: str) -> list:
    """A scalar is a one-element list; a list's lists (one level) are flattened."""
    value = body.get(name)
    if value is None:
        return []
    flat: list = []
    for head in value if isinstance(value, list) else [value]:
        if isinstance(head, list):
            if any(isinstance(item, list) for item in head):
                raise InvalidInput(f'"{name}" nests lists more than two deep', field=name)
            flat.extend(head)
        else:
            flat.append(head)
    return flat


def _ints(body: dict, name: str) -> list[int]:
    values = []
    for item in _flat_list(body, name):
        if isinstance(item, str) and _ID_STRING.match(item):
            item = int(item)
        if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= MAX_ID:
            raise InvalidInput(f'"{name}" must be a list of integers (ids from 0 to {MAX_ID})', field=name)
        values.append(item)
    return values


def _strings(body: dict, name: str, choices: tuple[str, ...] | None = None) -> list[str]:
    values = []
    for item in _flat_list(body, name):
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_NAME:
            raise InvalidInput(f'"{name}" must be a list of strings of 1 to {MAX_NAME} characters', field=name)
        if choices is not None and item not in choices:
            raise InvalidInput(f'Invalid value for "{name}": "{item}"', field=name)
        values.append(item)
    return values


def _time(body: dict, name: str, now: datetime) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f'"{name}" must be an ISO-8601 date-time string', field=name)
    return parse_timestamp(name, value, now)


def _job_type_pairs(body: dict) -> list[tuple[str, str]]:
    pairs = []
    for item in _flat_list(body, "job_types"):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                or not isinstance(item.get("version"), str) or set(item) - {"name", "version"} \
                or not 1 <= len(item["name"]) <= MAX_NAME or not 1 <= len(item["version"]) <= MAX_NAME:
            raise InvalidInput('"job_types" must be a list of {"name": ..., "version": ...} (nothing else)',
                               field="job_types")
        pairs.append((item["name"], item["version"]))
    return pairs


@dataclasses.dataclass(frozen=True)
class BulkRequest:
    kind: str
    job_filter: JobFilter
    normalised: dict           # the filter as given, normalised (shown on the operation)
    reason: str | None
    priority: int | None
    dry_run: bool


def parse_request(kind: str, body: dict, now: datetime | None = None, scope: Scope = EVERYTHING) -> BulkRequest:
    """Validate the body and compile it to a JobFilter (job type names and pairs resolved to ids)."""
    now = now or clock.now()
    # Unknown fields are refused (a misspelt filter would silently widen what is canceled), and each scalar
    # field is checked as the document states it.
    BODIES[kind].check(body)
    started, ended = _time(body, "started", now), _time(body, "ended", now)
    check_range("started", started, "ended", ended)
    statuses = _strings(body, "status", JOB_STATUSES)
    if len(statuses) > 1:
        raise InvalidInput('"status" must be one status', field="status")
    is_superseded = body.get("is_superseded")
    if is_superseded is not None and not isinstance(is_superseded, bool):
        raise InvalidInput('"is_superseded" must be a boolean', field="is_superseded")
    ints = {name: _ints(body, name) for name in INT_LISTS}
    for name, values in ints.items():
        if len(values) > MAX_LIST_VALUES:
            raise PayloadTooLarge(f'"{name}" names more than {MAX_LIST_VALUES} values; filter by status, job type, '
                                  'batch or time instead, or send several requests')
    names = _strings(body, "job_type_names")
    categories = _strings(body, "error_categories", ERROR_CATEGORIES)
    pairs = _job_type_pairs(body)
    for name in ("reason",):
        if body.get(name) is not None and (not isinstance(body[name], str) or len(body[name]) > 1000):
            raise InvalidInput(f'"{name}" must be a string of at most 1000 characters', field=name)
    for name in ("dry_run", "all"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise InvalidInput(f'"{name}" must be a boolean', field=name)
    priority = body.get("priority") if kind == "requeue" else None
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool) or priority < 1):
        raise InvalidInput('"priority" must be an integer of at least 1 (as when a job is queued)', field="priority")

    normalised: dict[str, Any] = {}
    if started:
        normalised["started"] = iso(started)
    if ended:
        normalised["ended"] = iso(ended)
    if statuses:
        normalised["status"] = statuses[0]
    normalised.update({name: values for name, values in ints.items() if values})
    if pairs:
        normalised["job_types"] = [{"name": n, "version": v} for n, v in pairs]
    if names:
        normalised["job_type_names"] = names
    if categories:
        normalised["error_categories"] = categories
    if is_superseded is not None:
        normalised["is_superseded"] = is_superseded
    if not normalised and body.get("all") is not True:
        raise InvalidInput('The filter is empty: it would act on every job. Send "all": true to mean every job.',
                           field="all")

    type_ids = set(ints["job_type_ids"])
    matches_nothing = False
    if pairs:
        pair_ids = set()
        for name, version in pairs:
            job_type = catalog.find_job_type(name, version)
            if job_type is None:
                raise InvalidInput(f"Job Type with name: {name} and version: {version} does not exist",
                                   field="job_types")
            pair_ids.add(job_type.id)
        type_ids = type_ids & pair_ids if type_ids else pair_ids
        matches_nothing = not type_ids
    if names:
        named = set(catalog.job_type_ids_named(names))
        type_ids = type_ids & named if (type_ids or pairs) else named
        matches_nothing = matches_nothing or not type_ids
    job_filter = JobFilter(
        modified_after=started, modified_before=ended, statuses=tuple(statuses), job_ids=tuple(ints["job_ids"]),
        job_type_ids=tuple(sorted(type_ids)), batch_ids=tuple(ints["batch_ids"]),
        recipe_ids=tuple(ints["recipe_ids"]), error_ids=tuple(ints["error_ids"]),
        error_categories=tuple(categories), is_superseded=is_superseded, projects=scope.projects,
        matches_nothing=matches_nothing)
    return BulkRequest(kind, job_filter, normalised, body.get("reason"), priority, body.get("dry_run") is True)


def filter_to_json(f: JobFilter) -> dict:
    raw = dataclasses.asdict(f)
    return {key: (iso(value) if isinstance(value, datetime) else list(value) if isinstance(value, tuple) else value)
            for key, value in raw.items()}


def filter_from_json(raw: dict) -> JobFilter:
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(JobFilter):
        value = raw.get(field.name)
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, str) and field.name in ("modified_after", "modified_before", "source_started",
                                                       "source_ended"):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if value is not None:
            fields[field.name] = value
    return JobFilter(**fields)


# --- eligibility and one job's change -----------------------------------------------------------------

def eligible(kind: str, job: JobRecord) -> bool:
    if kind == "cancel":
        return job.status in job_state.CANCELLABLE
    return job.status in job_state.REQUEUEABLE and not job.is_superseded


def _stop_running(job: JobRecord) -> None:
    """Ask the runner to stop a canceled job's process when this process has one (the worker); elsewhere the
    execution is already CANCELED in the table and the worker stops it when it sees that."""
    current = services().runtime
    if current is None:
        return
    execution = executions.get_execution(job.id, job.num_exes)
    if execution is not None:
        try:
            current.runner.stop(execution.cluster_id)
        except Exception:  # noqa: BLE001 - the job is canceled either way; the worker's sweep retries
            log.exception("stopping %s failed", execution.cluster_id)


def _apply(operation: BulkOperationRecord, job: JobRecord, max_tries: dict[int, int], now: datetime, changed: list[int],
           wake: list[tuple[int, int, int]]) -> None:
    """One conditional update; a changed job joins `changed`, a requeued one's dispatch entry `wake`."""
    stamp = {"id": operation.id, "kind": operation.kind, "reason": operation.reason}
    priority = operation.priority if operation.priority is not None else job.priority
    try:
        if operation.kind == "cancel":
            job_state.cancel(job, now, stamp)
        else:
            job_state.requeue(job, max_tries.get(job.job_type_id, 3), priority, now, stamp)
    except StaleUpdate:
        return
    changed.append(job.id)
    if operation.kind == "requeue":
        wake.append((job.id, job.num_exes + 1, priority))
    elif job.status == "RUNNING":
        _stop_running(job)


def _apply_all(operation: BulkOperationRecord, jobs: list[JobRecord], max_tries: dict[int, int], now: datetime,
               changed: list[int], wake: list[tuple[int, int, int]]) -> None:
    """The chunk's conditional updates, JOBS_BULK_WRITERS at a time (each waits on its own round trip; the
    jobs are distinct, so their order does not matter)."""
    writers = min(get_settings().bulk_writers, len(jobs))
    if writers <= 1:
        for job in jobs:
            _apply(operation, job, max_tries, now, changed, wake)
        return
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="bulk-write") as pool:
        list(pool.map(lambda job: _apply(operation, job, max_tries, now, changed, wake), jobs))


def _send_wake_ups(wake: list[tuple[int, int, int]]) -> None:
    from chalicelib.queues import QueueSendError, send_dispatch_batch
    try:
        send_dispatch_batch(wake)
    except QueueSendError:
        log.exception("dispatch messages of %d requeued jobs lost; the redispatch sweep sends them again", len(wake))


# --- use cases ----------------------------------------------------------------------------------------

def dry_run(request: BulkRequest, now: datetime) -> dict:
    would_change, cursor = 0, None
    first_ids: list[int] = []
    while True:
        rows, cursor = job_store.chunk_of(request.job_filter, now, cursor, 500)
        for job in rows:
            if eligible(request.kind, job):
                would_change += 1
                if len(first_ids) < DRY_RUN_IDS:
                    first_ids.append(job.id)
        if cursor is None:
            break
    return {"dry_run": True, "kind": request.kind, "filter": request.normalised, "count": would_change,
            "job_ids": first_ids}


def start(kind: str, body: dict, requested_by: str | None, project: str | None,
          scope: Scope = EVERYTHING) -> dict:
    """Record the operation and start its state machine execution; or, for a dry run, count only. Only the
    jobs the caller may see are matched, counted and changed (`scope`)."""
    if kind not in KINDS:
        raise ValueError(kind)
    now = clock.now()
    request = parse_request(kind, body, now, scope)
    if request.dry_run:
        return dry_run(request, now)
    operation = bulk_store.create_operation(
        now, kind=kind, filter=request.normalised, job_filter=filter_to_json(request.job_filter),
        requested_by=requested_by, project=project, reason=request.reason, priority=request.priority)
    if _applies_at_once(request) and _process_at_once(operation.id):
        return operation_view(bulk_store.get_operation(operation.id, consistent=True) or operation)
    from chalicelib import workflows
    try:
        execution_arn = workflows.start_bulk_execution(operation.id)
    except workflows.WorkflowStartError as error:
        bulk_store.mark_failed(operation.id, f"the state machine did not start: {error}", clock.now())
        raise
    if execution_arn:
        bulk_store.set_execution(operation.id, execution_arn)
    return operation_view(bulk_store.get_operation(operation.id, consistent=True) or operation)


def _applies_at_once(request: BulkRequest) -> bool:
    """A handful of jobs named by id (at most one chunk, and no other filter): the console's cancel/requeue
    of the rows it shows, which it reloads right after the 202."""
    return set(request.normalised) == {"job_ids"} and len(set(request.job_filter.job_ids)) <= CHUNK_SIZE


def _process_at_once(operation_id: int) -> bool:
    """Run the operation's single chunk in this request: True when it finished (SUCCEEDED, counted as the state
    machine would). A chunk failing part way (throttled) has counted what it changed; the state machine then
    goes on from the start, and the jobs already changed have left the operation's range."""
    try:
        return bool(process_chunk(operation_id, None)["done"])
    except Exception:  # noqa: BLE001 - the state machine, which retries with backoff, takes over
        log.exception("bulk operation %s: the chunk in the request failed; starting the state machine", operation_id)
        return False


def process_chunk(operation_id: int, cursor: str | None = None) -> dict[str, Any]:
    """One chunk of an operation (the state machine's task): returns the next cursor and whether it is done.

    The chunk is the one the operation records as next (`position`, `cursor`), not the one the event names: a
    retried call whose first try was recorded, or an operation resumed from the beginning after a restart, goes
    on from where the counts stand, so each chunk's counts are added once. `cursor` (the state machine's) is
    only logged when it differs from the stored one."""
    operation = bulk_store.get_operation(operation_id, consistent=True)
    if operation is None:
        raise NotFound(f"bulk operation {operation_id} does not exist")
    if operation.state != "RUNNING":
        return {"operation_id": str(operation_id), "cursor": None, "done": True}
    position = operation.position
    if cursor != operation.cursor:
        log.info("bulk operation %s: chunk %s starts at the stored cursor, not the event's", operation_id, position)
    # The jobs as they were last modified before the operation was requested: what the operator saw. Every
    # job it changes moves past that bound, so paging stays stable and no job is read twice.
    rows, following = job_store.chunk_of(filter_from_json(operation.job_filter),
                                         operation.started - timedelta(milliseconds=1), operation.cursor, CHUNK_SIZE)
    now = clock.now()
    candidates = [job for job in rows if eligible(operation.kind, job)]
    max_tries = {}
    if operation.kind == "requeue":
        type_ids = {job.job_type_id for job in candidates}
        max_tries = {jt_id: jt.max_tries for jt_id, jt in catalog.get_job_types(type_ids).items()}
    changed: list[int] = []
    wake: list[tuple[int, int, int]] = []
    try:
        _apply_all(operation, candidates, max_tries, now, changed, wake)
    except Exception:
        # Throttled (the state machine retries the chunk with backoff) or a bug: count what changed first.
        _record_partial(operation_id, position, changed, wake)
        raise
    if wake:
        _send_wake_ups(wake)
    done = following is None
    if not bulk_store.record_chunk(operation_id, position, len(rows), len(changed), following, now, done):
        # Recorded by another call of the same chunk meanwhile, or the operation ended: go on from what is stored.
        log.warning("bulk operation %s: chunk %s was recorded already", operation_id, position)
        current = bulk_store.get_operation(operation_id, consistent=True)
        if current is None or current.state != "RUNNING":
            return {"operation_id": str(operation_id), "cursor": None, "done": True}
        return {"operation_id": str(operation_id), "cursor": current.cursor, "done": False}
    return {"operation_id": str(operation_id), "cursor": following, "done": done}


def _record_partial(operation_id: int, position: int, changed: list[int], wake: list[tuple[int, int, int]]) -> None:
    """A chunk failing part way: the jobs it changed have left the operation's range, so its retry will not
    read them again. Count them now (and wake the requeued ones) so the operation's totals stay right."""
    try:
        if wake:
            _send_wake_ups(wake)
        if changed:
            bulk_store.record_partial(operation_id, position, len(changed))
    except Exception:  # noqa: BLE001 - the chunk's own error is the one to report
        log.exception("recording the partial progress of bulk operation %s failed", operation_id)


def handle_chunk_event(event: dict[str, Any]) -> dict[str, Any]:
    """The chunk function's entry point: `{"operation_id": "7", "cursor": ...}` -> the next state."""
    return process_chunk(int(event["operation_id"]), event.get("cursor"))


# --- reads --------------------------------------------------------------------------------------------

def operation_view(operation: BulkOperationRecord) -> dict[str, Any]:
    return {
        "id": operation.id, "kind": operation.kind, "filter": operation.filter,
        "requested_by": operation.requested_by, "project": operation.project, "reason": operation.reason,
        "priority": operation.priority, "state": operation.state, "matched": int(operation.matched or 0),
        "changed": int(operation.changed or 0), "skipped": int(operation.skipped or 0),
        "chunks": int(operation.chunks or 0), "started": iso(operation.started), "ended": iso(operation.ended),
        "error": operation.error, "error_cause": operation.error_cause,
    }


def get_operation(operation_id: int, scope: Scope = EVERYTHING) -> dict[str, Any]:
    operation = bulk_store.get_operation(operation_id, consistent=True)
    if operation is None or not scope.allows(operation.project):
        raise NotFound("Bulk operation not found.")
    return operation_view(operation)


def list_operations(offset: int, limit: int, scope: Scope = EVERYTHING) -> tuple[int, list[dict[str, Any]]]:
    """Newest first. A caller who is not an admin sees the operations recorded under its projects (operations
    are few: they are read whole and filtered)."""
    if scope.projects is None:
        count, rows = bulk_store.list_operations(offset, limit)
        return count, [operation_view(row) for row in rows]
    _, everything = bulk_store.list_operations(0, MAX_VISIBLE_OPERATIONS)
    mine = [row for row in everything if scope.allows(row.project)]
    return len(mine), [operation_view(row) for row in mine[offset:offset + limit]]
