"""The preconditions of every job state change, each pinned by a scenario it alone decides.

Each test names the write it pins (claim, phase, end, unmet resources, cancel, requeue) and the part of its
precondition that decides the outcome; bench/mutate_conditions.py drops each condition and each conjunct in
turn and expects a test here (or in test_dispatch/test_bulk_jobs) to fail.

Races are produced for real (tests/functional/races.py): the competing write lands between the use case's
read and its conditional write. The dispatcher always has free slots, so only a precondition can stop a
second claim. Where the job and its execution record must disagree for one half of a transaction's
precondition to matter alone, the disagreement is written out of band (`races.out_of_band`) and the test
says so: through the service's own writes the two halves always move together.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import clock
from chalicelib.models import jobs as job_store
from chalicelib.models.tables import JobData, JobType
from chalicelib.services import execution_events
from local import sample_data as sd
from tests.functional import races
from tests.functional.assertions import assert_counts_exact
from tests.functional.test_dispatch import deliver, dispatch_world, message, result, submit

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def moments():
    """A clock that moves one second on every reading, so every write happens at a later time than the
    one before it (as in production) and a bulk operation sees the jobs written before it was requested."""
    current = {"t": T0}

    def tick():
        current["t"] += timedelta(seconds=1)
        return current["t"]
    clock.set_clock(tick)
    yield current
    clock.set_clock(None)


@pytest.fixture
def world(api, moments, monkeypatch):
    with dispatch_world(api, slots=3) as built:  # free slots: only a precondition can stop a second claim
        yield {**built, "bulk": races.Bulk(api, monkeypatch), "moments": moments}
    assert_counts_exact()  # every race left the job counters exactly as the jobs add up


# --- given / then helpers -------------------------------------------------------------------------------

def job_view(world, job_id: int) -> tuple[str, int]:
    """(status, num_exes) as GET /v6/jobs/{id}/ shows them."""
    body = world["api"].get(f"/v6/jobs/{job_id}/").json_body
    return body["status"], body["num_exes"]


def executions_view(world, job_id: int) -> dict[int, dict]:
    """The job's executions as GET /v6/jobs/{id}/executions/ shows them, by exe_num."""
    body = world["api"].get(f"/v6/jobs/{job_id}/executions/").json_body
    return {row["exe_num"]: row for row in body["results"]}


def launched(world) -> list[tuple[int, int]]:
    return [(spec.job_id, spec.exe_num) for spec in world["runner"].launched]


def dispatch(world, job_id: int, exe_num: int = 1) -> None:
    assert deliver(world["api"], message(job_id, exe_num)) == {"batchItemFailures": []}


def report_end(world, job_id: int, exe_num: int, **outcome) -> str | None:
    """The runner's end report for (job_id, exe_num); its slot is free again."""
    for spec in world["runner"].launched:
        if (spec.job_id, spec.exe_num) == (job_id, exe_num):
            world["runner"].finish(spec)
    spec = type("Spec", (), {"job_id": job_id, "exe_num": exe_num})()
    return execution_events.on_finished(job_id, exe_num, result(spec, **outcome))


def running_job(world) -> int:
    job_id = submit(world)
    dispatch(world, job_id)
    assert job_view(world, job_id) == ("RUNNING", 1)
    return job_id


def failed_job(world) -> int:
    job_id = running_job(world)
    assert report_end(world, job_id, 1, failure="exit-code", exit_code=3) == "FAILED"  # bad-input: not retried
    return job_id


def later(world, hours: int = 1) -> None:
    """Past any retry backoff."""
    world["moments"]["t"] += timedelta(hours=hours)


# --- claim ------------------------------------------------------------------------------------------------

def test_claim__a_cancel_landing_after_the_dispatcher_read_the_job_wins(world):
    # Given a queued job
    job_id = submit(world)
    # When the dispatcher has read it from the queue and a cancel lands before its claim
    with races.racing("dispatch", lambda: world["bulk"].cancel(job_id)) as race:
        dispatch(world, job_id)
    # Then the job stays canceled: nothing was claimed, created or launched
    assert race["fired"]
    assert job_view(world, job_id) == ("CANCELED", 1)
    assert executions_view(world, job_id) == {}
    assert launched(world) == []


