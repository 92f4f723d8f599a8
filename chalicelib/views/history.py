"""The history face of a job: the structure of the job-history spec, built from the same stored job
the v6 API shows (mapping in ../shared/design/history-contract.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain import FileRecord, JobRecord
from chalicelib.seed import Manifest
from chalicelib.timeutil import iso

SETUP_ERRORS = {"missing-setting", "missing-mount", "filesystem-io"}
PHASES = {"UPLOADING", "EXECUTING", "DOWNLOADING"}
FINAL = {"FAILED", "COMPLETED", "CANCELED"}
STEP_ORDER = {"PENDING": 0, "BLOCKED": 0, "QUEUED": 1, "RUNNING": 2, "UPLOADING": 3, "EXECUTING": 4, "DOWNLOADING": 5}

# Scalar fields a caller may sort by (`attr`), with the history value they sort on.
SORTABLE = (
    "jobId", "groupId", "projectId", "jobOwner", "automaticallyMachineSelection", "numberOfProcesses",
    "numberOfProcessesByMachine", "submissionTime", "description", "priority", "multipleExecution", "jobType",
    "numberOfAttempts", "executionMachine", "endTime", "exitCode", "guiltyNodeId", "exitStatus", "cpuTime",
    "wallclockTime", "ramMemory", "flowId", "flowVersion", "flowName", "lastModifiedTime", "isDeleted",
    "jobStatus",
)
TIME_FIELDS = ("submissionTime", "endTime", "lastModifiedTime")


def exit_status(job: JobRecord) -> str:
    if job.status == "COMPLETED":
        return "SUCCESS"
    if job.status == "CANCELED":
        return "KILLED"
    if job.status != "FAILED":
        return "UNKNOWN"
    name = (job.error or {}).get("name")
    if name == "node-lost":
        return "LOST"
    if name in SETUP_ERRORS:
        return "FAILED_SETUP_EXECUTION_ENVIRONMENT"
    if name == "resource-starvation":
        return "NO_MACHINE_AVAILABLE"
    if job.error_category in ("ALGORITHM", "DATA"):
        return "EXECUTION_ERROR"
    return "UNEXPECTED_MACHINE_ERROR"


def job_status(job: JobRecord) -> str:
    if job.status in FINAL:
        return "FINISHED"
    if job.status == "QUEUED":
        return "QUEUED"
    if job.status == "RUNNING":
        phases = [e["status"] for e in job.timeline or [] if e.get("exe_num") == job.num_exes]
        return phases[-1] if phases and phases[-1] in PHASES else "INIT"
    if job.status in ("PENDING", "BLOCKED"):
        return "SCHEDULED"
    return "UNKNOWN"


def status_history(job: JobRecord) -> list[dict]:
    history = [{"status": "SCHEDULED", "timestamp": job.created}]
    # Phases of an execution may be recorded when it ends: order by time, then by their natural order.
    for entry in sorted(job.timeline or [], key=lambda e: (e.get("exe_num", 0), e["at"],
                                                           STEP_ORDER.get(e["status"], len(STEP_ORDER)))):
        status = entry["status"]
        mapped = ("FINISHED" if status in FINAL else "INIT" if status == "RUNNING" else status
                  if status in PHASES or status == "QUEUED" else None)
        if mapped:
            history.append({"status": mapped, "timestamp": entry["at"]})
    return history


def history_job(job: JobRecord) -> dict[str, Any]:
    """The searchable structure, with native values (datetimes) for evaluation and sorting."""
    status = exit_status(job)
    recipe_type = (job.recipe or {}).get("recipe_type") or {}
    return {
        "jobId": str(job.id),
        "groupId": str(job.batch_id) if job.batch_id is not None else str(job.id),
        "projectId": job.project,
        "jobOwner": job.owner,
        "automaticallyMachineSelection": True,
        "submissionMachines": None,
        "numberOfProcesses": 1,
        "numberOfProcessesByMachine": 1,
        "submissionTime": job.created,
        "description": job.description or job.job_type_title or job.job_type_name,
        "priority": job.priority,
        "multipleExecution": job.batch_id is not None,
        "jobType": "FLOW" if job.recipe_id is not None else "ALGORITHM",
        "numberOfAttempts": job.num_exes,
        "executionMachine": job.node_hostname,
        "endTime": job.ended,
        "exitCode": job.exit_code,
        "guiltyNodeId": str(job.node_id) if status == "LOST" and job.node_id is not None else None,
        "exitStatus": status,
        "cpuTime": job.cpu_seconds,
        "wallclockTime": job.wall_seconds,
        "ramMemory": job.peak_memory_mib,
        "statusHistory": status_history(job),
        "algorithms": [{
            "algorithmId": job.job_type_name,
            "algorithmVersion": job.job_type_version,
            "algorithmName": job.job_type_title or job.job_type_name,
            "parameters": job.parameters or [],
        }],
        "flowId": recipe_type.get("id"),
        "flowVersion": recipe_type.get("revision_num"),
        "flowName": recipe_type.get("name"),
        "lastModifiedTime": job.last_modified,
        "isDeleted": bool(job.history_deleted),
        "jobStatus": job_status(job),
    }


def render(history: dict[str, Any], show_parameters: bool) -> dict[str, Any]:
    """JSON-ready: times as UTC ISO-8601 with milliseconds; parameters left out unless asked for."""
    out = dict(history)
    for key in TIME_FIELDS:
        out[key] = iso(out[key]) if out[key] is not None else None
    out["statusHistory"] = [{"status": e["status"], "timestamp": _time(e["timestamp"])}
                            for e in history["statusHistory"]]
    out["algorithms"] = [
        {k: v for k, v in algorithm.items() if show_parameters or k != "parameters"}
        for algorithm in history["algorithms"]
    ]
    return out


def _time(value: str | datetime | None) -> str | None:
    return value if isinstance(value, str) else iso(value)


def input_parameters(manifest: Manifest, data: dict[str, Any],
                     files_by_id: dict[int, FileRecord]) -> list[dict[str, Any]]:
    """One parameter per interface input (files then JSON, in manifest order), for `Job.parameters`."""
    parameters = []
    for number, spec in enumerate(manifest.file_inputs, start=1):
        ids = data.get("files", {}).get(spec.name, [])
        paths = [files_by_id[i].file_path for i in ids if i in files_by_id]
        parameters.append({"id": number, "parameterId": spec.name, "label": spec.name, "type": "INPUT_FILE",
                           "value": paths})
    offset = len(parameters)
    for number, json_spec in enumerate(manifest.json_inputs, start=offset + 1):
        value = data.get("json", {}).get(json_spec.name)
        parameters.append({"id": number, "parameterId": json_spec.name, "label": json_spec.name,
                           "type": json_spec.type.upper(),
                           "value": [] if value is None else [_text(value)]})
    return parameters


def _text(value: Any) -> str:
    import json
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
