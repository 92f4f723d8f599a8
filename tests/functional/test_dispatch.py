"""Dispatch through SQS, the end of executions, retries, priorities, capacity and the sweep, with a
fake runner standing in for the worker slots (the real local runner has its own tests)."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from chalicelib import clock, wiring
from chalicelib.models import executions, nodes
from chalicelib.models import files as file_store
from chalicelib.models import jobs as job_store
from chalicelib.models.tables import JobType
from chalicelib.runners.base import ExecutionResult, OutputFile
from chalicelib.services import execution_events
from chalicelib.services.queue_job import queue_job
from chalicelib.services.sweeps import sweep
from local import sample_data as sd
from tests.functional.assertions import assert_counts_exact

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


class FakeRunner:
    def __init__(self, slots: int = 1) -> None:
        self.slots = slots
        self.launched: list = []
        self.stopped: list[str] = []
        self.done: set[str] = set()

    def launch(self, spec) -> None:
        assert self.free_slots() > 0
        self.launched.append(spec)

    def stop(self, cluster_id: str) -> bool:
        self.stopped.append(cluster_id)
        return True

    def free_slots(self) -> int:
        return self.slots - len(self.running())

    def running(self) -> list[str]:
        return [s.cluster_id for s in self.launched if s.cluster_id not in self.done]

    def finish(self, spec) -> None:
        self.done.add(spec.cluster_id)


@pytest.fixture
def now():
    current = {"t": T0}
    clock.set_clock(lambda: current["t"])
    yield current
    clock.set_clock(None)


@contextlib.contextmanager
def dispatch_world(api, slots: int = 1) -> Iterator[dict]:
    """A node with `slots` fake runner slots installed as this process's runner, a job type and an input file."""
    runner = FakeRunner(slots)
    node = nodes.register("worker-1", {"cpus": 4.0, "mem": 8192.0, "disk": 100000.0, "gpus": 0.0}, slots, T0)
    wiring.set_runtime(wiring.Runtime(runner, node.id, node.hostname, node.resources))
    job_type = sd.job_type("work", configuration={"output_workspaces": {"default": "default"}})
    workspace = file_store.get_workspace("default")
    (source,) = file_store.save_files([dict(workspace_id=workspace.id, workspace_name="default", file_name="in.txt",
                                            file_path="in/in.txt", file_size=10)], T0)
    try:
        yield {"runner": runner, "node": node, "type": job_type, "file": source, "api": api}
    finally:
        wiring.set_runtime(None)


@pytest.fixture
def world(api, now):
    with dispatch_world(api) as built:
        yield built
    assert_counts_exact()


def submit(world, priority: int | None = None, job_type=None) -> int:
    body = {"job_type_id": (job_type or world["type"]).id, "input": {"files": {"INPUT_FILE": [world["file"].id]}}}
    if priority is not None:
        body["configuration"] = {"priority": priority}
    return queue_job(body, sd.ADMIN, "default")


def deliver(api, *bodies: str) -> dict:
    event = api.client.events.generate_sqs_event(message_bodies=list(bodies), queue_name="test-dispatch")
    return api.client.lambda_.invoke("dispatch", event).payload


def message(job_id: int, exe_num: int = 1) -> str:
    return json.dumps({"job_id": job_id, "exe_num": exe_num, "priority": 100})


def result(spec, failure=None, exit_code=0, outputs=(), output_json=None) -> ExecutionResult:
    return ExecutionResult(exit_code=exit_code, failure=failure, detail=None, task_results={"tasks": []},
                           output_files=tuple(outputs), output_json=output_json or {}, cpu_seconds=1.5,
                           wall_seconds=2.0, peak_memory_mib=12.0, started=T0, ended=T0)


def finish(world, spec, **kwargs) -> str | None:
    world["runner"].finish(spec)
    return execution_events.on_finished(spec.job_id, spec.exe_num, result(spec, **kwargs))


