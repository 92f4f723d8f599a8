"""ECS mode (`JOBS_RUNNER=ecs`): AWS calls per job, dispatch latency, and the price of one job in AWS.

Starts the local stack in this process with the ECS runner against moto's ECS (the API here, the worker
process with the SQS poller, dispatch, the state-change handler and the local task agent), registers a
job type whose command is `true`, and submits jobs over HTTP:

0. one job to warm up (the task definition is registered, processes start cold);
1. `BENCH_ECS_FREE` jobs one after the other: dispatch latency when nothing waits;
2. `BENCH_ECS_JOBS` jobs at once with the cap `BENCH_ECS_CAP`: latency with queueing, and the calls.

Latencies: POST -> RunTask is the job's `created` to its execution's `started` (stamped by the claim just
before RunTask); POST -> EXECUTING is `created` to the EXECUTING entry the state-change handler writes when
the event shows the job's container running. Calls: every botocore call of the API process, the worker
process (dispatch, the handler) and the tasks' `pre`/`post` containers (run under local.counted_task), plus
one per state-change event delivered (one Lambda invocation each in AWS: the agent sends an event per
container start and stop and the task's stop, as ECS does, and delivers those the rule's event pattern
passes); the task agent's own calls (it plays ECS and the awslogs driver) are not counted.
Run: `.venv/bin/python -m bench.ecs_jobs`. With `JOBS_COUNT_CALLS_TRACE=<folder>` it also prints every
call per job by where it came from (the innermost frames of this repository's code), and the events by
what changed, delivered or not.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.common import noop_job_type, publish, serving_stack
from local.call_counter import CallCounts

FREE = int(os.environ.get("BENCH_ECS_FREE", "5"))
JOBS = int(os.environ.get("BENCH_ECS_JOBS", "40"))
CAP = int(os.environ.get("BENCH_ECS_CAP", "8"))

# us-east-1 list prices (December 2026 price pages; Linux/x86 Fargate, on-demand DynamoDB, standard SQS).
FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445
LAMBDA_REQUEST = 0.20 / 1e6
LAMBDA_GB_SECOND = 0.0000166667
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6
SQS_REQUEST = 0.40 / 1e6
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000


def _latencies(ids: list[int]) -> tuple[list[float], list[float]]:
    from chalicelib.models import jobs as job_store
    from chalicelib.models.executions import get_execution
    to_run, to_executing = [], []
    for job in job_store.get_jobs(ids).values():
        execution = get_execution(job.id, 1)
        to_run.append((execution.started - job.created).total_seconds())
        executing = next((e["at"] for e in job.timeline if e["status"] == "EXECUTING" and e["exe_num"] == 1), None)
        if executing:
            from datetime import datetime
            to_executing.append((datetime.fromisoformat(executing.replace("Z", "+00:00")) - job.created)
                                .total_seconds())
    return sorted(to_run), sorted(to_executing)


def _p95(values: list[float]) -> float:
    return values[max(0, int(len(values) * 0.95) - 1)]


def price(calls: Counter, jobs: int) -> list[str]:
    """One job of 1 minute on 1 vCPU / 2 GB, with this run's calls per job."""
    per = {name: count / jobs for name, count in calls.items()}
    fargate = 1 * FARGATE_VCPU_HOUR / 60 + 2 * FARGATE_GB_HOUR / 60
    invocations = per.get("events:ECS Task State Change", 0) + 1  # + the dispatch batch (one per job at worst)
    lambdas = invocations * (LAMBDA_REQUEST + 0.2 * 0.5 * LAMBDA_GB_SECOND)  # ~200 ms at 512 MB each
    writes = sum(v for k, v in per.items() if k in ("dynamodb:PutItem", "dynamodb:UpdateItem"))
    transactions = per.get("dynamodb:TransactWriteItems", 0)
    reads = sum(v for k, v in per.items() if k in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"))
    # Items of 1-4 KB: ~3 WRU a write, a transaction of two such items ~12 WRU (transactions count double);
    # ~2 RRU a read (a job item, strongly consistent when the handler checks it).
    dynamodb = (3 * writes + 12 * transactions) * DYNAMODB_WRITE_UNIT + 2 * reads * DYNAMODB_READ_UNIT
    sqs = sum(v for k, v in per.items() if k.startswith("sqs:")) * SQS_REQUEST
    s3 = per.get("s3:PutObject", 0) * S3_PUT + (per.get("s3:GetObject", 0) + per.get("s3:HeadObject", 0)) * S3_GET
    total = fargate + lambdas + dynamodb + sqs + s3
    return [
        "| part of one job (1 min, 1 vCPU / 2 GB, us-east-1) | $ |", "|---|---:|",
        f"| Fargate: 1 vCPU-minute + 2 GB-minutes (billed per second, 1 minute minimum) | {fargate:.6f} |",
        f"| Lambda: {invocations:.1f} invocations (~200 ms at 512 MB each) | {lambdas:.6f} |",
        f"| DynamoDB: {writes:.1f} writes, {transactions:.1f} transactions, {reads:.1f} reads | {dynamodb:.6f} |",
        f"| SQS, S3 requests | {sqs + s3:.6f} |",
        f"| **total** | **{total:.5f}** |",
    ]


def _print_traces(counts: CallCounts, jobs: int) -> None:
    """With JOBS_COUNT_CALLS_TRACE set: every process's calls by where they came from, per job."""
    from local.call_counter import TRACE_VARIABLE, read_traces, write_traces
    folder = os.environ.get(TRACE_VARIABLE)
    if not folder:
        return
    write_traces(counts)
    for where, count in sorted(read_traces(folder).items(), key=lambda item: -item[1]):
        print(f"{count / jobs:6.2f}  {where}")


def main() -> None:
    from local.call_counter import count_aws_calls
    os.environ.update({"JOBS_RUNNER": "ecs", "JOBS_ECS_MAX_TASKS": str(CAP), "JOBS_SWEEP_SECONDS": "3600"})
    counts = count_aws_calls()
    stack = serving_stack("bench-ecs-")
    data_dir = stack.data_dir
    calls_file = data_dir / "calls.json"
    os.environ["JOBS_COUNT_CALLS_FILE"] = str(calls_file)
    stack.start_workers()
    base = f"http://127.0.0.1:{stack.port}"
    headers = {"Authorization": "Bearer bench"}
    job_type, input_file = noop_job_type(base, headers)

    def submit(_: int) -> int:
        response = requests.post(f"{base}/v6/jobs/", headers=headers, json={
            "job_type_id": job_type, "input": {"files": {"INPUT_FILE": [input_file]}}})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    import boto3

    from local.call_counter import uncounted
    watcher = uncounted(boto3.session.Session().client("dynamodb", region_name="us-east-1"))

    def ended(ids: list[int]) -> int:
        """Jobs ended, read with an uncounted client (the bench's reads are not the service's)."""
        done = 0
        for start in range(0, len(ids), 100):
            keys = [{"id": {"N": str(job_id)}} for job_id in ids[start:start + 100]]
            items = watcher.batch_get_item(RequestItems={"local-jobs": {"Keys": keys}})["Responses"]["local-jobs"]
            done += sum(1 for item in items if item["status"]["S"] in ("COMPLETED", "FAILED"))
        return done

    def run(count: int) -> tuple[list[int], float]:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=count) as pool:
            ids = list(pool.map(submit, range(count)))
        while ended(ids) < len(ids):
            time.sleep(0.2)
        return ids, time.perf_counter() - started

    counts.clear()
    run(1)  # warm-up: the task definition is registered, the first processes start cold
    free_ids = [job_id for _ in range(FREE) for job_id in run(1)[0]]  # one at a time: nothing waits
    ids, elapsed = run(JOBS)
    api_calls = Counter(counts)
    stack._workers.stop()
    calls = api_calls + Counter(json.loads(calls_file.read_text()))
    for path in data_dir.glob("calls.json.*"):
        calls += Counter(json.loads(path.read_text()))
    free_run, free_exec = _latencies(free_ids)
    queued_run, queued_exec = _latencies(ids)
    from chalicelib.models import executions
    from chalicelib.models import jobs as job_store
    failed = sum(1 for j in job_store.get_jobs(ids + free_ids).values() if j.status != "COMPLETED")
    retried = Counter(e.error["name"] for job_id in ids + free_ids for e in executions.executions_of(job_id)
                      if e.error)
    stack._http.shutdown()
    stack._moto.stop()
    task_side = sum(v for k, v in calls.items() if k.startswith("s3:"))
    total = sum(calls.values())
    every = 1 + FREE + JOBS  # the worker process counts from its start: calls are per job of every round
    _print_traces(counts, every)
    lines = [
        f"Jobs running `true` as ECS tasks (local task agent), cap {CAP} running tasks: one to warm up, {FREE} "
        f"one after the other (nothing waits), then {JOBS} at once ({elapsed:.1f} s for all {JOBS}).",
        "",
        "| measure | value |", "|---|---:|",
        f"| AWS calls per job, all (incl. RunTask, the events, the tasks' S3 calls) | {total / every:.1f} |",
        f"| of which state-change events (handler invocations) | {calls['events:ECS Task State Change'] / every:.1f} |",
        f"| of which the pre/post containers' S3 calls | {task_side / every:.1f} |",
        f"| POST -> RunTask, no queueing, median / p95 | {statistics.median(free_run) * 1000:.0f} / "
        f"{_p95(free_run) * 1000:.0f} ms |",
        f"| POST -> EXECUTING, no queueing, median / p95 | {statistics.median(free_exec):.2f} / "
        f"{_p95(free_exec):.2f} s |",
        f"| POST -> RunTask, {JOBS} jobs queued behind {CAP} tasks, median / p95 | "
        f"{statistics.median(queued_run):.2f} / {_p95(queued_run):.2f} s |",
        f"| POST -> EXECUTING, same, median / p95 | {statistics.median(queued_exec):.2f} / {_p95(queued_exec):.2f} s |",
        f"| jobs not COMPLETED | {failed} |",
        f"| executions that failed (then retried) | {sum(retried.values())} {dict(retried) or ''} |",
        "",
        "Calls per job by operation: " + ", ".join(f"{name} {count / every:.2f}" for name, count in calls.most_common()
                                                  if count > 0),
        "",
        *price(calls, every),
    ]
    publish("\n".join(lines), "ecs_jobs")


if __name__ == "__main__":
    main()
