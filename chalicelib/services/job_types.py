"""Register job types (`POST /v6/job-types/`) and read them back."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.domain import JobTypeRecord
from chalicelib.errors import InvalidInput, NotFound, PayloadTooLarge
from chalicelib.models import catalog, files
from chalicelib.params import Body, BodySpec, Field, QueryParams, int_list, optional_bool
from chalicelib.seed import Manifest, job_type_errors, validate_configuration, validate_manifest, workspaces_used
from chalicelib.seed.data import json_size

BODY = BodySpec("JobTypeCreate", (
    Field("docker_image", "string", "The image the job runs in.", required=True, max_length=1024, pattern=r"\S"),
    Field("manifest", "object", "Seed manifest (seedVersion 1.0.0), validated against the Seed schema; errors name "
          "the field.", required=True),
    Field("configuration", "object", "Default configuration of the jobs (`output_workspaces`, `mounts`, "
          "`settings`, `priority`), checked against the manifest."),
    Field("is_active", "boolean"), Field("is_paused", "boolean"),
    Field("max_scheduled", "integer", "Jobs of this type running at once.", minimum=1),
    Field("max_tries", "integer", "Tries of a job before it stays FAILED.", minimum=1),
    Field("icon_code", "string", max_length=16), Field("is_published", "boolean"),
), ignored=("auto_update",))
JOB_TYPE_FIELDS = BODY.field_names()
# A job type is one DynamoDB item (at most 400 KB) holding its manifest, its configuration and, again, the
# manifest's title and description: sizes as UTF-8 JSON, checked before anything is written.
MAX_MANIFEST_BYTES = 128 * 1024
MAX_DESCRIPTION_BYTES = 32 * 1024
MAX_CONFIGURATION_BYTES = 64 * 1024


@dataclass
class Registered:
    job_type: JobTypeRecord
    created: bool


def register_job_type(body: dict[str, Any], principal: Principal, project: str | None) -> Registered:
    fields = Body(body, BODY)
    docker_image = fields.string("docker_image", required=True)
    _check_sizes(body)
    manifest = validate_manifest(fields.obj("manifest", required=True))
    configuration = validate_configuration(fields.obj("configuration"), manifest)
    _check_runner_fit(manifest)
    missing = sorted(name for name in workspaces_used(configuration) if files.get_workspace(name) is None)
    if missing:
        raise InvalidInput(f'Unknown workspace in "configuration.output_workspaces": {missing[0]}',
                           field="configuration.output_workspaces")
    optional = {
        "is_active": fields.boolean("is_active"),
        "is_paused": fields.boolean("is_paused"),
        "max_scheduled": fields.integer("max_scheduled", minimum=1),
        "max_tries": fields.integer("max_tries", minimum=1),
        "icon_code": fields.string("icon_code", max_length=16),
        "is_published": fields.boolean("is_published"),
    }
    given: dict[str, Any] = {key: value for key, value in optional.items() if key in body}
    if "configuration" in body:
        given["configuration"] = configuration
    values = {"docker_image": docker_image, "manifest": body["manifest"], "title": manifest.title,
              "description": manifest.description}
    now = clock.now()
    catalog.register_job_type_errors(job_type_errors(manifest), now)
    existing = catalog.find_job_type(manifest.name, manifest.job_version)
    if existing is not None:
        # A new revision changes what the request gives and keeps everything else (as the original did).
        changes = {**values, **given}
        _stamp_state_changes(changes, existing, now)
        return Registered(catalog.add_revision(existing, changes, now), created=False)
    defaults = {"is_active": True, "is_paused": False, "max_tries": 3, "is_published": False,
                "configuration": configuration}
    new_type: dict[str, Any] = {"name": manifest.name, "version": manifest.job_version, "owner": principal.name,
                                "project": project, **defaults, **values, **given}
    new_type["paused"] = now if new_type["is_paused"] else None
    new_type["deprecated"] = None if new_type["is_active"] else now
    return Registered(catalog.create_job_type(new_type, now), created=True)


def _check_runner_fit(manifest: Manifest) -> None:
    """With the ECS runner, a job type no Fargate task can run (GPUs, mounts, custom resources, more than the
    largest size) is refused with a 400 naming the resource, rather than queueing jobs that never run."""
    from chalicelib.config import get_settings
    if get_settings().runner != "ecs":
        return
    from chalicelib.runners.ecs import fit_problem
    unfit = fit_problem(manifest)
    if unfit is None:
        return
    field = ("manifest.job.interface.mounts" if unfit.resource == "mounts"
             else f"manifest.job.resources.scalar.{unfit.resource}")
    raise InvalidInput(f'Invalid "{field}": this job type cannot run as an ECS Fargate task: {unfit.detail}',
                       field=field)


def _check_sizes(body: dict[str, Any]) -> None:
    """413 naming the field when the job type could not be stored in one item (DynamoDB refuses the write,
    which must never be read as anything else)."""
    raw = body.get("manifest")
    job = raw.get("job") if isinstance(raw, dict) else None
    description = job.get("description") if isinstance(job, dict) else None
    if isinstance(description, str):
        _limit(description, "manifest.job.description", MAX_DESCRIPTION_BYTES)
    if raw is not None:
        _limit(raw, "manifest", MAX_MANIFEST_BYTES)
    if body.get("configuration") is not None:
        _limit(body["configuration"], "configuration", MAX_CONFIGURATION_BYTES)


def _limit(value: Any, field: str, limit: int) -> None:
    size = len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else json_size(value)
    if size > limit:
        raise PayloadTooLarge(f'"{field}" is {size} bytes, more than the {limit} bytes ({limit // 1024} KiB) a job '
                              "type may hold")


def _stamp_state_changes(changes: dict[str, Any], job_type: JobTypeRecord, now: datetime) -> None:
    """`paused` records when a job type was paused, `deprecated` when it was made inactive."""
    if "is_paused" in changes and changes["is_paused"] != job_type.is_paused:
        changes["paused"] = now if changes["is_paused"] else None
    if "is_active" in changes and changes["is_active"] != job_type.is_active:
        changes["deprecated"] = None if changes["is_active"] else now


def list_job_types(params: QueryParams) -> list[JobTypeRecord]:
    is_active = optional_bool(params, "is_active")
    is_system = optional_bool(params, "is_system")
    names = set(params.values("name"))
    ids = set(int_list(params, "id"))
    keyword = (params.first("keyword") or "").lower()
    rows = [
        jt for jt in catalog.all_job_types()
        if (is_active is None or jt.is_active == is_active) and (is_system is None or jt.is_system == is_system)
        and (not names or jt.name in names) and (not ids or jt.id in ids)
        and (not keyword or keyword in " ".join(filter(None, (jt.name, jt.title, jt.description))).lower())
    ]
    return sorted(rows, key=lambda jt: (jt.name, _version_key(jt.version), jt.id))


def _version_key(version: str) -> list[tuple[int, int, str]]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.replace("-", ".").split(".")]


def get_job_type(name: str, version: str) -> JobTypeRecord:
    job_type = catalog.find_job_type(name, version)
    if job_type is None:
        raise NotFound()
    return job_type


def versions_of(name: str) -> list[JobTypeRecord]:
    rows = [catalog.get_job_type(i) for i in catalog.job_type_ids_named([name])]
    found = [jt for jt in rows if jt is not None]
    if not found:
        raise NotFound()
    return sorted(found, key=lambda jt: _version_key(jt.version))
