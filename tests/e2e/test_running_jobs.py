"""Jobs really run in the embedded stack: a Seed command transforms an input file into an output
file, its logs are served over HTTP, and a stack killed mid-run never leaves a job stuck RUNNING."""
from __future__ import annotations

import base64
import json
import time

import pytest

from local.sample_data import manifest
from tests.e2e.test_local_stack import Stack

pytestmark = pytest.mark.e2e
FAST = {"JOBS_SNAPSHOT_SECONDS": "0.5", "JOBS_SNAPSHOT_PAUSE_RATIO": "0", "JOBS_SWEEP_SECONDS": "1",
        "JOBS_RETRY_BASE_SECONDS": "1", "JOBS_WORKER_SLOTS": "2"}


def wait_for(stack: Stack, job_id: int, statuses: tuple[str, ...], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = stack.get(f"/v6/jobs/{job_id}/").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']}")


def register(stack: Stack, name: str, command: str, timeout: int = 60) -> int:
    created = stack.post("/v6/job-types/", {"docker_image": f"{name}:1", "manifest": manifest(name, command=command,
                                                                                          timeout=timeout),
                                            "configuration": {"output_workspaces": {"default": "default"}}})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def submit(stack: Stack, job_type_id: int, content: bytes) -> int:
    upload = stack.post("/v6/files/", {"workspace": "default", "file_name": "in.txt",
                                       "content_base64": base64.b64encode(content).decode()})
    queued = stack.post("/v6/jobs/", {"job_type_id": job_type_id,
                                      "input": {"files": {"INPUT_FILE": [upload.json()["id"]]}},
                                      "configuration": {"settings": {"API_KEY": "k", "MODE": "m"}}})
    assert queued.status_code == 201, queued.text
    return queued.json()["id"]


def test_a_job_transforms_its_input_and_its_logs_are_served(tmp_path):
    stack = Stack(tmp_path, env=FAST)
    try:
        job_type = register(stack, "upper", "tr a-z A-Z < ${INPUT_FILE} > ${OUTPUT_DIR}/result.out; "
                                            "echo converted; echo a-warning >&2")
        job_id = submit(stack, job_type, b"hello world\n")
        job = wait_for(stack, job_id, ("COMPLETED", "FAILED"))
        assert job["status"] == "COMPLETED", job
        (output_id,) = job["output"]["files"]["OUTPUT_FILE"]
        output = stack.get(f"/v6/files/{output_id}/").json()
        assert (tmp_path / "workspaces" / "default" / output["file_path"]).read_bytes() == b"HELLO WORLD\n"
        execution = job["execution"]
        assert execution["status"] == "COMPLETED" and execution["job_exit_code"] == 0
        combined = stack.get(f"/v6/job-executions/{execution['id']}/logs/combined/?format=txt")
        # stdout and stderr are read by two threads: their relative order is not the program's
        assert sorted(combined.text.splitlines()) == ["a-warning", "converted"]
        stderr = stack.get(f"/v6/job-executions/{execution['id']}/logs/stderr/").json()
        assert [h["_source"]["message"] for h in stderr["hits"]["hits"]] == ["a-warning"]
        history = stack.get(f"/v1/jobs/history?q=jobId=={job_id}").json()["jobs"][0]
        assert history["exitStatus"] == "SUCCESS" and history["wallclockTime"] is not None
        assert [s["status"] for s in history["statusHistory"]] == [
            "SCHEDULED", "QUEUED", "INIT", "UPLOADING", "EXECUTING", "DOWNLOADING", "FINISHED"]
    finally:
        stack.stop()


def snapshot_status(data_dir, job_id: int) -> str | None:
    """The job's status in the last complete snapshot of the stack's data folder (None: not there yet)."""
    folder = data_dir / "snapshot"
    try:
        tables = [json.loads(line) for line in (folder / "dynamodb" / "tables.jsonl").read_text().splitlines()]
        jobs = next(t for t in tables if t["definition"]["TableName"].endswith("-jobs"))
        for line in (folder / "dynamodb" / jobs["file"]).read_text().splitlines():
            item = json.loads(line)
            if item["id"]["N"] == str(job_id):
                return item["status"]["S"]
    except (OSError, StopIteration, ValueError, KeyError):
        return None  # being swapped in, or not taken yet
    return None


def test_a_stack_killed_mid_run_retries_the_job_with_node_lost(tmp_path):
    stack = Stack(tmp_path, env=FAST)
    try:
        job_type = register(stack, "slow", "sleep 8; cp ${INPUT_FILE} ${OUTPUT_DIR}/copy.out")
        job_id = submit(stack, job_type, b"data\n")
        wait_for(stack, job_id, ("RUNNING",))
        deadline = time.monotonic() + 6
        while snapshot_status(tmp_path, job_id) != "RUNNING":
            assert time.monotonic() < deadline, "no snapshot taken while the job ran"
            time.sleep(0.1)
    finally:
        stack.kill()  # as a crash would (and, should the test fail early, no stack is left running)

    again = Stack(tmp_path, env=FAST)
    try:
        job = wait_for(again, job_id, ("COMPLETED", "FAILED"), seconds=90)
        executions = again.get(f"/v6/jobs/{job_id}/executions/").json()["results"]
        first = next(e for e in executions if e["exe_num"] == 1)
        assert first["status"] == "FAILED" and first["error"]["name"] == "node-lost"
        assert job["status"] == "COMPLETED" and job["num_exes"] == 2
    finally:
        again.stop()
