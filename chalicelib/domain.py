"""Plain domain vocabulary shared by the use cases and the persistence layer."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

JOB_STATUSES = ("PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED")
FINAL_STATUSES = ("FAILED", "COMPLETED", "CANCELED")
EXECUTION_STATUSES = ("RUNNING", "FAILED", "COMPLETED", "CANCELED")
ERROR_CATEGORIES = ("SYSTEM", "DATA", "ALGORITHM")
ROLES = ("viewer", "submitter", "operator", "admin")


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
    rows: list
    after: str | None = None
    before: str | None = None
    related: dict = field(default_factory=dict)
