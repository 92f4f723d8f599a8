"""Persistence of job executions."""
from __future__ import annotations

from chalicelib.models.tables import JobExecution


def executions_of(job_id: int) -> list[JobExecution]:
    """Newest first."""
    return list(JobExecution.query(job_id, scan_index_forward=False))


def get_execution(job_id: int, exe_num: int) -> JobExecution | None:
    try:
        return JobExecution.get(job_id, exe_num)
    except JobExecution.DoesNotExist:
        return None


def get_executions(keys) -> dict[tuple[int, int], JobExecution]:
    """The executions with these `(job_id, exe_num)` keys, in batched reads."""
    keys = set(keys)
    return {(execution.job_id, execution.exe_num): execution
            for execution in JobExecution.batch_get(keys)} if keys else {}


def get_execution_by_id(execution_id: int) -> JobExecution | None:
    for key in JobExecution.by_id.query(execution_id, limit=1):
        return get_execution(key.job_id, key.exe_num)
    return None


def save_execution(execution: JobExecution) -> JobExecution:
    execution.save()
    return execution
