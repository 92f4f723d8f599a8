"""What happens when an execution reports: its phases, and its end.

The end is one transaction (`job_state.end_execution`): the execution's result and the job's fate -
COMPLETED; FAILED with its error; or, when the error should be retried, the job has tries left and
is not superseded, QUEUED again as execution `exe_num + 1`, held back by exponential backoff with full
jitter and woken by a delayed dispatch message. Outputs become files linked to the job and execution.
A report for an execution that already ended (duplicate, late, or after a cancel) changes nothing.
"""
from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.domain import (
    ExecutionEnd,
    ExecutionRecord,
    FileRecord,
    JobDataRecord,
    JobOutcome,
    JobRecord,
    RevisionRecord,
)
from chalicelib.errors import StaleUpdate
from chalicelib.models import catalog, executions, files, job_state
from chalicelib.models import jobs as job_store
from chalicelib.seed import ErrorDefinition, Manifest, builtin_error, error_definition_for_exit_code
from chalicelib.timeutil import iso

if TYPE_CHECKING:
    from chalicelib.runners.base import ExecutionResult, ExecutionSpec

logger = logging.getLogger("jobs.executions")
BUILTIN_FAILURES = ("timeout", "missing-required-output", "unexpected-multiple-outputs", "invalid-results-manifest",
                    "filesystem-io", "missing-setting", "missing-mount", "task-launch", "node-lost")


def build_spec(job: JobRecord, execution: ExecutionRecord, manifest: Manifest, revision: RevisionRecord | None,
               data: JobDataRecord | None) -> ExecutionSpec:
    """Everything a runner needs to run one execution, resolved from the store."""
    from chalicelib.runners.base import ExecutionSpec, InputFile, OutputWorkspace
    input_data = data.input if data else {}
    configuration = data.configuration if data else {}
    wanted = {file_id for ids in input_data.get("files", {}).values() for file_id in ids}
    stored = files.get_files(wanted)
    brokers: dict[str, dict[str, Any] | None] = {}

    def broker(name: str) -> dict[str, Any]:
        if name not in brokers:
            workspace = files.get_workspace(name)
            brokers[name] = workspace.configuration if workspace else None
        found = brokers[name]
        if found is None:
            raise LookupError(f"workspace {name} no longer exists")
        return found

    file_inputs = {
        name: tuple(InputFile(file_id=f.id, file_name=f.file_name, file_path=f.file_path,
                              workspace=f.workspace_name, broker=broker(f.workspace_name))
                    for f in (stored[i] for i in ids if i in stored))
        for name, ids in input_data.get("files", {}).items()}
    workspaces = configuration.get("output_workspaces", {})
    outputs = {}
    for output in manifest.file_outputs:
        name = workspaces.get("outputs", {}).get(output.name) or workspaces.get("default")
        if name:
            outputs[output.name] = OutputWorkspace(name=name, broker=broker(name))
    return ExecutionSpec(
        job_id=job.id, exe_num=execution.exe_num, execution_id=execution.id, cluster_id=execution.cluster_id,
        job_type_name=job.job_type_name, job_type_version=job.job_type_version,
        docker_image=revision.docker_image if revision else "", manifest=manifest.raw,
        file_inputs=file_inputs, json_inputs=input_data.get("json", {}),
        settings=configuration.get("settings", {}), mounts=configuration.get("mounts", {}),
        resources=execution.resources or {}, timeout_seconds=int(manifest.timeout),
        output_workspaces=outputs)


def on_phase(job_id: int, exe_num: int, phase: str, at: datetime) -> bool:
    try:
        job_state.record_phase(job_id, exe_num, phase, at)
        return True
    except StaleUpdate:
        return False


def _error_base(definition: ErrorDefinition, job_type_name: str | None) -> dict[str, Any]:
    if definition.is_builtin:
        error_id = definition.id
    else:
        stored = catalog.find_error(definition.name, job_type_name)
        error_id = stored.id if stored else builtin_error("algorithm-unknown").id
    return {"id": error_id, "name": definition.name, "title": definition.title,
            "description": definition.description, "job_type_name": definition.job_type_name,
            "category": definition.category, "is_builtin": definition.is_builtin,
            "should_be_retried": definition.should_be_retried}


def error_for(failure: str, exit_code: int | None, manifest: Manifest | None) -> ErrorDefinition:
    """The error definition a runner's failure maps to."""
    if failure == "exit-code" and manifest is not None and exit_code is not None:
        return error_definition_for_exit_code(manifest, exit_code) or builtin_error("algorithm-unknown")
    if failure in BUILTIN_FAILURES:
        return builtin_error(failure)
    return builtin_error("unknown")


def backoff_seconds(attempt: int) -> float:
    """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))], at least one second."""
    settings = get_settings()
    ceiling = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(attempt - 1, 0))
    return max(1.0, random.uniform(0, ceiling))


