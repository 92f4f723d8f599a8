"""The cloud path on this machine: `JOBS_RUNNER=ecs` starts the stack with the ECS runner against moto's
ECS; the local task agent runs each task's pre/main/post containers as processes and delivers the task
state changes to the same handler as EventBridge does in AWS. One stack for every scenario: success with
outputs, an exit code mapped through the manifest's errors, a timeout, a cancel of a running job, a
requeue, and logs read while the job runs."""
from __future__ import annotations

import time

import pytest

from tests.e2e.test_local_stack import Stack
from tests.e2e.test_running_jobs import register, submit, wait_for

pytestmark = pytest.mark.e2e
ECS = {"JOBS_RUNNER": "ecs", "JOBS_SNAPSHOT_SECONDS": "0.5", "JOBS_SNAPSHOT_PAUSE_RATIO": "0",
       "JOBS_SWEEP_SECONDS": "1", "JOBS_TIMEOUT_GRACE_SECONDS": "0", "JOBS_RETRY_BASE_SECONDS": "1",
       "JOBS_CANCEL_WATCH_SECONDS": "1", "JOBS_ECS_MAX_TASKS": "8"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("ecs-stack")
    running = Stack(data, env=ECS)
    running.data = data
    try:
        yield running
    finally:
        running.stop()


def log_lines(stack: Stack, execution_id: int, log_id: str) -> list[str]:
    response = stack.get(f"/v6/job-executions/{execution_id}/logs/{log_id}/?format=txt")
    return response.text.splitlines() if response.status_code == 200 else []


def test_the_stack_runs_jobs_as_ecs_tasks(stack):
    # success with outputs, the logs of the job's container, the history
    upper = register(stack, "upper", "tr a-z A-Z < ${INPUT_FILE} > ${OUTPUT_DIR}/result.out; echo converted; "
                                     "echo a-warning >&2")
    fails = register(stack, "fails", "echo failing; exit 3")
    slow = register(stack, "slow", "echo started; sleep 30", timeout=2)
    long = register(stack, "long", "echo first-line; sleep 60; echo never")
    marker = stack.data / "second-try"
    flaky = register(stack, "flaky", f"if [ -e {marker} ]; then echo ok > ${{OUTPUT_DIR}}/again.out; "
                                     f"else touch {marker}; exit 1; fi")
    done, failed, timed_out, canceled, requeued = (submit(stack, job_type, b"hello world\n")
                                                   for job_type in (upper, fails, slow, long, flaky))

    # logs while running, then a cancel of the running job
    running = wait_for(stack, canceled, ("RUNNING",))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "first-line" not in log_lines(stack, running["execution"]["id"], "stdout"):
        time.sleep(0.3)
    assert log_lines(stack, running["execution"]["id"], "stdout") == ["first-line"]
    response = stack.post("/v6/jobs/cancel/", {"job_ids": [canceled]})
    assert response.status_code in (200, 202), response.text

    job = wait_for(stack, done, ("COMPLETED", "FAILED"))
    assert job["status"] == "COMPLETED", job
    assert job["node"]["hostname"] == "fargate"
    (output_id,) = job["output"]["files"]["OUTPUT_FILE"]
    output = stack.get(f"/v6/files/{output_id}/").json()
    assert (stack.data / "workspaces" / "default" / output["file_path"]).read_bytes() == b"HELLO WORLD\n"
    execution = job["execution"]
    assert execution["status"] == "COMPLETED" and execution["job_exit_code"] == 0
    # awslogs merges the container's stdout and stderr into one stream: `stdout` serves it
    assert sorted(log_lines(stack, execution["id"], "stdout")) == ["a-warning", "converted"]
    history = stack.get(f"/v1/jobs/history?q=jobId=={done}").json()["jobs"][0]
    statuses = [s["status"] for s in history["statusHistory"]]
    assert statuses[:3] == ["SCHEDULED", "QUEUED", "INIT"] and statuses[-1] == "FINISHED"
    assert {"UPLOADING", "EXECUTING", "DOWNLOADING"} <= set(statuses)

    # an exit code mapped through the manifest's errors
    job = wait_for(stack, failed, ("FAILED", "COMPLETED"))
    assert job["error"]["name"] == "bad-input" and job["execution"]["job_exit_code"] == 3

    # the timeout, enforced by the service (the sweep stops the task)
    job = wait_for(stack, timed_out, ("FAILED", "COMPLETED"), seconds=30)
    assert job["error"]["name"] == "timeout"

    # the canceled job stays canceled when its stopped task reports
    job = wait_for(stack, canceled, ("CANCELED",))
    time.sleep(2)
    assert stack.get(f"/v6/jobs/{canceled}/").json()["status"] == "CANCELED"

    # a requeue runs a failed job again, as a new task
    job = wait_for(stack, requeued, ("FAILED", "COMPLETED"))
    assert job["status"] == "FAILED" and job["execution"]["job_exit_code"] == 1
    response = stack.post("/v6/jobs/requeue/", {"job_ids": [requeued]})
    assert response.status_code in (200, 202), response.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = stack.get(f"/v6/jobs/{requeued}/").json()
        if job["num_exes"] == 2 and job["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.3)
    assert (job["status"], job["num_exes"]) == ("COMPLETED", 2), job


def test_a_job_whose_task_died_with_the_stack_runs_again_after_a_restart(tmp_path):
    first = Stack(tmp_path, env=ECS)
    try:
        job_type = register(first, "napper", "sleep 4; echo rested > ${OUTPUT_DIR}/rest.out")
        job_id = submit(first, job_type, b"x")
        wait_for(first, job_id, ("RUNNING",))
    finally:
        first.kill()  # as a crash: the task's processes die with the worker, the emulator forgets its tasks
    second = Stack(tmp_path, env=ECS)
    try:
        job = wait_for(second, job_id, ("COMPLETED", "FAILED"), seconds=60)
        assert (job["status"], job["num_exes"]) == ("COMPLETED", 2), job
    finally:
        second.stop()
