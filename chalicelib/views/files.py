"""v6 shapes of workspaces and files."""
from __future__ import annotations

from chalicelib.domain import FileRecord, WorkspaceRecord
from chalicelib.timeutil import iso


def workspace_view(workspace: WorkspaceRecord) -> dict:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "title": workspace.title,
        "description": workspace.description,
        "base_url": workspace.base_url,
        "is_active": workspace.is_active,
        "created": iso(workspace.created),
        "deprecated": iso(workspace.deprecated),
        "last_modified": iso(workspace.last_modified),
        "configuration": workspace.configuration,
    }


def file_view(file: FileRecord, base_url: str | None = None) -> dict:
    url = f"{base_url.rstrip('/')}/{file.file_path}" if base_url else None
    return {
        "id": file.id,
        "workspace": {"id": file.workspace_id, "name": file.workspace_name},
        "file_name": file.file_name,
        "media_type": file.media_type,
        "file_type": file.file_type,
        "file_size": file.file_size,
        "file_path": file.file_path,
        "is_deleted": file.is_deleted,
        "url": url,
        "created": iso(file.created),
        "deleted": iso(file.deleted),
        "data_started": iso(file.data_started),
        "data_ended": iso(file.data_ended),
        "source_started": iso(file.source_started),
        "source_ended": iso(file.source_ended),
        "source_sensor_class": file.source_sensor_class,
        "source_sensor": file.source_sensor,
        "source_collection": file.source_collection,
        "source_task": file.source_task,
        "data_type_tags": file.data_type_tags or [],
        "job": {"id": file.job_id} if file.job_id is not None else None,
        "job_exe": {"id": file.job_exe_id} if file.job_exe_id is not None else None,
        "job_output": file.job_output,
        "last_modified": iso(file.last_modified),
    }