def test_claim__a_dispatcher_holding_an_earlier_exe_num_claims_nothing(world):
    # Given a queued job (execution 1)
    job_id = submit(world)
    # When the dispatcher has read it and, before its claim, the job is canceled and requeued (execution 2)
    def cancel_and_requeue():
        assert world["bulk"].cancel(job_id)["changed"] == 1
        assert world["bulk"].requeue(job_id)["changed"] == 1
    with races.racing("dispatch", cancel_and_requeue) as race:
        dispatch(world, job_id)
    # Then the stale claim for execution 1 changed nothing: the job waits as execution 2
    assert race["fired"]
    assert job_view(world, job_id) == ("QUEUED", 2)
    assert executions_view(world, job_id) == {} and launched(world) == []
    # and execution 2 runs, once
    dispatch(world, job_id, 2)
    assert launched(world) == [(job_id, 2)]
    assert job_view(world, job_id) == ("RUNNING", 2) and list(executions_view(world, job_id)) == [2]


def test_claim__never_overwrites_an_execution_record_already_there(world):
    # Given a queued job whose execution number already has a record (left by an earlier run of the
    # number: an imported job, or one requeued by hand without moving num_exes on)
    job_id = submit(world)
    existing = sd.execution(job_store.get_job(job_id), 1, "FAILED", T0, error="node-lost")
    # When a dispatch message arrives
    dispatch(world, job_id)
    # Then the record is as it was and nothing runs on its number
    row = executions_view(world, job_id)[1]
    assert (row["id"], row["status"]) == (existing.id, "FAILED")
    assert launched(world) == []
    assert job_view(world, job_id) == ("QUEUED", 1)


def test_claim__two_dispatchers_reading_the_same_queued_job_launch_it_once(world):
    # Given a queued job
    job_id = submit(world)
    # When two dispatch batches each see it QUEUED on execution 1 (the queue index lags the first claim)
    with races.stale_queue_index():
        dispatch(world, job_id)
        dispatch(world, job_id)
    # Then one claim won: one execution, launched once, and it is the execution the job runs
    assert launched(world) == [(job_id, 1)]
    (row,) = executions_view(world, job_id).values()
    assert row["status"] == "RUNNING" and job_view(world, job_id) == ("RUNNING", 1)
    assert world["runner"].launched[0].execution_id == row["id"]


# --- record_phase ---------------------------------------------------------------------------------------

def test_phase__a_late_phase_of_an_earlier_execution_is_ignored(world):
    # Given a job whose execution 1 failed and was retried, and now runs as execution 2
    job_id = running_job(world)
    assert report_end(world, job_id, 1, failure="filesystem-io", exit_code=None) == "QUEUED"
    later(world)
    dispatch(world, job_id, 2)
    assert job_view(world, job_id) == ("RUNNING", 2)
    before = world["api"].get(f"/v1/jobs/history?q=jobId=={job_id}").json_body["jobs"][0]["statusHistory"]
    # When execution 1's runner reports a phase late
    recorded = execution_events.on_phase(job_id, 1, "EXECUTING", clock.now())
    # Then it is not recorded on the job running execution 2
    assert recorded is False
    assert world["api"].get(f"/v1/jobs/history?q=jobId=={job_id}").json_body["jobs"][0]["statusHistory"] == before


def test_phase__a_phase_of_a_job_not_running_yet_is_ignored(world):
    # Given a queued job (execution 1 not claimed yet)
    job_id = submit(world)
    # When a phase of execution 1 arrives (out of order, before the dispatch)
    # Then it is refused
    assert execution_events.on_phase(job_id, 1, "EXECUTING", clock.now()) is False
    assert job_view(world, job_id) == ("QUEUED", 1)


# --- end_execution --------------------------------------------------------------------------------------

def test_end__a_late_report_does_not_revive_a_canceled_job(world):
    # Given a canceled job whose execution record still says RUNNING (written out of band: the service's
    # cancel ends both in one transaction)
    job_id = running_job(world)
    races.out_of_band(job_id, status="CANCELED")
    # When the execution's success report arrives
    outcome = report_end(world, job_id, 1)
    # Then the job stays canceled
    assert outcome is None
    assert job_view(world, job_id) == ("CANCELED", 1)


def test_end__a_report_racing_a_requeue_leaves_the_requeued_job_alone(world):
    # Given a canceled job whose execution 1 record still says RUNNING (out of band, as above)
    job_id = running_job(world)
    races.out_of_band(job_id, status="CANCELED")
    # When execution 1's end report has read the job and a requeue (to execution 2) lands before its write
    with races.racing("end report", lambda: world["bulk"].requeue(job_id)) as race:
        outcome = report_end(world, job_id, 1)
    # Then the report changed nothing: the job waits as execution 2
    assert race["fired"] and outcome is None
    assert job_view(world, job_id) == ("QUEUED", 2)
    assert executions_view(world, job_id)[1]["status"] == "RUNNING"