def test_dispatch_claims_the_job_creates_the_execution_and_launches_it(world):
    job_id = submit(world)
    assert deliver(world["api"], message(job_id)) == {"batchItemFailures": []}
    (spec,) = world["runner"].launched
    assert spec.job_id == job_id and spec.exe_num == 1
    assert [f.file_name for f in spec.file_inputs["INPUT_FILE"]] == ["in.txt"]
    assert spec.output_workspaces["OUTPUT_FILE"].name == "default"
    job = job_store.get_job(job_id)
    assert job.status == "RUNNING" and job.node_hostname == "worker-1" and job.started == T0
    execution = executions.get_execution(job_id, 1)
    assert execution.status == "RUNNING" and execution.cluster_id == spec.cluster_id
    assert execution.timeout == 60 and execution.resources["cpus"] == 1.0 and execution.queued is not None


def test_duplicate_and_stale_messages_change_nothing(world):
    from tests.functional.races import stale_queue_index
    # Given a queued job, and free slots: nothing but the claim's precondition can stop a second claim
    world["runner"].slots = 3
    job_id = submit(world)
    # When duplicate and stale messages arrive, each batch's dispatcher still seeing the job QUEUED on
    # execution 1 (the queue index is eventually consistent: it can lag the first claim)
    with stale_queue_index():
        deliver(world["api"], message(job_id), message(job_id))
        deliver(world["api"], message(job_id), message(job_id, exe_num=7))
        deliver(world["api"], message(job_id, exe_num=7))
    # Then the job was claimed and launched once, as one execution that is still the one it runs
    assert [(s.job_id, s.exe_num) for s in world["runner"].launched] == [(job_id, 1)]
    (execution,) = executions.executions_of(job_id)
    assert execution.id == world["runner"].launched[0].execution_id and execution.status == "RUNNING"
    job = job_store.get_job(job_id)
    assert (job.status, job.num_exes) == ("RUNNING", 1)
    assert [e["status"] for e in job.timeline] == ["QUEUED", "RUNNING"]


def test_a_poison_message_is_reported_as_a_batch_item_failure(world):
    job_id = submit(world)
    payload = deliver(world["api"], "not json", message(job_id), json.dumps({"job_id": "x"}),
                      json.dumps({"jobs": []}), json.dumps({"jobs": [json.loads(message(job_id)), {"job_id": 1}]}))
    assert len(payload["batchItemFailures"]) == 4
    assert job_store.get_job(job_id).status == "RUNNING"


def test_success_records_outputs_and_completes(world):
    job_id = submit(world)
    deliver(world["api"], message(job_id))
    (spec,) = world["runner"].launched
    outputs = [OutputFile("OUTPUT_FILE", "out.out", f"outputs/{job_id}/1/out.out", "default", 42, "text/plain")]
    assert finish(world, spec, outputs=outputs, output_json={"count": 3}) == "COMPLETED"
    details = world["api"].get(f"/v6/jobs/{job_id}/").json_body
    assert details["status"] == "COMPLETED" and details["error"] is None
    (file_id,) = details["output"]["files"]["OUTPUT_FILE"]
    assert details["output"]["json"] == {"count": 3}
    produced = world["api"].get(f"/v6/files/?job_id={job_id}").json_body["results"]
    assert [f["id"] for f in produced] == [file_id] and produced[0]["job_output"] == "OUTPUT_FILE"
    assert details["execution"]["status"] == "COMPLETED"
    assert details["execution"]["output"] == {"output_data": [{"name": "OUTPUT_FILE", "file_id": file_id}]}
    history = world["api"].get(f"/v1/jobs/history?q=jobId=={job_id}").json_body["jobs"][0]
    assert history["exitStatus"] == "SUCCESS" and history["cpuTime"] == 1.5 and history["exitCode"] == 0
    assert [s["status"] for s in history["statusHistory"]] == ["SCHEDULED", "QUEUED", "INIT", "FINISHED"]
    # a duplicate end report changes nothing
    assert execution_events.on_finished(job_id, 1, result(spec)) is None


