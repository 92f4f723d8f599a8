"""Requests the generated (schemathesis) run found answered wrongly, each now refused at the door by name or
served: ids in other scripts' digits or above 64 bits, repeated single-valued parameters, an empty job type
name in a bulk filter, a bulk range starting before year 1000, the readable API page."""
from __future__ import annotations

import pytest

from tests.functional.assertions import assert_error


@pytest.mark.parametrize("path", ["/v6/jobs/١٢/", "/v6/jobs/99999999999999999999/", "/v6/jobs/9223372036854775808/",
                                  "/v6/files/-1/", "/v6/jobs/bulk-operations/１/"])
def test_an_id_path_that_is_no_64_bit_ascii_integer_is_not_found(api, path):
    assert_error(api.get(path), 404)


@pytest.mark.parametrize(("query", "name"), [
    ("job_id=١", "job_id"), ("job_id=99999999999999999999", "job_id"), ("job_id=-3", "job_id"),
    ("started=PT1H&started=PT2H", "started"), ("is_superseded=true&is_superseded=false", "is_superseded"),
    ("page_size=10&page_size=20", "page_size"), ("status=RUNNING&status=nope", "status"),
    ("started=0001-01-01T00:00:00%2B14:00", "started"), ("started=P99999999D", "started"),
    ("cursor=" + "x" * 3000, "cursor"),
])
def test_a_bad_query_is_400_naming_the_parameter(api, query, name):
    assert_error(api.get(f"/v6/jobs/?{query}"), 400, f'"{name}"')


def test_duplicated_history_parameters_are_400_naming_them(api):
    response = api.get("/v1/jobs/history?limit=5&limit=6")
    assert response.status_code == 400 and response.json_body["field"] == "limit", response.body


@pytest.mark.parametrize("body", [{"job_type_names": [""]}, {"job_types": [{"name": "", "version": "1"}]},
                                  {"job_ids": ["١٢"]}, {"job_ids": [2**63]}, {"job_ids": [[[1]]]}])
def test_a_bulk_filter_naming_nothing_valid_is_400(api, body):
    field = next(iter(body))
    assert_error(api.post("/v6/jobs/cancel/", {**body, "dry_run": True}), 400, f'"{field}"')


def test_a_bulk_range_starting_before_year_1000_is_recorded_and_read_back(api):
    response = api.post("/v6/jobs/cancel/", {"started": "0999-06-01T00:00:00Z", "status": "QUEUED"})
    assert response.status_code == 202, response.body
    assert response.json_body["filter"]["started"] == "0999-06-01T00:00:00.000Z"
    operation = api.get(f"/v6/jobs/bulk-operations/{response.json_body['id']}/")
    assert operation.status_code == 200 and operation.json_body["state"] in ("RUNNING", "SUCCEEDED"), operation.body


def test_the_readable_api_page_is_served(api):
    response = api.get("/docs")
    assert response.status_code == 200 and b"date-time or duration" in response.body
