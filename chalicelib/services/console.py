"""What the console's shell and dashboard read: version, scheduler switch, cluster status, and job
counts per job type."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.domain import EVERYTHING, FINAL_STATUSES, JobRecord, Scope
from chalicelib.errors import InvalidInput
from chalicelib.models import catalog, nodes, settings
from chalicelib.models import jobs as job_store
from chalicelib.openapi import VERSION
from chalicelib.params import Body, BodySpec, Field, QueryParams, check_range, optional_time
from chalicelib.timeutil import iso
from chalicelib.views.console import cluster_status, queue_row, running_row
from chalicelib.views.job_types import job_type_base

SCHEDULER = settings.SCHEDULER
# Completed and failed executions per node are counted over this window (the console's dashboard window).
STATUS_WINDOW = timedelta(hours=3)


def version() -> dict:
    return {"version": VERSION}


def scheduler() -> dict:
    state = settings.get(SCHEDULER, {}, max_age=0)
    return {"is_paused": bool(state.get("is_paused", False)), "num_message_handlers": 1,
            "system_logging_level": state.get("system_logging_level", "INFO")}


LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SCHEDULER_BODY = BodySpec("SchedulerUpdate", (
    Field("is_paused", "boolean", "While paused nothing is dispatched; running jobs go on."),
    Field("system_logging_level", "string", "Log level of the service.", max_length=16,
          enum=LOGGING_LEVELS + tuple(level.lower() for level in LOGGING_LEVELS)),
), ignored=("num_message_handlers",))


def update_scheduler(body: dict) -> dict:
    fields = Body(body, SCHEDULER_BODY)
    state = dict(settings.get(SCHEDULER, {}, max_age=0))
    paused = fields.boolean("is_paused")
    level = fields.string("system_logging_level", max_length=16)
    if level is not None and level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise InvalidInput('"system_logging_level" must be DEBUG, INFO, WARNING, ERROR or CRITICAL',
                           field="system_logging_level")
    if paused is not None:
        state["is_paused"] = paused
    if level is not None:
        state["system_logging_level"] = level.upper()
    settings.put(SCHEDULER, state, clock.now())
    return scheduler()


def status() -> dict | None:
    """The nodes, their resources and their executions; None (204) before any node registered.

    Reads: the nodes (a Scan of a table of a few items), the RUNNING partition of `by-status`, and the
    COMPLETED and FAILED partitions for the last STATUS_WINDOW (the jobs whose latest execution ended then)."""
    all_nodes = nodes.all_nodes()
    if not all_nodes:
        return None
    now = clock.now()
    running = list(job_store.jobs_in_status("RUNNING"))
    ended = job_store.read_jobs(job_store.read_by("status", ("COMPLETED", "FAILED"), now - STATUS_WINDOW))
    job_types = catalog.get_job_types({job.job_type_id for job in running + ended})
    return cluster_status(now, scheduler(), all_nodes, running, ended, _needs(running), job_types)


def _needs(running: list[JobRecord]) -> dict[int, dict[str, float]]:
    """What each running job needs (its pinned revision's resources for its input size)."""
    from chalicelib.seed import Manifest, job_resources
    manifests: dict[tuple[int, int], Manifest | None] = {}
    needs = {}
    for job in running:
        key = (job.job_type_id, job.job_type_revision_num)
        if key not in manifests:
            revision = catalog.get_revision(*key)
            manifests[key] = Manifest.from_validated(revision.manifest) if revision else None
        manifest = manifests[key]
        if manifest is not None:
            needs[job.id] = job_resources(manifest, job.input_file_size)
    return needs


def job_type_status(params: QueryParams, scope: Scope = EVERYTHING) -> list[dict]:
    """Per job type, jobs by status last modified in the window (default: the last 3 hours)."""
    now = clock.now()
    started = optional_time(params, "started", now) or now - timedelta(hours=3)
    ended = optional_time(params, "ended", now)
    check_range("started", started, "ended", ended)
    counts: dict[int, Counter[str]] = {}
    latest: dict[tuple[int, str], datetime] = {}
    for job in job_store.read_jobs(job_store.read_by("all", (), started, ended, scope.projects)):
        counts.setdefault(job.job_type_id, Counter())[job.status] += 1
        key = (job.job_type_id, job.status)
        latest[key] = max(latest.get(key, job.last_modified), job.last_modified)
    job_types = catalog.get_job_types(counts)
    rows = []
    for type_id, by_status in counts.items():
        job_type = job_types.get(type_id)
        rows.append({"job_type": job_type_base(job_type), "job_counts": [
            {"status": status, "count": count, "most_recent": iso(latest[(type_id, status)]),
             "category": "FINAL" if status in FINAL_STATUSES else None}
            for status, count in sorted(by_status.items())]})
    return sorted(rows, key=lambda r: (r["job_type"] or {}).get("name") or "")


def running_job_types(scope: Scope = EVERYTHING) -> list[dict]:
    """Per job type with RUNNING jobs: how many and since when the longest one runs; most jobs first (then
    by name). One walk of the RUNNING partition of `by-status` (its size is bounded by the worker slots)."""
    groups = job_store.summarize_status("RUNNING", projects=scope.projects)
    job_types = catalog.get_job_types({group.job_type_id for group in groups})
    rows = [running_row(group, job_types.get(group.job_type_id)) for group in groups]
    return sorted(rows, key=lambda row: (-row["count"], row["job_type"].get("name") or "", row["job_type"]["id"]))


def queue_status(scope: Scope = EVERYTHING) -> list[dict]:
    """Per job type with QUEUED jobs: how many, the longest waiting one and the highest priority; ordered as
    they are dispatched (highest priority first, then longest queued). One walk of the QUEUED partition of
    `by-status`: its cost grows with the queue (about 1,000 jobs a round trip)."""
    groups = job_store.summarize_status("QUEUED", projects=scope.projects)
    job_types = catalog.get_job_types({group.job_type_id for group in groups})
    rows = [queue_row(group, job_types.get(group.job_type_id)) for group in groups]
    return sorted(rows, key=lambda row: (row["highest_priority"], row["longest_queued"] or "",
                                         row["job_type"]["id"]))
