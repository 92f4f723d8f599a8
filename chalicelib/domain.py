"""Plain domain vocabulary shared by the use cases and the persistence layer.

The records below are what `chalicelib.models` takes and returns: plain dataclasses with no tie to
PynamoDB, so use cases and views never see a table item, an attribute or an index. Their fields are
the stored attributes (minus the index keys the persistence layer derives); changing a record changes
nothing stored - only the store's intent-named operations write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JOB_STATUSES = ("PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED")
FINAL_STATUSES = ("FAILED", "COMPLETED", "CANCELED")
EXECUTION_STATUSES = ("RUNNING", "FAILED", "COMPLETED", "CANCELED")
ERROR_CATEGORIES = ("SYSTEM", "DATA", "ALGORITHM")
ROLES = ("viewer", "submitter", "operator", "admin")


@dataclass(frozen=True)
class Scope:
    """Whose jobs a caller may see, list, count, change and read logs and files of: `projects` None is every
    project (an admin); otherwise only jobs recorded under one of them. Another project's job does not exist
    for the caller (404, never 403)."""

    projects: tuple[str, ...] | None = None

    def allows(self, project: str | None) -> bool:
        return self.projects is None or project in self.projects


EVERYTHING = Scope()


@dataclass(frozen=True)
class JobFilter:
    """What `GET /v6/jobs/` (and later cancel/requeue) selects. Empty tuples mean "any"; values in
    one field are ORed, fields are ANDed. `modified_after`/`modified_before` are the API's
    `started`/`ended`, which the contract maps onto last_modified."""

    modified_after: datetime | None = None
    modified_before: datetime | None = None
    source_started: datetime | None = None
    source_ended: datetime | None = None
    source_sensor_classes: tuple[str, ...] = ()
    source_sensors: tuple[str, ...] = ()
    source_collections: tuple[str, ...] = ()
    source_tasks: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    job_ids: tuple[int, ...] = ()
    job_type_ids: tuple[int, ...] = ()
    batch_ids: tuple[int, ...] = ()
    recipe_ids: tuple[int, ...] = ()
    error_ids: tuple[int, ...] = ()
    error_categories: tuple[str, ...] = ()
    is_superseded: bool | None = None
    # The caller's projects (None: any); always ANDed with the rest.
    projects: tuple[str, ...] | None = None
    # Set when a job type name filter resolved to no job type at all: nothing can match.
    matches_nothing: bool = False


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool = False


@dataclass
class Page:
    """One page of a list, plus where to continue. `after`/`before` are opaque positions of the
    last and first row (only for index-ordered lists)."""

    count: int
    rows: list[JobRecord]
    after: str | None = None
    before: str | None = None


# --- records -------------------------------------------------------------------------------------------

@dataclass(slots=True, kw_only=True)
class JobRecord:
    created: datetime
    id: int
    job_type_id: int
    job_type_name: str
    job_type_rev_id: int
    job_type_revision_num: int
    job_type_version: str
    last_modified: datetime
    status: str
    batch: Any | None = None
    batch_id: int | None = None
    bulk_operation: Any | None = None
    cpu_seconds: float | None = None
    description: str | None = None
    dispatch_after: datetime | None = None
    ended: datetime | None = None
    error: Any | None = None
    error_category: str | None = None
    error_id: int | None = None
    event: Any | None = None
    exit_code: int | None = None
    history_deleted: bool = False
    input_file_size: float = 0
    input_files: Any | None = None
    is_superseded: bool = False
    job_type_title: str | None = None
    last_status_change: datetime | None = None
    max_tries: int = 3
    node_hostname: str | None = None
    node_id: int | None = None
    num_exes: int = 0
    owner: str | None = None
    parameters: Any | None = None
    peak_memory_mib: float | None = None
    priority: int = 100
    project: str | None = None
    queued: datetime | None = None
    recipe: Any | None = None
    recipe_id: int | None = None
    source_collection: str | None = None
    source_ended: datetime | None = None
    source_sensor: str | None = None
    source_sensor_class: str | None = None
    source_started: datetime | None = None
    source_task: str | None = None
    started: datetime | None = None
    superseded: datetime | None = None
    superseded_by_job_id: int | None = None
    superseded_job_id: int | None = None
    timeline: list[Any] | None = None
    wall_seconds: float | None = None


@dataclass(slots=True, kw_only=True)
class JobDataRecord:
    job_id: int
    configuration: Any = field(default_factory=dict)
    input: Any = field(default_factory=dict)
    output: Any | None = None


@dataclass(slots=True, kw_only=True)
class InputLinkRecord:
    file_id: int
    job_id: int
    job_input: str
    link: str


@dataclass(slots=True, kw_only=True)
class ExecutionRecord:
    cluster_id: str
    created: datetime
    exe_num: int
    id: int
    job_id: int
    job_type_id: int
    last_modified: datetime
    status: str
    configuration: Any | None = None
    cpu_seconds: float | None = None
    ended: datetime | None = None
    error: Any | None = None
    error_category: str | None = None
    error_id: int | None = None
    exit_code: int | None = None
    input_file_size: float = 0
    node_hostname: str | None = None
    node_id: int | None = None
    output: Any | None = None
    peak_memory_mib: float | None = None
    queued: datetime | None = None
    resources: Any | None = None
    started: datetime | None = None
    task_results: Any | None = None
    timeout: int | None = None
    wall_seconds: float | None = None


@dataclass(slots=True, kw_only=True)
class JobTypeRecord:
    created: datetime
    docker_image: str
    id: int
    last_modified: datetime
    manifest: Any
    name: str
    revision_id: int
    version: str
    configuration: Any = field(default_factory=dict)
    deprecated: datetime | None = None
    description: str | None = None
    icon_code: str | None = None
    is_active: bool = True
    is_paused: bool = False
    is_published: bool = False
    is_system: bool = False
    max_scheduled: int | None = None
    max_tries: int = 3
    owner: str | None = None
    paused: datetime | None = None
    project: str | None = None
    revision_num: int = 1
    title: str | None = None
    unmet_resources: str | None = None


@dataclass(slots=True, kw_only=True)
class RevisionRecord:
    created: datetime
    docker_image: str
    id: int
    job_type_id: int
    manifest: Any
    revision_num: int


@dataclass(slots=True, kw_only=True)
class ErrorRecord:
    category: str
    created: datetime
    id: int
    last_modified: datetime
    name: str
    description: str | None = None
    is_builtin: bool = False
    job_type_name: str | None = None
    should_be_retried: bool = False
    title: str | None = None


@dataclass(slots=True, kw_only=True)
class NodeRecord:
    created: datetime
    hostname: str
    id: int
    last_modified: datetime
    is_active: bool = True
    last_heartbeat: datetime | None = None
    resources: Any | None = None
    slots: int = 0


@dataclass(slots=True, kw_only=True)
class BatchRecord:
    created: datetime
    id: int
    description: str | None = None
    recipe_type_id: int | None = None
    title: str | None = None


@dataclass(slots=True, kw_only=True)
class RecipeTypeRecord:
    created: datetime
    id: int
    name: str
    revision_id: int
    description: str | None = None
    revision_num: int = 1
    title: str | None = None


@dataclass(slots=True, kw_only=True)
class RecipeRecord:
    created: datetime
    id: int
    recipe_type_id: int
    recipe_type_rev_id: int
    batch_id: int | None = None
    event_id: int | None = None


@dataclass(slots=True, kw_only=True)
class EventRecord:
    id: int
    occurred: datetime
    type: str
    description: Any | None = None


@dataclass(slots=True, kw_only=True)
class WorkspaceRecord:
    configuration: Any
    created: datetime
    id: int
    last_modified: datetime
    name: str
    base_url: str | None = None
    deprecated: datetime | None = None
    description: str | None = None
    is_active: bool = True
    title: str | None = None


@dataclass(slots=True, kw_only=True)
class FileRecord:
    created: datetime
    file_name: str
    file_path: str
    id: int
    last_modified: datetime
    workspace_id: int
    workspace_name: str
    data_ended: datetime | None = None
    data_started: datetime | None = None
    data_type_tags: Any | None = None
    deleted: datetime | None = None
    file_size: float = 0
    file_type: str = 'SOURCE'
    is_deleted: bool = False
    job_exe_id: int | None = None
    job_id: int | None = None
    job_output: str | None = None
    media_type: str | None = None
    owner: str | None = None
    project: str | None = None
    source_collection: str | None = None
    source_ended: datetime | None = None
    source_sensor: str | None = None
    source_sensor_class: str | None = None
    source_started: datetime | None = None
    source_task: str | None = None


@dataclass(slots=True, kw_only=True)
class BulkOperationRecord:
    filter: Any
    id: int
    job_filter: Any
    kind: str
    started: datetime
    state: str
    changed: int = 0
    chunks: int = 0
    cursor: str | None = None   # where the chunk at `position` starts (None: at the beginning)
    ended: datetime | None = None
    error: str | None = None
    error_cause: str | None = None
    execution_arn: str | None = None
    matched: int = 0
    position: int = 0           # the next chunk to record: chunks recorded so far
    priority: int | None = None
    project: str | None = None
    reason: str | None = None
    requested_by: str | None = None
    skipped: int = 0


@dataclass(frozen=True, kw_only=True)
class StatusGroup:
    """The jobs now in one status, of one job type: how many, the earliest `started` and `queued` among them,
    and the highest queue priority (the lowest number: lower numbers run first)."""

    job_type_id: int
    count: int
    earliest_started: datetime | None = None
    earliest_queued: datetime | None = None
    highest_priority: int | None = None


# --- what an execution's end records -------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ExecutionEnd:
    """The result of an ended execution, recorded on the execution (None leaves a field unset)."""

    status: str                          # COMPLETED | FAILED
    ended: datetime
    error: dict[str, Any] | None = None  # the v6 error base
    exit_code: int | None = None
    task_results: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None
    peak_memory_mib: float | None = None


@dataclass(frozen=True, kw_only=True)
class JobOutcome:
    """The job's fate after an execution ends: COMPLETED, FAILED (with its error) or QUEUED again (an
    automatic retry as the next execution, not dispatched before `dispatch_after`)."""

    status: str
    error: dict[str, Any] | None = None
    dispatch_after: datetime | None = None