def test_end__is_recorded_once_even_when_the_runner_reported_a_cancel_first(world):
    # Given a running job whose runner reported its execution canceled
    job_id = running_job(world)
    assert report_end(world, job_id, 1, failure="canceled", exit_code=143) == "CANCELED"
    ended = executions_view(world, job_id)[1]["ended"]
    # When a second end report arrives for the same execution (the sweep's timeout, a duplicate)
    outcome = report_end(world, job_id, 1)
    # Then the execution's end is the one recorded first, and the job did not complete on top of it
    assert outcome is None
    row = executions_view(world, job_id)[1]
    assert (row["status"], row["ended"]) == ("CANCELED", ended)
    assert job_view(world, job_id)[0] != "COMPLETED"


def test_end__never_creates_the_data_row_of_a_job_that_has_none(world):
    # Given a running job whose data row is missing (imported without one)
    job_id = running_job(world)
    JobData(job_id).delete()
    # When it completes with outputs
    report_end(world, job_id, 1)
    # Then no data row was made up holding only the output
    with pytest.raises(JobData.DoesNotExist):
        JobData.get(job_id, consistent_read=True)


# --- set_unmet_resources --------------------------------------------------------------------------------

def huge_type():
    manifest = sd.manifest("huge")
    manifest["job"]["resources"]["scalar"] = [{"name": "cpus", "value": 64.0}, {"name": "mem", "value": 1.0e6}]
    return sd.register_job_type({"docker_image": "huge:1", "manifest": manifest,
                                 "configuration": {"output_workspaces": {"default": "default"}}},
                                sd.ADMIN, "default").job_type


def test_unmet_resources__a_job_type_removed_meanwhile_is_not_recreated_by_the_note(world):
    # Given a queued job that fits no node
    huge = huge_type()
    job_id = submit(world, job_type=huge)
    # When the dispatcher has read its job type and the job type is removed before it notes what is unmet
    with races.racing("job type", lambda: JobType(huge.id).delete()) as race:
        dispatch(world, job_id)
    # Then no job type item was made up holding only the note
    assert race["fired"]
    with pytest.raises(JobType.DoesNotExist):
        JobType.get(huge.id, consistent_read=True)


def test_unmet_resources__a_job_type_removed_meanwhile_does_not_stop_the_other_jobs(world):
    # Given a queued job that fits no node, queued before an ordinary job
    huge = huge_type()
    waiting = submit(world, job_type=huge)
    ordinary = submit(world)
    # When its job type is removed while the dispatcher reads it
    with races.racing("job type", lambda: JobType(huge.id).delete()):
        dispatch(world, waiting)
    # Then the ordinary job still runs
    assert launched(world) == [(ordinary, 1)]


def test_canceled_report__after_the_execution_ended_changes_nothing(world):
    # Given a job whose execution completed
    job_id = running_job(world)
    assert report_end(world, job_id, 1) == "COMPLETED"
    # When a late report says the runner canceled it (a stop that raced the end)
    assert report_end(world, job_id, 1, failure="canceled") is None
    # Then the execution keeps its end, and the job still agrees with it
    assert executions_view(world, job_id)[1]["status"] == "COMPLETED"
    assert job_view(world, job_id) == ("COMPLETED", 1)


# --- cancel ---------------------------------------------------------------------------------------------

def test_cancel__a_claim_landing_after_the_cancel_read_the_job_wins(world):
    # Given a queued job
    job_id = submit(world)
    # When a bulk cancel has read it QUEUED and the dispatcher claims it before the cancel's write
    with races.racing("bulk chunk", lambda: dispatch(world, job_id)) as race:
        operation = world["bulk"].cancel(job_id)
    # Then the claim won: the job runs its launched execution, and the cancel counts it as skipped
    assert race["fired"]
    assert job_view(world, job_id) == ("RUNNING", 1)
    assert executions_view(world, job_id)[1]["status"] == "RUNNING" and launched(world) == [(job_id, 1)]
    assert (operation["matched"], operation["changed"], operation["skipped"]) == (1, 0, 1)


def test_cancel__a_retry_landing_after_the_cancel_read_the_job_wins(world):
    # Given a queued job (execution 1)
    job_id = submit(world)
    # When a bulk cancel has read it and, before its write, it runs, fails with a retried error and waits
    # as execution 2
    def run_and_retry():
        dispatch(world, job_id)
        assert report_end(world, job_id, 1, failure="filesystem-io", exit_code=None) == "QUEUED"
    with races.racing("bulk chunk", run_and_retry) as race:
        operation = world["bulk"].cancel(job_id)
    # Then the stale cancel (of execution 1) changed nothing
    assert race["fired"]
    assert job_view(world, job_id) == ("QUEUED", 2)
    assert (operation["changed"], operation["skipped"]) == (0, 1)