@pytest.mark.parametrize("failure, exit_code, error, category", [
    ("exit-code", 3, "bad-input", "DATA"), ("exit-code", 9, "algorithm-unknown", "ALGORITHM"),
    ("timeout", None, "timeout", "ALGORITHM"), ("missing-required-output", 0, "missing-required-output", "ALGORITHM"),
])
def test_failures_that_are_not_retried_end_failed_with_their_error(world, failure, exit_code, error, category):
    job_id = submit(world)
    deliver(world["api"], message(job_id))
    assert finish(world, world["runner"].launched[0], failure=failure, exit_code=exit_code) == "FAILED"
    job = job_store.get_job(job_id)
    assert job.status == "FAILED" and job.error["name"] == error and job.error_category == category
    assert executions.get_execution(job_id, 1).status == "FAILED"


def test_retried_failures_requeue_with_backoff_until_tries_run_out(world, now):
    job_id = submit(world)
    for attempt in (1, 2):
        deliver(world["api"], message(job_id, attempt))
        spec = world["runner"].launched[-1]
        assert spec.exe_num == attempt
        assert finish(world, spec, failure="filesystem-io", exit_code=None) == "QUEUED"
        job = job_store.get_job(job_id)
        assert job.num_exes == attempt + 1 and job.error is None and job.dispatch_after > now["t"]
        deliver(world["api"], message(job_id, attempt + 1))
        assert len(world["runner"].launched) == attempt  # held back by the backoff
        now["t"] = job.dispatch_after + timedelta(seconds=1)
    deliver(world["api"], message(job_id, 3))
    assert finish(world, world["runner"].launched[-1], failure="filesystem-io", exit_code=None) == "FAILED"
    job = job_store.get_job(job_id)
    assert job.status == "FAILED" and job.num_exes == 3 and job.error["name"] == "filesystem-io"
    assert [e.status for e in executions.executions_of(job_id)] == ["FAILED", "FAILED", "FAILED"]


def test_a_phase_after_the_end_is_ignored(world):
    job_id = submit(world)
    deliver(world["api"], message(job_id))
    spec = world["runner"].launched[0]
    assert execution_events.on_phase(job_id, 1, "UPLOADING", T0) is True
    finish(world, spec)
    assert execution_events.on_phase(job_id, 1, "EXECUTING", T0) is False
    assert [e["status"] for e in job_store.get_job(job_id).timeline] == ["QUEUED", "RUNNING", "UPLOADING", "COMPLETED"]


def test_priority_beats_arrival_when_slots_are_scarce(world, now):
    first = [submit(world, priority=100) for _ in range(50)]
    urgent = submit(world, priority=1)
    deliver(world["api"], message(first[0]))
    assert [s.job_id for s in world["runner"].launched] == [urgent]
    finish(world, world["runner"].launched[0])
    deliver(world["api"], message(first[1]))
    assert world["runner"].launched[-1].job_id == first[0]  # then first in, first out


def test_paused_types_wait_and_max_scheduled_caps(world):
    paused = sd.job_type("paused", is_paused=True, configuration={"output_workspaces": {"default": "default"}})
    waiting = submit(world, job_type=paused)
    world["runner"].slots = 3
    capped = sd.job_type("capped", max_scheduled=1, configuration={"output_workspaces": {"default": "default"}})
    a, b = submit(world, job_type=capped), submit(world, job_type=capped)
    deliver(world["api"], message(a))
    assert [s.job_id for s in world["runner"].launched] == [a]
    assert job_store.get_job(b).status == "QUEUED" and job_store.get_job(waiting).status == "QUEUED"


