"""List counts come from the job counters (#16): exact, without reading the matches, through every state
change, and repaired (and reported) by the maintenance sweep should they ever drift."""
from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.models import counters
from chalicelib.models import jobs as job_store
from chalicelib.services.sweeps import sweep
from chalicelib.timeutil import iso
from tests.functional import races
from tests.functional.assertions import assert_counts_exact
from tests.functional.jobs_world import BASE, build_world
from tests.functional.test_dispatch import T0, deliver, dispatch_world, message, submit
from tests.functional.test_state_invariants import report_end


def index_reads(monkeypatch) -> list:
    """Every count the list makes from index entries (`job_store.count`), recorded."""
    seen: list = []
    original = job_store.count

    def recording(read):
        seen.append(read)
        return original(read)
    monkeypatch.setattr(job_store, "count", recording)
    return seen


def reference_count(query: str) -> int:
    """What a query's count must be: the jobs read one by one (a Scan) and filtered in memory."""
    from urllib.parse import parse_qsl

    from chalicelib.params import QueryParams
    from chalicelib.services import list_jobs
    pairs: dict[str, list[str]] = {}
    for name, value in parse_qsl(query):
        pairs.setdefault(name, []).append(value)
    f, names = list_jobs.parse_filter(QueryParams(pairs))
    f = list_jobs.resolve_job_type_names(f, names)
    if f.matches_nothing:
        return 0
    return sum(1 for job in job_store.scan_all(job_store.ReadMeter()) if job_store.job_matches(job, f))


def api_count(api, query: str) -> int:
    response = api.get(f"/v6/jobs/?{query}")
    assert response.status_code == 200, response.body
    return response.json_body["count"]


def test_counts_read_counters_and_only_the_partial_seconds_of_a_window(api, monkeypatch):
    # Given the 24 varied jobs (every status, three job types, a batch, a recipe)
    world = build_world()
    reads = index_reads(monkeypatch)
    alpha = world.job_types["alpha1"]
    # When lists are asked for with every filter the counters serve
    for query, expected in [
        ("", len(world.jobs)),
        ("status=QUEUED", len(world.ids(lambda j: j.status == "QUEUED"))),
        ("status=QUEUED&status=FAILED", len(world.ids(lambda j: j.status in ("QUEUED", "FAILED")))),
        (f"job_type_id={alpha.id}", len(world.ids(lambda j: j.job_type_id == alpha.id))),
        (f"job_type_id={alpha.id}&status=RUNNING",
         len(world.ids(lambda j: j.job_type_id == alpha.id and j.status == "RUNNING"))),
        ("job_type_name=alpha", len(world.ids(lambda j: j.job_type_name == "alpha"))),
        (f"batch_id={world.batch.id}", len(world.ids(lambda j: j.batch_id == world.batch.id))),
        (f"recipe_id={world.recipe.id}&status=COMPLETED",
         len(world.ids(lambda j: j.recipe_id == world.recipe.id and j.status == "COMPLETED"))),
    ]:
        # Then each count is exact and no index entry of a match was read for it
        assert api_count(api, query) == expected, query
        assert reads == [], query
    # When a window with millisecond edges is asked for, its page holding every match
    start, end = BASE + timedelta(minutes=3, milliseconds=250), BASE + timedelta(minutes=17, seconds=30)
    window = f"started={iso(start)}&ended={iso(end)}"
    expected = len(world.ids(lambda j: start <= j.last_modified <= end))
    assert api_count(api, window) == expected
    # Then the partial seconds at its ends were counted from the page itself
    assert reads == []
    # When page 1 holds one row: it saw the start's partial second, the end's is read (that second only)
    for order in ("", "&order=-last_modified"):
        assert api_count(api, f"{window}&page_size=1{order}") == expected
        assert len(reads) == 1 and reads[0].low[:19] == reads[0].high[:19], [(r.low, r.high) for r in reads]
        reads.clear()
    # When a later page is asked for, both partial seconds are read
    assert api_count(api, f"{window}&page_size=1&page=2") == expected
    assert len(reads) == 2 and all(read.low[:19] == read.high[:19] for read in reads)


def test_filters_the_counters_cannot_answer_still_count_exactly(api, monkeypatch):
    world = build_world()
    reads = index_reads(monkeypatch)
    alpha = world.job_types["alpha1"]
    for query in ["error_category=SYSTEM", "is_superseded=true", f"job_type_id={alpha.id}&batch_id={world.batch.id}",
                  f"status=QUEUED&started={iso(BASE + timedelta(minutes=4))}", "source_sensor_class=classA"]:
        assert api_count(api, query) == reference_count(query), query
    assert len(reads) == 5  # each one fell back to the index


@pytest.fixture
def now():
    current = {"t": T0}
    clock.set_clock(lambda: current["t"])
    yield current
    clock.set_clock(None)


