"""What the console's shell and dashboard read: version, scheduler switch, cluster status, and job
counts per job type."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.domain import FINAL_STATUSES
from chalicelib.errors import InvalidInput
from chalicelib.models import catalog, nodes, settings
from chalicelib.models import jobs as job_store
from chalicelib.openapi import VERSION
from chalicelib.params import Body, QueryParams, check_range, optional_time
from chalicelib.timeutil import iso
from chalicelib.views.console import queue_row, running_row
from chalicelib.views.job_types import job_type_base

SCHEDULER = settings.SCHEDULER
RESOURCES = ("cpus", "mem", "disk", "gpus")


def version() -> dict:
    return {"version": VERSION}


def scheduler() -> dict:
    state = settings.get(SCHEDULER, {}, max_age=0)
    return {"is_paused": bool(state.get("is_paused", False)), "num_message_handlers": 1,
            "system_logging_level": state.get("system_logging_level", "INFO")}


def update_scheduler(body: dict) -> dict:
    fields = Body(body, ("is_paused", "system_logging_level"), ignored=("num_message_handlers",))
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
    """Resources of the active nodes and what runs on them; None (204) before any node registered."""
    all_nodes = nodes.all_nodes()
    if not all_nodes:
        return None
    running = list(job_store.jobs_in_status("RUNNING"))
    executions_on: Counter = Counter(job.node_id for job in running)
    job_types = catalog.get_job_types({job.job_type_id for job in running})
    resources = {name: {"total": 0.0, "running": 0.0, "unavailable": 0.0} for name in RESOURCES}
    node_rows = []
    for node in all_nodes:
        offered = node.resources or {}
        for name in RESOURCES:
            key = "total" if node.is_active else "unavailable"
            resources[name][key] += float(offered.get(name, 0.0))
        node_rows.append({"id": node.id, "hostname": node.hostname, "is_active": node.is_active,
                          "state": {"name": "READY" if node.is_active else "OFFLINE"},
                          "last_heartbeat": iso(node.last_heartbeat), "job_executions": {
                              "running": {"total": executions_on.get(node.id, 0)}},
                          "resources": offered, "slots": node.slots})
    per_type: Counter = Counter(job.job_type_id for job in running)
    for job in running:
        revision = catalog.get_revision(job.job_type_id, job.job_type_revision_num)
        if revision is None:
            continue
        from chalicelib.seed import Manifest, job_resources
        needed = job_resources(Manifest.from_validated(revision.manifest), job.input_file_size)
        for name in RESOURCES:
            resources[name]["running"] += float(needed.get(name, 0.0))
    return {
        "timestamp": iso(clock.now()),
        "scheduler": scheduler(),
        "resources": resources,
        "nodes": node_rows,
        "job_types": [{"job_type": job_type_base(job_types.get(type_id)), "count": count}
                      for type_id, count in sorted(per_type.items())],
    }


def job_type_status(params: QueryParams) -> list[dict]:
    """Per job type, jobs by status last modified in the window (default: the last 3 hours)."""
    now = clock.now()
    started = optional_time(params, "started", now) or now - timedelta(hours=3)
    ended = optional_time(params, "ended", now)
    check_range("started", started, "ended", ended)
    counts: dict[int, Counter[str]] = {}
    latest: dict[tuple[int, str], datetime] = {}
    for job in job_store.read_jobs(job_store.read_by("all", (), started, ended)):
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


def running_job_types() -> list[dict]:
    """Per job type with RUNNING jobs: how many and since when the longest one runs; most jobs first (then
    by name). One walk of the RUNNING partition of `by-status` (its size is bounded by the worker slots)."""
    groups = job_store.summarize_status("RUNNING")
    job_types = catalog.get_job_types({group.job_type_id for group in groups})
    rows = [running_row(group, job_types.get(group.job_type_id)) for group in groups]
    return sorted(rows, key=lambda row: (-row["count"], row["job_type"].get("name") or "", row["job_type"]["id"]))


def queue_status() -> list[dict]:
    """Per job type with QUEUED jobs: how many, the longest waiting one and the highest priority; ordered as
    they are dispatched (highest priority first, then longest queued). One walk of the QUEUED partition of
    `by-status`: its cost grows with the queue (about 1,000 jobs a round trip)."""
    groups = job_store.summarize_status("QUEUED")
    job_types = catalog.get_job_types({group.job_type_id for group in groups})
    rows = [queue_row(group, job_types.get(group.job_type_id)) for group in groups]
    return sorted(rows, key=lambda row: (row["highest_priority"], row["longest_queued"] or "",
                                         row["job_type"]["id"]))
