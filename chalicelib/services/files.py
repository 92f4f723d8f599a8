"""Workspaces and files: create a workspace, register a file already in one, or upload one."""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.domain import EVERYTHING, FileRecord, Scope, WorkspaceRecord
from chalicelib.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from chalicelib.models import files as file_store
from chalicelib.models import jobs as job_store
from chalicelib.models.ids import next_id
from chalicelib.params import Body, BodySpec, Field, QueryParams, check_range, int_list, optional_time, parse_bool
from chalicelib.storage import broker_for, check_file_name, check_relative_path, validate_broker
from chalicelib.timeutil import iso, parse_timestamp

# Deployed, a request reaches the API function whole: Lambda takes at most 6 MB (6,291,456 bytes) of request
# payload, and base64 adds a third. 4 MiB decoded is 5,592,408 base64 characters, leaving room for the rest
# of the body and the event. Larger files go into the workspace directly and are registered by "file_path".
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_UPLOAD_BASE64 = 4 * ((MAX_UPLOAD_BYTES + 2) // 3)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
_SOURCE_FIELDS = ("source_sensor_class", "source_sensor", "source_collection", "source_task")
_TIME_FIELDS = ("data_started", "data_ended", "source_started", "source_ended")


FILE_NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,249}$"  # storage.check_file_name
WORKSPACE_BODY = BodySpec("WorkspaceCreate", (
    Field("name", "string", "1-50 lower-case letters, digits, `-` or `_` (unique: 409 when taken).", required=True,
          max_length=50, pattern=_NAME.pattern, message='"name" must be 1-50 lower-case letters, digits, "-" or "_"'),
    Field("title", "string", max_length=1024), Field("description", "string", max_length=4096),
    Field("base_url", "string", max_length=1024), Field("is_active", "boolean"),
    Field("configuration", "object", "`{\"broker\": {\"type\": \"host\", \"host_path\": ...}}` (an existing "
          "absolute folder inside JOBS_HOST_WORKSPACE_ROOTS) or `{\"broker\": {\"type\": \"s3\", \"bucket_name\": "
          "...}}` (a valid bucket name); nothing else.", required=True,
          schema={"example": {"broker": {"type": "host", "host_path": "/data/ws"}}}),
))
UPLOAD_BODY = BodySpec("UploadRequest", (
    Field("workspace", "string", "An active `s3` workspace's name.", required=True, max_length=1024, pattern=r"\S"),
    Field("file_name", "string", "A plain file name.", required=True, max_length=250, pattern=FILE_NAME_PATTERN,
          validator=check_file_name),
    Field("media_type", "string", max_length=255),
))
FILE_BODY = BodySpec("FileCreate", (
    Field("workspace", "string", "An active workspace's name.", required=True, max_length=1024, pattern=r"\S"),
    Field("file_name", "string", "A plain file name (required with `content_base64`).", max_length=250,
          pattern=FILE_NAME_PATTERN, validator=check_file_name),
    Field("file_path", "string", "A file already in the workspace (exactly one of `file_path` and "
          "`content_base64`).", max_length=1024),
    Field("media_type", "string", max_length=255),
    Field("content_base64", "string", f"The file's bytes, base64 (at most {MAX_UPLOAD_BYTES} bytes: 413 above).",
          max_length=MAX_UPLOAD_BASE64, schema={"format": "byte"}),
    Field("data_type_tags", "array", items=Field("tag", "string", required=True)),
    *(Field(name, "string", max_length=1024) for name in _SOURCE_FIELDS),
    *(Field(name, "datetime") for name in _TIME_FIELDS),
))


