"""v6 shapes of the console's operational pages: the cluster status, running jobs and the queue per job type."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from chalicelib.domain import JobRecord, JobTypeRecord, NodeRecord, StatusGroup
from chalicelib.timeutil import iso
from chalicelib.views.job_types import job_type_base


def running_row(group: StatusGroup, job_type: JobTypeRecord | None) -> dict:
    """A `GET /v6/job-types/running/` result: `longest_running` is the earliest `started` of the job type's
    running jobs."""
    return {"job_type": job_type_base(job_type) or {"id": group.job_type_id}, "count": group.count,
            "longest_running": iso(group.earliest_started)}


def queue_row(group: StatusGroup, job_type: JobTypeRecord | None) -> dict:
    """A `GET /v6/queue/status/` result: `longest_queued` is the earliest `queued`, `highest_priority` the
    lowest priority number among the job type's queued jobs."""
    return {"job_type": job_type_base(job_type) or {"id": group.job_type_id}, "count": group.count,
            "longest_queued": iso(group.earliest_queued), "highest_priority": group.highest_priority}


# --- GET /v6/status/ ---------------------------------------------------------------------------------

RESOURCES = ("cpus", "mem", "disk", "gpus")
RESOURCE_FIELDS = ("offered", "total", "running", "free", "unavailable")
FAILURE_KINDS = (("system", "SYSTEM"), ("algorithm", "ALGORITHM"), ("data", "DATA"))


def node_resources(node: NodeRecord, running: list[dict]) -> dict[str, dict[str, float]]:
    """`{offered, total, running, free, unavailable}` of each resource of one node. `total` is what the node
    has; an active node's `running` is what its running jobs need and `free` the rest (never below 0); an
    offline node's whole total is `unavailable`. Nothing is ever `offered` (no resource offers: the
    dispatcher places jobs on worker slots itself), so total = running + free + unavailable unless overcommitted."""
    has = node.resources or {}
    block = {}
    for name in RESOURCES:
        total = float(has.get(name, 0.0))
        used = sum(float(needs.get(name, 0.0)) for needs in running) if node.is_active else 0.0
        block[name] = {"offered": 0.0, "total": total, "running": used,
                       "free": max(total - used, 0.0) if node.is_active else 0.0,
                       "unavailable": 0.0 if node.is_active else total}
    return block


def _by_job_type(jobs: list[JobRecord]) -> dict:
    counts = Counter(job.job_type_id for job in jobs)
    return {"total": len(jobs), "by_job_type": [{"job_type_id": type_id, "count": count}
                                                for type_id, count in sorted(counts.items())]}


def node_job_executions(running: list[JobRecord], ended: list[JobRecord]) -> dict:
    """Running now, and completed/failed (by error category; none counts as system) among the jobs whose
    latest execution ended on the node in the window."""
    failed = [job for job in ended if job.status == "FAILED"]
    by_kind = {kind: _by_job_type([job for job in failed if (job.error_category or "SYSTEM") == category])
               for kind, category in FAILURE_KINDS}
    return {"running": _by_job_type(running),
            "completed": _by_job_type([job for job in ended if job.status == "COMPLETED"]),
            "failed": {"total": len(failed), **by_kind}}


def node_status(node: NodeRecord, running: list[JobRecord], ended: list[JobRecord],
                needs: dict[int, dict[str, float]]) -> dict:
    offline_error = {"name": "node-offline", "title": "Node offline",
                     "description": f"No heartbeat since {iso(node.last_heartbeat) or 'registration'}.",
                     "started": iso(node.last_heartbeat), "last_updated": iso(node.last_modified)}
    return {
        "id": node.id, "hostname": node.hostname, "agent_id": node.hostname, "is_active": node.is_active,
        "state": ({"name": "READY", "title": "Ready", "description": "Node is ready to run new jobs."}
                  if node.is_active else
                  {"name": "OFFLINE", "title": "Offline", "description": "Node sends no heartbeat; it runs nothing."}),
        "errors": [] if node.is_active else [offline_error],
        "warnings": [], "node_tasks": [], "system_tasks": [], "num_offers": 0,
        "last_heartbeat": iso(node.last_heartbeat), "slots": node.slots,
        "resources": node_resources(node, [needs.get(job.id, {}) for job in running]),
        "job_executions": node_job_executions(running, ended),
    }


def _dependency(ok: bool, msg: str, errors: list[dict[str, str]] | None = None, **detail: object) -> dict:
    return {"OK": ok, "detail": {"msg": msg, **detail}, "errors": errors or [], "warnings": []}


def cluster_status(now: datetime, scheduler: dict, all_nodes: list[NodeRecord], running: list[JobRecord],
                   ended: list[JobRecord], needs: dict[int, dict[str, float]],
                   job_types: dict[int, JobTypeRecord]) -> dict:
    """The original's status object. Top-level `resources` sum every node's blocks (active and offline), so
    `total - unavailable` is the capacity of the active nodes, which is what the console's bars divide by."""
    node_rows = [node_status(node, [job for job in running if job.node_id == node.id],
                             [job for job in ended if job.node_id == node.id], needs) for node in all_nodes]
    resources = {name: {field: sum(row["resources"][name][field] for row in node_rows) for field in RESOURCE_FIELDS}
                 for name in RESOURCES}
    offline = [node.hostname for node in all_nodes if not node.is_active]
    active = len(all_nodes) - len(offline)
    node_errors = ([{"NODES_OFFLINE": f"{len(offline)} of {len(all_nodes)} nodes offline: {', '.join(offline)}"}]
                   if offline else []) + ([] if active else [{"NO_ACTIVE_NODES": "No node can run jobs."}])
    paused = bool(scheduler.get("is_paused"))
    return {
        "timestamp": iso(now),
        "scheduler": {**scheduler, "warnings": [], "state": (
            {"name": "PAUSED", "title": "Paused", "description": "Scheduler is paused: nothing is dispatched."}
            if paused else {"name": "READY", "title": "Ready", "description": "Scheduler is ready to run new jobs."})},
        "dependencies": {
            "database": _dependency(True, "DynamoDB answered."),
            "nodes": _dependency(not node_errors, "Nodes are healthy." if not node_errors else "Nodes are unhealthy.",
                                 node_errors, active=active, offline=len(offline)),
        },
        "num_offers": 0,
        "resources": resources,
        "job_types": sorted((job_type_base(job_type) for job_type in job_types.values()),
                            key=lambda jt: (jt["name"], jt["version"], jt["id"])),
        "nodes": node_rows,
    }