def on_finished(job_id: int, exe_num: int, result: ExecutionResult, now: datetime | None = None) -> str | None:
    """Record an execution's end (a runner's `ExecutionResult`); returns the job's new status, or None
    when the report was stale."""
    now = now or clock.now()
    job = job_store.get_job(job_id, consistent=True)
    if job is None or job.num_exes != exe_num:
        return None
    if job.status != "RUNNING" and result.failure != "canceled":
        return None  # ended already: a repeated end report (an ECS event delivered twice) registers nothing
    if result.failure == "canceled":
        return _end_canceled(job_id, exe_num, result, now)
    error = None
    if result.failure:
        revision = catalog.get_revision(job.job_type_id, job.job_type_revision_num)
        manifest = Manifest.from_validated(revision.manifest) if revision else None
        error = _error_base(error_for(result.failure, result.exit_code, manifest), job.job_type_name)
    output_files = [] if result.failure else _register_outputs(job, _execution_id(job_id, exe_num, result), result,
                                                                 now)
    output = None
    if not result.failure:
        by_output: dict[str, list[int]] = {}
        for file in output_files:
            by_output.setdefault(file.job_output or "", []).append(file.id)
        output = {"files": by_output, "json": dict(result.output_json)}
    end = ExecutionEnd(
        status="FAILED" if error else "COMPLETED", ended=now, error=error, exit_code=result.exit_code,
        task_results=result.task_results,
        output={"output_data": [{"name": f.job_output, "file_id": f.id} for f in output_files]},
        cpu_seconds=result.cpu_seconds, wall_seconds=result.wall_seconds, peak_memory_mib=result.peak_memory_mib)
    outcome = _fate(job, exe_num, error, now)
    try:
        job_state.end_execution(job, exe_num, end, outcome, now, output, _phases(result.task_results))
    except StaleUpdate:
        logger.info("end of job %s exe %s was stale", job_id, exe_num)
        return None
    if outcome.status == "QUEUED" and outcome.dispatch_after is not None:
        _wake_dispatch(job, exe_num + 1, outcome.dispatch_after, now)
    return outcome.status


def _phases(task_results: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(phase, when) of the staging and capture tasks that ran, for the job's timeline."""
    names = {"pre": "UPLOADING", "post": "DOWNLOADING"}
    return [(names[task["type"]], task["started"]) for task in (task_results or {}).get("tasks", [])
            if task.get("type") in names and task.get("was_started") and task.get("started")]


def _fate(job: JobRecord, exe_num: int, error: dict[str, Any] | None, now: datetime) -> JobOutcome:
    if error is None:
        return JobOutcome(status="COMPLETED")
    if error["should_be_retried"] and exe_num < job.max_tries and not job.is_superseded:
        return JobOutcome(status="QUEUED", dispatch_after=now + timedelta(seconds=backoff_seconds(exe_num)))
    return JobOutcome(status="FAILED", error=error)


def _wake_dispatch(job: JobRecord, exe_num: int, at: datetime, now: datetime) -> None:
    from chalicelib.queues import QueueSendError, send_dispatch
    try:
        send_dispatch(job.id, exe_num, job.priority, int((at - now).total_seconds()) + 1)
    except QueueSendError as error:
        logger.warning("%s; the sweep will re-send it", error)


def _execution_id(job_id: int, exe_num: int, result: ExecutionResult) -> int | None:
    """The execution's own id, for the files it produced (only read when there are outputs)."""
    if not result.output_files:
        return None
    stored = executions.get_execution(job_id, exe_num)
    return stored.id if stored else None


def _end_canceled(job_id: int, exe_num: int, result: ExecutionResult, now: datetime) -> str | None:
    if not job_state.end_canceled_execution(job_id, exe_num, result.task_results, now):
        return None  # already ended (the cancel itself ended it): nothing to record
    return "CANCELED"


def _register_outputs(job: JobRecord, execution_id: int | None, result: ExecutionResult,
                      now: datetime) -> list[FileRecord]:
    if not result.output_files:
        return []
    workspaces = {}
    records = []
    for output in result.output_files:
        if output.workspace not in workspaces:
            workspaces[output.workspace] = files.get_workspace(output.workspace)
        workspace = workspaces[output.workspace]
        records.append({
            "workspace_id": workspace.id if workspace else 0, "workspace_name": output.workspace,
            "file_name": output.file_name, "file_path": output.file_path, "media_type": output.media_type,
            "file_type": "PRODUCT", "file_size": output.file_size, "job_id": job.id, "job_exe_id": execution_id,
            "job_output": output.output, "owner": job.owner, "project": job.project})
    return files.save_files(records, now)


def fail_launch(job_id: int, exe_num: int, detail: str) -> str | None:
    """The runner could not start the execution: end it with `task-launch` (retried when allowed)."""
    return on_finished(job_id, exe_num, _system_failure("task-launch", detail))


def fail_lost(job_id: int, exe_num: int, detail: str) -> str | None:
    """The execution's node stopped heartbeating: end it with `node-lost` (retried when allowed)."""
    return on_finished(job_id, exe_num, _system_failure("node-lost", detail))


def fail_overdue(job_id: int, exe_num: int, detail: str) -> str | None:
    return on_finished(job_id, exe_num, _system_failure("timeout", detail))


def _system_failure(failure: str, detail: str) -> ExecutionResult:
    """A result for an execution the service ends itself (the runner never reported)."""
    from chalicelib.runners.base import ExecutionResult
    now = clock.now()
    return ExecutionResult(exit_code=None, failure=failure, detail=detail,
                           task_results={"tasks": [], "detail": detail, "at": iso(now)}, output_files=(),
                           output_json={}, cpu_seconds=None, wall_seconds=None, peak_memory_mib=None,
                           started=now, ended=now)
