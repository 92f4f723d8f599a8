from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.seed import (
    Manifest,
    merge_configuration,
    redact_secrets,
    validate_configuration,
    validate_manifest,
    workspaces_used,
)


@pytest.fixture
def manifest(full: dict[str, Any]) -> Manifest:
    # file outputs: output_tiffs, output_csv; json outputs: cell_count, status
    # mounts: MOUNT_PATH, SCRATCH, REF; settings: DB_HOST, DB_PASS (secret), MODE
    return validate_manifest(full)


JOB_TYPE_CONFIG = {
    "priority": 50,
    "output_workspaces": {"default": "products", "outputs": {"output_csv": "tables"}},
    "mounts": {"REF": {"type": "host", "host_path": "/data/ref"}},
    "settings": {"DB_HOST": "db.internal", "DB_PASS": "s3cret", "MODE": "fast"},
}


def test_job_values_override_job_type_values(manifest: Manifest) -> None:
    job_config = {
        "priority": 5,
        "output_workspaces": {"outputs": {"output_tiffs": "images"}},
        "mounts": {
            "REF": {"type": "volume", "driver": "nfs"},
            "SCRATCH": {"type": "host", "host_path": "/tmp"},
        },
        "settings": {"MODE": "careful"},
    }

    merged = merge_configuration(JOB_TYPE_CONFIG, job_config, manifest)

    assert merged == {
        "priority": 5,
        "output_workspaces": {
            "default": "products",
            "outputs": {"output_csv": "tables", "output_tiffs": "images"},
        },
        "mounts": {
            "REF": {"type": "volume", "driver": "nfs"},
            "SCRATCH": {"type": "host", "host_path": "/tmp"},
        },
        "settings": {"DB_HOST": "db.internal", "DB_PASS": "s3cret", "MODE": "careful"},
    }


def test_job_type_values_apply_when_the_job_gives_none(manifest: Manifest) -> None:
    assert merge_configuration(JOB_TYPE_CONFIG, None, manifest) == JOB_TYPE_CONFIG


def test_defaults_when_neither_gives_a_value(minimal: dict[str, Any]) -> None:
    minimal["job"]["interface"]["outputs"] = {}

    merged = merge_configuration(None, {}, validate_manifest(minimal))

    assert merged == {"priority": 100, "output_workspaces": {"outputs": {}}, "mounts": {}, "settings": {}}


def test_job_default_workspace_overrides(manifest: Manifest) -> None:
    merged = merge_configuration(JOB_TYPE_CONFIG, {"output_workspaces": {"default": "mine"}}, manifest)

    assert merged["output_workspaces"] == {"default": "mine", "outputs": {"output_csv": "tables"}}


def test_merge_leaves_its_arguments_alone(manifest: Manifest) -> None:
    type_config, job_config = copy.deepcopy(JOB_TYPE_CONFIG), {"settings": {"MODE": "x"}}

    merged = merge_configuration(type_config, job_config, manifest)
    merged["settings"]["DB_HOST"] = "changed"
    merged["output_workspaces"]["outputs"]["output_csv"] = "changed"

    assert type_config == JOB_TYPE_CONFIG
    assert job_config == {"settings": {"MODE": "x"}}


def test_every_file_output_needs_a_workspace(manifest: Manifest) -> None:
    error = _rejected(None, {"output_workspaces": {"outputs": {"output_tiffs": "images"}}}, manifest)

    assert error.field == "configuration.output_workspaces"
    assert error.detail == (
        "configuration.output_workspaces: file output 'output_csv' has no workspace: set default or "
        "outputs.output_csv"
    )


def test_a_workspace_per_file_output_needs_no_default(manifest: Manifest) -> None:
    config = {"output_workspaces": {"outputs": {"output_tiffs": "images", "output_csv": "tables"}}}

    merged = merge_configuration(None, config, manifest)

    assert merged["output_workspaces"] == {"outputs": {"output_tiffs": "images", "output_csv": "tables"}}


def _rejected(type_config: Any, job_config: Any, manifest: Manifest) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        merge_configuration(type_config, job_config, manifest)
    return caught.value


