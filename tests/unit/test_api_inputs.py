"""The OpenAPI document and the door's checks come from the same definitions and agree: every route's
declared parameters are the document's, and at each boundary (minimum, maximum, length, choices, pattern,
date-time range) a value the document accepts is accepted and one it refuses is refused."""
from __future__ import annotations

import jsonschema
import pytest

from chalicelib import api_inputs
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.params import MAX_ID, BodySpec, Field, Param, QueryParams, check_date_time, check_query
from chalicelib.timeutil import parse_timestamp

FORMATS = jsonschema.Draft7Validator.FORMAT_CHECKER


def json_schema(schema: object) -> object:
    """OpenAPI 3.0's `nullable` as JSON Schema (as schemathesis reads it)."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: json_schema(value) for key, value in schema.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if schema.get("nullable") else converted


def documented(value: object, schema: dict) -> bool:
    return jsonschema.Draft7Validator(json_schema(schema), format_checker=FORMATS).is_valid(value)


def checked(check, *args) -> bool:
    try:
        check(*args)
    except (InvalidInput, NotFound):
        return False
    return True


def test_the_spelt_out_names_are_their_sources():
    from chalicelib import execution_logs, rsql
    from chalicelib.models.jobs import SORT_KEYS
    from chalicelib.services.search_history import MAX_LIMIT
    from chalicelib.views.history import SORTABLE
    assert api_inputs.JOB_SORT_KEYS == tuple(SORT_KEYS)
    assert api_inputs.HISTORY_SORTABLE == SORTABLE
    assert api_inputs.MAX_RSQL_LENGTH == rsql.MAX_QUERY_LENGTH
    assert api_inputs.LOG_IDS == execution_logs.LOG_IDS
    assert api_inputs.MAX_HISTORY_LIMIT == MAX_LIMIT


def test_every_route_s_checked_parameters_are_the_document_s():
    from app import app  # noqa: F401 - registers the routes
    from chalicelib.handlers.common import ROUTE_PARAMS
    from chalicelib.openapi import openapi_document
    paths = openapi_document()["paths"]
    compared = 0
    for (method, route), declared in ROUTE_PARAMS.items():
        if route.startswith("/{p1}") or not declared:
            continue
        path = route if route in paths else route + "/"
        operation = paths[path][method.lower()]
        in_document = {(p["name"], p["in"]): p for p in operation["parameters"]}
        for param in declared:
            assert in_document[(param.name, param.location)] == param.openapi(), (method, route, param.name)
        assert {name for name, where in in_document if where == "query"} == {
            p.name for p in declared if p.location == "query"}, (method, route)
        compared += 1
    assert compared >= 15


def _samples(param: Param) -> list[str]:
    values = ["", "x", "1", "-1", "0", "true", "T", "tRuE", "१२", "1_000", " 7", str(MAX_ID), str(MAX_ID + 1)]
    for bound in (param.minimum, param.maximum):
        if bound is not None:
            values += [str(bound - 1), str(bound), str(bound + 1)]
    for length in (param.max_length, param.min_length):
        if length is not None:
            values += ["a" * (length - 1), "a" * length, "a" * (length + 1)]
    values += list(param.enum or ()) + [f"{choice}x" for choice in param.enum or ()]
    return values


def _wire(value: str, schema: dict) -> object:
    """A query value as the document reads it: an integer parameter's digits are the integer."""
    options = schema.get("anyOf", [schema])
    if any(option.get("type") == "integer" for option in options) and value.lstrip("-").isascii() \
            and value.lstrip("-").isdigit():
        return int(value)
    return value


ALL_PARAMS = {(p.name, p.kind, p.minimum, p.maximum, p.max_length, p.min_length, p.enum): p for group in (
    api_inputs.LIST_JOBS, api_inputs.JOB_INPUT_FILES, api_inputs.JOB_EXECUTIONS, api_inputs.EXECUTION_LOG,
    api_inputs.LIST_JOB_TYPES, api_inputs.LIST_FILES, api_inputs.STATUS_WINDOW, api_inputs.HISTORY) for p in group}