def create_workspace(body: dict[str, Any]) -> WorkspaceRecord:
    fields = Body(body, WORKSPACE_BODY)
    name = fields.string("name", required=True)
    assert name is not None  # required=True: Body.string raises rather than return None
    if not _NAME.match(name):
        raise InvalidInput('"name" must be 1-50 lower-case letters, digits, "-" or "_"', field="name")
    if file_store.get_workspace(name, fresh=True) is not None:  # a duplicate is a 409 whatever its configuration
        raise Conflict(f"Workspace {name} already exists")
    values = {
        "name": name,
        "title": fields.string("title"),
        "description": fields.string("description", max_length=4096),
        "base_url": fields.string("base_url"),
        "is_active": fields.boolean("is_active") is not False,
        "configuration": validate_broker(fields.obj("configuration", required=True)),
    }
    return file_store.create_workspace(values, clock.now())


def _workspace(name: str | None) -> WorkspaceRecord:
    workspace = file_store.get_workspace(name) if name else None
    if workspace is None:
        raise InvalidInput(f"Unknown workspace: {name}", field="workspace")
    if not workspace.is_active:
        raise InvalidInput(f"Workspace is not active: {name}", field="workspace")
    return workspace


UPLOAD_URL_SECONDS = 15 * 60


def upload_url(body: dict[str, Any]) -> dict[str, Any]:
    """Where to PUT a file too large for `content_base64` (an `s3` workspace): a presigned URL valid 15 minutes
    and the `file_path` it lands at. Nothing is recorded yet: once the PUT is done, `POST /v6/files/` with that
    `file_path` registers the file, which checks the object is there and takes its size from it."""
    fields = Body(body, UPLOAD_BODY)
    workspace = _workspace(fields.string("workspace", required=True))
    file_name = fields.string("file_name", required=True, max_length=250)
    assert file_name is not None  # required=True
    check_file_name(file_name)
    media_type = fields.string("media_type", max_length=255)
    file_path = f"uploads/{uuid.uuid4().hex}/{file_name}"
    url = broker_for(workspace.configuration).upload_url(file_path, media_type, UPLOAD_URL_SECONDS)
    expires = clock.now() + timedelta(seconds=UPLOAD_URL_SECONDS)
    headers = {"Content-Type": media_type} if media_type else {}
    return {"method": "PUT", "upload_url": url, "headers": headers, "workspace": workspace.name,
            "file_path": file_path, "expires": iso(expires)}


def _too_large() -> str:
    return (f'"content_base64" holds more than {MAX_UPLOAD_BYTES} bytes (4 MiB), the most one API request carries; '
            'put large files in the workspace and register them with "file_path"')


