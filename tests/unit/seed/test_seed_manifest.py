from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.seed import (
    FileInput,
    FileOutput,
    JsonInput,
    JsonOutput,
    Manifest,
    ManifestError,
    Mount,
    ScalarResource,
    Setting,
    validate_manifest,
)
from chalicelib.seed.manifest import SCHEMA_PATH


def rejected(manifest: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_manifest(manifest)
    return caught.value


# --- valid manifests -----------------------------------------------------------------------------


def test_full_manifest_gives_every_member_typed(full: dict[str, Any]) -> None:
    # Given a manifest using every Seed 1.0.0 member / When it is validated
    manifest = validate_manifest(full)

    # Then the view exposes each of them, with Seed's defaults filled in
    assert (manifest.name, manifest.job_version, manifest.package_version) == (
        "my-job",
        "1.2.3-rc.1+build.5",
        "2.0.0",
    )
    assert manifest.title == "My first job"
    assert manifest.description == "Reads an HDF5 file and outputs TIFF images and a CSV"
    assert manifest.timeout == 3600
    assert manifest.command == "${INPUT_FILE} ${OUTPUT_DIR}"
    assert manifest.file_inputs == (
        FileInput("INPUT_FILE", ("image/x-hdf5-image",), required=True, partial=True, multiple=False),
        FileInput("EXTRA_FILES", (), required=False, partial=False, multiple=True),
    )
    assert manifest.json_inputs == (
        JsonInput("THRESHOLD", "number", True),
        JsonInput("LABEL", "string", False),
    )
    assert manifest.file_outputs == (
        FileOutput("output_tiffs", "out*.tif", "image/tiff", multiple=True, required=True),
        FileOutput("output_csv", "out*.csv", "text/csv", multiple=False, required=False),
    )
    assert manifest.json_outputs == (
        JsonOutput("cell_count", "integer", "cellCount", True),
        JsonOutput("status", "string", "status", True),
    )
    assert manifest.mounts == (
        Mount("MOUNT_PATH", "/the/container/path", "ro"),
        Mount("SCRATCH", "/scratch", "rw"),
        Mount("REF", "/ref", "ro"),
    )
    assert manifest.settings == (Setting("DB_HOST", False), Setting("DB_PASS", True), Setting("MODE", False))
    assert manifest.secret_setting_names == frozenset({"DB_PASS"})
    assert manifest.scalar_resources == (
        ScalarResource("cpus", 1.5, 0.0),
        ScalarResource("mem", 64.0, 4.0),
        ScalarResource("disk", 10.0, 2.0),
        ScalarResource("sharedMem", 0.0, 0.0),
    )
    assert dict(manifest.errors) == {
        2: ManifestError("bad-input", "Bad input", "Unreadable HDF5", "DATA"),
        1: ManifestError("crashed", "Crashed", None, "ALGORITHM"),
        255: ManifestError("overflow", "overflow", None, "ALGORITHM"),
    }


def test_minimal_manifest_of_the_spec_example(minimal: dict[str, Any]) -> None:
    manifest = validate_manifest(minimal)

    assert manifest.name == "test-job"
    assert manifest.command == ""
    assert manifest.file_inputs == (FileInput("input_a", (), required=True, partial=False, multiple=False),)
    assert manifest.file_outputs == (FileOutput("output_a", "*.png", None, multiple=True, required=True),)
    assert manifest.json_inputs == manifest.json_outputs == manifest.mounts == manifest.settings == ()
    assert manifest.scalar_resources == ()
    assert dict(manifest.errors) == {}
    assert manifest.secret_setting_names == frozenset()


def test_manifest_without_interface(minimal: dict[str, Any]) -> None:
    del minimal["job"]["interface"]

    manifest = validate_manifest(minimal)

    assert manifest.command is None
    assert manifest.file_inputs == manifest.file_outputs == ()


def test_integral_float_timeout_and_code_become_ints(minimal: dict[str, Any]) -> None:
    # JSON schema counts 10.0 as an integer; the view must still hand out ints.
    minimal["job"]["timeout"] = 10.0
    minimal["job"]["errors"] = [{"code": 3.0, "name": "oops"}]

    manifest = validate_manifest(minimal)

    assert manifest.timeout == 10 and isinstance(manifest.timeout, int)
    assert list(manifest.errors) == [3] and isinstance(next(iter(manifest.errors)), int)


def test_view_keeps_its_own_copy_of_the_manifest(full: dict[str, Any]) -> None:
    original = copy.deepcopy(full)

    manifest = validate_manifest(full)
    full["job"]["name"] = "changed-afterwards"

    assert manifest.raw == original
    assert manifest.name == "my-job"


def test_from_validated_builds_the_same_view(full: dict[str, Any]) -> None:
    assert Manifest.from_validated(full) == validate_manifest(full)


def test_schema_is_a_valid_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))


