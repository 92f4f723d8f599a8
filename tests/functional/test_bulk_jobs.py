"""Bulk cancel and requeue: the body's filters, each status's fate, idempotency, races, dry runs and the
bulk operation record, with the state machine really executed by moto (its Lambda task routed to the
chunk handler in this process)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from chalicelib.domain import ExecutionRecord
from chalicelib.models import executions
from chalicelib.models import jobs as job_store
from chalicelib.models.executions import insert_execution
from chalicelib.services import bulk_jobs
from local.emulated_aws import resume_bulk_operations
from tests.functional.assertions import assert_counts_exact
from tests.functional.jobs_world import build_world


def wait_for(api, location: str, timeout: float = 30.0) -> dict:
    path = location.split("testserver", 1)[-1] if "testserver" in location else location
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(path).json_body
        if body["state"] != "RUNNING" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def run(api, kind: str, body: dict) -> dict:
    response = api.post(f"/v6/jobs/{kind}/", body)
    assert response.status_code == 202, response.body
    assert response.json_body["state"] in ("RUNNING", "SUCCEEDED", "FAILED")  # the execution may already be done
    return wait_for(api, response.headers["Location"])


def add_executions(world) -> None:
    now = datetime.now(timezone.utc)
    for job in world.jobs:
        if job.status == "RUNNING":
            insert_execution(ExecutionRecord(
                job_id=job.id, exe_num=job.num_exes, id=10_000 + job.id, status="RUNNING", cluster_id=f"c-{job.id}",
                job_type_id=job.job_type_id, created=now, last_modified=now))


@pytest.fixture
def world(api):
    built = build_world()
    add_executions(built)
    yield built
    assert_counts_exact()  # whatever the operation did, the job counters moved with the jobs


def statuses(world) -> dict[int, str]:
    return {job.id: job_store.get_job(job.id).status for job in world.jobs}


def test_cancel_changes_every_job_not_completed_or_canceled(api, world):
    before = {job.id: job.status for job in world.jobs}
    operation = run(api, "cancel", {"all": True, "reason": "maintenance"})
    assert operation["state"] == "SUCCEEDED", operation
    after = statuses(world)
    for job_id, status in before.items():
        expected = status if status in ("COMPLETED", "CANCELED") else "CANCELED"
        assert after[job_id] == expected, (job_id, status)
    changed = sum(1 for s in before.values() if s not in ("COMPLETED", "CANCELED"))
    assert (operation["matched"], operation["changed"], operation["skipped"]) == (
        len(world.jobs), changed, len(world.jobs) - changed)
    running = [job for job in world.jobs if job.status == "RUNNING"]
    assert running and all(executions.get_execution(j.id, j.num_exes).status == "CANCELED" for j in running)
    canceled = job_store.get_job(running[0].id)
    assert canceled.node_id is None and canceled.error is None
    assert canceled.id not in {job.id for job in job_store.queued_jobs(1000)}  # out of the dispatch queue
    assert canceled.bulk_operation == {"id": operation["id"], "kind": "cancel", "reason": "maintenance"}


def test_the_same_operation_twice_changes_nothing_more(api, world):
    first = run(api, "cancel", {"status": "QUEUED"})
    assert first["changed"] == sum(1 for job in world.jobs if job.status == "QUEUED")
    snapshot = statuses(world)
    # The chunk function replayed on the finished operation: nothing more happens.
    assert bulk_jobs.process_chunk(first["id"], None)["done"] is True
    second = run(api, "cancel", {"status": "QUEUED"})
    assert second["changed"] == 0 and statuses(world) == snapshot


def test_requeue_queues_failed_and_canceled_jobs_not_superseded(api, world):
    eligible = [j for j in world.jobs if j.status in ("FAILED", "CANCELED") and not j.is_superseded]
    operation = run(api, "requeue", {"all": True, "priority": 7})
    assert operation["state"] == "SUCCEEDED" and operation["changed"] == len(eligible)
    in_queue = {job.id for job in job_store.queued_jobs(1000)}
    for job in world.jobs:
        now = job_store.get_job(job.id)
        if job in eligible:
            assert now.status == "QUEUED" and now.num_exes == job.num_exes + 1 and now.priority == 7
            assert now.max_tries == job.num_exes + world.job_types["alpha1"].max_tries
            assert now.error is None and now.started is None and now.ended is None and now.id in in_queue
        else:
            assert now.status == job.status


@pytest.mark.parametrize("body, predicate", [
    ({"status": "FAILED"}, lambda w, j: j.status == "FAILED"),
    ({"job_ids": "JOB0"}, lambda w, j: j.id == w.jobs[0].id),
    ({"job_type_ids": ["ALPHA2"]}, lambda w, j: j.job_type_id == w.job_types["alpha2"].id),
    ({"job_types": [{"name": "alpha", "version": "1.0.0"}]}, lambda w, j: j.job_type_id == w.job_types["alpha1"].id),
    ({"job_type_names": "alpha"}, lambda w, j: j.job_type_name == "alpha"),
    ({"batch_ids": ["BATCH"]}, lambda w, j: j.batch_id == w.batch.id),
    ({"recipe_ids": ["RECIPE"]}, lambda w, j: j.recipe_id == w.recipe.id),
    ({"error_categories": [["ALGORITHM"]]}, lambda w, j: j.error_category == "ALGORITHM"),
    ({"is_superseded": True}, lambda w, j: bool(j.is_superseded)),
    ({"started": "2026-01-10T12:05:00Z", "ended": "2026-01-10T12:12:00Z"},
     lambda w, j: datetime(2026, 1, 10, 12, 5, tzinfo=timezone.utc) <= j.last_modified
     <= datetime(2026, 1, 10, 12, 12, tzinfo=timezone.utc)),
])
def test_each_filter_selects_what_the_list_shows(api, world, body, predicate):
    replacements = {"JOB0": world.jobs[0].id, "ALPHA2": world.job_types["alpha2"].id, "BATCH": world.batch.id,
                    "RECIPE": world.recipe.id}
    body = {key: ([replacements.get(v, v) for v in value] if isinstance(value, list) and key != "job_types"
                  and key != "error_categories" else replacements.get(value, value) if isinstance(value, str)
                  else value) for key, value in body.items()}
    body["url"] = "http://console.example/jobs"  # the console's extra key is ignored
    expected = {j.id for j in world.jobs if predicate(world, j)}
    assert expected
    dry = api.post("/v6/jobs/cancel/", {**body, "dry_run": True})
    assert dry.status_code == 200
    would = {j.id for j in world.jobs if j.id in expected and j.status not in ("COMPLETED", "CANCELED")}
    assert dry.json_body["count"] == len(would) and set(dry.json_body["job_ids"]) <= would
    assert statuses(world) == {job.id: job.status for job in world.jobs}  # the dry run changed nothing
    operation = run(api, "cancel", body)
    assert operation["matched"] == len(expected), operation
    after = statuses(world)
    assert {job_id for job_id, s in after.items() if s == "CANCELED"} == (
        would | {j.id for j in world.jobs if j.status == "CANCELED"})


def success():
    from chalicelib.runners.base import ExecutionResult
    now = datetime.now(timezone.utc)
    return ExecutionResult(exit_code=0, failure=None, detail=None, task_results={"tasks": []}, output_files=(),
                           output_json={}, cpu_seconds=1.0, wall_seconds=1.0, peak_memory_mib=1.0, started=now,
                           ended=now)


@pytest.mark.parametrize("first", ["completion", "cancel"])
def test_cancel_racing_a_completion(api, world, monkeypatch, first):
    from chalicelib.services import execution_events
    from tests.functional.races import Bulk, racing
    # Given a running job, and a bulk cancel whose chunks this test runs
    running = next(j for j in world.jobs if j.status == "RUNNING")
    bulk = Bulk(api, monkeypatch)
    ends, cancels = [], []

    def complete():
        ends.append(execution_events.on_finished(running.id, running.num_exes, success()))

    def cancel():
        cancels.append(bulk.cancel(running.id))
    # When `first` lands between the other's read of the job and its conditional write
    if first == "completion":
        with racing("bulk chunk", complete) as race:
            cancel()
        status = "COMPLETED"
    else:
        with racing("end report", cancel) as race:
            complete()
        status = "CANCELED"
    # Then the one that landed first won, the loser changed nothing, and the job and its execution agree
    assert race["fired"]
    assert ends == (["COMPLETED"] if status == "COMPLETED" else [None])
    assert (cancels[0]["matched"], cancels[0]["changed"]) == ((1, 0) if status == "COMPLETED" else (1, 1))
    assert job_store.get_job(running.id).status == status
    assert executions.get_execution(running.id, running.num_exes).status == status


def test_an_end_report_after_a_cancel_is_ignored(api, world):
    from chalicelib.runners.base import ExecutionResult
    from chalicelib.services import execution_events
    running = next(j for j in world.jobs if j.status == "RUNNING")
    run(api, "cancel", {"job_ids": [running.id]})
    now = datetime.now(timezone.utc)
    execution_events.on_finished(running.id, running.num_exes, ExecutionResult(
        exit_code=0, failure=None, detail=None, task_results={"tasks": []}, output_files=(), output_json={},
        cpu_seconds=1.0, wall_seconds=1.0, peak_memory_mib=1.0, started=now, ended=now))
    assert job_store.get_job(running.id).status == "CANCELED"
    assert executions.get_execution(running.id, running.num_exes).status == "CANCELED"


@pytest.mark.parametrize("body, message", [
    ({}, '"all": true'),
    ({"job_types": [{"name": "nope", "version": "9"}]}, "Job Type with name: nope and version: 9 does not exist"),
    ({"job_ids": ["x"]}, '"job_ids" must be a list of integers'),
    ({"status": "DONE"}, 'Invalid value for "status"'),
    ({"is_superseded": "yes"}, '"is_superseded" must be a boolean'),
    ({"jobs_ids": [1]}, "Unknown field(s): jobs_ids"),
    ({"all": True, "priority": "high"}, "Unknown field(s): priority"),
])
def test_bad_bodies_are_400(api, world, body, message):
    response = api.post("/v6/jobs/cancel/", body)
    assert response.status_code == 400 and message in response.json_body["detail"], response.json_body


def test_requeue_priority_must_be_an_integer(api, world):
    response = api.post("/v6/jobs/requeue/", {"all": True, "priority": "high"})
    assert response.status_code == 400


def test_operator_role_is_required(api, world):
    assert api.as_role("submitter").post("/v6/jobs/cancel/", {"all": True}).status_code == 403


def test_bulk_operations_are_listed_newest_first(api, world):
    first = run(api, "cancel", {"status": "PENDING"})
    second = run(api, "requeue", {"status": "FAILED", "reason": "retry"})
    listed = api.get("/v6/jobs/bulk-operations/").json_body
    assert [row["id"] for row in listed["results"]] == [second["id"], first["id"]]
    assert listed["results"][0]["filter"] == {"status": "FAILED"} and listed["results"][0]["reason"] == "retry"
    assert second["requested_by"] == "admin-user"
    assert api.get("/v6/jobs/bulk-operations/999/").status_code == 404


def test_requeued_jobs_get_a_dispatch_message_and_really_run_again(api, world):
    from chalicelib import wiring
    from chalicelib.models import nodes
    from tests.functional.test_dispatch import FakeRunner, deliver
    failed = [j for j in world.jobs if j.status == "FAILED" and not j.is_superseded]
    runner = FakeRunner(slots=50)  # room for the world's QUEUED jobs too
    node = nodes.register("worker-1", {"cpus": 64.0, "mem": 65536.0, "disk": 1e6, "gpus": 0.0}, 50,
                          datetime.now(timezone.utc))
    wiring.set_runtime(wiring.Runtime(runner, node.id, node.hostname, node.resources))
    try:
        operation = run(api, "requeue", {"status": "FAILED", "is_superseded": False})
        assert operation["changed"] == len(failed)
        import boto3
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName="test-dispatch")["QueueUrl"]
        bodies = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            bodies += [m["Body"] for m in got]
        import json
        assert len(bodies) == 1  # one message names the chunk's requeued jobs
        named = json.loads(bodies[0])["jobs"]
        assert sorted((entry["job_id"], entry["exe_num"]) for entry in named) == sorted(
            (j.id, j.num_exes + 1) for j in failed)
        assert deliver(api, *bodies) == {"batchItemFailures": []}
        assert {(spec.job_id, spec.exe_num) for spec in runner.launched} >= {(j.id, j.num_exes + 1) for j in failed}
        assert all(job_store.get_job(j.id).status == "RUNNING" for j in failed)
    finally:
        wiring.set_runtime(None)


def test_cancel_in_the_worker_process_asks_the_runner_to_stop(api, world):
    from chalicelib import wiring
    from local.cancel_watch import stop_canceled
    from tests.functional.test_dispatch import FakeRunner
    running = next(j for j in world.jobs if j.status == "RUNNING")
    runner = FakeRunner()
    runner.launched.append(type("Spec", (), {"cluster_id": f"scale_job_1_{running.id}x{running.num_exes}"})())
    run(api, "cancel", {"job_ids": [running.id]})
    assert stop_canceled(runner) == [f"scale_job_1_{running.id}x{running.num_exes}"]
    wiring.set_runtime(wiring.Runtime(runner, 1, "worker-1", {}))
    try:
        other = next(j for j in world.jobs if j.status == "RUNNING" and j.id != running.id)
        run(api, "cancel", {"job_ids": [other.id]})
        assert "c-%d" % other.id in runner.stopped  # in the worker process the chunk stops it directly
    finally:
        wiring.set_runtime(None)


def test_a_failing_chunk_fails_the_operation_visibly(api, world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the index is on fire")
    monkeypatch.setattr(bulk_jobs.job_store, "chunk_of", broken)
    operation = run(api, "cancel", {"status": "QUEUED"})
    assert operation["state"] == "FAILED" and operation["error"] == "RuntimeError", operation
    assert "the index is on fire" in operation["error_cause"]
    assert all(job_store.get_job(j.id).status == j.status for j in world.jobs)


def test_chunks_page_through_many_matches_with_two_transitions_each(api, world, monkeypatch):
    import boto3
    monkeypatch.setattr(bulk_jobs, "CHUNK_SIZE", 3)
    queued_or_pending = [j for j in world.jobs if j.status in ("QUEUED", "PENDING", "BLOCKED", "FAILED")]
    response = api.post("/v6/jobs/cancel/", {"all": True})
    operation = wait_for(api, response.headers["Location"])
    assert operation["state"] == "SUCCEEDED" and operation["matched"] == len(world.jobs)
    assert operation["changed"] == len(queued_or_pending) + sum(1 for j in world.jobs if j.status == "RUNNING")
    assert operation["chunks"] == -(-len(world.jobs) // 3)  # a chunk looks one job ahead: no empty last chunk
    sfn = boto3.client("stepfunctions")
    execution = executions_named(sfn, f"bulk-{operation['id']}")[0]
    for _ in range(100):
        if sfn.describe_execution(executionArn=execution["executionArn"])["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    entered = [e for e in history if e["type"].endswith("StateEntered")]
    assert len(entered) == 2 * operation["chunks"] + 1  # ProcessChunk + Done? per chunk, then Finished


def executions_named(sfn, name: str) -> list[dict]:
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"] == name]


def test_a_repeated_start_does_not_run_twice(api, world):
    import boto3

    from chalicelib import workflows
    operation = run(api, "cancel", {"status": "QUEUED"})
    again = workflows.start_bulk_execution(operation["id"])
    time.sleep(0.5)
    assert len(executions_named(boto3.client("stepfunctions"), f"bulk-{operation['id']}")) == 1
    assert again is None or again.endswith(f":bulk-{operation['id']}")
    assert api.get(f"/v6/jobs/bulk-operations/{operation['id']}/").json_body["matched"] == operation["matched"]


def throttling() -> Exception:
    from pynamodb.exceptions import TransactWriteError, VerboseClientError
    return TransactWriteError("slow down", cause=VerboseClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems"))


def refused_transactions(job_state, refuse_call):
    """`job_state.write_transaction` whose transactions are refused for throttling when `refuse_call()` says
    so (their writes never sent), committed otherwise."""
    import contextlib
    real = job_state.write_transaction

    @contextlib.contextmanager
    def transaction():
        if not refuse_call():
            with real() as committed:
                yield committed
            return
        yield real()  # collects the writes, never sends them
        raise throttling()
    return transaction


def test_a_throttled_write_is_retried_not_skipped(api, world, monkeypatch):
    import threading

    from chalicelib.models import job_state
    lock, calls = threading.Lock(), []

    def third_time() -> bool:
        with lock:
            calls.append(1)
            return len(calls) == 3
    monkeypatch.setattr(job_state, "write_transaction", refused_transactions(job_state, third_time))
    monkeypatch.setattr(bulk_jobs, "CHUNK_SIZE", 4)
    queued = [j for j in world.jobs if j.status == "QUEUED"]
    assert len(queued) >= 3
    operation = run(api, "cancel", {"status": "QUEUED"})
    # The chunk failed once (Throttled), the state machine retried it, and nothing was skipped or counted twice.
    assert operation["state"] == "SUCCEEDED", operation
    assert all(job_store.get_job(j.id).status == "CANCELED" for j in queued)
    assert operation["changed"] == operation["matched"] == len(queued) and operation["skipped"] == 0


def test_only_a_failed_precondition_counts_as_stale(api, world, monkeypatch):
    from chalicelib.errors import StaleUpdate, Throttled
    from chalicelib.models import job_state

    queued = next(j for j in world.jobs if j.status == "QUEUED")
    monkeypatch.setattr(job_state, "write_transaction", refused_transactions(job_state, lambda: True))
    with pytest.raises(Throttled):  # throttling is for a retry, never "the job moved on"
        job_state.cancel(queued, datetime.now(timezone.utc), {"id": 1, "kind": "cancel", "reason": None})
    monkeypatch.undo()
    job_state.cancel(queued, datetime.now(timezone.utc), {"id": 1, "kind": "cancel", "reason": None})
    with pytest.raises(StaleUpdate):  # the same change again: its precondition (QUEUED) no longer holds
        job_state.cancel(queued, datetime.now(timezone.utc), {"id": 1, "kind": "cancel", "reason": None})


def test_an_operation_interrupted_by_a_restart_is_resumed_and_changes_each_job_once(api, world, monkeypatch):
    from chalicelib import clock
    from chalicelib.models import bulk as bulk_store
    monkeypatch.setattr(bulk_jobs, "CHUNK_SIZE", 2)
    request = bulk_jobs.parse_request("cancel", {"status": "QUEUED"})
    operation = bulk_store.create_operation(
        clock.now(), kind="cancel", filter=request.normalised, job_filter=bulk_jobs.filter_to_json(request.job_filter),
        requested_by="admin", project="default", reason="before the restart", priority=None)
    first = bulk_jobs.process_chunk(operation.id, None)  # one chunk ran, then the emulator went away
    assert first["done"] is False
    queued = [j for j in world.jobs if j.status == "QUEUED"]

    assert resume_bulk_operations() == [operation.id]

    done = wait_for(api, f"/v6/jobs/bulk-operations/{operation.id}/")
    assert done["state"] == "SUCCEEDED", done
    assert done["changed"] == len(queued)
    assert all(job_store.get_job(j.id).status == "CANCELED" for j in queued)
    assert resume_bulk_operations() == []  # nothing left to resume


def _cancel_everything_operation(monkeypatch, chunk_size: int):
    from chalicelib import clock
    from chalicelib.models import bulk as bulk_store
    monkeypatch.setattr(bulk_jobs, "CHUNK_SIZE", chunk_size)
    request = bulk_jobs.parse_request("cancel", {"all": True})
    return bulk_store.create_operation(
        clock.now(), kind="cancel", filter=request.normalised, job_filter=bulk_jobs.filter_to_json(request.job_filter),
        requested_by="admin", project="default", reason=None, priority=None)


def _exact_counts(world) -> tuple[int, int, int]:
    changed = sum(1 for job in world.jobs if job.status not in ("COMPLETED", "CANCELED"))
    return len(world.jobs), changed, len(world.jobs) - changed


def test_a_retried_chunk_and_a_resumed_operation_count_each_job_once(api, world, monkeypatch):
    # Given an operation over every job (some of them left alone: counted as skipped) in chunks of 2
    operation = _cancel_everything_operation(monkeypatch, 3)
    expected = _exact_counts(world)
    # When its first chunk runs, then runs again as a retried Lambda would (same event, first try recorded),
    first = bulk_jobs.process_chunk(operation.id, None)
    again = bulk_jobs.process_chunk(operation.id, None)
    assert first["done"] is False and again["cursor"] != first["cursor"]  # the retry went on to the next chunk
    # and the emulator restarts and resumes the operation from the beginning of its range
    assert resume_bulk_operations() == [operation.id]
    done = wait_for(api, f"/v6/jobs/bulk-operations/{operation.id}/")
    # Then every job was matched once: the counts are exact
    assert done["state"] == "SUCCEEDED", done
    assert (done["matched"], done["changed"], done["skipped"]) == expected
    assert done["chunks"] == -(-len(world.jobs) // 3)


def test_a_chunk_recorded_by_another_call_meanwhile_adds_nothing(api, world, monkeypatch):
    # Given an operation whose first chunk two calls read at the same time (both saw position 0)
    from chalicelib.models import bulk as bulk_store
    operation = _cancel_everything_operation(monkeypatch, 3)
    stale = bulk_store.get_operation(operation.id, consistent=True)
    bulk_jobs.process_chunk(operation.id, None)
    after_first = bulk_store.get_operation(operation.id, consistent=True)
    # When the second one records the same position
    reads = iter([stale])
    real_get = bulk_store.get_operation
    monkeypatch.setattr(bulk_store, "get_operation", lambda *a, **k: next(reads, None) or real_get(*a, **k))
    result = bulk_jobs.process_chunk(operation.id, None)
    # Then its counts are not added, and it hands on the stored cursor
    now = bulk_store.get_operation(operation.id, consistent=True)
    assert (now.matched, now.changed, now.skipped, now.position) == (
        after_first.matched, after_first.changed, after_first.skipped, 1)
    assert result == {"operation_id": str(operation.id), "cursor": after_first.cursor, "done": False}


def test_a_cancel_naming_a_few_jobs_is_applied_before_the_202(api, world, monkeypatch):
    # Given two cancellable jobs, and a state machine that must not be needed
    from chalicelib import workflows
    started: list[int] = []
    monkeypatch.setattr(workflows, "start_bulk_execution", lambda operation_id: started.append(operation_id))
    targets = [job for job in world.jobs if job.status in ("QUEUED", "RUNNING")][:2]
    # When the console cancels them by id
    response = api.post("/v6/jobs/cancel/", {"job_ids": [job.id for job in targets], "url": "http://console/"})
    # Then the 202 comes after the change: its immediate reload shows them canceled
    assert response.status_code == 202, response.body
    assert response.json_body["state"] == "SUCCEEDED" and response.json_body["changed"] == 2
    assert all(api.get(f"/v6/jobs/{job.id}/").json_body["status"] == "CANCELED" for job in targets)
    # And the operation is recorded and readable with the counts an asynchronous one would have; no state machine ran
    operation = api.get(response.headers["Location"].split("testserver", 1)[-1]).json_body
    assert (operation["matched"], operation["changed"], operation["skipped"], operation["chunks"]) == (2, 2, 0, 1)
    assert started == []


def test_a_requeue_by_id_shows_its_priority_on_the_job_at_once(api, world):
    # Given a failed job queued with priority 100
    failed = next(job for job in world.jobs if job.status == "FAILED" and not job.is_superseded)
    # When the console requeues it with priority 7 and reloads
    response = api.post("/v6/jobs/requeue/", {"job_ids": [failed.id], "priority": 7})
    details = api.get(f"/v6/jobs/{failed.id}/").json_body
    # Then the job is queued again, and its configuration shows the priority it now runs with
    assert response.status_code == 202 and response.json_body["state"] == "SUCCEEDED"
    assert details["status"] == "QUEUED" and details["configuration"]["priority"] == 7


def test_larger_or_filtered_operations_stay_asynchronous(api, world, monkeypatch):
    # Given a state machine that records being started (and does not run)
    from chalicelib import workflows
    started: list[int] = []
    monkeypatch.setattr(workflows, "start_bulk_execution", lambda operation_id: started.append(operation_id))
    few = [job.id for job in world.jobs[:2]]
    # When the ids exceed one chunk, or another filter comes with them
    many = api.post("/v6/jobs/cancel/", {"job_ids": few + list(range(10**9, 10**9 + 99))})
    filtered = api.post("/v6/jobs/cancel/", {"job_ids": few, "status": "QUEUED"})
    # Then each is left to the state machine
    assert [many.json_body["state"], filtered.json_body["state"]] == ["RUNNING", "RUNNING"]
    assert len(started) == 2


def test_an_operation_counter_behind_its_table_never_hands_out_an_existing_id(api, world):
    # Given three operations, and the id counter set back (a store restored from an older snapshot)
    from chalicelib.models.tables import Counter
    targets = [job.id for job in world.jobs if job.status == "QUEUED"]
    ids = [api.post("/v6/jobs/cancel/", {"job_ids": [target]}).json_body["id"] for target in targets[:3]]
    Counter("bulk_operation", value=0).save()
    # When another operation is requested
    response = api.post("/v6/jobs/cancel/", {"job_ids": [targets[3]]})
    # Then it gets a new id past the table's (no 500), and the earlier operations are untouched
    assert response.status_code == 202, response.body
    assert response.json_body["id"] == max(ids) + 1
    assert all(api.get(f"/v6/jobs/bulk-operations/{i}/").json_body["filter"] == {"job_ids": [t]}
               for i, t in zip(ids, targets))
