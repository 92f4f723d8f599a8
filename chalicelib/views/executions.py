"""v6 shapes of job executions."""
from __future__ import annotations

from chalicelib.domain import ExecutionRecord, JobTypeRecord
from chalicelib.timeutil import iso
from chalicelib.views.job_types import job_type_base


def execution_row(execution: ExecutionRecord, job_type: JobTypeRecord | None) -> dict:
    return {
        "id": execution.id,
        "status": execution.status,
        "exe_num": execution.exe_num,
        "cluster_id": execution.cluster_id,
        "created": iso(execution.created),
        "queued": iso(execution.queued),
        "started": iso(execution.started),
        "ended": iso(execution.ended),
        "job": {"id": execution.job_id},
        "node": ({"id": execution.node_id, "hostname": execution.node_hostname}
                 if execution.node_id is not None else None),
        "error": execution.error,
        "job_type": job_type_base(job_type),
        "timeout": execution.timeout,
        "input_file_size": execution.input_file_size,
        "job_exit_code": execution.exit_code,
        "last_modified": iso(execution.last_modified),
    }


def execution_details(execution: ExecutionRecord, job_type: JobTypeRecord | None, configuration: dict | None) -> dict:
    details = execution_row(execution, job_type)
    details.update({
        "task_results": execution.task_results,
        "resources": {"resources": execution.resources or {}},
        "configuration": configuration or {},
        "output": execution.output or {"output_data": []},
    })
    return details
