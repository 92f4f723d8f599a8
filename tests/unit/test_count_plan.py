"""The time-window plan of the job counters: whole seconds from time containers plus exact edges must
count exactly what the index's millisecond range selects, for any window (seed-fixed random cases)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import JobFilter, JobRecord
from chalicelib.models import counters

BASE = datetime(2026, 12, 31, 23, 0, 0, tzinfo=timezone.utc)


def _job(job_id: int, modified: datetime) -> JobRecord:
    return JobRecord(id=job_id, status="QUEUED", job_type_id=1, job_type_name="t", job_type_version="1",
                     job_type_rev_id=1, job_type_revision_num=1, created=modified, last_modified=modified)


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _count_by_plan(plan: counters.CountPlan, jobs: list[JobRecord]) -> int:
    stored = counters.expected(jobs)
    total = sum(stored.get((name, slot), 0) for name, first, last in plan.ranges
                for slot in range(first, last + 1))  # type: ignore[arg-type]
    for low, high in plan.edges:
        total += sum(1 for job in jobs if low <= _ms(job.last_modified) <= high)
    return total


def _exact(jobs: list[JobRecord], after: datetime | None, before: datetime | None) -> int:
    low = counters._ceil_ms(after) if after else None
    high = _ms(before) if before else None
    return sum(1 for job in jobs if (low is None or _ms(job.last_modified) >= low)
               and (high is None or _ms(job.last_modified) <= high))


@pytest.mark.parametrize("seed", range(8))
def test_window_counts_match_the_index_range_for_any_window(seed):
    # Given jobs spread from seconds to years around a year boundary
    rng = random.Random(seed)
    spreads = [timedelta(seconds=5), timedelta(minutes=5), timedelta(hours=30), timedelta(days=400)]
    jobs = [_job(i, BASE + timedelta(microseconds=rng.randrange(-1, 2) * rng.random() * spreads[i % 4] / timedelta(
        microseconds=1))) for i in range(400)]
    for _ in range(60):
        # When a window with edges anywhere (or open on one side) is planned
        points = sorted(rng.choice(jobs).last_modified + timedelta(microseconds=rng.randrange(-1500, 1500))
                        for _ in range(2))
        after, before = points
        if rng.random() < 0.2:
            after = None
        elif rng.random() < 0.2:
            before = None
        plan = counters.window_plan(after, before)
        # Then it counts exactly what the index range holds, reading few counters and at most two edges
        assert _count_by_plan(plan, jobs) == _exact(jobs, after, before), (after, before)
        assert len(plan.edges) <= 2
        assert plan.items <= counters.BATCH_GET_LIMIT


def test_a_24_hour_window_reads_at_most_a_few_containers():
    plan = counters.window_plan(BASE - timedelta(hours=24, microseconds=123_456), None)
    assert plan.items <= 6 * counters.SHARDS
    assert len(plan.edges) == 1


def test_filters_counters_cannot_answer_fall_back():
    assert counters.plan_count(JobFilter(projects=("p",))) is None
    assert counters.plan_count(JobFilter(error_categories=("SYSTEM",))) is None
    assert counters.plan_count(JobFilter(job_type_ids=(1,), batch_ids=(2,))) is None
    assert counters.plan_count(JobFilter(statuses=("QUEUED",), modified_after=BASE)) is None
    two_types = counters.plan_count(JobFilter(statuses=("QUEUED", "RUNNING"), job_type_ids=(1, 2)))
    assert two_types.items == 2 * counters.SHARDS  # one item per scope holds every status
    assert counters.plan_count(JobFilter()).items == counters.SHARDS
