"""PynamoDB table definitions: the single source of the storage layout.

The deploy template's tables (`chalicelib/models/schema.py`) and the local stack's tables are both
generated from these classes, so code, template and emulator cannot drift.

Jobs are stored once, in `Job` (everything a list row needs, small) and `JobData` (input, output and
effective configuration: large, read only by the details endpoint). The jobs table's indexes all
sort by `modified_key` = last_modified + id, which serves the default and `-last_modified` orders
with ties broken by id, and time ranges on last_modified as key conditions.
"""
from __future__ import annotations

import dataclasses
import os
import random
import time
from functools import lru_cache
from typing import Any, Callable, Hashable, Iterable, Sequence, TypeVar, cast

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.constants import NONE
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action, RemoveAction, SetAction
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, Projection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.models.fast_reads import batch_get_raw, record_reader

M = TypeVar("M", bound=Model)


class BaseModel(Model):
    base_name = ""

    class Meta:
        table_name = ""
        billing_mode = "PAY_PER_REQUEST"
        region: str | None  # declared only (no value): PynamoDB's metaclass fills in the default region
        host: str | None    # likewise (the endpoint: None in AWS, the emulator's URL locally)
        # botocore keeps this many open connections per client: more than the local server's concurrent
        # requests (20 clients), so none is opened and dropped per call (a Lambda serves one at a time).
        max_pool_connections = 32


ALL_MODELS: list[type[BaseModel]] = []
B = TypeVar("B", bound=BaseModel)


def _table(base_name: str) -> Callable[[type[B]], type[B]]:
    def register(cls: type[B]) -> type[B]:
        cls.base_name = base_name
        ALL_MODELS.append(cls)
        return cls
    return register