@pytest.mark.parametrize("param", ALL_PARAMS.values(), ids=lambda p: f"{p.name}-{p.kind}")
def test_a_query_parameter_accepts_exactly_what_the_document_states(param: Param):
    schema = param.openapi()["schema"]
    item = schema["items"] if schema.get("type") == "array" else schema
    for value in _samples(param):
        expected = documented(_wire(value, item), item)
        assert checked(check_query, QueryParams({param.name: [value]}), [param]) == expected, (param.name, value)


def test_a_single_valued_parameter_given_twice_is_refused_by_name():
    with pytest.raises(InvalidInput) as refused:
        check_query(QueryParams({"started": ["PT1H", "PT2H"]}), api_inputs.LIST_JOBS)
    assert refused.value.field == "started" and "given once" in refused.value.detail


DATE_TIMES = ["2026-01-31T12:00:00Z", "2026-01-31T12:00:00.123456+05:30", "2026-01-31T12:00Z",
              "0001-01-01T00:00:00+14:00", "0002-01-01T00:00:00+14:00", "0999-06-01T00:00:00Z",
              "9998-12-31T23:59:59-14:00", "9999-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-31T12:00:60Z",
              "2026-01-31T12:00:00", "2026-01-31", "2026-01-31t12:00:00z", "PT3H", "P2D", "P0DT0H10M", "PT1.5S",
              "P", "PT", "P1DT", "P99999D", "P100000D", "P1Y", "pt3h", "", "now"]


@pytest.mark.parametrize("text", DATE_TIMES)
def test_a_date_time_is_accepted_exactly_as_documented_and_then_parses(text: str):
    schema = Param("started", "datetime", "").value_schema()
    accepted = checked(check_date_time, "started", text)
    assert accepted == documented(text, schema), text
    if accepted:
        parse_timestamp("started", text)  # never out of range once accepted


def _body_specs() -> list[BodySpec]:
    from chalicelib.services import bulk_jobs, console, files, job_types, queue_job
    return [queue_job.BODY, job_types.BODY, files.WORKSPACE_BODY, files.UPLOAD_BODY, files.FILE_BODY,
            console.SCHEDULER_BODY, *bulk_jobs.BODIES.values()]


def _field_samples(field: Field) -> list[object]:
    values: list[object] = [None, True, 0, -1, 1, MAX_ID, MAX_ID + 1, "", "a", " ", "a b", "a/b", ".a", "..", "-a",
                            [], ["a"], [1], {}, 1.5]
    for bound in (field.minimum, field.maximum):
        if bound is not None:
            values += [bound - 1, bound, bound + 1]
    if field.max_length is not None:
        values += ["a" * field.max_length, "a" * (field.max_length + 1)]
    values += list(field.enum or ()) + [f"{choice}x" for choice in field.enum or ()]
    return values


@pytest.mark.parametrize("spec", _body_specs(), ids=lambda spec: spec.name)
def test_a_body_field_accepts_exactly_what_the_document_states(spec: BodySpec):
    for field in spec.fields:
        if field.kind == "any":  # the bulk lists: checked by parse_request (tests/functional/test_bulk_jobs.py)
            continue
        schema = field.json_schema()
        for value in _field_samples(field):
            assert checked(field.check, field.name, value) == documented(value, schema), (spec.name, field.name, value)


def test_a_body_names_an_unknown_field_and_a_missing_one():
    from chalicelib.services.queue_job import BODY
    with pytest.raises(InvalidInput) as unknown:
        BODY.check({"job_type_id": 1, "input": {}, "colour": "red"})
    assert unknown.value.field == "colour"
    with pytest.raises(InvalidInput) as missing:
        BODY.check({"input": {}})
    assert missing.value.field == "job_type_id"
    assert BODY.json_schema()["required"] == ["job_type_id", "input"]
    assert BODY.json_schema()["additionalProperties"] is False
