"""v6 shapes of jobs: the list row and the details."""
from __future__ import annotations

from typing import Any

from chalicelib.domain import JobRecord, JobTypeRecord
from chalicelib.timeutil import iso
from chalicelib.views.job_types import job_type_base, job_type_rev_summary


def _node(job: JobRecord) -> dict[str, Any] | None:
    return {"id": job.node_id, "hostname": job.node_hostname} if job.node_id is not None else None


def superseded_summary(job: JobRecord | None, job_type: JobTypeRecord | None) -> dict | None:
    if job is None:
        return None
    return {"id": job.id, "job_type": job_type_base(job_type), "status": job.status}


def job_row(job: JobRecord, job_type: JobTypeRecord | None, superseded_job: dict | None = None) -> dict:
    """A `GET /v6/jobs/` result, in the spec's field order."""
    return {
        "id": job.id,
        "job_type": job_type_base(job_type),
        "job_type_rev": job_type_rev_summary(job),
        "event": job.event,
        "recipe": job.recipe,
        "batch": job.batch,
        "is_superseded": job.is_superseded,
        "superseded_job": superseded_job,
        "status": job.status,
        "node": _node(job),
        "error": job.error,
        "num_exes": job.num_exes,
        "max_tries": job.max_tries,
        "input_file_size": job.input_file_size,
        "input_files": job.input_files or {},
        "source_started": iso(job.source_started),
        "source_ended": iso(job.source_ended),
        "source_sensor_class": job.source_sensor_class,
        "source_sensor": job.source_sensor,
        "source_collection": job.source_collection,
        "source_task": job.source_task,
        "created": iso(job.created),
        "queued": iso(job.queued),
        "started": iso(job.started),
        "ended": iso(job.ended),
        "last_status_change": iso(job.last_status_change),
        "superseded": iso(job.superseded),
        "last_modified": iso(job.last_modified),
    }


def job_details(job: JobRecord, *, job_type: JobTypeRecord | None, job_type_rev: dict, superseded_job: dict | None,
                superseded_by_job: dict | None, resources: dict, execution: dict | None,
                input_data: dict, output_data: dict | None, configuration: dict, timeout: int | None = None) -> dict:
    """`configuration.priority` is the job's own priority, what it is queued and run with: a requeue with a
    priority changes the job (in its one conditional write), not the configuration stored at creation.
    `timeout` is the manifest's, in seconds (the console shows it in the overview)."""
    row = job_row(job, job_type, superseded_job)
    details = {
        "id": row["id"],
        "job_type": row["job_type"],
        "job_type_rev": job_type_rev,
        "event": row["event"],
        "recipe": row["recipe"],
        "batch": row["batch"],
        "is_superseded": row["is_superseded"],
        "superseded_job": superseded_job,
        "superseded_by_job": superseded_by_job,
        "status": row["status"],
        "node": row["node"],
        "resources": {"resources": resources},
        "error": row["error"],
        "max_tries": job.max_tries,
        "num_exes": job.num_exes,
        "timeout": timeout,
        "execution": execution,
        "input": {"files": input_data.get("files", {}), "json": input_data.get("json", {})},
        "input_file_size": job.input_file_size,
        "input_files": row["input_files"],
        "output": {"files": (output_data or {}).get("files", {}),
                   "json": (output_data or {}).get("json", {})},
    }
    for key in ("source_started", "source_ended", "source_sensor_class", "source_sensor", "source_collection",
                "source_task", "created", "queued", "started", "ended", "last_status_change", "superseded",
                "last_modified"):
        details[key] = row[key]
    details["configuration"] = {**configuration, "priority": job.priority}
    return details