def configure_tables(prefix: str, region: str) -> None:
    """Point every model at `<prefix><base name>` in `region` (the composition root does, when it builds).
    A connection's client also holds the endpoint (AWS_ENDPOINT_URL: an emulator's port), so it is kept only
    while that is the same too."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    for model in ALL_MODELS:
        name = prefix + model.base_name
        wanted = (name, region, endpoint)
        if (model.Meta.table_name, getattr(model.Meta, "region", None), getattr(model.Meta, "host", None)) != wanted:
            model.Meta.table_name, model.Meta.region, model.Meta.host = name, region, endpoint
            model._connection = None  # connections (and their clients) are costly: keep them when nothing changed


def write_transaction() -> TransactWrite:
    """A write transaction on the one connection this process keeps for them (a botocore client costs
    ~100 ms to create, so never one per transaction)."""
    from chalicelib.wiring import services
    current = services()
    with current.caches.lock:
        if current.caches.transaction_connection is None:
            current.caches.transaction_connection = Connection(region=current.settings.region)
        return TransactWrite(connection=current.caches.transaction_connection)


CONFLICT_TRIES = 4


def conflicted(error: Exception) -> bool:
    """A transaction cancelled only because another one was changing one of its items at the same moment
    (no condition failed): sending it again is safe, and what DynamoDB advises."""
    reasons = [reason for reason in getattr(error, "cancellation_reasons", None) or () if reason is not None]
    return bool(reasons) and all(reason.code == "TransactionConflict" for reason in reasons)


def commit(build: Callable[[TransactWrite], None], new_transaction: Callable[[], TransactWrite] | None = None) -> None:
    """Run one transaction that `build` fills, sent again (after a short jittered pause) while it only
    conflicted with another: the job counters are shared items, so two changes at the same moment can
    collide on a counter shard. Any other refusal is raised as it is."""
    from pynamodb.exceptions import TransactWriteError
    for attempt in range(CONFLICT_TRIES):
        try:
            with (new_transaction or write_transaction)() as transaction:
                build(transaction)
            return
        except TransactWriteError as error:
            if attempt + 1 == CONFLICT_TRIES or not conflicted(error):
                raise
            time.sleep(random.uniform(0.005, 0.02) * 2 ** attempt)


R = TypeVar("R")


@lru_cache(maxsize=None)
def _cached_field_names(record_type: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(record_type))


def _field_names(record_type: type) -> frozenset[str]:
    # A class is hashable, but lru_cache's stub wants Hashable and mypy does not see a type object as one.
    return _cached_field_names(cast(Hashable, record_type))


def to_record(item: Model, record_type: type[R]) -> R:
    """The plain record of a stored item: its attributes minus the derived index keys. Unset attributes
    are left out, so the record's defaults apply as the model's would."""
    names = _field_names(record_type)
    return record_type(**{name: value for name, value in item.attribute_values.items()
                          if value is not None and name in names})


def to_item(record: Any, model: type[M]) -> M:
    """The item a record is stored as (index keys are derived by the caller where the model has any)."""
    return model(**{name: getattr(record, name) for name in _field_names(type(record))})


def get_or_none(model: type[M], record_type: type[R], hash_key: Any, range_key: Any = None,
                consistent: bool = False) -> R | None:
    """One record by its key, or None when there is none."""
    try:
        return to_record(model.get(hash_key, range_key, consistent_read=consistent), record_type)
    except model.DoesNotExist:
        return None


def get_by_keys(model: type[M], record_type: type[R], keys: Iterable[Any], key_of: Any) -> dict[Any, R]:
    """Records by key in batched reads, as `{key_of(record): record}` (no request for no keys)."""
    wanted = set(keys)
    if not wanted:
        return {}
    read = record_reader(model, record_type)
    records = [read(raw) for raw in batch_get_raw(model, wanted)]
    return {key_of(record): record for record in records}


def update_item(item: Model, actions: Sequence[Action], condition: Condition | None = None) -> None:
    """`item.update(...)` without reading the item back: PynamoDB's `update` always asks for ALL_NEW, which
    sends the whole (large) job back on every state change. Raises `UpdateError` when `condition` fails."""
    hash_key, range_key = item._get_hash_range_key_serialized_values()
    item._get_connection().update_item(hash_key, range_key=range_key, actions=actions, condition=condition,
                                       return_values=NONE)


T = TypeVar("T")


def set_nullable(attribute: Attribute[T], value: T | None) -> SetAction | RemoveAction:
    """`attribute.set(value)` for a value that may be None (PynamoDB then SETs it to NULL; its stub refuses
    None). Same action as `attribute.set`, only typed for optional values."""
    return attribute.set(cast(T, value))


def _index(name: str, projection: Projection | None = None) -> type[Any]:  # Index.Meta is Any in PynamoDB
    class IndexMeta:
        index_name = name
        projection: Projection = AllProjection()
    if projection is not None:
        IndexMeta.projection = projection
    return IndexMeta


# --- ids -------------------------------------------------------------------------------------------

@_table("counters")
class Counter(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


# --- job counts ------------------------------------------------------------------------------------

COUNT_SLOTS = 100


@_table("job-counts")
class JobCount(BaseModel):
    """One shard of a job counter (`chalicelib.models.counters`): `value` for a plain counter, or slots
    `s00`..`s99` for a time container (the minutes of an hour, the hours of a day, ...). Only ever changed
    by ADD inside the transaction of the state change it counts."""
    class Meta(BaseModel.Meta):
        pass
    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(null=True)
    for _slot in range(COUNT_SLOTS):
        locals()[f"s{_slot:02d}"] = NumberAttribute(null=True)
    del _slot


def count_slot(number: int) -> NumberAttribute:
    """The attribute of time slot `number` (0-99) of a `JobCount` item."""
    return cast(NumberAttribute, getattr(JobCount, f"s{number:02d}"))


# --- jobs ------------------------------------------------------------------------------------------

class JobsByModified(GlobalSecondaryIndex):
    Meta = _index("by-modified")
    shard = UnicodeAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByStatus(GlobalSecondaryIndex):
    Meta = _index("by-status")
    status = UnicodeAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByType(GlobalSecondaryIndex):
    Meta = _index("by-type")
    job_type_id = NumberAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByTypeStatus(GlobalSecondaryIndex):
    Meta = _index("by-type-status")
    type_status = UnicodeAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByBatch(GlobalSecondaryIndex):
    Meta = _index("by-batch")
    batch_id = NumberAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByRecipe(GlobalSecondaryIndex):
    Meta = _index("by-recipe")
    recipe_id = NumberAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByOwner(GlobalSecondaryIndex):
    Meta = _index("by-owner")
    owner = UnicodeAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByProject(GlobalSecondaryIndex):
    Meta = _index("by-project")
    project = UnicodeAttribute(hash_key=True)
    modified_key = UnicodeAttribute(range_key=True)


class JobsByQueue(GlobalSecondaryIndex):
    """The dispatch queue: only QUEUED jobs carry `queue_shard`, ordered by priority then queued time."""
    Meta = _index("by-queue")
    queue_shard = UnicodeAttribute(hash_key=True)
    queue_key = UnicodeAttribute(range_key=True)


class JobsByCreated(GlobalSecondaryIndex):
    """Submission order, for the history's submissionTime ranges."""
    Meta = _index("by-created")
    shard = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


