"""Hearing back from ECS: an "ECS Task State Change" event (EventBridge) -> the execution's phase or end.

ECS sends an event whenever a task's or one of its containers' status changes, at least once and in no
guaranteed order. The task's `startedBy` is the execution's cluster id (`scale_job_<execution>_<job>x<exe>`),
which names the job and exe_num; every change below is conditional on that exe_num still being current
and the execution RUNNING, so a repeated, late or out-of-order event changes nothing:

- while the task runs, the first event showing `main` RUNNING records EXECUTING: one conditional write,
  no read (`job_state.record_phase` refuses it when the job moved on or this exe_num's EXECUTING is
  recorded already); a RUNNING event that does not show `main` running changes nothing and reads nothing;
- when the task is STOPPED, its end:
  - stopped by StopTask (`stopCode` UserInitiated): the service's own cancel or timeout was recorded
    before its StopTask, so the job has moved on and nothing changes; a task stopped by anything else
    (the console, the CLI) ends `node-lost` (retried when allowed);
  - the task never started (TaskFailedToStart, an image that cannot be pulled, a missing secret), or
    `main` never started though `pre` succeeded: `task-launch`, with ECS's reason;
  - `pre` failed: the failure `pre` wrote in the result document (`filesystem-io` when there is none);
  - `main` exited non-zero: `exit-code` (mapped through the manifest's errors by the service);
  - `main` exited 0: the result document `post` wrote: the outputs, or `missing-required-output`,
    `unexpected-multiple-outputs`, `invalid-results-manifest`, `filesystem-io`; no document at all is
    `filesystem-io`.
  The three containers' times come from the result document, their exit codes from the event, and the
  task id is kept in the execution's `task_results` (`ecs_task_id`) so its log streams stay findable.
  A stopped task frees a place in the cluster: dispatch runs again, reading the queue first (with nothing
  queued it does not count the cluster's tasks).
"""
from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.runners.base import ExecutionResult, OutputFile
from chalicelib.services import execution_events

logger = logging.getLogger("jobs.ecs_events")
CLUSTER_ID = re.compile(r"scale_job_(\d+)_(\d+)x(\d+)")
TASK_STATE_CHANGE = "ECS Task State Change"


