"""Persistence of job types (and their revisions), errors, nodes, batches, recipes and events."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from pynamodb.exceptions import TransactWriteError

from chalicelib.errors import Conflict
from chalicelib.models.ids import next_id, next_ids, reserve_ids
from chalicelib.models.tables import (
    Batch,
    Counter,
    ErrorModel,
    JobType,
    JobTypeRevision,
    Node,
    Recipe,
    RecipeType,
    TriggerEvent,
    get_by_keys,
    get_or_none,
    write_transaction,
)


def _name_guard(name: str, version: str) -> str:
    return f"job-type:{name}:{version}"


def find_job_type(name: str, version: str) -> JobType | None:
    """Consistent lookup through the uniqueness guard (the by-name index is only eventually
    consistent, and a client reads its job type right after creating it)."""
    guard = get_or_none(Counter, _name_guard(name, version), consistent=True)
    if guard is None:
        return None
    return get_job_type(int(guard.value))


def get_job_type(job_type_id: int) -> JobType | None:
    return get_or_none(JobType, job_type_id)


def get_job_types(ids: Iterable[int]) -> dict[int, JobType]:
    return get_by_keys(JobType, ids, lambda job_type: job_type.id)


def job_type_ids_named(names: Iterable[str]) -> list[int]:
    ids: list[int] = []
    for name in set(names):
        ids.extend(jt.id for jt in JobType.by_name.query(name, attributes_to_get=["id"]))
    return ids


def all_job_types() -> list[JobType]:
    return list(JobType.scan())


_revisions: dict[tuple[str, int, int], JobTypeRevision] = {}


def get_revision(job_type_id: int, revision_num: int) -> JobTypeRevision | None:
    """A revision never changes once written, so each process reads it once."""
    key = (JobTypeRevision.Meta.table_name, job_type_id, revision_num)
    if key in _revisions:
        return _revisions[key]
    revision = get_or_none(JobTypeRevision, job_type_id, revision_num)
    if revision is None:
        return None
    if len(_revisions) > 1000:
        _revisions.clear()
    _revisions[key] = revision
    return revision


def forget_cached() -> None:
    """Tests start every store afresh, with the same ids."""
    _revisions.clear()


def create_job_type(job_type: JobType, now: datetime) -> JobType:
    """Insert a new name+version with its first revision, atomically; Conflict if it exists."""
    job_type.id = next_id("job_type")
    job_type.revision_id = next_id("job_type_rev")
    job_type.revision_num = 1
    job_type.created = job_type.last_modified = now
    revision = JobTypeRevision(job_type.id, 1, id=job_type.revision_id, docker_image=job_type.docker_image,
                               manifest=job_type.manifest, created=now)
    guard = Counter(_name_guard(job_type.name, job_type.version), value=job_type.id)
    try:
        with write_transaction() as transaction:
            transaction.save(guard, condition=Counter.name.does_not_exist())
            transaction.save(job_type, condition=JobType.id.does_not_exist())
            transaction.save(revision, condition=JobTypeRevision.job_type_id.does_not_exist())
    except TransactWriteError as error:
        raise Conflict(f"Job type {job_type.name} {job_type.version} already exists") from error
    return job_type


def add_revision(existing: JobType, changes: dict, now: datetime) -> JobType:
    """Store a new revision of an existing job type; the previous revision stays for its jobs."""
    revision_num = existing.revision_num + 1
    revision_id = next_id("job_type_rev")
    for key, value in changes.items():
        setattr(existing, key, value)
    revision = JobTypeRevision(existing.id, revision_num, id=revision_id, docker_image=existing.docker_image,
                               manifest=existing.manifest, created=now)
    previous = existing.revision_num
    existing.revision_num, existing.revision_id, existing.last_modified = revision_num, revision_id, now
    try:
        with write_transaction() as transaction:
            transaction.save(existing, condition=JobType.revision_num == previous)
            transaction.save(revision, condition=JobTypeRevision.job_type_id.does_not_exist())
    except TransactWriteError as error:
        raise Conflict(f"Job type {existing.name} {existing.version} was changed concurrently; retry") from error
    return existing


# --- errors ----------------------------------------------------------------------------------------

def ensure_builtin_errors(definitions: list, now: datetime) -> None:
    """Write the built-in catalog (`ErrorDefinition`s) under its fixed ids (idempotent) and keep the
    id counter past it."""
    with ErrorModel.batch_write() as batch:
        for definition in definitions:
            batch.save(ErrorModel(created=now, last_modified=now, **definition._asdict()))
    reserve_ids("error", max(d.id for d in definitions))


def register_job_type_errors(definitions: list, now: datetime) -> None:
    """Create the errors a job type's manifest declares, once per (job type name, error name)."""
    for definition in definitions:
        existing = [e for e in ErrorModel.by_name.query(definition.name)
                    if e.job_type_name == definition.job_type_name]
        if existing:
            continue
        fields = {k: v for k, v in definition._asdict().items() if k != "id"}
        ErrorModel(id=next_id("error"), created=now, last_modified=now, **fields).save()


def find_error(name: str, job_type_name: str | None = None) -> ErrorModel | None:
    candidates = list(ErrorModel.by_name.query(name))
    for wanted in (job_type_name, None):
        for error in candidates:
            if error.job_type_name == wanted:
                return error
    return None


def error_base(error: ErrorModel) -> dict:
    return {"id": error.id, "name": error.name, "title": error.title, "description": error.description,
            "job_type_name": error.job_type_name, "category": error.category,
            "is_builtin": error.is_builtin, "should_be_retried": error.should_be_retried}


# --- nodes, batches, recipes, events ---------------------------------------------------------------

def create_node(hostname: str, now: datetime, **fields) -> Node:
    node = Node(next_id("node"), hostname=hostname, created=now, last_modified=now, **fields)
    node.save()
    return node


def create_batch(title: str | None, description: str | None, now: datetime) -> Batch:
    batch = Batch(next_id("batch"), title=title, description=description, created=now)
    batch.save()
    return batch


def create_recipe_type(name: str, title: str | None, description: str | None, now: datetime) -> RecipeType:
    recipe_type = RecipeType(next_id("recipe_type"), name=name, title=title, description=description,
                             revision_num=1, revision_id=next_id("recipe_type_rev"), created=now)
    recipe_type.save()
    return recipe_type


def create_recipe(recipe_type: RecipeType, event_id: int | None, batch_id: int | None, now: datetime) -> Recipe:
    recipe = Recipe(next_id("recipe"), recipe_type_id=recipe_type.id, recipe_type_rev_id=recipe_type.revision_id,
                    event_id=event_id, batch_id=batch_id, created=now)
    recipe.save()
    return recipe


def create_event(event_type: str, now: datetime, description: dict | None = None) -> TriggerEvent:
    event = TriggerEvent(next_id("event"), type=event_type, occurred=now, description=description)
    event.save()
    return event


def allocate(name: str, count: int) -> range:
    return next_ids(name, count)
