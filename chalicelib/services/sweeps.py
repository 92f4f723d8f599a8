"""The maintenance sweep (every minute in AWS, a timer in the embedded stack).

1. nodes whose heartbeat is older than JOBS_NODE_LOST_SECONDS are marked offline;
2. RUNNING executions on an offline (or unknown) node end with `node-lost`, and are retried (never those
   on the Fargate pseudo node: an ECS task's end is heard from its state-change event);
3. RUNNING executions past their timeout (plus JOBS_TIMEOUT_GRACE_SECONDS, a minute by default) that a
   runner missed are stopped and end with `timeout` (for ECS tasks, this is how timeouts are enforced);
4. QUEUED jobs not dispatched for JOBS_REDISPATCH_SECONDS get their dispatch message again;
5. at most every JOBS_COUNT_REPAIR_SECONDS (a day), the job counters are recomputed from the jobs and any
   drift is fixed and reported (metric `JobService/CounterDriftFixed`, a warning in the log): never silently.
Every change is conditional, so two sweeps at once, or a sweep racing a runner, do no harm.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.models import counters, executions, nodes
from chalicelib.models import jobs as job_store
from chalicelib.services import execution_events
from chalicelib.wiring import services

logger = logging.getLogger("jobs.sweeps")
FARGATE_NODE_ID = 0  # chalicelib.runners.ecs.FARGATE_NODE_ID (not imported: it would load the runner here)


def sweep(now: datetime | None = None) -> dict[str, int]:
    now = now or clock.now()
    settings = get_settings()
    offline = nodes.mark_stale_offline(now - timedelta(seconds=settings.node_lost_seconds), now)
    active = {node.id for node in nodes.all_nodes() if node.is_active}
    summary = {"nodes_offline": len(offline), "lost": 0, "timed_out": 0, "redispatched": 0}
    current = services().runtime
    on_active_nodes = []
    for job in job_store.jobs_in_status("RUNNING"):
        if job.node_id in active or job.node_id == FARGATE_NODE_ID:
            on_active_nodes.append(job)
        elif execution_events.fail_lost(job.id, job.num_exes, f"node {job.node_hostname} stopped heartbeating"):
            summary["lost"] += 1
    grace = timedelta(seconds=settings.timeout_grace_seconds)
    running = executions.get_executions((job.id, job.num_exes) for job in on_active_nodes)
    for job in on_active_nodes:
        execution = running.get((job.id, job.num_exes))
        if execution is None or execution.started is None or not execution.timeout:
            continue
        if execution.started + timedelta(seconds=int(execution.timeout)) + grace < now:
            # Record the end first: the runner's own report of the kill then finds it ended already.
            if execution_events.fail_overdue(job.id, job.num_exes, "past its timeout; stopped by the sweep"):
                summary["timed_out"] += 1
            if current is not None:
                current.runner.stop(execution.cluster_id)
    summary["redispatched"] = _redispatch(now - timedelta(seconds=settings.redispatch_seconds), now)
    summary["counter_drift_fixed"] = _repair_counters(now, settings.count_repair_seconds)
    _emit_oldest_queued_age(now)
    return summary


def _repair_counters(now: datetime, interval_seconds: int) -> int:
    """The counters' repair when it is due (one sweep claims it); how much drift it fixed (the sum of the
    changes' sizes), reported as a metric and a warning whenever it is not zero."""
    if not counters.claim_repair(now, interval_seconds):
        return 0
    fixes = counters.repair()
    fixed = sum(abs(change) for change in fixes.values())
    if fixed:
        logger.warning("job counters had drifted; fixed: %s", ", ".join(counters.describe(fixes)[:50]))
    _emit("CounterDriftFixed", fixed, "Count")
    return fixed


def _emit(name: str, value: float, unit: str) -> None:
    """An EMF metric `JobService/<name>` (dimensions service=sweeps and stack), in Lambda only."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    from aws_lambda_powertools import Metrics
    metrics = Metrics(namespace="JobService", service="sweeps")
    metrics.add_dimension(name="stack", value=get_settings().table_prefix.rstrip("-"))
    metrics.add_metric(name=name, unit=unit, value=value)
    metrics.flush_metrics()


def _emit_oldest_queued_age(now: datetime) -> None:
    """In Lambda, the age of the oldest QUEUED job as an EMF metric (`JobService/OldestQueuedJobAgeSeconds`,
    dimensions service=sweeps and stack), which the deploy template alarms on. Elsewhere nothing."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    oldest = next(iter(job_store.jobs_in_status("QUEUED")), None)  # the by-status index's oldest first
    age = max(0.0, (now - oldest.last_modified).total_seconds()) if oldest and oldest.last_modified else 0.0
    metrics = Metrics(namespace="JobService", service="sweeps")
    metrics.add_dimension(name="stack", value=get_settings().table_prefix.rstrip("-"))
    metrics.add_metric(name="OldestQueuedJobAgeSeconds", unit=MetricUnit.Seconds, value=age)
    metrics.flush_metrics()


def _redispatch(before: datetime, now: datetime) -> int:
    """Dispatch messages again for the jobs QUEUED since before `before`, a hundred jobs to a message."""
    from chalicelib.queues import QueueSendError, send_dispatch_batch
    waiting = [(job.id, job.num_exes, job.priority) for job in job_store.jobs_in_status("QUEUED", before=before)
               if not (job.dispatch_after and job.dispatch_after > now)]
    try:
        send_dispatch_batch(waiting)
    except QueueSendError as error:
        logger.warning("%s", error)
        return 0
    return len(waiting)
