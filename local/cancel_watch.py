"""Stop the processes of executions canceled elsewhere.

A bulk cancel runs in the state machine's chunk function, not in the worker that runs the job: it ends
the job and its execution CANCELED in the table (so the execution's end report is ignored). The worker
polls here every few seconds: one BatchGetItem for the jobs its runner is running, and a stop for each
execution whose job was canceled or moved on to another execution. (A cloud runner would be stopped by
the chunk function itself, e.g. ECS StopTask.)
"""
from __future__ import annotations

import logging
import re

from chalicelib.models import jobs as job_store

log = logging.getLogger(__name__)

_CLUSTER_ID = re.compile(r"_(\d+)x(\d+)$")  # scale_job_<execution id>_<job id>x<exe num>


def stop_canceled(runner) -> list[str]:
    running = {}
    for cluster_id in runner.running():
        match = _CLUSTER_ID.search(cluster_id)
        if match:
            running[cluster_id] = (int(match.group(1)), int(match.group(2)))
    if not running:
        return []
    jobs = job_store.get_jobs({job_id for job_id, _ in running.values()})
    stopped = []
    for cluster_id, (job_id, exe_num) in running.items():
        job = jobs.get(job_id)
        if job is not None and (job.status == "CANCELED" or job.num_exes != exe_num):
            if runner.stop(cluster_id):
                log.info("stopped %s: its job was canceled", cluster_id)
                stopped.append(cluster_id)
    return stopped