@pytest.mark.parametrize(
    ("job_config", "detail"),
    [
        ([], "configuration: must be a JSON object"),
        (
            {"priority": 1, "tasks": []},
            "configuration.tasks: is not allowed: a configuration takes priority, output_workspaces, "
            "mounts, settings",
        ),
        ({"priority": 0}, "configuration.priority: must be an integer >= 1, not 0"),
        ({"priority": True}, "configuration.priority: must be an integer >= 1, not True"),
        ({"priority": "5"}, "configuration.priority: must be an integer >= 1, not '5'"),
        ({"priority": 2.5}, "configuration.priority: must be an integer >= 1, not 2.5"),
        (
            {"settings": {"DB_USER": "x"}},
            "configuration.settings.DB_USER: the job type declares no setting 'DB_USER'",
        ),
        ({"settings": {"MODE": 3}}, "configuration.settings.MODE: must be a string"),
        ({"settings": ["MODE"]}, "configuration.settings: must be a JSON object"),
        ({"mounts": {"HOME": {}}}, "configuration.mounts.HOME: the job type declares no mount 'HOME'"),
        ({"mounts": {"REF": "/data"}}, "configuration.mounts.REF: must be a JSON object"),
        ({"output_workspaces": "products"}, "configuration.output_workspaces: must be a JSON object"),
        (
            {"output_workspaces": {"default": "p", "other": 1}},
            "configuration.output_workspaces.other: is not allowed: it takes default and outputs",
        ),
        (
            {"output_workspaces": {"default": ""}},
            "configuration.output_workspaces.default: must be a workspace name",
        ),
        (
            {"output_workspaces": {"outputs": {"output_pdf": "p"}}},
            "configuration.output_workspaces.outputs.output_pdf: the job type declares no file output "
            "'output_pdf'",
        ),
        # a json output has no file to store
        (
            {"output_workspaces": {"outputs": {"cell_count": "p"}}},
            "configuration.output_workspaces.outputs.cell_count: the job type declares no file output "
            "'cell_count'",
        ),
        (
            {"output_workspaces": {"outputs": {"output_csv": 7}}},
            "configuration.output_workspaces.outputs.output_csv: must be a workspace name",
        ),
    ],
)
def test_invalid_job_configuration(manifest: Manifest, job_config: Any, detail: str) -> None:
    error = _rejected(JOB_TYPE_CONFIG, job_config, manifest)

    assert error.detail == detail
    assert error.field == detail.split(": ", 1)[0]


def test_invalid_job_type_configuration_is_named_as_such(manifest: Manifest) -> None:
    error = _rejected({"settings": {"GONE": "x"}}, None, manifest)

    assert error.field == "job_type.configuration.settings.GONE"


def test_validate_configuration_returns_a_copy_of_what_was_given(manifest: Manifest) -> None:
    config = {"settings": {"MODE": "x"}}

    checked = validate_configuration(config, manifest)

    assert checked == config and checked is not config
    assert validate_configuration(None, manifest) == {}


def test_redact_secrets_removes_secret_settings_only(manifest: Manifest) -> None:
    merged = merge_configuration(JOB_TYPE_CONFIG, None, manifest)

    redacted = redact_secrets(merged, manifest)

    assert redacted["settings"] == {"DB_HOST": "db.internal", "MODE": "fast"}
    assert {k: v for k, v in redacted.items() if k != "settings"} == {
        k: v for k, v in merged.items() if k != "settings"
    }
    assert merged["settings"]["DB_PASS"] == "s3cret"  # the original is left alone


def test_redact_secrets_without_settings(manifest: Manifest) -> None:
    assert redact_secrets({"priority": 3}, manifest) == {"priority": 3}


def test_workspaces_used() -> None:
    config = {"output_workspaces": {"default": "products", "outputs": {"a": "images", "b": "products"}}}

    assert workspaces_used(config) == {"products", "images"}
    assert workspaces_used({"output_workspaces": {"outputs": {}}}) == set()
    assert workspaces_used({}) == set()
