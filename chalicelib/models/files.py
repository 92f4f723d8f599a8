"""Persistence of workspaces, files and the links between jobs and their input files."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Iterable

from pynamodb.exceptions import PutError

from chalicelib.domain import FileRecord, WorkspaceRecord
from chalicelib.errors import Conflict
from chalicelib.models.ids import next_id, next_ids
from chalicelib.models.tables import File, Workspace, get_by_keys, get_or_none, to_item, to_record
from chalicelib.wiring import caches

_WORKSPACE_TTL = 5.0


def get_workspace(name: str, fresh: bool = False) -> WorkspaceRecord | None:
    """Workspaces change rarely and every job reads them (inputs, outputs): a process keeps what it read
    for a few seconds. `fresh` reads through (creating, checking for duplicates)."""
    cache = caches().workspaces
    key = (Workspace.Meta.table_name, name)
    cached = cache.get(key)
    if not fresh and cached and time.monotonic() - cached[0] < _WORKSPACE_TTL:
        return cached[1]
    workspace = get_or_none(Workspace, WorkspaceRecord, name, consistent=True)
    if len(cache) > 1000:
        cache.clear()
    if workspace is not None:  # an absent workspace may be created any moment: never remember absence
        cache[key] = (time.monotonic(), workspace)
    return workspace


def all_workspaces() -> list[WorkspaceRecord]:
    return sorted((to_record(item, WorkspaceRecord) for item in Workspace.scan()), key=lambda w: w.id)


def create_workspace(values: dict[str, Any], now: datetime) -> WorkspaceRecord:
    """A new workspace (`values`: its fields but id and times); Conflict when the name is taken."""
    workspace = WorkspaceRecord(id=next_id("workspace"), created=now, last_modified=now, **values)
    try:
        to_item(workspace, Workspace).save(condition=Workspace.name.does_not_exist())
    except PutError as error:
        raise Conflict(f"Workspace {workspace.name} already exists") from error
    return workspace


def ensure_workspace(values: dict[str, Any], now: datetime) -> WorkspaceRecord:
    existing = get_workspace(values["name"], fresh=True)
    if existing is not None:
        return existing
    try:
        return create_workspace(values, now)
    except Conflict:
        found = get_workspace(values["name"], fresh=True)
        assert found is not None  # the name was taken: it exists
        return found


def insert_file(file: FileRecord) -> FileRecord:
    """Write a new file record; its id comes from the `file` counter, so a clash is a bug."""
    to_item(file, File).save(condition=File.id.does_not_exist())
    return file


def save_files(values: list[dict[str, Any]], now: datetime) -> list[FileRecord]:
    """New files (`values`: each one's fields but id and last_modified; `created` defaults to now) with
    one id allocation and batched writes (job outputs, seeding)."""
    ids = next_ids("file", len(values)) if values else range(0)
    files = [FileRecord(id=file_id, last_modified=now, **{"created": now, **fields})
             for fields, file_id in zip(values, ids, strict=True)]
    with File.batch_write() as batch:
        for file in files:
            batch.save(to_item(file, File))
    return files


def get_file(file_id: int) -> FileRecord | None:
    return get_or_none(File, FileRecord, file_id)


def get_files(ids: Iterable[int]) -> dict[int, FileRecord]:
    return get_by_keys(File, FileRecord, ids, lambda file: file.id)


def files_of_jobs(job_ids: Iterable[int]) -> list[FileRecord]:
    """Files the jobs produced (one index query per job)."""
    return [to_record(file, FileRecord) for job_id in set(job_ids) for file in File.by_job.query(job_id)]


def all_files() -> list[FileRecord]:
    return [to_record(file, FileRecord) for file in File.scan()]


def get_workspace_by_id(workspace_id: int) -> WorkspaceRecord | None:
    for workspace in Workspace.scan(Workspace.id == workspace_id):
        return to_record(workspace, WorkspaceRecord)
    return None
