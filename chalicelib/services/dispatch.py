"""Dispatch: fill the free execution slots from the queue, best job first.

A dispatch message only wakes the dispatcher up; what runs next is decided by the `by-queue` index
(lowest priority number first, then first in first out), so a priority-1 job queued after fifty
priority-100 jobs takes the next free slot. For each candidate: a paused job type waits, a job type
at its `max_scheduled` waits, a job whose resources fit no node waits and its job type's
`unmet_resources` says why (jobs that wait never hold up the jobs behind them: see `QUEUE_READ_BUDGET`);
otherwise the job is claimed with a conditional transaction (QUEUED on
this exe_num -> RUNNING, execution created) and launched on the runner. A job someone else claimed
first is simply skipped.

A process with no runner (an API-only process, a deployment whose runner is not configured) cannot
dispatch: `fill_slots` raises `NoRunner` after logging an error and counting a metric, so the dispatch
message is not deleted but retried, and after MAX_RECEIVES lands in the dead-letter queue (alarmed).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.domain import ExecutionRecord, JobDataRecord, JobRecord, JobTypeRecord, RevisionRecord
from chalicelib.errors import StaleUpdate
from chalicelib.models import catalog, job_state, settings
from chalicelib.models import jobs as job_store
from chalicelib.models.ids import next_id
from chalicelib.seed import Manifest, job_resources
from chalicelib.wiring import Runtime, services

logger = logging.getLogger("jobs.dispatch")
# Queue entries one fill may read. Jobs of a job type that cannot run now (paused, at its max_scheduled) are
# left out of the next pages as soon as one of them is seen, so they hold up the jobs behind them only while
# more than this many entries sit between (one per job type met, plus the other jobs that must wait).
QUEUE_READ_BUDGET = 2000
RESOURCE_NAMES = ("cpus", "mem", "disk", "gpus")


class NoRunner(Exception):
    """This process has no runner to launch executions on: the dispatch must be retried elsewhere."""


def fill_slots(now: datetime | None = None, *, slot_freed: bool = False) -> list[int]:
    """Claim and launch as many queued jobs as there are free slots; returns the job ids launched.
    One fill at a time in a process: racing fills would only lose claims to each other.

    `slot_freed`: the fill follows an execution's end, so a slot is most likely free and the queue is read
    first: the runner's free slots are counted (for ECS a ListTasks) only once a queued job is found. A
    dispatch message (a job was just queued) counts the slots first: with none free, no queue read."""
    current = services()
    if current.runtime is None:
        logger.error("dispatch has no runner in this process: the message is left for a retry")
        _count_missing_runner()
        raise NoRunner("no runner is configured in this process")
    with current.fill_lock:
        return _fill(current.runtime, now, slot_freed)


def _count_missing_runner() -> None:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    metrics = Metrics(namespace="JobService", service="dispatch")
    metrics.add_metric(name="DispatchWithoutRunner", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()


def _fill(current: Runtime, now: datetime | None, slot_freed: bool) -> list[int]:
    if settings.scheduler_paused():
        return []
    free = None if slot_freed else current.runner.free_slots()
    launched: list[int] = []
    if free is not None and free <= 0:
        return launched
    now = now or clock.now()
    running_by_type: dict[int, int] = {}
    job_types: dict[int, JobTypeRecord | None] = {}
    waiting_types: set[int] = set()  # cannot run now: the store leaves their jobs out of the next pages
    for job in job_store.queued_jobs(QUEUE_READ_BUDGET, skipping=waiting_types):
        if free is None:
            free = current.runner.free_slots()
        if free <= 0:
            break
        if job.job_type_id in waiting_types or (job.dispatch_after and job.dispatch_after > now):
            continue
        job_type = job_types.get(job.job_type_id) or catalog.get_job_type(job.job_type_id)
        job_types[job.job_type_id] = job_type
        if job_type is None or job_type.is_paused:
            waiting_types.add(job.job_type_id)
            continue
        if job_type.max_scheduled:
            if job.job_type_id not in running_by_type:
                running_by_type[job.job_type_id] = job_store.count_running(job.job_type_id)
            if running_by_type[job.job_type_id] >= job_type.max_scheduled:
                waiting_types.add(job.job_type_id)
                continue
        revision = catalog.get_revision(job.job_type_id, job.job_type_revision_num)
        manifest = Manifest.from_validated(revision.manifest if revision else job_type.manifest)
        needed = job_resources(manifest, job.input_file_size)
        unmet = [name for name in RESOURCE_NAMES if needed.get(name, 0) > current.resources.get(name, 0)]
        if job_type.unmet_resources != (",".join(unmet) or None):
            try:
                job_state.set_unmet_resources(job_type.id, ",".join(unmet) or None)
            except StaleUpdate:
                continue  # the job type was removed meanwhile: its jobs cannot run, the others can
            job_type.unmet_resources = ",".join(unmet) or None
        if unmet:
            continue
        if _claim_and_launch(job, manifest, revision, needed, current, now):
            launched.append(job.id)
            free -= 1
            running_by_type[job.job_type_id] = running_by_type.get(job.job_type_id, 0) + 1
    return launched


def _claim_and_launch(job: JobRecord, manifest: Manifest, revision: RevisionRecord | None, needed: dict[str, Any],
                      current: Runtime, now: datetime) -> bool:
    execution_id = next_id("job_exe")
    data: JobDataRecord | None = job_store.get_job_data(job.id)
    execution = ExecutionRecord(
        job_id=job.id, exe_num=job.num_exes, id=execution_id, status="RUNNING",
        cluster_id=f"scale_job_{execution_id}_{job.id}x{job.num_exes}", job_type_id=job.job_type_id,
        node_id=current.node_id, node_hostname=current.hostname, timeout=manifest.timeout,
        input_file_size=job.input_file_size, resources=needed, created=now, queued=job.queued, started=now,
        last_modified=now, configuration=_execution_configuration(data.configuration if data else {}, needed))
    try:
        job_state.claim(job, execution, now)
    except StaleUpdate:
        return False  # claimed elsewhere, canceled or moved on: nothing to do
    from chalicelib.services.execution_events import build_spec, fail_launch
    try:
        spec = build_spec(job, execution, manifest, revision, data)
        current.runner.launch(spec)
    except Exception as error:  # noqa: BLE001 - any launch failure ends this execution, retried if allowed
        logger.warning("launch of job %s exe %s failed: %s", job.id, execution.exe_num, error)
        fail_launch(job.id, execution.exe_num, str(error))
    return True


def _execution_configuration(configuration: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    """The execution's configuration in the original's shape: one entry per task."""
    return {"output_workspaces": configuration.get("output_workspaces", {}), "tasks": [
        {"type": kind, "resources": resources if kind == "main" else {},
         "settings": configuration.get("settings", {}) if kind == "main" else {},
         "mounts": configuration.get("mounts", {}) if kind == "main" else {}}
        for kind in ("pre", "main", "post")]}
