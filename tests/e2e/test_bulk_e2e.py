"""Bulk operations in the embedded stack: a RUNNING job is killed by cancel (its log says so) and a
requeued job really runs again."""
from __future__ import annotations

import time

import pytest

from tests.e2e.test_local_stack import Stack
from tests.e2e.test_running_jobs import FAST, register, submit, wait_for

pytestmark = pytest.mark.e2e


def wait_for_operation(stack: Stack, location: str, seconds: float = 60) -> dict:
    path = location.replace(stack.url(""), "/")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        operation = stack.get(path).json()
        if operation["state"] != "RUNNING":
            return operation
        time.sleep(0.3)
    raise AssertionError(f"operation still running: {operation}")


def test_cancel_kills_a_running_job_and_requeue_runs_it_again(tmp_path):
    stack = Stack(tmp_path, env=FAST)
    try:
        job_type = register(stack, "sleepy", "echo started; sleep 30")
        job_id = submit(stack, job_type, b"x")
        wait_for(stack, job_id, ("RUNNING",))
        time.sleep(1)
        canceled = stack.post("/v6/jobs/cancel/", {"job_ids": [job_id], "reason": "e2e"})
        assert canceled.status_code == 202, canceled.text
        operation = wait_for_operation(stack, canceled.headers["Location"])
        assert operation["state"] == "SUCCEEDED" and operation["changed"] == 1
        job = wait_for(stack, job_id, ("CANCELED",))
        execution = job["execution"] or stack.get(f"/v6/jobs/{job_id}/executions/1/").json()
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline and "canceled" not in text:
            text = stack.get(f"/v6/job-executions/{execution['id']}/logs/combined/?format=txt").text
            time.sleep(0.5)
        assert "started" in text and "canceled" in text
        assert stack.get(f"/v6/jobs/{job_id}/executions/1/").json()["status"] == "CANCELED"

        requeued = stack.post("/v6/jobs/requeue/", {"job_ids": [job_id]})
        assert requeued.status_code == 202, requeued.text
        assert wait_for_operation(stack, requeued.headers["Location"])["changed"] == 1
        again = wait_for(stack, job_id, ("RUNNING",))
        assert again["num_exes"] == 2
    finally:
        stack.stop()
