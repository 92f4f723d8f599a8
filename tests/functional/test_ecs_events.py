"""ECS task state changes, delivered in their EventBridge shape to the deployed handler: phases, the end
of an execution (success with outputs, exit codes mapped through the manifest's errors, staging and
capture failures, launch failures, cancel and timeout), and repeated, late or out-of-order events that
change nothing."""
from __future__ import annotations

import json
import time

import boto3
import pytest

from chalicelib.models import executions
from chalicelib.models import files as file_store
from chalicelib.models import jobs as job_store
from tests.functional.ecs_world import aws_requests, configure_ecs, deliver, submit, tasks


@pytest.fixture
def ecs(api, monkeypatch):
    yield from configure_ecs(api, monkeypatch)


def running_task(api) -> tuple[int, dict]:
    job_id = submit()
    deliver(api, job_id)
    (task,) = [t for t in tasks() if t["startedBy"] == executions.get_execution(job_id, 1).cluster_id]
    return job_id, task


def state(task: dict, last: str, pre=(None, None), main=(None, None), post=(None, None), stop_code=None,
          reason=None) -> dict:
    """The `detail` of an "ECS Task State Change": each container as (lastStatus, exitCode)."""
    containers = []
    for name, (status, code) in (("pre", pre), ("main", main), ("post", post)):
        entry = {"name": name, "lastStatus": status or "PENDING", "taskArn": task["taskArn"]}
        if code is not None:
            entry["exitCode"] = code
        containers.append(entry)
    detail = {"clusterArn": task["clusterArn"], "taskArn": task["taskArn"], "startedBy": task["startedBy"],
              "taskDefinitionArn": task["taskDefinitionArn"], "lastStatus": last, "desiredStatus":
              "STOPPED" if last == "STOPPED" else "RUNNING", "containers": containers,
              "createdAt": "2026-12-03T07:00:00.000Z", "startedAt": "2026-12-03T07:00:05.000Z",
              "updatedAt": "2026-12-03T07:00:06.000Z"}
    if last == "STOPPED":
        detail.update(stoppedAt="2026-12-03T07:01:05.000Z", stopCode=stop_code or "EssentialContainerExited",
                      stoppedReason=reason or "Essential container in task exited")
    return detail


def send(api, detail: dict) -> dict:
    event = api.client.events.generate_cw_event(source="aws.ecs", detail_type="ECS Task State Change",
                                                detail=detail, resources=[detail["taskArn"]], region="us-east-1")
    return api.client.lambda_.invoke("ecs_task_state_change", event).payload


def write_result(task: dict, document: dict) -> None:
    boto3.client("s3").put_object(Bucket="test-files", Key=f"test-executions/{task['startedBy']}/result.json",
                                  Body=json.dumps(document).encode())


def timeline(job_id: int) -> list[str]:
    return [entry["status"] for entry in job_store.get_job(job_id, consistent=True).timeline]


EXECUTING = dict(pre=("STOPPED", 0), main=("RUNNING", None))
DONE = dict(pre=("STOPPED", 0), main=("STOPPED", 0), post=("STOPPED", 0))


def test_a_successful_task_completes_the_job_with_its_outputs_once(ecs):
    job_id, task = running_task(ecs)
    assert send(ecs, state(task, "PROVISIONING")) == {"changed": None}
    assert send(ecs, state(task, "RUNNING", pre=("RUNNING", None))) == {"changed": None}
    assert send(ecs, state(task, "RUNNING", **EXECUTING)) == {"changed": "EXECUTING"}
    assert send(ecs, state(task, "RUNNING", **EXECUTING)) == {"changed": None}  # repeated
    assert timeline(job_id) == ["QUEUED", "RUNNING", "EXECUTING"]
    write_result(task, {"failure": None, "main_exit_code": 0, "output_json": {},
                        "output_files": [{"output": "OUTPUT_FILE", "file_name": "result.out",
                                          "file_path": f"outputs/{job_id}/1/result.out", "workspace": "default",
                                          "file_size": 12, "media_type": "text/plain"}],
                        "tasks": {"pre": {"started": "2026-12-03T07:00:05Z", "ended": "2026-12-03T07:00:06Z"},
                                  "post": {"started": "2026-12-03T07:01:00Z", "ended": "2026-12-03T07:01:01Z"}}})
    stopped = state(task, "STOPPED", **DONE)
    assert send(ecs, stopped) == {"changed": "COMPLETED"}
    job = job_store.get_job(job_id, consistent=True)
    (output_id,) = job_store.get_job_data(job_id).output["files"]["OUTPUT_FILE"]
    assert file_store.get_files({output_id})[output_id].file_name == "result.out"
    execution = executions.get_execution(job_id, 1)
    assert execution.status == "COMPLETED" and execution.exit_code == 0
    assert execution.task_results["ecs_task_id"] == task["taskArn"].rsplit("/", 1)[-1]
    assert [t["exit_code"] for t in execution.task_results["tasks"]] == [0, 0, 0]
    assert timeline(job_id) == ["QUEUED", "RUNNING", "EXECUTING", "UPLOADING", "DOWNLOADING", "COMPLETED"]
    # the same event again, and a late one from while it ran, change nothing
    assert send(ecs, stopped) == {"changed": None}
    assert send(ecs, state(task, "RUNNING", **EXECUTING)) == {"changed": None}
    assert job_store.get_job(job_id, consistent=True).last_modified == job.last_modified
    assert len(job_store.get_job_data(job_id).output["files"]["OUTPUT_FILE"]) == 1
    assert [f.file_name for f in file_store.all_files() if f.job_output] == ["result.out"]  # stored once


