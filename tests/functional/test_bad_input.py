"""Bad input found by an attacker's pass answers a 4xx JSON error naming what is wrong, never a 500, and
writes nothing."""
from __future__ import annotations

import json

import pytest

from tests.functional.assertions import assert_error


@pytest.mark.parametrize("query, status, fragment", [
    ("started=P99999999D", 400, '"started"'),
    ("ended=P99999999D", 400, '"ended"'),
    ("started=0001-01-01T00:00:00%2B14:00", 400, '"started"'),
    ("ended=9999-12-31T23:59:59-14:00", 400, '"ended"'),
    ("page=99999999999999999999", 404, "Invalid page."),
    ("page=99999999999999999999&order=status", 404, "Invalid page."),
    ("source_started=P99999999D", 400, '"source_started"'),
])
def test_out_of_range_times_and_pages_are_refused(api, query, status, fragment):
    assert_error(api.get(f"/v6/jobs/?{query}"), status, fragment)


@pytest.mark.parametrize("path", ["/v6/jobs/", "/v6/job-types/", "/v6/jobs/cancel/", "/v6/workspaces/"])
def test_json_nested_too_deeply_is_400(api, path):
    deep = "[" * 5000 + "]" * 5000
    detail = assert_error(api.post(path, raw='{"a": ' + deep + "}"), 400, "nested")
    assert "64" in detail


def test_json_nested_within_the_limit_still_reaches_validation(api):
    body = {"job_type_id": 1, "input": {"json": {"LEVEL": json.loads("[" * 30 + "]" * 30)}}}
    response = api.post("/v6/jobs/", body)
    assert response.status_code in (400, 404) and "nested" not in response.json_body["detail"]


@pytest.mark.parametrize("kind, body, status, field", [
    ("requeue", {"all": True, "priority": 0}, 400, "priority"),
    ("requeue", {"all": True, "priority": -5}, 400, "priority"),
    ("cancel", {"job_ids": list(range(1, 30_001))}, 413, "job_ids"),
    ("cancel", {"job_types": [{"name": "a", "version": "1", "revision": 2}]}, 400, "job_types"),
])
def test_bulk_bodies_that_could_not_be_kept_or_mean_nothing_are_refused(api, kind, body, status, field):
    # When an operator sends the bad body
    response = api.post(f"/v6/jobs/{kind}/", body)
    # Then it is refused naming the field, and no operation is recorded
    assert_error(response, status, f'"{field}"')
    assert api.get("/v6/jobs/bulk-operations/").json_body["count"] == 0
