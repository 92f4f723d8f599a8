"""Which index serves which filter, the cursor format, and in-memory ordering rules."""
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from chalicelib.domain import JobFilter, OrderKey
from chalicelib.errors import InvalidInput
from chalicelib.models import jobs

T = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.mark.parametrize("f, index, partitions, residual", [
    (JobFilter(), "by-modified", ("jobs",), False),
    (JobFilter(statuses=("FAILED",)), "by-status", ("FAILED",), False),
    (JobFilter(statuses=("FAILED", "CANCELED")), "by-status", ("CANCELED", "FAILED"), False),
    (JobFilter(job_type_ids=(4,)), "by-type", (4,), False),
    (JobFilter(job_type_ids=(4,), statuses=("QUEUED",)), "by-type-status", ("4#QUEUED",), False),
    (JobFilter(job_type_ids=(1, 2, 3), statuses=("QUEUED", "FAILED")), "by-type", (1, 2, 3), True),
    (JobFilter(batch_ids=(9,), statuses=("QUEUED",)), "by-batch", (9,), True),
    (JobFilter(recipe_ids=(5,), batch_ids=(9,)), "by-recipe", (5,), True),
    (JobFilter(error_categories=("SYSTEM",)), "by-modified", ("jobs",), True),
])
def test_plan_picks_the_most_selective_index(f, index, partitions, residual):
    plan = jobs.read_for_filter(f)
    assert plan.index == index
    assert plan.partitions == partitions
    assert (plan.residual is not None) is residual


def test_job_ids_are_read_directly():
    plan = jobs.read_for_filter(JobFilter(job_ids=(3, 1, 3)))
    assert plan.index == jobs.TABLE and plan.partitions == (1, 3)


def test_time_range_becomes_key_bounds_at_millisecond_precision():
    plan = jobs.read_for_filter(JobFilter(modified_after=T, modified_before=T))
    assert plan.low == "2026-01-01T12:00:00.124Z#000000000000"   # ceiling: >= 12:00:00.123456
    assert plan.high == "2026-01-01T12:00:00.123Z#999999999999"  # floor: <= 12:00:00.123456


def test_modified_key_sorts_like_time_then_id():
    keys = [jobs.modified_key(T, 10), jobs.modified_key(T, 9), jobs.modified_key(T.replace(second=1), 1)]
    assert sorted(keys) == [keys[1], keys[0], keys[2]]


def test_cursor_round_trip_and_tampering():
    key = jobs.modified_key(T, 42)
    token = jobs.encode_cursor("after", key)
    assert jobs.decode_cursor(token) == ("after", key)
    for bad in ("", "!!!", jobs.encode_cursor("sideways", key), jobs.encode_cursor("after", "DROP TABLE")):
        with pytest.raises(InvalidInput):
            jobs.decode_cursor(bad)


@pytest.mark.parametrize("order, direction", [
    ([], False), ([OrderKey("last_modified")], False), ([OrderKey("last_modified", True)], True),
    ([OrderKey("last_modified", True), OrderKey("id", True)], True),
    ([OrderKey("last_modified"), OrderKey("id", True)], None), ([OrderKey("status")], None),
])
def test_index_order(order, direction):
    assert jobs.index_order(order) is direction


def test_sort_puts_nulls_last_ascending_and_first_descending_ties_by_id():
    rows = [SimpleNamespace(id=i, started=v) for i, v in [(1, 5), (2, None), (3, 5), (4, 1)]]
    ascending = jobs.sort_jobs(rows, [OrderKey("started")])
    assert [r.id for r in ascending] == [4, 1, 3, 2]
    descending = jobs.sort_jobs(rows, [OrderKey("started", True)])
    assert [r.id for r in descending] == [2, 1, 3, 4]
