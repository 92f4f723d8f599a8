"""Persistence of job executions."""
from __future__ import annotations

from typing import Iterable

from chalicelib.domain import ExecutionRecord
from chalicelib.models.tables import JobExecution, get_by_keys, get_or_none, to_item, to_record


def executions_of(job_id: int) -> list[ExecutionRecord]:
    """Newest first."""
    return [to_record(item, ExecutionRecord) for item in JobExecution.query(job_id, scan_index_forward=False)]


def get_execution(job_id: int, exe_num: int) -> ExecutionRecord | None:
    return get_or_none(JobExecution, ExecutionRecord, job_id, exe_num)


def get_executions(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], ExecutionRecord]:
    """The executions with these `(job_id, exe_num)` keys, in batched reads."""
    return get_by_keys(JobExecution, ExecutionRecord, keys, lambda execution: (execution.job_id, execution.exe_num))


def get_execution_by_id(execution_id: int) -> ExecutionRecord | None:
    for key in JobExecution.by_id.query(execution_id, limit=1):
        return get_execution(key.job_id, key.exe_num)
    return None


def insert_execution(execution: ExecutionRecord) -> ExecutionRecord:
    """Write an execution as it is (seeding and tests; dispatch creates executions as it claims)."""
    to_item(execution, JobExecution).save()
    return execution
