"""Persistence of job types (and their revisions) and errors."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Iterable

from pynamodb.exceptions import TransactWriteError

from chalicelib.domain import ErrorRecord, JobTypeRecord, RevisionRecord
from chalicelib.errors import Conflict
from chalicelib.models.ids import next_id, reserve_ids
from chalicelib.models.tables import (
    Counter,
    ErrorModel,
    JobType,
    JobTypeRevision,
    get_by_keys,
    get_or_none,
    to_item,
    to_record,
    write_transaction,
)
from chalicelib.wiring import caches


def _name_guard(name: str, version: str) -> str:
    return f"job-type:{name}:{version}"


def find_job_type(name: str, version: str) -> JobTypeRecord | None:
    """Consistent lookup through the uniqueness guard (the by-name index is only eventually
    consistent, and a client reads its job type right after creating it)."""
    try:
        guard = Counter.get(_name_guard(name, version), consistent_read=True)
    except Counter.DoesNotExist:
        return None
    return get_job_type(int(guard.value))


def get_job_type(job_type_id: int) -> JobTypeRecord | None:
    return get_or_none(JobType, JobTypeRecord, job_type_id)


def get_job_types(ids: Iterable[int]) -> dict[int, JobTypeRecord]:
    return get_by_keys(JobType, JobTypeRecord, ids, lambda job_type: job_type.id)


def job_type_ids_named(names: Iterable[str]) -> list[int]:
    ids: list[int] = []
    for name in set(names):
        ids.extend(jt.id for jt in JobType.by_name.query(name, attributes_to_get=["id"]))
    return ids


def all_job_types() -> list[JobTypeRecord]:
    return [to_record(item, JobTypeRecord) for item in JobType.scan()]


def get_revision(job_type_id: int, revision_num: int) -> RevisionRecord | None:
    """A revision never changes once written, so each process reads it once."""
    revisions = caches().revisions
    key = (JobTypeRevision.Meta.table_name, job_type_id, revision_num)
    if key in revisions:
        return revisions[key]
    revision = get_or_none(JobTypeRevision, RevisionRecord, job_type_id, revision_num)
    if revision is None:
        return None
    if len(revisions) > 1000:
        revisions.clear()
    revisions[key] = revision
    return revision


def create_job_type(values: dict[str, Any], now: datetime) -> JobTypeRecord:
    """Insert a new name+version (`values`: the job type's fields but ids and times) with its first
    revision, atomically; Conflict if it exists."""
    job_type = JobTypeRecord(id=next_id("job_type"), revision_id=next_id("job_type_rev"), revision_num=1,
                             created=now, last_modified=now, **values)
    revision = RevisionRecord(job_type_id=job_type.id, revision_num=1, id=job_type.revision_id,
                              docker_image=job_type.docker_image, manifest=job_type.manifest, created=now)
    guard = Counter(_name_guard(job_type.name, job_type.version), value=job_type.id)
    try:
        with write_transaction() as transaction:
            transaction.save(guard, condition=Counter.name.does_not_exist())
            transaction.save(to_item(job_type, JobType), condition=JobType.id.does_not_exist())
            transaction.save(to_item(revision, JobTypeRevision), condition=JobTypeRevision.job_type_id.does_not_exist())
    except TransactWriteError as error:
        if not _refused_by_condition(error):
            raise  # throttling, an item too large...: not "it exists"
        raise Conflict(f"Job type {job_type.name} {job_type.version} already exists") from error
    return job_type


def add_revision(existing: JobTypeRecord, changes: dict[str, Any], now: datetime) -> JobTypeRecord:
    """Store a new revision of an existing job type; the previous revision stays for its jobs."""
    revision_num = existing.revision_num + 1
    revision_id = next_id("job_type_rev")
    changed = dataclasses.replace(existing, **changes, revision_num=revision_num, revision_id=revision_id,
                                  last_modified=now)
    revision = RevisionRecord(job_type_id=existing.id, revision_num=revision_num, id=revision_id,
                              docker_image=changed.docker_image, manifest=changed.manifest, created=now)
    try:
        with write_transaction() as transaction:
            transaction.save(to_item(changed, JobType), condition=JobType.revision_num == existing.revision_num)
            transaction.save(to_item(revision, JobTypeRevision), condition=JobTypeRevision.job_type_id.does_not_exist())
    except TransactWriteError as error:
        if not _refused_by_condition(error):
            raise
        raise Conflict(f"Job type {existing.name} {existing.version} was changed concurrently; retry") from error
    return changed


def _refused_by_condition(error: TransactWriteError) -> bool:
    """Whether a transaction was cancelled because a condition failed (the only thing a 409 may mean)."""
    reasons = [reason for reason in getattr(error, "cancellation_reasons", None) or () if reason is not None]
    return any(reason.code == "ConditionalCheckFailed" for reason in reasons)


# --- errors ----------------------------------------------------------------------------------------

def ensure_builtin_errors(definitions: list[Any], now: datetime) -> None:
    """Write the built-in catalog (`ErrorDefinition`s) under its fixed ids (idempotent) and keep the
    id counter past it."""
    with ErrorModel.batch_write() as batch:
        for definition in definitions:
            batch.save(ErrorModel(created=now, last_modified=now, **definition._asdict()))
    reserve_ids("error", max(d.id for d in definitions))


def register_job_type_errors(definitions: list[Any], now: datetime) -> None:
    """Create the errors a job type's manifest declares, once per (job type name, error name)."""
    for definition in definitions:
        existing = [e for e in ErrorModel.by_name.query(definition.name)
                    if e.job_type_name == definition.job_type_name]
        if existing:
            continue
        fields = {k: v for k, v in definition._asdict().items() if k != "id"}
        ErrorModel(id=next_id("error"), created=now, last_modified=now, **fields).save()


def find_error(name: str, job_type_name: str | None = None) -> ErrorRecord | None:
    candidates = [to_record(item, ErrorRecord) for item in ErrorModel.by_name.query(name)]
    for wanted in (job_type_name, None):
        for error in candidates:
            if error.job_type_name == wanted:
                return error
    return None