def test_executing_is_one_conditional_write_and_a_repeat_or_an_event_without_main_running_reads_nothing(ecs):
    job_id, task = running_task(ecs)
    with aws_requests() as sent:
        assert send(ecs, state(task, "RUNNING", pre=("RUNNING", None))) == {"changed": None}
        assert send(ecs, state(task, "RUNNING", pre=("STOPPED", 0))) == {"changed": None}
    assert sent == []  # nothing to record: no read either
    with aws_requests() as sent:
        assert send(ecs, state(task, "RUNNING", **EXECUTING)) == {"changed": "EXECUTING"}
    assert sent == ["dynamodb:UpdateItem"]
    job = job_store.get_job(job_id, consistent=True)
    with aws_requests() as sent:  # EventBridge delivers at least once: the same event again
        assert send(ecs, state(task, "RUNNING", **EXECUTING)) == {"changed": None}
    assert sent == ["dynamodb:UpdateItem"]  # refused by its condition: no read, nothing written
    assert timeline(job_id) == ["QUEUED", "RUNNING", "EXECUTING"]
    assert job_store.get_job(job_id, consistent=True) == job


def test_an_exit_code_is_mapped_through_the_manifests_errors(ecs):
    job_id, task = running_task(ecs)
    detail = state(task, "STOPPED", pre=("STOPPED", 0), main=("STOPPED", 3), post=("STOPPED", 0))
    write_result(task, {"failure": None, "main_exit_code": 3, "tasks": {}})
    assert send(ecs, detail) == {"changed": "FAILED"}
    job = job_store.get_job(job_id, consistent=True)
    assert job.error["name"] == "bad-input" and job.exit_code == 3


@pytest.mark.parametrize(("detail", "document", "error"), [
    (dict(pre=("STOPPED", 1)), {"failure": "filesystem-io", "detail": "input could not be read"}, "filesystem-io"),
    (dict(pre=("STOPPED", 1)), None, "filesystem-io"),
    (dict(DONE, post=("STOPPED", 1)), {"failure": "missing-required-output", "detail": "no file"},
     "missing-required-output"),
    (DONE, None, "filesystem-io"),  # post never wrote its result document
])
def test_staging_and_capture_failures_come_from_the_result_document(ecs, detail, document, error):
    job_id, task = running_task(ecs)
    if document is not None:
        write_result(task, document)
    send(ecs, state(task, "STOPPED", **detail))
    job = job_store.get_job(job_id, consistent=True)
    execution = executions.get_execution(job_id, 1)
    assert execution.error["name"] == error and job.error_id == execution.error_id or job.status == "QUEUED"


def test_a_task_that_never_started_is_a_launch_failure_retried_and_its_late_events_change_nothing(ecs):
    job_id, task = running_task(ecs)
    failed = state(task, "STOPPED", stop_code="TaskFailedToStart",
                   reason="CannotPullContainerError: pull image manifest has been retried 5 time(s)")
    assert send(ecs, failed) == {"changed": "QUEUED"}  # task-launch is retried
    execution = executions.get_execution(job_id, 1)
    assert execution.error["name"] == "task-launch"
    assert "CannotPullContainerError" in execution.task_results["detail"]
    job = job_store.get_job(job_id, consistent=True)
    assert (job.status, job.num_exes) == ("QUEUED", 2)
    # late and out-of-order events of the first execution
    assert send(ecs, state(task, "RUNNING", **EXECUTING)) == {"changed": None}
    assert send(ecs, failed) == {"changed": None}
    assert job_store.get_job(job_id, consistent=True).last_modified == job.last_modified


