"""The OpenAPI 3 description of every route, kept beside the code; a test checks it against the
registered routes so the two cannot drift."""
from __future__ import annotations

import html
from functools import lru_cache
from typing import Any, Iterable

from chalicelib import api_inputs as inputs
from chalicelib.domain import ERROR_CATEGORIES, JOB_STATUSES
from chalicelib.params import Param

VERSION = "0.1.0"


def _params(declared: Iterable[Param]) -> list[dict[str, Any]]:
    """Parameters as the routes declare and check them (chalicelib.api_inputs)."""
    return [param.openapi() for param in declared]


def _path_id(name: str, what: str) -> dict[str, Any]:
    return inputs.path_id(name, what).openapi()


def _path_text(name: str, description: str, enum: tuple[str, ...] | None = None) -> dict[str, Any]:
    return Param(name, "string", description, location="path", enum=enum).openapi()


PAGING = _params(inputs.PAGING)
STATUSES = list(JOB_STATUSES)
CATEGORIES = list(ERROR_CATEGORIES)

ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description}
    if schema:
        body["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return body


def _op(summary: str, description: str, role: str | None, params: list[dict[str, Any]] | None = None,
        responses: dict[str, Any] | None = None, body: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": description + (f"\n\nNeeds the **{role}** role." if role else "\n\nPublic."),
        "parameters": params or [],
        "responses": {**(responses or {}), "400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR},
    }
    if role is None:
        operation["security"] = []
        for code in ("401", "403"):
            operation["responses"].pop(code)
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}}}}
    return operation


