"""Persistence of job executions."""
from __future__ import annotations

from chalicelib.models.tables import JobExecution, get_by_keys, get_or_none


def executions_of(job_id: int) -> list[JobExecution]:
    """Newest first."""
    return list(JobExecution.query(job_id, scan_index_forward=False))


def get_execution(job_id: int, exe_num: int) -> JobExecution | None:
    return get_or_none(JobExecution, job_id, exe_num)


def get_executions(keys) -> dict[tuple[int, int], JobExecution]:
    """The executions with these `(job_id, exe_num)` keys, in batched reads."""
    return get_by_keys(JobExecution, keys, lambda execution: (execution.job_id, execution.exe_num))


def get_execution_by_id(execution_id: int) -> JobExecution | None:
    for key in JobExecution.by_id.query(execution_id, limit=1):
        return get_execution(key.job_id, key.exe_num)
    return None


def save_execution(execution: JobExecution) -> JobExecution:
    execution.save()
    return execution
