from __future__ import annotations

from typing import Any

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.seed import Manifest, requested_file_ids, validate_job_input, validate_manifest

KNOWN = {1, 2, 3, 4}


@pytest.fixture
def manifest(full: dict[str, Any]) -> Manifest:
    # file inputs: INPUT_FILE (required, single), EXTRA_FILES (optional, multiple)
    # json inputs: THRESHOLD (required number), LABEL (optional string)
    return validate_manifest(full)


def rejected(manifest: Manifest, data: Any, known: set[int] = KNOWN) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_job_input(manifest, data, known)
    return caught.value


def test_valid_input_is_normalised_without_version(manifest: Manifest) -> None:
    data = {
        "version": "6",
        "json": {"LABEL": "x", "THRESHOLD": 0.5},
        "files": {"EXTRA_FILES": [3, 4, 2], "INPUT_FILE": [1]},
    }

    normalised = validate_job_input(manifest, data, KNOWN)

    assert normalised == {
        "files": {"INPUT_FILE": [1], "EXTRA_FILES": [3, 4, 2]},
        "json": {"THRESHOLD": 0.5, "LABEL": "x"},
    }
    assert list(normalised["files"]) == ["INPUT_FILE", "EXTRA_FILES"]  # manifest order
    assert "version" in data  # the caller's dict is left alone


def test_optional_inputs_may_be_left_out(manifest: Manifest) -> None:
    data = {"files": {"INPUT_FILE": [2]}, "json": {"THRESHOLD": 1}, "version": "7"}

    assert validate_job_input(manifest, data, KNOWN) == {
        "files": {"INPUT_FILE": [2]},
        "json": {"THRESHOLD": 1},
    }


def test_spec_example_input(minimal: dict[str, Any]) -> None:
    assert validate_job_input(validate_manifest(minimal), {"files": {"input_a": [1]}, "json": {}}, {1}) == {
        "files": {"input_a": [1]},
        "json": {},
    }


@pytest.mark.parametrize(
    ("data", "field", "detail"),
    [
        ([], "input", "input: must be a JSON object"),
        (
            {"files": {"INPUT_FILE": [1]}, "json": {"THRESHOLD": 1}, "extra": 1},
            "input.extra",
            "input.extra: is not allowed: the input takes files, json, version",
        ),
        (
            {"files": {"INPUT_FILE": [1]}, "json": {"THRESHOLD": 1}, "version": 6},
            "input.version",
            'input.version: must be "6" or "7", not 6',
        ),
        (
            {"files": {"INPUT_FILE": [1]}, "json": {"THRESHOLD": 1}, "version": "1.0"},
            "input.version",
            'input.version: must be "6" or "7", not \'1.0\'',
        ),
        ({"files": [1], "json": {"THRESHOLD": 1}}, "input.files", "input.files: must be a JSON object"),
        ({"files": {"INPUT_FILE": [1]}, "json": None}, "input.json", "input.json: must be a JSON object"),
    ],
)
def test_malformed_data(manifest: Manifest, data: Any, field: str, detail: str) -> None:
    error = rejected(manifest, data)

    assert (error.field, error.detail) == (field, detail)


def test_required_file_input_missing(manifest: Manifest) -> None:
    error = rejected(manifest, {"files": {"EXTRA_FILES": [2]}, "json": {"THRESHOLD": 1}})

    assert error.detail == "input.files.INPUT_FILE: required input is missing"
    assert error.field == "input.files.INPUT_FILE"


def test_required_json_input_missing(manifest: Manifest) -> None:
    error = rejected(manifest, {"files": {"INPUT_FILE": [1]}})

    assert error.detail == "input.json.THRESHOLD: required input is missing"


def test_file_input_with_zero_files(manifest: Manifest) -> None:
    # even an optional input: leave it out rather than give it no file
    error = rejected(manifest, {"files": {"INPUT_FILE": [1], "EXTRA_FILES": []}, "json": {"THRESHOLD": 1}})

    assert error.detail == "input.files.EXTRA_FILES: needs at least one file"


def test_several_files_for_a_single_file_input(manifest: Manifest) -> None:
    error = rejected(manifest, {"files": {"INPUT_FILE": [1, 2]}, "json": {"THRESHOLD": 1}})

    assert error.detail == "input.files.INPUT_FILE: takes one file, not 2"


def test_file_ids_must_be_a_list(manifest: Manifest) -> None:
    error = rejected(manifest, {"files": {"INPUT_FILE": 1}, "json": {"THRESHOLD": 1}})

    assert error.detail == "input.files.INPUT_FILE: must be a list of file ids"