def _bulk_op(kind: str, description: str) -> dict[str, Any]:
    from chalicelib.services.bulk_jobs import BODIES
    operation = _op(f"Bulk {kind}", description + " Answers 202 with `Location` of the bulk operation that "
                    "tracks it (`dry_run`: 200 with the count). Unknown fields are refused (400), so a misspelt "
                    "filter never widens what is changed.", "operator",
                    responses={"202": _json("The bulk operation, RUNNING"), "200": _json("Dry run: the count"),
                               "413": ERROR, "415": ERROR})
    operation["requestBody"] = {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{BODIES[kind].name}"}}}}
    return operation


def _bulk_paths() -> dict[str, Any]:
    return {
        "/v6/jobs/cancel/": {"post": _bulk_op(
            "cancel", "Cancels the jobs the filter selects (the filters of `GET /v6/jobs/`, `started`/`ended` on "
            "last_modified) that are not COMPLETED or already CANCELED; a RUNNING job's execution ends CANCELED "
            "and its process is stopped.")},
        "/v6/jobs/requeue/": {"post": _bulk_op(
            "requeue", "Queues again the FAILED and CANCELED jobs the filter selects that are not superseded "
            "(`num_exes` + 1, `max_tries` = `num_exes` + the job type's `max_tries`, `priority` override).")},
        "/v6/jobs/bulk-operations/": {"get": _op(
            "Bulk operations", "Cancels and requeues, newest first: kind, filter, requested_by, reason, state "
            "(RUNNING, SUCCEEDED, FAILED), matched/changed/skipped counts, started/ended.", "viewer", PAGING,
            {"200": _json("A page of bulk operations", "Page")})},
        "/v6/jobs/bulk-operations/{operation_id}/": {"get": _op(
            "Bulk operation", "One bulk operation and its progress.", "viewer",
            [_path_id("operation_id", "bulk operation")], {"200": _json("The bulk operation")})},
    }


def _paths() -> dict[str, Any]:
    job_id = _path_id("job_id", "job")
    return {
        "/v6/jobs/": {
            "get": _op(
                "List jobs", "Jobs matching every given filter (values of one filter are ORed). Default order "
                "is last_modified ascending; ties break by id.", "viewer", _params(inputs.LIST_JOBS),
                {"200": _json("A page of jobs", "JobPage")}),
            "post": _op(
                "Queue a new job", "Body: `job_type_id` (required integer; unknown is 404, an inactive job type "
                "is 400), `input` (required Data JSON `{\"files\": {input: [file ids]}, \"json\": {input: "
                "value}}`, optional `\"version\"`: checked against the job type's Seed interface and the "
                "files; errors name the input), optional `configuration` (`priority` integer >= 1, lower runs "
                "first, default 100; `output_workspaces`, `mounts`, `settings`: merged over the job type's; "
                "unknown workspaces are 400) and optional `description` (at most 1024 characters). The job is "
                "pinned to the job type's current revision and queued at once: 201 with `Location` and the job "
                "details (`status` QUEUED, `num_exes` 1, `execution` null). With an `Idempotency-Key`, a repeat "
                "of the same request answers with the same job and creates nothing; the same key with another "
                "request is 409.", "submitter",
                [Param("Idempotency-Key", "string", "Optional, 1-255 characters, scoped to the caller and "
                       "remembered for 24 hours.", location="header", min_length=1, max_length=255).openapi()],
                {"201": _json("Queued: the job details", "JobDetails"), "409": ERROR, "413": ERROR, "415": ERROR},
                body="JobCreate")},
        "/v6/jobs/{job_id}/": {"get": _op(
            "Job details", "All list fields plus revision, resources, latest execution, input, output and "
            "the effective configuration (secret settings removed).", "viewer", [job_id],
            {"200": _json("The job", "JobDetails")})},
        "/v6/jobs/{job_id}/input_files/": {"get": _op(
            "Input files of a job", "Files the job uses as inputs.", "viewer",
            [job_id] + _params(inputs.JOB_INPUT_FILES),
            {"200": _json("A page of files", "Page")})},
        "/v6/jobs/{job_id}/executions/": {"get": _op(
            "Executions of a job", "Newest first. A job with no executions gives an empty page.", "viewer",
            [job_id] + _params(inputs.JOB_EXECUTIONS),
            {"200": _json("A page of executions", "Page")})},
        "/v6/jobs/{job_id}/executions/{exe_num}/": {"get": _op(
            "Execution details", "One execution with task results, resources, configuration and output.",
            "viewer", [job_id, _path_id("exe_num", "execution number")],
            {"200": _json("The execution")})},
        **_bulk_paths(),
        "/v6/job-executions/{execution_id}/logs/{log_id}/": {"get": _op(
            "Log of a job execution",
            "The execution's stdout, stderr or both merged (`combined`), in time order (`scale_order_num` "
            "orders lines sharing a millisecond). JSON (default) is the original's envelope `{\"hits\": "
            "{\"total\": N, \"hits\": [{\"_source\": {message, @timestamp, scale_order_num, scale_task (the "
            "execution id), scale_job_exe (its cluster id), scale_node, stream}}]}}`; `format=txt` is one "
            "message per line, `format=html` a page with stderr styled apart. 204 when the execution never "
            "started or has no lines; 404 for an unknown log id or a missing execution.", "viewer",
            [_path_id("execution_id", "job execution"),
             _path_text("log_id", "Which log.", inputs.LOG_IDS)] + _params(inputs.EXECUTION_LOG),
            {"200": {"description": "The log", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/LogHits"}},
                "text/plain": {"schema": {"type": "string"}}, "text/html": {"schema": {"type": "string"}}}},
             "204": {"description": "No log lines (or the execution never started)"}})},
        "/v6/job-types/": {
            "get": _op("List job types", "Sorted by name then version.", "viewer", _params(inputs.LIST_JOB_TYPES),
                {"200": _json("A page of job types", "Page")}),
            "post": _op("Create a job type", "A new name+version is 201 with `Location`; the same name+version "
                        "again stores a new revision and answers 200. The Seed manifest is validated; errors "
                        "name the bad field. Unknown fields are refused.", "operator",
                        responses={"201": _json("Created"), "200": _json("New revision"),
                                   "409": ERROR, "413": ERROR, "415": ERROR}, body="JobTypeCreate")},
        "/v6/job-types/running/": {"get": _op(
            "Running jobs per job type", "For each job type with RUNNING jobs: `{job_type, count, "
            "longest_running}` (`longest_running`: the earliest `started` among them). Most jobs first, then by "
            "name. Read from the RUNNING partition of the jobs' status index (never a scan): its entries only.",
            "viewer", PAGING, {"200": _json("A page of job types with running jobs", "Page")})},
        "/v6/queue/status/": {"get": _op(
            "Queued jobs per job type", "For each job type with QUEUED jobs: `{job_type, count, longest_queued, "
            "highest_priority}` (the earliest `queued`; the lowest priority number, which runs first). In "
            "dispatch order: highest priority first, then longest queued. Read from the QUEUED partition of the "
            "jobs' status index (never a scan): its cost grows with the queue, about 1,000 jobs a round trip.",
            "viewer", PAGING, {"200": _json("A page of job types with queued jobs", "Page")})},
        "/v6/job-types/{name}/": {"get": _op(
            "Versions of a job type", "Every version with this name.", "viewer",
            [_path_text("name", "Job type name.")] + PAGING,
            {"200": _json("A page of job types", "Page")})},
        "/v6/job-types/{name}/{version}/": {"get": _op(
            "Job type details", "The job type with its manifest and configuration.", "viewer",
            [_path_text("name", "Job type name."), _path_text("version", "Job type version.")],
            {"200": _json("The job type")})},
        "/v6/workspaces/": {
            "get": _op("List workspaces", "Every workspace.", "viewer", PAGING, {"200": _json("A page", "Page")}),
            "post": _op("Create a workspace", "A `host` (folder) or `s3` (bucket) broker.", "operator",
                        responses={"201": _json("Created"), "409": ERROR, "415": ERROR}, body="WorkspaceCreate")},
        "/v6/workspaces/{workspace_id}/": {"get": _op(
            "Workspace details", "One workspace.", "viewer", [_path_id("workspace_id", "workspace")],
            {"200": _json("The workspace")})},
        "/v6/files/": {
            "get": _op("List files", "Files, optionally those a job produced (`job_id`).", "viewer",
                       _params(inputs.LIST_FILES),
                       {"200": _json("A page of files", "Page")}),
            "post": _op("Register or upload a file", "Either `file_path` of a file already in the workspace, "
                        "or `file_name` + `content_base64` (at most 4 MiB; 413 above) to upload one.", "operator",
                        responses={"201": _json("Created"), "413": ERROR, "415": ERROR}, body="FileCreate")},
        "/v6/files/uploads/": {"post": _op(
            "Get a presigned upload URL", "For a file too large for `content_base64` (more than 4 MiB), in an `s3` "
            "workspace: `{method: PUT, upload_url, headers, workspace, file_path, expires}`. PUT the bytes to "
            "`upload_url` (with `headers`) within 15 minutes, then register the file with `POST /v6/files/` and "
            "that `file_path`: the record is created once the object is there. A `host` workspace is a 400.",
            "operator", responses={"201": _json("Where to PUT the file"), "415": ERROR}, body="UploadRequest")},
        "/v6/files/{file_id}/": {"get": _op(
            "File details", "One file.", "viewer", [_path_id("file_id", "file")], {"200": _json("The file")})},
        "/v1/jobs/history": {"get": _op(
            "Search the job history with RSQL",
            "Jobs in the history structure of the job-history spec, built from the same stored jobs `/v6` "
            "serves. `q` is RSQL (see docs/rsql.md): operators `== != =gt= > =ge= >= =lt= < =le= <= =in= =out=`, "
            "`;`/` and ` for AND, `,`/` or ` for OR, `*` at the start and/or end of a text value for LIKE; dates "
            "`yyyy/MM/dd[ HH:mm[:ss[.SSS]]]` with a required zone (`-0300`, `+03`). A caller who is not admin "
            "only ever sees the jobs of its own projects (the rule is ANDed into the parsed query). Errors are "
            "400 `{detail, field, position?}` in the chosen `locale`. Response: `{total, offset, limit, jobs, "
            "plan?}`.", "viewer", _params(inputs.HISTORY),
            {"200": _json("Matching jobs", "HistoryPage")})},
        "/v1/jobs/history/{job_id}": {"delete": _op(
            "Remove a job from the history",
            "Marks the job deleted for the history (`isDeleted` true; it stays searchable with `isDeleted==true`); "
            "the job itself stays in `/v6`. Only jobs of your projects (any, for an admin).", "submitter",
            [_path_id("job_id", "job")], {"204": {"description": "Marked deleted"}})},
        "/v6/version/": {"get": _op("Service version", "`{\"version\": ...}`.", "viewer",
                                    responses={"200": _json("The version")})},
        "/v6/scheduler/": {
            "get": _op("Scheduler state", "`is_paused`, `num_message_handlers`, `system_logging_level`.", "viewer",
                       responses={"200": _json("The scheduler")}),
            "patch": _op("Pause or resume dispatch", "Body `{\"is_paused\": true|false}` (and optionally "
                         "`system_logging_level`). While paused nothing is dispatched; running jobs go on. The "
                         "state survives restarts.", "operator", responses={"200": _json("The scheduler"),
                                                                           "415": ERROR}, body="SchedulerUpdate")},
        "/v6/status/": {"get": _op(
            "Cluster status", "The original's status object: `nodes` (each with `state`, `errors`, `warnings`, "
            "`resources.{cpus,mem,disk,gpus}.{offered,total,running,free,unavailable}` and `job_executions` running/"
            "completed/failed by category over the last 3 hours), top-level `resources` summed over every node "
            "(offline nodes' capacity is `unavailable`; `free` = total - running on active nodes; `offered` 0), "
            "`job_types`, `scheduler` with `state`, and `dependencies`; 204 before any node registered.", "viewer",
            responses={"200": _json("The status"), "204": {"description": "No node yet"}})},
        "/v6/job-types/status/": {"get": _op(
            "Job counts per job type", "For each job type with jobs last modified in the window (`started`, "
            "default the last 3 hours; `ended`), the jobs by status with the most recent change.", "viewer",
            _params(inputs.STATUS_WINDOW),
            {"200": _json("A page of job types with counts", "Page")})},
        "/openapi.json": {"get": _op("This document", "OpenAPI 3 description of the API.", None,
                                     responses={"200": _json("OpenAPI document")})},
        "/docs": {"get": _op("Readable API documentation", "This document as an HTML page.", None,
                             responses={"200": {"description": "HTML"}})},
    }