def add_file(body: dict[str, Any], principal: Principal, project: str | None) -> FileRecord:
    """Register a file that sits in a workspace (`file_path`) or upload one (`content_base64`)."""
    raw_content = body.get("content_base64")
    if isinstance(raw_content, str) and len(raw_content) > MAX_UPLOAD_BASE64:
        raise PayloadTooLarge(_too_large())  # before the field checks: too large is a 413, not a 400
    fields = Body(body, FILE_BODY)
    workspace = _workspace(fields.string("workspace", required=True))
    media_type = fields.string("media_type", max_length=255)
    content = fields.string("content_base64", max_length=MAX_UPLOAD_BYTES * 2)
    file_path = fields.string("file_path", max_length=1024)
    if (content is None) == (file_path is None):
        raise InvalidInput('Give exactly one of "file_path" (a file already in the workspace) or '
                           '"content_base64" (an upload)', field="file_path")
    file_name = fields.string("file_name", required=content is not None, max_length=250)
    if file_name:
        check_file_name(file_name)
    tags = body.get("data_type_tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise InvalidInput('"data_type_tags" must be a list of strings', field="data_type_tags")
    sources = {name: fields.string(name) for name in _SOURCE_FIELDS}
    times: dict[str, datetime | None] = {}
    for name in _TIME_FIELDS:
        text = fields.string(name)  # None exactly when the field is absent or null
        times[name] = parse_timestamp(name, text) if text is not None else None
    check_range("data_started", times["data_started"], "data_ended", times["data_ended"])
    check_range("source_started", times["source_started"], "source_ended", times["source_ended"])
    broker = broker_for(workspace.configuration)
    now = clock.now()
    size: int | None
    if content is not None:
        assert file_name is not None  # required (content is given): Body.string raises rather than return None
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput('"content_base64" is not valid base64', field="content_base64") from None
        if len(data) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(_too_large())
        file_id = next_id("file")
        file_path = f"uploads/{file_id}/{file_name}"
        size = broker.write(file_path, data, media_type)
    else:
        assert file_path is not None  # exactly one of content and file_path is given (checked above)
        file_path = check_relative_path(file_path)
        size = broker.size_of(file_path)
        if size is None:
            raise InvalidInput(f'"file_path": no file at {file_path!r} in workspace {workspace.name}',
                               field="file_path")
        if not file_name:
            file_name = file_path.rsplit("/", 1)[-1]
            check_file_name(file_name, "file_path")
        file_id = next_id("file")
    file = FileRecord(
        id=file_id, workspace_id=workspace.id, workspace_name=workspace.name, file_name=file_name,
        file_path=file_path, media_type=media_type, file_type="SOURCE", file_size=size,
        data_type_tags=tags, owner=principal.name, project=project, created=now, last_modified=now,
        source_sensor_class=sources["source_sensor_class"], source_sensor=sources["source_sensor"],
        source_collection=sources["source_collection"], source_task=sources["source_task"],
        data_started=times["data_started"], data_ended=times["data_ended"],
        source_started=times["source_started"], source_ended=times["source_ended"],
    )
    return file_store.insert_file(file)


def get_file(file_id: int, scope: Scope = EVERYTHING) -> tuple[FileRecord, str | None]:
    file = file_store.get_file(file_id)
    if file is None or not scope.allows(file.project):
        raise NotFound()
    workspace = file_store.get_workspace(file.workspace_name)
    return file, workspace.base_url if workspace else None


def _file_time(file: FileRecord, time_field: str, which: str) -> datetime | None:
    if time_field == "source":
        return file.source_started if which == "start" else file.source_ended
    if time_field == "data":
        return file.data_started if which == "start" else file.data_ended
    return file.last_modified


def filter_files(rows: list[FileRecord], params: QueryParams) -> list[FileRecord]:
    """The file filters shared by `/v6/jobs/{id}/input_files/` and `/v6/files/`."""
    started = optional_time(params, "started", clock.now())
    ended = optional_time(params, "ended", clock.now())
    check_range("started", started, "ended", ended)
    time_field = params.first("time_field") or "last_modified"
    if time_field not in ("source", "data", "last_modified"):
        raise InvalidInput('"time_field" must be one of: source, data, last_modified', field="time_field")
    names = set(params.values("file_name"))
    deleted = params.first("is_deleted")
    is_deleted = None if deleted is None else parse_bool("is_deleted", deleted)

    def keep(file: FileRecord) -> bool:
        if names and file.file_name not in names:
            return False
        if is_deleted is not None and file.is_deleted != is_deleted:
            return False
        start_value, end_value = _file_time(file, time_field, "start"), _file_time(file, time_field, "end")
        if started and (start_value is None or start_value < started):
            return False
        return not (ended and (end_value is None or end_value > ended))

    return sorted((f for f in rows if keep(f)), key=lambda f: f.id)


def job_input_files(job_id: int, params: QueryParams) -> list[FileRecord]:
    if job_store.get_job(job_id) is None:
        raise NotFound()
    links = job_store.job_input_links(job_id)
    wanted_inputs = set(params.values("job_input"))
    ids = {link.file_id for link in links if not wanted_inputs or link.job_input in wanted_inputs}
    return filter_files(list(file_store.get_files(ids).values()), params)


def list_files(params: QueryParams, scope: Scope = EVERYTHING) -> list[FileRecord]:
    """Files the caller may see: those recorded under its projects (an admin: all)."""
    job_ids = int_list(params, "job_id")
    rows = file_store.files_of_jobs(job_ids) if job_ids else file_store.all_files()
    return filter_files([file for file in rows if scope.allows(file.project)], params)