def test_importing_the_package_does_not_load_jsonschema() -> None:
    code = "import sys, chalicelib.seed; print('jsonschema' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    assert out.stdout.strip() == "False"


# --- invalid manifests: the detail starts with the JSON path of the bad field ------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets `value` at a dotted path of the manifest (digits index lists)."""

    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = manifest
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = manifest
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


SCHEMA_CASES = [
    # (mutation of the full manifest, expected detail)
    (
        _delete("job.interface.inputs.files.0.name"),
        "manifest.job.interface.inputs.files[0].name: 'name' is a required property",
    ),
    (_delete("seedVersion"), "manifest.seedVersion: 'seedVersion' is a required property"),
    (_delete("job.maintainer.email"), "manifest.job.maintainer.email: 'email' is a required property"),
    (
        _delete("job.interface.outputs.files.1.pattern"),
        "manifest.job.interface.outputs.files[1].pattern: 'pattern' is a required property",
    ),
    (
        _delete("job.interface.inputs.json.0.type"),
        "manifest.job.interface.inputs.json[0].type: 'type' is a required property",
    ),
    (_set("seedVersion", "0.1.0"), "manifest.seedVersion: '1.0.0' was expected"),
    (
        _set("job.name", "My Job"),
        "manifest.job.name: 'My Job' must be lower-case letters, digits, '_' or '-'",
    ),
    (
        _set("job.name", "my-job\n"),
        "manifest.job.name: 'my-job\\n' must be lower-case letters, digits, '_' or '-'",
    ),
    (
        _set("job.jobVersion", "1.0"),
        "manifest.job.jobVersion: '1.0' must be a semantic version such as 1.0.0",
    ),
    (
        _set("job.packageVersion", "v2"),
        "manifest.job.packageVersion: 'v2' must be a semantic version such as 1.0.0",
    ),
    (_set("job.timeout", 0), "manifest.job.timeout: 0 is less than the minimum of 1"),
    (_set("job.timeout", True), "manifest.job.timeout: True is not of type 'integer'"),
    (_set("job.timeout", "60"), "manifest.job.timeout: '60' is not of type 'integer'"),
    (_set("job.title", None), "manifest.job.title: None is not of type 'string'"),
    (_set("job.tags", "hdf5"), "manifest.job.tags: 'hdf5' is not of type 'array'"),
    (
        _set("job.interface.inputs.files.0.name", "input1"),
        "manifest.job.interface.inputs.files[0].name: 'input1' must be letters, '_' or '-' (Seed 1.0.0 "
        "allows no digits here)",
    ),
    (
        _set("job.interface.settings.0.name", "db host"),
        "manifest.job.interface.settings[0].name: 'db host' must be letters, '_' or '-' (Seed 1.0.0 allows "
        "no digits here)",
    ),
    (
        _set("job.interface.inputs.files.1.multiple", "yes"),
        "manifest.job.interface.inputs.files[1].multiple: 'yes' is not of type 'boolean'",
    ),
    (
        _set("job.interface.inputs.json.0.type", "float"),
        "manifest.job.interface.inputs.json[0].type: 'float' is not one of "
        "['string', 'integer', 'number', 'boolean', 'object', 'array']",
    ),
    (
        _set("job.interface.mounts.1.mode", "wo"),
        "manifest.job.interface.mounts[1].mode: 'wo' is not one of ['ro', 'rw']",
    ),
    (_set("job.errors.0.code", 0), "manifest.job.errors[0].code: 0 is less than the minimum of 1"),
    (_set("job.errors.0.code", 256), "manifest.job.errors[0].code: 256 is greater than the maximum of 255"),
    (
        _set("job.errors.0.category", "system"),
        "manifest.job.errors[0].category: 'system' is not one of ['job', 'data']",
    ),
    (_delete("job.errors.0.name"), "manifest.job.errors[0].name: 'name' is a required property"),
    (
        _set("job.resources.scalar.0.value", -1),
        "manifest.job.resources.scalar[0].value: -1 is less than the minimum of 0",
    ),
    (
        _set("job.resources.scalar.1.inputMultiplier", -0.5),
        "manifest.job.resources.scalar[1].inputMultiplier: -0.5 is less than the minimum of 0",
    ),
    (_set("job.cpus", 1), "manifest.job.cpus: Additional properties are not allowed ('cpus' was unexpected)"),
    (
        _set("job.interface.inputs.files.0.mediaType", "x/y"),
        "manifest.job.interface.inputs.files[0].mediaType: Additional properties are not allowed "
        "('mediaType' was unexpected)",
    ),
    (
        _set("job.maintainer.company", "E-corp"),
        "manifest.job.maintainer.company: Additional properties are not allowed ('company' was unexpected)",
    ),
]