SCHEMAS = {
    "Error": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
    "Page": {"type": "object", "required": ["count", "next", "previous", "results"], "properties": {
        "count": {"type": "integer"}, "next": {"type": "string", "nullable": True},
        "previous": {"type": "string", "nullable": True}, "results": {"type": "array", "items": {}}}},
    "JobPage": {"allOf": [{"$ref": "#/components/schemas/Page"}]},
    "HistoryPage": {"type": "object", "required": ["total", "offset", "limit", "jobs"], "properties": {
        "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
        "jobs": {"type": "array", "items": {"type": "object"}}, "plan": {"type": "object"}}},
    "JobDetails": {"type": "object"},
    "LogHits": {"type": "object", "required": ["hits"], "properties": {"hits": {
        "type": "object", "required": ["total", "hits"], "properties": {
            "total": {"type": "integer"},
            "hits": {"type": "array", "items": {"type": "object", "required": ["_source"], "properties": {
                "_source": {"type": "object", "properties": {
                    "message": {"type": "string"}, "@timestamp": {"type": "string", "format": "date-time"},
                    "scale_order_num": {"type": "integer"}, "scale_task": {"type": "integer"},
                    "scale_job_exe": {"type": "string"}, "scale_node": {"type": "string", "nullable": True},
                    "stream": {"type": "string", "enum": ["stdout", "stderr"]}}}}}}}}}},
}