STEPS = ("submit", "dispatch", "end", "fail", "cancel", "requeue", "out of band")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_stay_exact_through_random_lives_races_and_bulk_operations(api, now, monkeypatch, seed):
    """Seed-fixed: the same seed replays the same lives."""
    rng = random.Random(seed)
    with dispatch_world(api, slots=4) as world:
        bulk = races.Bulk(api, monkeypatch)
        ids = [submit(world) for _ in range(6)]
        for step in range(24):
            now["t"] += timedelta(seconds=rng.choice([0.4, 1, 59, 3600]))
            kind = rng.choice(STEPS)
            job = job_store.get_job(rng.choice(ids), consistent=True)
            if kind == "submit":
                ids.append(submit(world))
            elif kind == "dispatch" and job.status == "QUEUED":
                deliver(api, message(job.id, job.num_exes))
            elif kind in ("end", "fail") and job.status == "RUNNING":
                # the end report races a cancel half the time: one of the two wins, the counts follow
                outcome = {"failure": "node-lost"} if kind == "fail" else {}
                if rng.random() < 0.5:
                    with races.racing("end report", lambda job_id=job.id: bulk.cancel(job_id)) as race:
                        report_end(world, job.id, job.num_exes, **outcome)
                    assert race["fired"]
                else:
                    report_end(world, job.id, job.num_exes, **outcome)
            elif kind == "cancel":
                bulk.cancel(*rng.sample(ids, k=min(3, len(ids))))
            elif kind == "requeue":
                bulk.do("requeue", {"status": "CANCELED"} if rng.random() < 0.5 else {"job_ids": [job.id]})
            elif kind == "out of band":
                races.out_of_band(job.id, last_modified=clock.now())
            # Then after every step, every count is what the jobs add up to
            assert_counts_exact()
            type_id = world["type"].id
            for query in ("", "status=QUEUED", "status=RUNNING&status=CANCELED", f"job_type_id={type_id}&status=FAILED",
                          f"started={iso(now['t'] - timedelta(minutes=61, milliseconds=500))}",
                          f"started={iso(now['t'] - timedelta(days=2))}&ended={iso(now['t'] - timedelta(seconds=30))}"):
                assert api_count(api, query) == reference_count(query), (step, kind, query)


def test_the_sweep_repairs_drifted_counters_and_reports_it(api, monkeypatch, capsys):
    # Given exact counters, then one corrupted behind the service's back
    world = build_world()
    queued = len(world.ids(lambda j: j.status == "QUEUED"))
    counters.apply({("c#all", counters.STATUS_SLOT["QUEUED"]): 5})
    assert api_count(api, "status=QUEUED") == queued + 5
    # When the maintenance sweep runs (in Lambda: metrics are emitted)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "test-maintenance")
    summary = sweep()
    # Then it fixed the drift, said how much, and the count is exact again
    assert summary["counter_drift_fixed"] == 5
    assert api_count(api, "status=QUEUED") == queued
    assert_counts_exact()
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "CounterDriftFixed" in line]
    assert metrics and metrics[-1]["CounterDriftFixed"] in (5, [5], 5.0, [5.0]), metrics
    # And the repair does not run again before JOBS_COUNT_REPAIR_SECONDS (a day) has passed
    counters.apply({("c#all", counters.STATUS_SLOT["QUEUED"]): 1})
    assert sweep()["counter_drift_fixed"] == 0
    assert sweep(clock.now() + timedelta(days=1, seconds=1))["counter_drift_fixed"] == 1


def conflict():
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError
    error = TransactWriteError("conflict", cause=VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}, "TransactWriteItems"))
    error.cause.cancellation_reasons = [CancellationReason(code="TransactionConflict", message="busy")]
    return error


def conflicting_first(module, monkeypatch, times: int = 1) -> list:
    """`module.write_transaction` whose first `times` transactions are cancelled for a conflict (their writes
    never sent), as DynamoDB cancels one of two transactions touching one counter shard at once."""
    import contextlib
    real, refused = module.write_transaction, []

    @contextlib.contextmanager
    def transaction():
        if len(refused) >= times:
            with real() as committed:
                yield committed
            return
        refused.append(1)
        yield real()
        raise conflict()
    monkeypatch.setattr(module, "write_transaction", transaction)
    return refused


def test_a_change_cancelled_by_a_conflict_on_a_counter_is_sent_again(api, monkeypatch):
    from chalicelib.models import job_state, tables
    # Given jobs, and transactions that collide once with another on a counter shard
    world = build_world()
    queued = next(job for job in world.jobs if job.status == "QUEUED")
    refused = conflicting_first(job_state, monkeypatch)
    # When a job is canceled
    job_state.cancel(queued, clock.now(), {"id": 1, "kind": "cancel", "reason": None})
    # Then the change was sent again and applied once, its counters with it
    assert refused == [1] and job_store.get_job(queued.id).status == "CANCELED"
    assert_counts_exact()
    # And a new job's insert is sent again the same way
    monkeypatch.undo()
    refused = conflicting_first(tables, monkeypatch, times=2)
    job = replace(world.jobs[0], id=10_000, status="QUEUED")
    job_store.insert_queued_job(job_store.NewJob(job, replace(job_store.get_job_data(world.jobs[0].id), job_id=10_000)))
    assert refused == [1, 1] and job_store.get_job(10_000).status == "QUEUED"
    assert_counts_exact()


def test_a_change_still_conflicting_after_its_tries_is_throttled_not_stale(api, monkeypatch):
    from chalicelib.errors import Throttled
    from chalicelib.models import job_state
    world = build_world()
    queued = next(job for job in world.jobs if job.status == "QUEUED")
    conflicting_first(job_state, monkeypatch, times=100)
    with pytest.raises(Throttled):  # for the caller's retry, never "the job moved on"
        job_state.cancel(queued, clock.now(), {"id": 1, "kind": "cancel", "reason": None})
    assert job_store.get_job(queued.id).status == "QUEUED"
    assert_counts_exact()
