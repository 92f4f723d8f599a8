"""Queue a new job (`POST /v6/jobs/`): validate, store it QUEUED, ask for its dispatch.

1. check  - the body's fields; the job type (404 unknown, 400 inactive) and the manifest of its current
            revision; the input against the manifest's interface and the files it names; the job's
            configuration merged over the job type's, and the workspaces the result names. Every
            refusal is a 400 naming the field, raised before anything is written.
2. store  - one transaction writes the job (QUEUED, execution 1, pinned to the revision), its data
            (input, effective configuration with secrets: every view redacts them), its input links
            and its USER trigger event. Nothing is half-written.
3. signal - a dispatch message `{job_id, exe_num, priority}` goes to the dispatch queue. A failed
            send does not fail the request: the job is stored, and the sweep re-sends dispatch
            messages for QUEUED jobs that were never dispatched (the table is the truth).

With an `Idempotency-Key`, steps 1-3 run once per (caller, key): a repeat of the same request
returns the first job's id, another request under the same key is a 409 (`chalicelib.models.idempotency`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import clock, queues
from chalicelib.auth import Principal
from chalicelib.domain import EventRecord, FileRecord, JobDataRecord, JobRecord, JobTypeRecord, RevisionRecord
from chalicelib.errors import Forbidden, InvalidInput, NotFound
from chalicelib.models import catalog, files, idempotency
from chalicelib.models import jobs as job_store
from chalicelib.models.counters import MAX_ITEMS_PER_INSERT as MAX_COUNTER_ITEMS
from chalicelib.models.ids import next_id
from chalicelib.params import Body, BodySpec, Field
from chalicelib.seed import Manifest, merge_configuration, requested_file_ids, validate_job_input
from chalicelib.timeutil import iso
from chalicelib.views.history import input_parameters

logger = Logger(service="jobs")

MAX_DESCRIPTION = 1024
BODY = BodySpec("JobCreate", (
    Field("job_type_id", "integer", "The job type to run (unknown: 404; inactive: 400).", required=True, minimum=0),
    Field("input", "object", "Data JSON: `files` (input name -> file ids) and `json` (input name -> value), "
          "checked against the job type's Seed interface.", required=True, schema={
              "additionalProperties": False, "properties": {
                  "files": {"type": "object", "additionalProperties": {
                      "type": "array", "items": {"type": "integer"}, "minItems": 1}},
                  "json": {"type": "object"}, "version": {"type": "string", "enum": ["6", "7"]}}}),
    Field("configuration", "object", "`priority` (integer >= 1, lower runs first, default 100), "
          "`output_workspaces`, `mounts`, `settings`: merged over the job type's.", schema={
              "additionalProperties": False, "properties": {
                  "priority": {"type": "integer", "minimum": 1, "default": 100},
                  "output_workspaces": {"type": "object", "properties": {
                      "default": {"type": "string"},
                      "outputs": {"type": "object", "additionalProperties": {"type": "string"}}}},
                  "mounts": {"type": "object"},
                  "settings": {"type": "object", "additionalProperties": {"type": "string"}}}}),
    Field("description", "string", "Free text.", max_length=MAX_DESCRIPTION),
))
BODY_FIELDS = BODY.field_names()
# A transaction holds at most 100 items: the job, its data, its event, its counters (at most 14 items,
# chalicelib.models.counters) and one link per input file.
MAX_INPUT_FILES = 100 - 3 - MAX_COUNTER_ITEMS
MIB = 1024 * 1024


@dataclass(frozen=True)
class Submitted:
    """A submission's job id, and what was stored when this call queued it (None when an idempotent repeat
    answered with a job queued earlier): enough to answer the POST without reading the job back."""

    job_id: int
    stored: Stored | None = None


@dataclass(frozen=True)
class Stored:
    job: JobRecord
    data: JobDataRecord
    job_type: JobTypeRecord
    revision: RevisionRecord | None


def queue_job(body: dict[str, Any], principal: Principal, project: str | None,
              idempotency_key: str | None = None) -> int:
    """Queue the job `body` describes for `principal` under `project`; returns its id."""
    return submit_job(body, principal, project, idempotency_key).job_id


def submit_job(body: dict[str, Any], principal: Principal, project: str | None,
               idempotency_key: str | None = None) -> Submitted:
    """`queue_job`, keeping what it stored for the answer."""
    if project is None:  # nobody but an admin could ever see it
        raise Forbidden("A job belongs to a project, and the caller has none: ask for one, or send X-Jobs-Project.")
    key = idempotency.check_key(idempotency_key)
    if key is None:
        return _queue(body, principal, project)
    # The project shapes the job as much as the body does: a repeat must name the same one.
    request = {"body": body, "project": project}
    queued: list[Submitted] = []

    def queue_once() -> dict[str, Any]:
        queued.append(_queue(body, principal, project))
        return {"job_id": queued[0].job_id}
    result = idempotency.run_once(principal.name, key, request, queue_once)
    return queued[0] if queued else Submitted(int(result["job_id"]))


def _queue(body: dict[str, Any], principal: Principal, project: str | None) -> Submitted:
    checked = _check(body)
    new = _new_job(checked, principal, project, clock.now())
    job_store.insert_queued_job(new)
    job = new.job
    try:
        queues.send_dispatch(job.id, job.num_exes, job.priority)
    except queues.QueueSendError as error:
        logger.warning("dispatch message not sent; the sweep will re-send it",
                       extra={"job_id": job.id, "exe_num": job.num_exes, "error": str(error.__cause__ or error)})
    return Submitted(job.id, Stored(job, new.data, checked.job_type, checked.revision))


# --- 1. check ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Checked:
    """Everything a valid request resolved to."""

    job_type: JobTypeRecord
    revision: RevisionRecord | None       # None: the job type's own manifest (a type stored before revisions)
    revision_num: int
    revision_id: int
    manifest: Manifest
    input_data: dict[str, Any]            # normalised Data JSON: {"files", "json"}
    configuration: dict[str, Any]         # effective (merged) configuration, secrets included
    input_files: dict[int, FileRecord]    # the files the input names, by id
    description: str | None


def _check(body: dict[str, Any]) -> _Checked:
    fields = Body(body, BODY)
    job_type_id = fields.integer("job_type_id", required=True)
    assert job_type_id is not None  # required=True: Body.integer raises rather than return None
    raw_input = fields.obj("input", required=True)
    raw_configuration = fields.obj("configuration")
    description = fields.string("description", max_length=MAX_DESCRIPTION)

    job_type = catalog.get_job_type(job_type_id)
    if job_type is None:
        raise NotFound(f'Not found: no job type has id {job_type_id} ("job_type_id").')
    if not job_type.is_active:
        raise InvalidInput(f'Job type {job_type.name} {job_type.version} is not active: "job_type_id"',
                           field="job_type_id")
    revision = catalog.get_revision(job_type.id, job_type.revision_num)
    manifest = Manifest.from_validated(revision.manifest if revision is not None else job_type.manifest)

    wanted = requested_file_ids(raw_input)
    if len(wanted) > MAX_INPUT_FILES:
        raise InvalidInput(f"input.files: at most {MAX_INPUT_FILES} files a job", field="input.files")
    found = files.get_files(wanted)
    input_data = validate_job_input(manifest, raw_input, set(found))
    if sum(len(set(ids)) for ids in input_data["files"].values()) > MAX_INPUT_FILES:
        raise InvalidInput(f"input.files: at most {MAX_INPUT_FILES} files a job", field="input.files")
    for name, ids in input_data["files"].items():
        deleted = [file_id for file_id in ids if found[file_id].is_deleted]
        if deleted:
            raise InvalidInput(f"input.files.{name}: file {deleted[0]} is deleted", field=f"input.files.{name}")

    configuration = merge_configuration(job_type.configuration, raw_configuration, manifest)
    _check_workspaces(configuration)
    return _Checked(job_type, revision, job_type.revision_num, job_type.revision_id, manifest, dict(input_data),
                    configuration, found, description)


def _check_workspaces(configuration: dict[str, Any]) -> None:
    workspaces = configuration["output_workspaces"]
    named = [("configuration.output_workspaces.default", workspaces.get("default"))]
    named += [(f"configuration.output_workspaces.outputs.{output}", name)
              for output, name in sorted(workspaces["outputs"].items())]
    for path, name in named:
        if name is not None and files.get_workspace(name) is None:
            raise InvalidInput(f'Unknown workspace in "{path}": {name}', field=path)


# --- 2. store ----------------------------------------------------------------------------------------

def _new_job(checked: _Checked, principal: Principal, project: str | None, now: datetime) -> job_store.NewJob:
    job_type, input_data = checked.job_type, checked.input_data
    job_id, event_id = next_id("job"), next_id("event")
    event = EventRecord(id=event_id, type="USER", occurred=now, description={"user": principal.name})
    used = [checked.input_files[file_id] for ids in input_data["files"].values() for file_id in ids]
    unique = {file.id: file for file in used}
    job = JobRecord(
        id=job_id, status="QUEUED",
        job_type_id=job_type.id, job_type_name=job_type.name, job_type_version=job_type.version,
        job_type_rev_id=checked.revision_id, job_type_revision_num=checked.revision_num,
        job_type_title=checked.manifest.title,
        event={"id": event.id, "type": event.type, "occurred": iso(now)},
        num_exes=1, max_tries=job_type.max_tries, priority=checked.configuration["priority"],
        input_file_size=float(sum(file.file_size for file in unique.values())) / MIB,
        input_files={name: [checked.input_files[i].file_name for i in ids]
                     for name, ids in input_data["files"].items()},
        created=now, queued=now, last_status_change=now, last_modified=now,
        owner=principal.name, project=project, description=checked.description,
        timeline=[{"status": "QUEUED", "at": iso(now), "exe_num": 1}],
        parameters=input_parameters(checked.manifest, input_data, unique),
        **_source_fields(list(unique.values())),
    )
    data = JobDataRecord(job_id=job_id, input=input_data, configuration=checked.configuration)
    links = [job_store.input_link(job_id, name, file_id)
             for name, ids in input_data["files"].items() for file_id in dict.fromkeys(ids)]
    return job_store.NewJob(job, data, links, event)


def _source_fields(input_files: list[FileRecord]) -> dict[str, Any]:
    """The job's source metadata, from its input files (as the original did): the earliest start,
    the latest end, and the first sensor class, sensor, collection and task given."""
    fields: dict[str, Any] = {}
    starts = [f.source_started for f in input_files if f.source_started is not None]
    ends = [f.source_ended for f in input_files if f.source_ended is not None]
    if starts:
        fields["source_started"] = min(starts)
    if ends:
        fields["source_ended"] = max(ends)
    for name in ("source_sensor_class", "source_sensor", "source_collection", "source_task"):
        value = next((getattr(f, name) for f in input_files if getattr(f, name)), None)
        if value is not None:
            fields[name] = value
    return fields