def test_a_canceled_job_s_stopped_task_changes_nothing_and_frees_its_place(ecs):
    from chalicelib.models import job_state
    from chalicelib.services.dispatch import fill_slots
    first, task = running_task(ecs)
    second, _ = running_task(ecs)
    third = submit()
    fill_slots()
    assert job_store.get_job(third).status == "QUEUED"  # two tasks at most
    job_state.cancel(job_store.get_job(first, consistent=True), job_store.get_job(first).last_modified,
                     {"id": 1, "kind": "cancel", "reason": None})
    boto3.client("ecs").stop_task(cluster="test-jobs", task=task["taskArn"], reason="scale: canceled")
    assert send(ecs, state(task, "STOPPED", **EXECUTING, stop_code="UserInitiated",
                           reason="scale: canceled")) == {"changed": None}
    assert job_store.get_job(first, consistent=True).status == "CANCELED"
    assert job_store.get_job(third, consistent=True).status == "RUNNING"  # dispatched into the freed place


def test_a_stopped_task_reads_the_queue_first_and_counts_the_cluster_s_tasks_only_when_a_job_waits(ecs):
    def stopped(task: dict) -> dict:
        write_result(task, {"failure": None, "output_files": [], "output_json": {}, "tasks": {}})
        boto3.client("ecs").stop_task(cluster="test-jobs", task=task["taskArn"], reason="done")
        return state(task, "STOPPED", **DONE)

    _, task = running_task(ecs)
    event = stopped(task)
    with aws_requests() as sent:
        assert send(ecs, event) == {"changed": "COMPLETED"}
    assert "dynamodb:Query" in sent and "ecs:ListTasks" not in sent  # nothing queued: no ListTasks
    _, task = running_task(ecs)
    third = submit()  # queued: its dispatch message is not delivered, the next STOPPED event dispatches it
    event = stopped(task)
    with aws_requests() as sent:
        assert send(ecs, event) == {"changed": "COMPLETED"}
    assert sent.index("dynamodb:Query") < sent.index("ecs:ListTasks") < sent.index("ecs:RunTask")
    assert job_store.get_job(third, consistent=True).status == "RUNNING"


def test_a_task_stopped_outside_the_service_is_retried(ecs):
    job_id, task = running_task(ecs)
    send(ecs, state(task, "STOPPED", **EXECUTING, stop_code="UserInitiated", reason="stopped from the console"))
    job = job_store.get_job(job_id, consistent=True)
    assert (job.status, job.num_exes) == ("QUEUED", 2)


def test_events_of_other_tasks_are_ignored(ecs):
    job_id, task = running_task(ecs)
    other = dict(state(task, "STOPPED", **DONE), startedBy="ecs-svc/123")
    assert send(ecs, other) == {"changed": None}
    elsewhere = dict(state(task, "STOPPED", **DONE), clusterArn="arn:aws:ecs:us-east-1:1:cluster/other")
    assert send(ecs, elsewhere) == {"changed": None}
    assert job_store.get_job(job_id, consistent=True).status == "RUNNING"


def test_the_log_endpoints_read_the_task_s_container_streams_while_it_runs_and_after(ecs):
    job_id, task = running_task(ecs)
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="test-job-executions")
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    now_ms = int(time.time() * 1000)
    for container, lines in (("pre", ["staged 1 input"]), ("main", ["out line", "err line"]),
                             ("post", ["stored 1 output"])):
        logs.create_log_stream(logGroupName="test-job-executions", logStreamName=f"scale/{container}/{task_id}")
        logs.put_log_events(logGroupName="test-job-executions", logStreamName=f"scale/{container}/{task_id}",
                            logEvents=[{"timestamp": now_ms + i + (10 if container == "post" else 0)
                                        + (5 if container == "main" else 0), "message": line}
                                       for i, line in enumerate(lines)])
    execution_id = executions.get_execution(job_id, 1).id

    def read(log_id: str) -> list[str]:
        response = ecs.get(f"/v6/job-executions/{execution_id}/logs/{log_id}/?format=txt")
        return response.body.decode().splitlines() if response.status_code == 200 else []

    assert read("stdout") == ["out line", "err line"]  # found through ListTasks while the task runs
    write_result(task, {"failure": None, "output_files": [], "output_json": {}, "tasks": {}})
    send(ecs, state(task, "STOPPED", **DONE))
    boto3.client("ecs").stop_task(cluster="test-jobs", task=task["taskArn"], reason="done")
    assert read("stdout") == ["out line", "err line"]  # from the execution's task results once ended
    assert read("stderr") == ["staged 1 input", "stored 1 output"]
    assert read("combined") == ["staged 1 input", "out line", "err line", "stored 1 output"]