def task_id(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def on_task_state_change(event: dict[str, Any]) -> str | None:
    """One EventBridge event; returns what it changed ("EXECUTING", the job's new status) or None."""
    if event.get("detail-type") != TASK_STATE_CHANGE:
        return None
    detail = event.get("detail") or {}
    match = CLUSTER_ID.fullmatch(str(detail.get("startedBy") or ""))
    if match is None:
        return None  # not one of ours (another task in the cluster)
    settings = get_settings()
    cluster = settings.ecs.cluster if settings.ecs else None
    arn = str(detail.get("clusterArn", ""))
    if cluster and arn != cluster and not arn.endswith(f"/{cluster}"):
        return None  # another cluster's task
    job_id, exe_num = int(match.group(2)), int(match.group(3))
    containers = {c.get("name"): c for c in detail.get("containers") or ()}
    if detail.get("lastStatus") != "STOPPED":
        if (containers.get("main") or {}).get("lastStatus") == "RUNNING":
            return _executing(job_id, exe_num, _time(detail.get("updatedAt")) or clock.now())
        return None
    try:
        # on_finished ignores an execution that ended already (a duplicate or late event, or the cancel or
        # timeout that stopped the task ended it first)
        return execution_events.on_finished(job_id, exe_num, task_result(detail, containers, match.group(0)))
    finally:
        _dispatch_next()  # whatever ended it, the task no longer holds a place in the cluster


def _executing(job_id: int, exe_num: int, at: datetime) -> str | None:
    # One conditional write, no read: refused when the job moved on (another exe_num, no longer RUNNING) or
    # this execution's EXECUTING is recorded already (a repeated or late event)
    return "EXECUTING" if execution_events.on_phase(job_id, exe_num, "EXECUTING", at) else None


def _dispatch_next() -> None:
    from chalicelib.services.dispatch import NoRunner, fill_slots
    try:
        fill_slots(slot_freed=True)  # the queue first: with nothing queued, no ListTasks
    except NoRunner:
        pass  # a process without a runner: the dispatch queue's next message (or the sweep) fills it
    except Exception:  # noqa: BLE001 - the end is recorded; the sweep re-sends dispatch messages
        logger.exception("dispatch after a stopped task failed")


def read_result_document(cluster_id: str) -> dict[str, Any] | None:
    """What `pre` (on failure) or `post` wrote; None when there is none."""
    from botocore.exceptions import ClientError

    from chalicelib import aws
    from chalicelib.runners.ecs import documents_prefix
    settings = get_settings()
    key = documents_prefix(settings.table_prefix, cluster_id) + "result.json"
    try:
        body = aws.client("s3").get_object(Bucket=settings.files_bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _failure(detail: dict[str, Any], containers: dict[str, Any], cluster_id: str
             ) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(failure, detail, the result document when read)."""
    pre, main = containers.get("pre") or {}, containers.get("main") or {}
    reason = detail.get("stoppedReason") or ""
    if detail.get("stopCode") == "UserInitiated":
        # The service records a cancel or a timeout before it calls StopTask, so the job is no longer RUNNING
        # when this event comes; a task stopped by anything else (the console, the CLI) was lost: retried.
        if "timeout" in reason:
            return "timeout", reason, None
        return "node-lost", f"the task was stopped outside the service: {reason or 'no reason given'}", None
    if pre.get("exitCode") is None:
        why = pre.get("reason") or reason or "the task did not start"
        return "task-launch", f"{detail.get('stopCode') or 'stopped'}: {why}", None
    if pre.get("exitCode") != 0:
        staged = read_result_document(cluster_id) or {}
        return (staged.get("failure") or "filesystem-io",
                staged.get("detail") or f"staging the inputs exited with code {pre.get('exitCode')}", staged)
    if main.get("exitCode") is None:
        return "task-launch", f"the job's container did not run: {main.get('reason') or reason or 'unknown'}", None
    if main.get("exitCode") != 0:
        return "exit-code", f"the command exited with code {main.get('exitCode')}", None
    document = read_result_document(cluster_id)
    if document is None:
        post = containers.get("post") or {}
        return "filesystem-io", f"no result document (post: {post.get('reason') or post.get('exitCode')})", None
    return document.get("failure"), document.get("detail"), document


def task_result(detail: dict[str, Any], containers: dict[str, Any], cluster_id: str) -> ExecutionResult:
    failure, text, document = _failure(detail, containers, cluster_id)
    now = clock.now()
    started = _time(detail.get("startedAt")) or _time(detail.get("createdAt")) or now
    ended = _time(detail.get("stoppedAt")) or now
    times = (document or {}).get("tasks") or {}
    tasks = []
    for kind in ("pre", "main", "post"):
        container = containers.get(kind) or {}
        code = container.get("exitCode")
        noted = times.get(kind) or {}
        tasks.append({"type": kind, "started": noted.get("started"), "ended": noted.get("ended"),
                      "exit_code": code, "was_started": code is not None})
    main_code = (containers.get("main") or {}).get("exitCode")
    files = () if failure else tuple(OutputFile(**entry) for entry in (document or {}).get("output_files") or ())
    return ExecutionResult(
        exit_code=main_code, failure=failure, detail=text,
        task_results={"tasks": tasks, "ecs_task_id": task_id(str(detail.get("taskArn", ""))),
                      **({"detail": text} if failure else {})},
        output_files=files, output_json={} if failure else dict((document or {}).get("output_json") or {}),
        cpu_seconds=None, wall_seconds=(ended - started).total_seconds() if ended >= started else None,
        peak_memory_mib=None, started=started, ended=ended)
