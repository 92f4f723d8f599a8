"""A bounded schemathesis run: requests generated from the OpenAPI document (`/openapi.json`), valid ones
(positive) and invalid ones (negative), against the Chalice app through its local gateway (a WSGI adapter),
with a fixed seed. It must find nothing: no 5xx, no undocumented status or content type, every valid request
accepted and every invalid one refused with a 4xx.

Bounded: EXAMPLES per operation and mode (about 1,400 requests, ~30 s). Positive requests of the operations in
DATA_DEPENDENT are sent and checked for everything but acceptance: what makes them valid is stored data or a
rule across fields that a JSON schema cannot state (docs/api.md, "OpenAPI")."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    status_code_conformance,
)

from tests.conftest import TOKENS  # noqa: E402
from tests.functional.chalice_wsgi import ChaliceWSGI  # noqa: E402

EXAMPLES = 24
# Valid by the document, yet refused (400) for a reason only stored data or several fields together decide.
DATA_DEPENDENT = {
    "POST /v6/jobs/": "the job type must exist and the input must fit its Seed interface",
    "POST /v6/jobs/cancel/": "a filter must be given (or all: true), started before ended, named job types must exist",
    "POST /v6/jobs/requeue/": "as for cancel",
    "POST /v6/job-types/": "the manifest must be a valid Seed manifest (its own schema, and its names unique)",
    "POST /v6/workspaces/": "the broker's host path must exist inside JOBS_HOST_WORKSPACE_ROOTS, the name be free",
    "POST /v6/files/": "the workspace must exist; exactly one of file_path and content_base64",
    "POST /v6/files/uploads/": "the workspace must exist and be an s3 workspace",
}
AUTH = {"Authorization": f"Bearer {TOKENS['admin']}"}


# Values valid only when the service made them, or in a language of their own.
SERVICE_MADE = {"cursor": "a cursor is valid only as the service wrote it in a next/previous link",
                "q": "RSQL: its grammar is not a JSON schema"}


def _valid_on_the_wire(case) -> bool:
    """A negative case that only the generator thinks invalid: its body is not the invalid part and each query
    value, as sent (a string), is valid for its string-typed parameter (`null` for a list of strings is sent
    as the valid string "null")."""
    import jsonschema
    if case.body is not None and type(case.body).__name__ != "NotSet":
        return False
    declared = {p["name"]: p["schema"] for p in case.operation.definition.raw.get("parameters", [])
                if p.get("in") == "query"}
    for name, value in (case.query or {}).items():
        schema = declared.get(name)
        if schema is None:
            return False
        item = schema.get("items", schema) if schema.get("type") == "array" else schema
        sent = value if isinstance(value, list) else [value]
        for text in sent:
            if not isinstance(text, str):
                return False
            try:
                jsonschema.validate(text, item)
            except jsonschema.ValidationError:
                return False
    return True


def _checks(case, mode: GenerationMode, status: int) -> list:
    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    if mode == GenerationMode.NEGATIVE:
        if status != 413 and not _valid_on_the_wire(case):  # 413: refused as too large, a refusal too
            checks.append(negative_data_rejection)
    elif case.operation.label not in DATA_DEPENDENT and not set(SERVICE_MADE) & set(case.query or {}):
        checks.append(positive_data_acceptance)
    return checks


RANGES = (("started", "ended"), ("source_started", "source_ended"), ("data_started", "data_ended"))


def _in_order(case) -> bool:
    """The rule across fields every time range states ("`ended` after `started`"): a positive request breaking
    it is not valid, though each value is."""
    from chalicelib import clock
    from chalicelib.errors import InvalidInput
    from chalicelib.timeutil import parse_timestamp
    now = clock.now()  # one "now" for both ends, as the service reads them
    for values in (case.query, case.body):
        if not isinstance(values, dict):
            continue
        if case.operation.label == "GET /v6/job-types/status/" and values.get("ended") and not values.get("started"):
            values = {**values, "started": "PT3H"}  # the window's default start
        for start, end in RANGES:
            if isinstance(values.get(start), str) and isinstance(values.get(end), str) and values[start] \
                    and values[end]:
                try:
                    if parse_timestamp(start, values[start], now) >= parse_timestamp(end, values[end], now):
                        return False
                except InvalidInput:
                    return False
    return True


def _run(operation, mode: GenerationMode, failures: list[str], sent: list[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def check(case) -> None:
        if mode == GenerationMode.POSITIVE:
            assume(_in_order(case))
        sent.append(1)
        response = case.call(headers=AUTH)
        try:
            case.validate_response(response, checks=_checks(case, mode, response.status_code), headers=AUTH)
        except BaseException:  # noqa: BLE001 - schemathesis' failure groups are BaseExceptionGroups
            failures.append(f"{operation.label} [{mode.value}] {response.status_code} {response.text[:160]} "
                            f"query={str(case.query)[:300]} body={str(case.body)[:300]}")

    try:
        check()
    except BaseException as error:  # noqa: BLE001 - e.g. an operation with nothing invalid to generate
        if "Unsatisfiable" not in type(error).__name__:
            raise


@pytest.mark.filterwarnings("ignore")
def test_generated_requests_find_nothing(api):
    # Given the document the app serves and the app behind a WSGI adapter
    from app import app
    schema = schemathesis.openapi.from_wsgi("/openapi.json", ChaliceWSGI(app))
    # Query parameters the document does not name are ignored, by design (the original console sends some).
    schema.config.generation.update(allow_extra_parameters=False)
    failures: list[str] = []
    sent: list[int] = []
    # When every operation gets EXAMPLES valid and EXAMPLES invalid requests (a fixed seed)
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, failures, sent)
    # Then nothing is found
    assert set(DATA_DEPENDENT) <= set(labels)
    assert len(sent) > 20 * len(labels), len(sent)
    assert not failures, f"{len(failures)} of {len(sent)} requests failed:\n" + "\n".join(failures[:40])