@pytest.mark.parametrize(("mutate", "detail"), SCHEMA_CASES)
def test_schema_error_names_the_field(full: dict[str, Any], mutate: Mutation, detail: str) -> None:
    mutate(full)

    error = rejected(full)

    assert error.detail == detail
    assert error.field == detail.split(": ", 1)[0]


SEMANTIC_CASES = [
    (
        _set("job.interface.inputs.json.0.name", "INPUT_FILE"),
        "manifest.job.interface.inputs.json[0].name: 'INPUT_FILE' is already used as an environment variable "
        "by manifest.job.interface.inputs.files[0].name",
    ),
    # input-file and INPUT_FILE are both injected as $INPUT_FILE
    (
        _set("job.interface.inputs.files.1.name", "input-file"),
        "manifest.job.interface.inputs.files[1].name: 'input-file' is already used as an environment "
        "variable "
        "by manifest.job.interface.inputs.files[0].name",
    ),
    (
        _set("job.interface.settings.2.name", "THRESHOLD"),
        "manifest.job.interface.settings[2].name: 'THRESHOLD' is already used as an environment variable "
        "by manifest.job.interface.inputs.json[0].name",
    ),
    (
        _set("job.interface.inputs.files.1.name", "OUTPUT_DIR"),
        "manifest.job.interface.inputs.files[1].name: 'OUTPUT_DIR' is already used as an environment "
        "variable "
        "by a variable Seed reserves",
    ),
    (
        _set("job.resources.scalar.1.name", "cpus"),
        "manifest.job.resources.scalar[1].name: 'cpus' is already used as an environment variable "
        "by manifest.job.resources.scalar[0].name",
    ),
    (
        _set("job.interface.settings.2.name", "ALLOCATED_MEM"),
        "manifest.job.resources.scalar[1].name: 'mem' is already used as an environment variable "
        "by manifest.job.interface.settings[2].name",
    ),
    (
        _set("job.interface.outputs.json.1.name", "output_csv"),
        "manifest.job.interface.outputs.json[1].name: 'output_csv' is already used "
        "by manifest.job.interface.outputs.files[1].name",
    ),
    (
        _set("job.interface.mounts.2.name", "SCRATCH"),
        "manifest.job.interface.mounts[2].name: 'SCRATCH' is already used by "
        "manifest.job.interface.mounts[1].name",
    ),
    (
        _set("job.interface.mounts.0.path", "relative/path"),
        "manifest.job.interface.mounts[0].path: 'relative/path' is not an absolute path",
    ),
    (
        _set("job.errors.2.code", 2),
        "manifest.job.errors[2].code: 2 is already used by manifest.job.errors[0].code",
    ),
    (
        _set("job.errors.1.name", "bad-input"),
        "manifest.job.errors[1].name: 'bad-input' is already used by manifest.job.errors[0].name",
    ),
]


@pytest.mark.parametrize(("mutate", "detail"), SEMANTIC_CASES)
def test_semantic_error_names_the_field(full: dict[str, Any], mutate: Mutation, detail: str) -> None:
    mutate(full)

    error = rejected(full)

    assert error.detail == detail
    assert error.field == detail.split(": ", 1)[0]


@pytest.mark.parametrize("manifest", [None, [], "seed", 1])
def test_a_manifest_that_is_not_an_object(manifest: Any) -> None:
    error = rejected(manifest)

    assert error.field == "manifest"
    assert "is not of type 'object'" in error.detail


def test_the_shallowest_error_is_reported_first(full: dict[str, Any]) -> None:
    # Given a deep and a shallow error
    full["job"]["interface"]["inputs"]["files"][0]["name"] = "bad name"
    full["job"]["timeout"] = -5

    error = rejected(full)

    assert error.field == "manifest.job.timeout"


def test_a_huge_bad_value_is_not_echoed_whole(full: dict[str, Any]) -> None:
    full["job"]["interface"] = ["x" * 50] * 100

    error = rejected(full)

    assert error.detail.startswith("manifest.job.interface: ['xxx")
    assert error.detail.endswith("...")
    assert len(error.detail) < 400


def test_validation_does_not_change_the_manifest(full: dict[str, Any]) -> None:
    before = copy.deepcopy(full)

    validate_manifest(full)

    assert full == before