@pytest.mark.parametrize("blocked", ["paused", "capped"])
def test_jobs_that_must_wait_do_not_hold_up_the_jobs_behind_them(world, blocked):
    # Given 450 queued jobs of a job type that cannot run now (paused, or at its max_scheduled), queued first
    fields = {"is_paused": True} if blocked == "paused" else {"max_scheduled": 1}
    waiting_type = sd.job_type(blocked, configuration={"output_workspaces": {"default": "default"}}, **fields)
    ids = iter(sd.new_ids(450))
    sd.store([sd.build_job(next(ids), waiting_type, "QUEUED", T0 - timedelta(minutes=10) + timedelta(seconds=n))
              for n in range(450)])
    if blocked == "capped":
        world["runner"].slots = 2
        running = submit(world, job_type=waiting_type, priority=1)
        deliver(world["api"], message(running))
        assert [s.job_id for s in world["runner"].launched] == [running]
    # When a job of another type is queued behind them and a slot is free
    behind = submit(world)
    deliver(world["api"], message(behind))
    # Then it runs: the dispatcher looks past the jobs that must wait
    assert world["runner"].launched[-1].job_id == behind
    assert job_store.get_job(behind).status == "RUNNING"


def test_a_job_that_fits_no_node_waits_and_says_why(world):
    manifest = sd.manifest("huge")
    manifest["job"]["resources"]["scalar"] = [{"name": "cpus", "value": 64.0}, {"name": "mem", "value": 1.0e6}]
    huge = sd.register_job_type({"docker_image": "huge:1", "manifest": manifest,
                                 "configuration": {"output_workspaces": {"default": "default"}}},
                                sd.ADMIN, "default").job_type
    job_id = submit(world, job_type=huge)
    deliver(world["api"], message(job_id))
    assert world["runner"].launched == []
    assert job_store.get_job(job_id).status == "QUEUED"
    assert JobType.get(huge.id).unmet_resources == "cpus,mem"


def test_sweep_fails_executions_of_a_lost_node_and_retries_them(world, now):
    job_id = submit(world)
    deliver(world["api"], message(job_id))
    now["t"] = T0 + timedelta(minutes=5)  # no heartbeat since T0
    summary = sweep()
    assert summary["nodes_offline"] == 1 and summary["lost"] == 1
    job = job_store.get_job(job_id)
    assert job.status == "QUEUED" and job.num_exes == 2
    assert executions.get_execution(job_id, 1).error["name"] == "node-lost"
    assert sweep()["lost"] == 0  # a second sweep finds nothing more to do


def test_sweep_stops_overdue_executions(world, now):
    job_id = submit(world)
    deliver(world["api"], message(job_id))
    spec = world["runner"].launched[0]
    now["t"] = T0 + timedelta(seconds=200)
    nodes.heartbeat(world["node"].id, now["t"])
    summary = sweep()
    assert summary["timed_out"] == 1 and world["runner"].stopped == [spec.cluster_id]
    assert job_store.get_job(job_id).error["name"] == "timeout"


def test_sweep_resends_dispatch_for_jobs_left_queued(world, now):
    world["runner"].slots = 0
    job_id = submit(world)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="test-dispatch")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    now["t"] = T0 + timedelta(minutes=5)
    nodes.heartbeat(world["node"].id, now["t"])
    assert sweep()["redispatched"] == 1
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == [{"job_id": job_id, "exe_num": 1, "priority": 100}]


def test_an_end_reported_before_the_start_changes_nothing(world):
    # Given a queued job that was never dispatched
    job_id = submit(world)
    before = job_store.get_job(job_id)
    # When an end report for its first execution arrives first (delivered out of order)
    fake_spec = type("Spec", (), {"job_id": job_id, "exe_num": 1})()
    assert execution_events.on_finished(job_id, 1, result(fake_spec)) is None
    assert execution_events.on_phase(job_id, 1, "EXECUTING", T0) is False
    # Then the job is still queued, untouched, and dispatches normally afterwards
    after = job_store.get_job(job_id)
    assert (after.status, after.num_exes, after.timeline) == (before.status, before.num_exes, before.timeline)
    assert executions.executions_of(job_id) == []
    deliver(world["api"], message(job_id))
    assert job_store.get_job(job_id).status == "RUNNING"


def test_a_cancel_report_ends_only_the_execution(world):
    job_id = submit(world)
    deliver(world["api"], message(job_id))
    spec = world["runner"].launched[0]
    assert finish(world, spec, failure="canceled", exit_code=143) == "CANCELED"
    assert executions.get_execution(job_id, 1).status == "CANCELED"