@_table("jobs")
class Job(BaseModel):
    class Meta(BaseModel.Meta):
        pass

    id = NumberAttribute(hash_key=True)
    status = UnicodeAttribute()
    # Index keys, derived by the persistence layer on every write.
    shard = UnicodeAttribute(default="jobs")
    modified_key = UnicodeAttribute()
    created_key = UnicodeAttribute(null=True)
    type_status = UnicodeAttribute()
    queue_shard = UnicodeAttribute(null=True)    # "queued" while QUEUED, absent otherwise (sparse index)
    queue_key = UnicodeAttribute(null=True)      # priority#queued#id
    dispatch_after = UTCDateTimeAttribute(null=True)  # retry backoff: not dispatched before this time

    job_type_id = NumberAttribute()
    job_type_name = UnicodeAttribute()
    job_type_version = UnicodeAttribute()
    job_type_rev_id = NumberAttribute()
    job_type_revision_num = NumberAttribute()
    job_type_title = UnicodeAttribute(null=True)  # the pinned revision's manifest title (immutable)
    event = JSONAttribute(null=True)          # {id, type, occurred}: immutable, copied here
    recipe_id = NumberAttribute(null=True)
    recipe = JSONAttribute(null=True)         # the v6 recipe summary, immutable once the job exists
    batch_id = NumberAttribute(null=True)
    batch = JSONAttribute(null=True)          # {id, title, description, created}
    is_superseded = BooleanAttribute(default=False)
    superseded_job_id = NumberAttribute(null=True)
    superseded_by_job_id = NumberAttribute(null=True)
    node_id = NumberAttribute(null=True)
    node_hostname = UnicodeAttribute(null=True)
    error_id = NumberAttribute(null=True)
    error_category = UnicodeAttribute(null=True)
    error = JSONAttribute(null=True)          # the v6 error base, copied when the job fails
    num_exes = NumberAttribute(default=0)
    max_tries = NumberAttribute(default=3)
    priority = NumberAttribute(default=100)
    input_file_size = NumberAttribute(default=0)
    input_files = JSONAttribute(null=True)    # {input name: [file names]}
    source_started = UTCDateTimeAttribute(null=True)
    source_ended = UTCDateTimeAttribute(null=True)
    source_sensor_class = UnicodeAttribute(null=True)
    source_sensor = UnicodeAttribute(null=True)
    source_collection = UnicodeAttribute(null=True)
    source_task = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    queued = UTCDateTimeAttribute(null=True)
    started = UTCDateTimeAttribute(null=True)
    ended = UTCDateTimeAttribute(null=True)
    last_status_change = UTCDateTimeAttribute(null=True)
    superseded = UTCDateTimeAttribute(null=True)
    last_modified = UTCDateTimeAttribute()
    # Who and what: recorded at submission for the history face.
    owner = UnicodeAttribute(null=True)
    project = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    # [{status, at, exe_num}]: every v6 status change and execution phase (UPLOADING, EXECUTING,
    # DOWNLOADING), in order. The history's statusHistory is built from it.
    timeline: ListAttribute[dict[str, Any]] = ListAttribute(null=True)
    # [{id, parameterId, label, type, value: [text]}]: the job's inputs as the history shows and searches
    # them, fixed at submission (inputs never change), so a search needs no read per job.
    parameters = JSONAttribute(null=True)
    # Measured on the latest execution, copied here when it ends (the history shows and searches them).
    exit_code = NumberAttribute(null=True)
    cpu_seconds = NumberAttribute(null=True)
    wall_seconds = NumberAttribute(null=True)
    peak_memory_mib = NumberAttribute(null=True)
    history_deleted = BooleanAttribute(default=False)
    # {id, kind, reason}: the bulk operation that last changed this job (cancel/requeue).
    bulk_operation = JSONAttribute(null=True)
    # The exe_num whose EXECUTING phase is in the timeline: lets the phase be recorded by one conditional
    # write (no read first) exactly once, however often the runner or ECS reports it.
    executing_exe = NumberAttribute(null=True)

    by_modified = JobsByModified()
    by_status = JobsByStatus()
    by_type = JobsByType()
    by_type_status = JobsByTypeStatus()
    by_batch = JobsByBatch()
    by_recipe = JobsByRecipe()
    by_owner = JobsByOwner()
    by_project = JobsByProject()
    by_created = JobsByCreated()
    by_queue = JobsByQueue()


