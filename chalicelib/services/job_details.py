"""Job details and executions: `GET /v6/jobs/{id}/`, `.../executions/`, `.../executions/{exe_num}/`."""
from __future__ import annotations

from typing import Any

from chalicelib.domain import (
    ERROR_CATEGORIES,
    EVERYTHING,
    EXECUTION_STATUSES,
    ExecutionRecord,
    JobDataRecord,
    JobRecord,
    JobTypeRecord,
    RevisionRecord,
    Scope,
)
from chalicelib.errors import NotFound
from chalicelib.models import catalog, executions
from chalicelib.models import jobs as job_store
from chalicelib.params import QueryParams, choice_list, int_list
from chalicelib.seed import Manifest, job_resources, redact_secrets
from chalicelib.views.executions import execution_details, execution_row
from chalicelib.views.job_types import job_type_rev_details
from chalicelib.views.jobs import job_details, superseded_summary


def _manifest_of(revision: RevisionRecord | None, job_type: JobTypeRecord | None) -> Manifest | None:
    source = revision.manifest if revision is not None else (job_type.manifest if job_type else None)
    return Manifest.from_validated(source) if source else None


def visible_job(job_id: int, scope: Scope, consistent: bool = False) -> JobRecord:
    """The job, when it exists and the caller may see it; otherwise 404 (another project's job does not exist
    for the caller, so its id reveals nothing)."""
    job = job_store.get_job(job_id, consistent)
    if job is None or not scope.allows(job.project):
        raise NotFound()
    return job


def visible_execution_job(execution_id: int, scope: Scope) -> JobRecord:
    """The job of an execution (its logs are read by execution id), under the same rule."""
    execution = executions.get_execution_by_id(execution_id)
    if execution is None:
        raise NotFound()
    return visible_job(execution.job_id, scope)


def get_job_details(job_id: int, consistent: bool = False, scope: Scope = EVERYTHING) -> dict:
    """`consistent`: read the job and its data strongly consistently (right after writing them)."""
    job = visible_job(job_id, scope, consistent)
    linked = job_store.get_jobs(i for i in (job.superseded_job_id, job.superseded_by_job_id) if i is not None)
    job_types = catalog.get_job_types({job.job_type_id} | {j.job_type_id for j in linked.values()})
    revision = catalog.get_revision(job.job_type_id, job.job_type_revision_num)
    data = job_store.get_job_data(job.id, consistent)
    # A job waiting in the queue has no execution numbered num_exes yet.
    waiting = job.status in ("PENDING", "BLOCKED", "QUEUED")
    latest = executions.get_execution(job.id, job.num_exes) if job.num_exes and not waiting else None
    return _details(job, data, job_types, revision, linked, latest)


def new_job_details(job: JobRecord, data: JobDataRecord, job_type: JobTypeRecord,
                    revision: RevisionRecord | None) -> dict:
    """The details of a job just queued, from what was written (a new job has no execution and supersedes
    nothing): the same answer as `get_job_details` without reading the job back."""
    return _details(job, data, {job_type.id: job_type}, revision, {}, None)


def _details(job: JobRecord, data: JobDataRecord | None, job_types: dict[int, JobTypeRecord],
             revision: RevisionRecord | None, linked: dict[int, JobRecord], latest: ExecutionRecord | None) -> dict:
    job_type = job_types.get(job.job_type_id)
    manifest = _manifest_of(revision, job_type)
    configuration = _redacted(data.configuration if data else {}, manifest)

    def linked_summary(other_id: int | None) -> dict[str, Any] | None:
        other = linked.get(other_id) if other_id is not None else None
        return superseded_summary(other, job_types.get(other.job_type_id) if other else None)

    execution = None
    if latest is not None:
        execution = execution_details(latest, job_type, _redacted(latest.configuration, manifest))
    return job_details(
        job,
        job_type=job_type,
        job_type_rev=job_type_rev_details(revision, job_type, job),
        superseded_job=linked_summary(job.superseded_job_id),
        superseded_by_job=linked_summary(job.superseded_by_job_id),
        resources=job_resources(manifest, job.input_file_size) if manifest else {},
        execution=execution,
        input_data=data.input if data else {},
        output_data=data.output if data else None,
        configuration=configuration,
        timeout=manifest.timeout if manifest else None,
    )


def _redacted(configuration: dict[str, Any] | None, manifest: Manifest | None) -> dict[str, Any]:
    """Secret settings removed, at the top level and in each task of an execution configuration."""
    if not configuration:
        return {}
    if manifest is None:
        return configuration
    result = redact_secrets(configuration, manifest)
    if isinstance(result.get("tasks"), list):
        result["tasks"] = [redact_secrets(t, manifest) if isinstance(t, dict) else t for t in result["tasks"]]
    return result


def list_executions(job_id: int, params: QueryParams, scope: Scope = EVERYTHING) -> list[dict]:
    visible_job(job_id, scope)
    statuses = choice_list(params, "status", EXECUTION_STATUSES)
    node_ids = int_list(params, "node_id")
    error_ids = int_list(params, "error_id")
    categories = choice_list(params, "error_category", ERROR_CATEGORIES)
    rows = [
        e for e in executions.executions_of(job_id)
        if (not statuses or e.status in statuses) and (not node_ids or e.node_id in node_ids)
        and (not error_ids or e.error_id in error_ids) and (not categories or e.error_category in categories)
    ]
    job_types = catalog.get_job_types({e.job_type_id for e in rows})
    return [execution_row(e, job_types.get(e.job_type_id)) for e in rows]


def get_execution(job_id: int, exe_num: int, scope: Scope = EVERYTHING) -> dict:
    job = visible_job(job_id, scope)
    execution = executions.get_execution(job_id, exe_num)
    if execution is None:
        raise NotFound()
    job_type = catalog.get_job_type(execution.job_type_id)
    revision = catalog.get_revision(job.job_type_id, job.job_type_revision_num)
    manifest = _manifest_of(revision, job_type)
    return execution_details(execution, job_type, _redacted(execution.configuration, manifest))
