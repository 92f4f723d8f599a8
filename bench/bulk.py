"""Bulk cancel and requeue in the embedded stack: wall time, state transitions and writes per job.

Starts the local stack as `make run` does (moto in its own process with the chunk task routed to our
handler, the API in this process, the worker process, snapshots every 60 s), seeds N QUEUED and N FAILED
jobs straight into the emulated tables, pauses the scheduler (so the requeued jobs wait in the queue: what
running them costs is bench/run_jobs.py), then cancels the QUEUED jobs and requeues the FAILED ones over
HTTP as an operator would, polling the bulk operation until it ends. Wall time is from the POST to the
poll that sees the operation ended. The moto process counts the chunk task's AWS calls; transitions
come from the execution's history. Run: `BENCH_BULK_JOBS=10000 .venv/bin/python -m bench.bulk`.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.common import publish

N = int(os.environ.get("BENCH_BULK_JOBS", "10000"))
HEADERS = {"Authorization": "Bearer bench"}


def seed(status: str, count: int) -> int:
    from chalicelib import clock
    from local import sample_data as sd
    job_type = sd.job_type(f"bulk-{status.lower()}")
    now = clock.now()
    ids = iter(sd.new_ids(count))
    for start in range(0, count, 1000):
        sd.store([sd.build_job(next(ids), job_type, status, now, error="timeout" if status == "FAILED" else None)
                  for _ in range(min(1000, count - start))])
    return job_type.id


def run(base: str, calls_file: Path, kind: str, job_type_id: int) -> dict:
    import boto3
    before = _read_counts(calls_file)
    started = time.perf_counter()
    response = requests.post(f"{base}/v6/jobs/{kind}/", headers=HEADERS, json={"job_type_ids": [job_type_id]})
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    while True:
        state = requests.get(location, headers=HEADERS).json()
        if state["state"] != "RUNNING":
            break
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    after = _read_counts(calls_file)
    calls = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    sfn = boto3.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if "bulk" in m["name"])
    execution = next(e for e in sfn.list_executions(stateMachineArn=machine)["executions"]
                     if e["name"] == f"bulk-{state['id']}")
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    transitions = sum(1 for event in history if event["type"].endswith("StateEntered"))
    writes = sum(calls.get(f"dynamodb:{name}", 0) for name in ("UpdateItem", "TransactWriteItems", "PutItem"))
    changed = state["changed"] or 1
    return {"kind": kind, "state": state["state"], "seconds": elapsed, "changed": state["changed"],
            "skipped": state["skipped"], "chunks": state["chunks"], "transitions": transitions,
            "writes_per_job": writes / changed, "transitions_per_job": transitions / changed,
            "messages": calls.get("sqs:SendMessage", 0) + calls.get("sqs:SendMessageBatch", 0)}


def _read_counts(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def main() -> None:
    from local.call_counter import VARIABLE
    from local.stack import LocalStack, free_port
    data_dir = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    calls_file = data_dir / "chunk-calls.json"
    stack = LocalStack(data_dir=data_dir, port=free_port(), admin_token="bench",
                       snapshot_seconds=float(os.environ.get("JOBS_SNAPSHOT_SECONDS") or 60))
    stack.configure_environment()
    os.environ[VARIABLE] = str(calls_file)   # the moto process counts the chunk task's calls
    stack.start_moto()
    os.environ.pop(VARIABLE)
    stack.prepare(demo=False)
    stack.serve()
    stack.start_workers()
    threading.Thread(target=stack._snapshot_loop, name="snapshots", daemon=True).start()
    base = f"http://127.0.0.1:{stack.port}"
    try:
        paused = requests.patch(f"{base}/v6/scheduler/", headers=HEADERS, json={"is_paused": True})
        assert paused.status_code == 200, paused.text
        started = time.perf_counter()
        queued_type, failed_type = seed("QUEUED", N), seed("FAILED", N)
        print(f"seeded {2 * N} jobs in {time.perf_counter() - started:.1f}s", flush=True)
        rows = [run(base, calls_file, "cancel", queued_type), run(base, calls_file, "requeue", failed_type)]
        started = time.perf_counter()
        stack.snapshot()
        snapshot_seconds = time.perf_counter() - started
    finally:
        stack._stop.set()
        stack._workers.stop()
        stack._http.shutdown()
        stack._moto.stop()
    lines = [f"{N:,} QUEUED jobs canceled and {N:,} FAILED jobs requeued over HTTP in the embedded stack "
             f"(`make run`'s three processes, {os.cpu_count()} cores; the store holds both sets; scheduler paused).",
             "", "| operation | wall time | changed | chunks | state transitions | transitions / job | "
             "writes / changed job | dispatch requests |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['seconds']:.1f} s | {r['changed']:,} | {r['chunks']} | {r['transitions']} | "
                     f"{r['transitions_per_job']:.3f} | {r['writes_per_job']:.2f} | {r['messages']:,} |")
    lines += ["", f"One snapshot of this store (`make run` takes one every 60 s or 9x its duration): "
              f"{snapshot_seconds:.1f} s."]
    publish("\n".join(lines), "bulk")


if __name__ == "__main__":
    main()
