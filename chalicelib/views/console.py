"""v6 shapes of the console's operational pages: running jobs and the queue, per job type."""
from __future__ import annotations

from chalicelib.domain import JobTypeRecord, StatusGroup
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