def _body_schemas() -> dict[str, Any]:
    """The request bodies, from the definitions their use cases check them with."""
    from chalicelib.services import bulk_jobs, console, files, job_types, queue_job
    specs = (queue_job.BODY, job_types.BODY, files.WORKSPACE_BODY, files.UPLOAD_BODY, files.FILE_BODY,
             console.SCHEDULER_BODY, *bulk_jobs.BODIES.values())
    return {spec.name: spec.json_schema() for spec in specs}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Job service", "version": VERSION,
                 "description": "The v6 Jobs API of a data-processing cluster, served serverless. "
                                "Errors are JSON `{\"detail\": ...}`. Every path also answers without its "
                                "trailing slash."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {**SCHEMAS, **_body_schemas()}},
        "paths": _paths(),
    }


def _kind(schema: dict[str, Any]) -> str:
    """A parameter's type in words: `integer`, `list of string`, `date-time or duration`..."""
    if schema.get("type") == "array":
        return f"list of {_kind(schema.get('items') or {})}"
    if "anyOf" in schema:
        kinds = [_kind(option) for option in schema["anyOf"] if option.get("enum") != [""]]
        return " or ".join(dict.fromkeys(kinds)) or "string"
    if schema.get("format") == "date-time":
        return "date-time"
    if "pattern" in schema and str(schema["pattern"]).startswith("^P("):
        return "duration"
    return str(schema.get("type") or "string")


def render_html(document: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no network): one section per operation."""
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(document['info']['title'])}"
           "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}code{background:#eee}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
           "</style></head><body>",
           f"<h1>{html.escape(document['info']['title'])}</h1><p>{html.escape(document['info']['description'])}"
           "</p><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a></p>"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            out.append(f"<h2><code>{method.upper()} {html.escape(path)}</code> — "
                       f"{html.escape(operation['summary'])}</h2><p>{html.escape(operation['description'])}</p>")
            if operation["parameters"]:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>meaning</th></tr>")
                for p in operation["parameters"]:
                    kind = _kind(p["schema"])
                    out.append(f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
                               f"<td>{kind}</td><td>{html.escape(p['description'])}</td></tr>")
                out.append("</table>")
            codes = ", ".join(sorted(operation["responses"]))
            out.append(f"<p>Responses: {codes}</p>")
    out.append("</body></html>")
    return "".join(out)
