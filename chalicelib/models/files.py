"""Persistence of workspaces, files and the links between jobs and their input files."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Iterable

from pynamodb.exceptions import PutError

from chalicelib.errors import Conflict
from chalicelib.models.ids import next_id, next_ids
from chalicelib.models.tables import File, JobInputFile, Workspace, get_by_keys, get_or_none

_WORKSPACE_TTL = 5.0
_workspaces: dict[tuple[str, str], tuple[float, Workspace | None]] = {}


def get_workspace(name: str, fresh: bool = False) -> Workspace | None:
    """Workspaces change rarely and every job reads them (inputs, outputs): a process keeps what it read
    for a few seconds. `fresh` reads through (creating, checking for duplicates)."""
    key = (Workspace.Meta.table_name, name)
    cached = _workspaces.get(key)
    if not fresh and cached and time.monotonic() - cached[0] < _WORKSPACE_TTL:
        return cached[1]
    workspace = get_or_none(Workspace, name, consistent=True)
    if len(_workspaces) > 1000:
        _workspaces.clear()
    if workspace is not None:  # an absent workspace may be created any moment: never remember absence
        _workspaces[key] = (time.monotonic(), workspace)
    return workspace


def forget_cached() -> None:
    _workspaces.clear()


def all_workspaces() -> list[Workspace]:
    return sorted(Workspace.scan(), key=lambda w: w.id)


def create_workspace(workspace: Workspace, now: datetime) -> Workspace:
    workspace.id = next_id("workspace")
    workspace.created = workspace.last_modified = now
    try:
        workspace.save(condition=Workspace.name.does_not_exist())
    except PutError as error:
        raise Conflict(f"Workspace {workspace.name} already exists") from error
    return workspace


def ensure_workspace(workspace: Workspace, now: datetime) -> Workspace:
    existing = get_workspace(workspace.name, fresh=True)
    if existing is not None:
        return existing
    try:
        return create_workspace(workspace, now)
    except Conflict:
        return get_workspace(workspace.name, fresh=True)  # type: ignore[return-value]


def insert_file(file: File) -> File:
    """Write a new file record; its id comes from the `file` counter, so a clash is a bug."""
    file.save(condition=File.id.does_not_exist())
    return file


def save_files(files: list[File], now: datetime) -> list[File]:
    """Insert many files with one id allocation and batched writes (seeding, job outputs)."""
    for file, file_id in zip(files, next_ids("file", len(files)) if files else [], strict=True):
        file.id = file_id
        file.created = file.created or now
        file.last_modified = now
    with File.batch_write() as batch:
        for file in files:
            batch.save(file)
    return files


def get_file(file_id: int) -> File | None:
    return get_or_none(File, file_id)


def get_files(ids: Iterable[int]) -> dict[int, File]:
    return get_by_keys(File, ids, lambda file: file.id)


def job_input_links(job_id: int) -> list[JobInputFile]:
    return list(JobInputFile.query(job_id))


def input_link(job_id: int, job_input: str, file_id: int) -> JobInputFile:
    return JobInputFile(job_id, f"{job_input}#{file_id}", job_input=job_input, file_id=file_id)


def files_of_jobs(job_ids: Iterable[int]) -> list[File]:
    """Files the jobs produced (one index query per job)."""
    return [file for job_id in set(job_ids) for file in File.by_job.query(job_id)]


def all_files() -> list[File]:
    return list(File.scan())


def get_workspace_by_id(workspace_id: int) -> Workspace | None:
    for workspace in Workspace.scan(Workspace.id == workspace_id):
        return workspace
    return None