@_table("job-data")
class JobData(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    job_id = NumberAttribute(hash_key=True)
    input = JSONAttribute(default=dict)
    output = JSONAttribute(null=True)
    configuration = JSONAttribute(default=dict)


@_table("job-input-files")
class JobInputFile(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    job_id = NumberAttribute(hash_key=True)
    link = UnicodeAttribute(range_key=True)   # "<input name>#<file id>"
    job_input = UnicodeAttribute()
    file_id = NumberAttribute()


class ExecutionsById(GlobalSecondaryIndex):
    Meta = _index("by-id", KeysOnlyProjection())
    id = NumberAttribute(hash_key=True)


@_table("job-executions")
class JobExecution(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    job_id = NumberAttribute(hash_key=True)
    exe_num = NumberAttribute(range_key=True)
    id = NumberAttribute()
    status = UnicodeAttribute()
    cluster_id = UnicodeAttribute()
    job_type_id = NumberAttribute()
    node_id = NumberAttribute(null=True)
    node_hostname = UnicodeAttribute(null=True)
    error_id = NumberAttribute(null=True)
    error_category = UnicodeAttribute(null=True)
    error = JSONAttribute(null=True)
    timeout = NumberAttribute(null=True)
    input_file_size = NumberAttribute(default=0)
    exit_code = NumberAttribute(null=True)
    task_results = JSONAttribute(null=True)
    resources = JSONAttribute(null=True)
    configuration = JSONAttribute(null=True)
    output = JSONAttribute(null=True)
    cpu_seconds = NumberAttribute(null=True)
    wall_seconds = NumberAttribute(null=True)
    peak_memory_mib = NumberAttribute(null=True)
    created = UTCDateTimeAttribute()
    queued = UTCDateTimeAttribute(null=True)
    started = UTCDateTimeAttribute(null=True)
    ended = UTCDateTimeAttribute(null=True)
    last_modified = UTCDateTimeAttribute()

    by_id = ExecutionsById()


# --- job types -------------------------------------------------------------------------------------

class JobTypesByName(GlobalSecondaryIndex):
    Meta = _index("by-name")
    name = UnicodeAttribute(hash_key=True)
    version = UnicodeAttribute(range_key=True)


@_table("job-types")
class JobType(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    name = UnicodeAttribute()
    version = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    icon_code = UnicodeAttribute(null=True)
    is_active = BooleanAttribute(default=True)
    is_paused = BooleanAttribute(default=False)
    is_system = BooleanAttribute(default=False)
    is_published = BooleanAttribute(default=False)
    max_scheduled = NumberAttribute(null=True)
    max_tries = NumberAttribute(default=3)
    unmet_resources = UnicodeAttribute(null=True)
    docker_image = UnicodeAttribute()
    revision_num = NumberAttribute(default=1)
    revision_id = NumberAttribute()
    manifest = JSONAttribute()
    configuration = JSONAttribute(default=dict)
    owner = UnicodeAttribute(null=True)
    project = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    paused = UTCDateTimeAttribute(null=True)
    deprecated = UTCDateTimeAttribute(null=True)
    last_modified = UTCDateTimeAttribute()

    by_name = JobTypesByName()


@_table("job-type-revisions")
class JobTypeRevision(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    job_type_id = NumberAttribute(hash_key=True)
    revision_num = NumberAttribute(range_key=True)
    id = NumberAttribute()
    docker_image = UnicodeAttribute()
    manifest = JSONAttribute()
    created = UTCDateTimeAttribute()


# --- errors, nodes, batches, recipes, events -------------------------------------------------------

class ErrorsByName(GlobalSecondaryIndex):
    Meta = _index("by-name")
    name = UnicodeAttribute(hash_key=True)


@_table("errors")
class ErrorModel(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    name = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    job_type_name = UnicodeAttribute(null=True)
    category = UnicodeAttribute()
    is_builtin = BooleanAttribute(default=False)
    should_be_retried = BooleanAttribute(default=False)
    created = UTCDateTimeAttribute()
    last_modified = UTCDateTimeAttribute()

    by_name = ErrorsByName()


class NodesByHostname(GlobalSecondaryIndex):
    Meta = _index("by-hostname")
    hostname = UnicodeAttribute(hash_key=True)


@_table("nodes")
class Node(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    hostname = UnicodeAttribute()
    is_active = BooleanAttribute(default=True)
    resources = JSONAttribute(null=True)      # {cpus, mem, disk, gpus} offered
    slots = NumberAttribute(default=0)
    last_heartbeat = UTCDateTimeAttribute(null=True)
    created = UTCDateTimeAttribute()
    last_modified = UTCDateTimeAttribute()

    by_hostname = NodesByHostname()


@_table("batches")
class Batch(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    recipe_type_id = NumberAttribute(null=True)
    created = UTCDateTimeAttribute()


@_table("recipe-types")
class RecipeType(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    name = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    revision_num = NumberAttribute(default=1)
    revision_id = NumberAttribute()
    created = UTCDateTimeAttribute()


@_table("recipes")
class Recipe(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    recipe_type_id = NumberAttribute()
    recipe_type_rev_id = NumberAttribute()
    event_id = NumberAttribute(null=True)
    batch_id = NumberAttribute(null=True)
    created = UTCDateTimeAttribute()


@_table("trigger-events")
class TriggerEvent(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    type = UnicodeAttribute()
    occurred = UTCDateTimeAttribute()
    description = JSONAttribute(null=True)


# --- system settings --------------------------------------------------------------------------------

@_table("settings")
class SystemSetting(BaseModel):
    """Service-wide switches that must survive restarts (the scheduler's pause)."""
    class Meta(BaseModel.Meta):
        pass
    name = UnicodeAttribute(hash_key=True)
    value = JSONAttribute()
    last_modified = UTCDateTimeAttribute()


# --- workspaces and files --------------------------------------------------------------------------

@_table("workspaces")
class Workspace(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    name = UnicodeAttribute(hash_key=True)
    id = NumberAttribute()
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    base_url = UnicodeAttribute(null=True)
    is_active = BooleanAttribute(default=True)
    configuration = JSONAttribute()           # {"broker": {"type": "host"|"s3", ...}}
    created = UTCDateTimeAttribute()
    deprecated = UTCDateTimeAttribute(null=True)
    last_modified = UTCDateTimeAttribute()


class FilesByJob(GlobalSecondaryIndex):
    Meta = _index("by-job")
    job_id = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


@_table("files")
class File(BaseModel):
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    workspace_id = NumberAttribute()
    workspace_name = UnicodeAttribute()
    file_name = UnicodeAttribute()
    file_path = UnicodeAttribute()
    media_type = UnicodeAttribute(null=True)
    file_type = UnicodeAttribute(default="SOURCE")
    file_size = NumberAttribute(default=0)
    is_deleted = BooleanAttribute(default=False)
    data_type_tags = JSONAttribute(null=True)
    data_started = UTCDateTimeAttribute(null=True)
    data_ended = UTCDateTimeAttribute(null=True)
    source_started = UTCDateTimeAttribute(null=True)
    source_ended = UTCDateTimeAttribute(null=True)
    source_sensor_class = UnicodeAttribute(null=True)
    source_sensor = UnicodeAttribute(null=True)
    source_collection = UnicodeAttribute(null=True)
    source_task = UnicodeAttribute(null=True)
    # Set on files a job produced.
    job_id = NumberAttribute(null=True)
    job_exe_id = NumberAttribute(null=True)
    job_output = UnicodeAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    project = UnicodeAttribute(null=True)
    created = UTCDateTimeAttribute()
    deleted = UTCDateTimeAttribute(null=True)
    last_modified = UTCDateTimeAttribute()

    by_job = FilesByJob()


# --- idempotency -----------------------------------------------------------------------------------

@_table("idempotency")
class IdempotencyRecord(BaseModel):
    """One remembered `Idempotency-Key`, written by Powertools' `DynamoDBPersistenceLayer` (its default
    attribute names); the model gives the table its schema and TTL and lets tests read it."""
    class Meta(BaseModel.Meta):
        pass
    id = UnicodeAttribute(hash_key=True)      # "<key prefix>#<hash of (principal, key)>"
    status = UnicodeAttribute()               # INPROGRESS | COMPLETED
    expiration = TTLAttribute()               # epoch seconds; DynamoDB deletes the record after it
    in_progress_expiration = NumberAttribute(null=True)  # epoch ms: a dead request's claim ends here
    data = UnicodeAttribute(null=True)        # the JSON result of the first request
    validation = UnicodeAttribute(null=True)  # hash of the first request, compared on a repeat


# --- bulk operations -------------------------------------------------------------------------------

class BulkOperationsByShard(GlobalSecondaryIndex):
    """Every operation in one partition, newest first by id: the list is read from here."""
    Meta = _index("by-shard")
    shard = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


@_table("bulk-operations")
class BulkOperation(BaseModel):
    """One bulk cancel or requeue (`POST /v6/jobs/cancel|requeue/`) and its progress."""
    class Meta(BaseModel.Meta):
        pass
    id = NumberAttribute(hash_key=True)
    shard = UnicodeAttribute(default="operations")
    kind = UnicodeAttribute()                 # cancel | requeue
    filter = JSONAttribute()                  # the body's filter, normalised
    job_filter = JSONAttribute()              # the JobFilter it compiled to (job types resolved to ids)
    requested_by = UnicodeAttribute(null=True)
    project = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    priority = NumberAttribute(null=True)     # requeue: the queue priority override
    state = UnicodeAttribute()                # RUNNING | SUCCEEDED | FAILED
    matched = NumberAttribute(default=0)
    changed = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    chunks = NumberAttribute(default=0)
    # The next chunk to record and where it starts: each chunk's counts are added by one write conditioned on
    # `position`, so a retried chunk or a resumed operation adds them once (services.bulk_jobs).
    position = NumberAttribute(null=True)
    cursor = UnicodeAttribute(null=True)
    started = UTCDateTimeAttribute()
    ended = UTCDateTimeAttribute(null=True)
    error = UnicodeAttribute(null=True)       # the failed chunk's error name (set by the state machine)
    error_cause = UnicodeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)

    by_shard = BulkOperationsByShard()


# --- API tokens (the deployed authorizer's; locally they live in a file, chalicelib.auth) ------------

@_table("api-tokens")
class ApiToken(BaseModel):
    """A bearer token, kept as its SHA-256 digest only; `revoked` set means it no longer opens anything."""
    class Meta(BaseModel.Meta):
        pass
    sha256 = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    projects = ListAttribute(of=UnicodeAttribute, default=list)
    created = UTCDateTimeAttribute()
    revoked = UTCDateTimeAttribute(null=True)


def _configure_from_services() -> None:
    from chalicelib.wiring import services
    settings = services().settings
    configure_tables(settings.table_prefix, settings.region)


_configure_from_services()

