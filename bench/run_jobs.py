"""Dispatch latency and throughput of the embedded stack, and AWS calls per job.

Starts the whole local stack in this process (moto on loopback, the API, the SQS poller, the
runner with the default slots), registers a job type whose command is `true`, submits N jobs over
HTTP at once, and waits for them to finish. Latency is POST -> RUNNING (the job's `created` to its
execution's `started`, both stamped by the service); throughput is jobs finished per second from the
first submission to the last end; every AWS call the service makes (botocore, all clients) is counted.
Run: `.venv/bin/python -m bench.run_jobs` (or `make bench`).
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import botocore.client
import requests

from bench.common import noop_job_type, publish, serving_stack

JOBS = int(os.environ.get("BENCH_JOBS", "200"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1"))
_muted = threading.local()
calls: Counter = Counter()
_original = botocore.client.BaseClient._make_api_call


def _counting(self, operation_name, api_params):
    if not getattr(_muted, "on", False):
        calls[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
    return _original(self, operation_name, api_params)


def main() -> None:
    botocore.client.BaseClient._make_api_call = _counting
    stack = serving_stack("bench-run-")
    data_dir = stack.data_dir
    os.environ["JOBS_SWEEP_SECONDS"] = "3600"
    worker_calls_file = data_dir / "worker-calls.json"
    os.environ["JOBS_COUNT_CALLS_FILE"] = str(worker_calls_file)
    stack.start_workers()
    slots = int(os.environ.get("JOBS_WORKER_SLOTS") or os.cpu_count() or 1)
    base = f"http://127.0.0.1:{stack.port}"
    headers = {"Authorization": "Bearer bench"}
    job_type, input_file = noop_job_type(base, headers)
    calls.clear()
    local = threading.local()

    def submit(_) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.post(f"{base}/v6/jobs/", headers=headers, json={
            "job_type_id": job_type, "input": {"files": {"INPUT_FILE": [input_file]}}})
        assert response.status_code == 201, (response.status_code, response.text, response.request.url)
        return response.json()["id"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        ids = list(pool.map(submit, range(JOBS)))
    submitted = time.perf_counter() - started
    from chalicelib.models import jobs as job_store
    _muted.on = True
    while True:
        finished = [j for j in job_store.get_jobs(ids).values() if j.status in ("COMPLETED", "FAILED")]
        if len(finished) == len(ids):
            break
        time.sleep(0.2)
    _muted.on = False
    elapsed = time.perf_counter() - started
    from chalicelib.models.executions import get_execution
    _muted.on = True
    jobs = list(job_store.get_jobs(ids).values())
    latencies = sorted((get_execution(j.id, 1).started - j.created).total_seconds() * 1000 for j in jobs)
    _muted.on = False
    failed = sum(1 for j in jobs if j.status != "COMPLETED")
    stack._workers.stop()
    import json
    calls.update(json.loads(worker_calls_file.read_text()))
    total_calls = sum(calls.values())
    stack._http.shutdown()
    stack._moto.stop()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    lines = [
        f"{JOBS} jobs running `true`, {slots} slots (the default: one per CPU), submitted over HTTP by "
        f"{CLIENTS} concurrent clients ({submitted:.1f} s to submit them all).",
        "",
        "| measure | value |", "|---|---:|",
        f"| throughput, first POST to last end | {JOBS / elapsed:.1f} jobs/s |",
        f"| dispatch latency POST -> RUNNING, median | {statistics.median(latencies):.0f} ms |",
        f"| dispatch latency, 95th percentile | {p95:.0f} ms |",
        f"| AWS calls per job, all | {total_calls / JOBS:.1f} |",
        f"| jobs not COMPLETED | {failed} |",
        "",
        "Calls per job by operation: " + ", ".join(f"{name} {count / JOBS:.2f}" for name, count in calls.most_common()),
    ]
    publish("\n".join(lines), "run_jobs")


if __name__ == "__main__":
    main()