@pytest.mark.parametrize(("bad", "shown"), [("2", "'2'"), (True, "True"), (2.0, "2.0"), (None, "None")])
def test_file_ids_must_be_integers(manifest: Manifest, bad: Any, shown: str) -> None:
    error = rejected(
        manifest, {"files": {"INPUT_FILE": [1], "EXTRA_FILES": [1, bad]}, "json": {"THRESHOLD": 1}}
    )

    assert error.field == "input.files.EXTRA_FILES[1]"
    assert error.detail == f"input.files.EXTRA_FILES[1]: {shown} is not a file id (an integer)"


def test_unknown_file_ids(manifest: Manifest) -> None:
    error = rejected(
        manifest, {"files": {"INPUT_FILE": [1], "EXTRA_FILES": [2, 98, 3, 99]}, "json": {"THRESHOLD": 1}}
    )

    assert error.detail == "input.files.EXTRA_FILES: no file has id 98, 99"


@pytest.mark.parametrize(
    ("data", "field", "detail"),
    [
        (
            {"files": {"INPUT_FILE": [1], "OTHER": [2]}, "json": {"THRESHOLD": 1}},
            "input.files.OTHER",
            "input.files.OTHER: the job type has no file input 'OTHER'; its file inputs are INPUT_FILE, "
            "EXTRA_FILES",
        ),
        # a json input given as a file input is unknown as a file input
        (
            {"files": {"INPUT_FILE": [1], "THRESHOLD": [2]}, "json": {"THRESHOLD": 1}},
            "input.files.THRESHOLD",
            "input.files.THRESHOLD: the job type has no file input 'THRESHOLD'; its file inputs are "
            "INPUT_FILE, EXTRA_FILES",
        ),
        (
            {"files": {"INPUT_FILE": [1]}, "json": {"THRESHOLD": 1, "speed": 2}},
            "input.json.speed",
            "input.json.speed: the job type has no json input 'speed'; its json inputs are THRESHOLD, LABEL",
        ),
    ],
)
def test_unknown_input_names(manifest: Manifest, data: Any, field: str, detail: str) -> None:
    error = rejected(manifest, data)

    assert (error.field, error.detail) == (field, detail)


def test_unknown_input_when_the_job_type_has_none(minimal: dict[str, Any]) -> None:
    error = rejected(validate_manifest(minimal), {"files": {"input_a": [1]}, "json": {"x": 1}})

    assert error.detail == "input.json.x: the job type has no json input 'x'"


def json_manifest(minimal: dict[str, Any], json_type: str) -> Manifest:
    minimal["job"]["interface"]["inputs"] = {"json": [{"name": "value", "type": json_type}]}
    return validate_manifest(minimal)


@pytest.mark.parametrize(
    ("json_type", "value"),
    [
        ("string", ""),
        ("string", "abc"),
        ("integer", 0),
        ("integer", -7),
        ("integer", 10**20),
        ("number", 3),
        ("number", -2.5),
        ("boolean", False),
        ("boolean", True),
        ("object", {}),
        ("object", {"a": [1]}),
        ("array", []),
        ("array", [1, "a", None]),
    ],
)
def test_json_value_of_the_right_type(minimal: dict[str, Any], json_type: str, value: Any) -> None:
    normalised = validate_job_input(json_manifest(minimal, json_type), {"json": {"value": value}}, set())

    assert normalised == {"files": {}, "json": {"value": value}}


@pytest.mark.parametrize(
    ("json_type", "value", "actual"),
    [
        ("string", 1, "integer"),
        ("string", None, "null"),
        ("integer", True, "boolean"),
        ("integer", 1.5, "number"),
        ("integer", 1.0, "number"),
        ("integer", "1", "string"),
        ("number", False, "boolean"),
        ("number", "1.5", "string"),
        ("number", float("nan"), "NaN or Infinity"),
        ("boolean", 0, "integer"),
        ("boolean", "true", "string"),
        ("object", [], "array"),
        ("object", None, "null"),
        ("array", {}, "object"),
        ("array", "a,b", "string"),
    ],
)
def test_json_value_of_the_wrong_type(
    minimal: dict[str, Any], json_type: str, value: Any, actual: str
) -> None:
    error = rejected(json_manifest(minimal, json_type), {"json": {"value": value}}, set())

    assert error.field == "input.json.value"
    assert error.detail == f"input.json.value: must be of type {json_type}, not {actual}"


def test_requested_file_ids_reads_leniently() -> None:
    data = {"files": {"a": [1, 2], "b": [2, "3", True, 4.0], "c": 5, "d": [7]}, "json": {"e": [9]}}

    assert requested_file_ids(data) == {1, 2, 7}
    assert requested_file_ids({"files": [1]}) == set()
    assert requested_file_ids(None) == set()
