"""Bulk cancel and requeue: wall time, state transitions and DynamoDB writes per job.

Seeds N QUEUED and N FAILED jobs, cancels the QUEUED ones and requeues the FAILED ones through the
real path (the service starts the state machine; moto runs the ASL and routes its chunk task to our
handler in this process). Run: `BENCH_BULK_JOBS=10000 .venv/bin/python -m bench.bulk` (or `make bench`).
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import botocore.client

N = int(os.environ.get("BENCH_BULK_JOBS", "10000"))
calls: Counter = Counter()
_original = botocore.client.BaseClient._make_api_call


def _counting(self, operation_name, api_params):
    calls[operation_name] += 1
    return _original(self, operation_name, api_params)


def seed(status: str, count: int) -> None:
    from chalicelib import clock
    from local import sample_data as sd
    job_type = sd.job_type(f"bulk-{status.lower()}")
    now = clock.now()
    ids = iter(sd.new_ids(count))
    batch = []
    for _ in range(count):
        batch.append(sd.build_job(next(ids), job_type, status, now, error="timeout" if status == "FAILED" else None))
        if len(batch) == 1000:
            sd.store(batch)
            batch = []
    sd.store(batch)
    return job_type.id


def run(kind: str, job_type_id: int) -> dict:
    import boto3

    from chalicelib.services import bulk_jobs
    calls.clear()
    started = time.perf_counter()
    operation = bulk_jobs.start(kind, {"job_type_ids": [job_type_id]}, "bench", "default")
    while True:
        state = bulk_jobs.get_operation(operation["id"])
        if state["state"] != "RUNNING":
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    sfn = boto3.client("stepfunctions")
    arn = sfn.list_executions(stateMachineArn=_machine_arn(sfn))["executions"]
    execution = next(e for e in arn if e["name"] == f"bulk-{operation['id']}")
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    transitions = sum(1 for event in history if event["type"].endswith("StateEntered"))
    writes = calls["UpdateItem"] + calls["TransactWriteItems"] + calls["PutItem"]
    changed = state["changed"] or 1
    return {"kind": kind, "state": state["state"], "seconds": elapsed, "changed": state["changed"],
            "skipped": state["skipped"], "chunks": state["chunks"], "transitions": transitions,
            "writes_per_job": writes / changed, "transitions_per_job": transitions / changed,
            "messages": calls["SendMessage"] + calls["SendMessageBatch"]}


def _machine_arn(sfn) -> str:
    return next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if "bulk" in m["name"])


def main() -> None:
    botocore.client.BaseClient._make_api_call = _counting
    from tests.conftest import fresh_aws
    with fresh_aws(Path(tempfile.mkdtemp()) / "ws"):
        started = time.perf_counter()
        queued_type, failed_type = seed("QUEUED", N), seed("FAILED", N)
        print(f"seeded {2 * N} jobs in {time.perf_counter() - started:.1f}s", flush=True)
        rows = [run("cancel", queued_type), run("requeue", failed_type)]
    lines = [f"{N:,} QUEUED jobs canceled and {N:,} FAILED jobs requeued (the store holds both sets), moto "
             "in-process, the chunk task routed to our handler.", "",
             "| operation | wall time | changed | chunks | state transitions | transitions / job | "
             "writes / changed job | dispatch messages |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['seconds']:.1f} s | {r['changed']:,} | {r['chunks']} | {r['transitions']} | "
                     f"{r['transitions_per_job']:.3f} | {r['writes_per_job']:.2f} | {r['messages']:,} |")
    text = "\n".join(lines)
    print(text)
    if os.environ.get("BENCH_WRITE", "1") != "0":
        from bench.common import write_section
        write_section(text, "bulk")


if __name__ == "__main__":
    main()