def test_cancel__of_a_running_job_does_not_touch_a_job_that_ended_meanwhile(world):
    # Given a running job
    job_id = running_job(world)
    # When a bulk cancel has read it RUNNING and, before its write, the job is marked COMPLETED out of band
    # (its execution record left RUNNING: through the service the end moves both, and the execution's own
    # precondition would decide)
    with races.racing("bulk chunk", lambda: races.out_of_band(job_id, status="COMPLETED")) as race:
        operation = world["bulk"].cancel(job_id)
    # Then the cancel changed nothing
    assert race["fired"]
    assert job_view(world, job_id) == ("COMPLETED", 1)
    assert operation["changed"] == 0


def test_cancel__of_a_running_job_does_not_touch_it_once_it_moved_to_another_execution(world):
    # Given a running job (execution 1)
    job_id = running_job(world)
    # When a bulk cancel has read it and, before its write, the job moves on to execution 2 out of band
    # (execution 1's record left RUNNING, as above)
    with races.racing("bulk chunk", lambda: races.out_of_band(job_id, num_exes=2)) as race:
        operation = world["bulk"].cancel(job_id)
    # Then the stale cancel (of execution 1) changed nothing
    assert race["fired"]
    assert job_view(world, job_id) == ("RUNNING", 2)
    assert operation["changed"] == 0


def test_cancel__does_not_rewrite_the_end_of_an_execution_that_already_ended(world):
    # Given a running job whose runner reported its execution canceled (the job itself still RUNNING)
    job_id = running_job(world)
    assert report_end(world, job_id, 1, failure="canceled", exit_code=143) == "CANCELED"
    ended = executions_view(world, job_id)[1]["ended"]
    # When a bulk cancel runs
    world["bulk"].cancel(job_id)
    # Then the execution keeps the end recorded first
    row = executions_view(world, job_id)[1]
    assert (row["status"], row["ended"]) == ("CANCELED", ended)


# --- requeue --------------------------------------------------------------------------------------------

def test_requeue__two_overlapping_requeues_requeue_once(world):
    # Given a failed job (execution 1)
    job_id = failed_job(world)
    # When a requeue has read it and another requeue lands before its write
    competing: dict = {}
    with races.racing("bulk chunk", lambda: competing.update(world["bulk"].requeue(job_id))) as race:
        operation = world["bulk"].requeue(job_id)
    # Then the job was requeued once: execution 2, one QUEUED entry for it, one operation counts it
    assert race["fired"]
    assert job_view(world, job_id) == ("QUEUED", 2)
    history = world["api"].get(f"/v1/jobs/history?q=jobId=={job_id}").json_body["jobs"][0]["statusHistory"]
    assert [entry["status"] for entry in history].count("QUEUED") == 2  # execution 1's and execution 2's
    assert (competing["changed"], operation["changed"], operation["skipped"]) == (1, 0, 1)


def test_requeue__a_cancel_landing_after_the_requeue_read_the_job_wins(world):
    # Given a failed job
    job_id = failed_job(world)
    # When a requeue has read it FAILED and a cancel lands before its write
    with races.racing("bulk chunk", lambda: world["bulk"].cancel(job_id)) as race:
        operation = world["bulk"].requeue(job_id)
    # Then the job stays canceled
    assert race["fired"]
    assert job_view(world, job_id) == ("CANCELED", 1)
    assert operation["changed"] == 0


def test_requeue__a_requeue_holding_an_earlier_exe_num_does_not_reuse_a_number(world):
    # Given a canceled job (execution 1 never ran)
    job_id = submit(world)
    world["bulk"].cancel(job_id)
    # When a requeue has read it and, before its write, it is requeued (execution 2) and canceled again
    def requeue_and_cancel():
        assert world["bulk"].requeue(job_id)["changed"] == 1
        assert world["bulk"].cancel(job_id)["changed"] == 1
    with races.racing("bulk chunk", requeue_and_cancel) as race:
        operation = world["bulk"].requeue(job_id)
    # Then the stale requeue changed nothing (it would have queued execution 2 a second time)
    assert race["fired"]
    assert job_view(world, job_id) == ("CANCELED", 2)
    assert operation["changed"] == 0


def test_requeue__a_job_superseded_meanwhile_is_not_requeued(world):
    # Given a failed job
    job_id = failed_job(world)
    # When a requeue has read it and, before its write, it is superseded (out of band: the service itself
    # never supersedes; the original system's recipes do)
    with races.racing("bulk chunk", lambda: races.out_of_band(job_id, is_superseded=True)) as race:
        operation = world["bulk"].requeue(job_id)
    # Then it stays failed
    assert race["fired"]
    assert job_view(world, job_id) == ("FAILED", 1)
    assert operation["changed"] == 0
