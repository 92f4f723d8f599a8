from __future__ import annotations

from typing import Any

import pytest

from chalicelib.seed import job_resources, validate_manifest


def with_resources(minimal: dict[str, Any], *scalar: dict[str, Any]) -> Any:
    minimal["job"]["resources"] = {"scalar": list(scalar)}
    return validate_manifest(minimal)


def test_no_resources_and_1_mib_input_matches_the_spec_example(minimal: dict[str, Any]) -> None:
    resources = job_resources(validate_manifest(minimal), 1)

    assert resources == {"cpus": 0.25, "mem": 128.0, "disk": 1.0, "gpus": 0.0}
    assert all(type(value) is float for value in resources.values())


def test_declared_values_above_the_minimums_are_kept(minimal: dict[str, Any]) -> None:
    manifest = with_resources(
        minimal,
        {"name": "cpus", "value": 2},
        {"name": "mem", "value": 1024},
        {"name": "disk", "value": 500},
        {"name": "gpus", "value": 1},
    )

    assert job_resources(manifest, 64.0) == {"cpus": 2.0, "mem": 1024.0, "disk": 500.0, "gpus": 1.0}


def test_declared_values_below_the_minimums_are_raised(minimal: dict[str, Any]) -> None:
    manifest = with_resources(
        minimal, {"name": "cpus", "value": 0.1}, {"name": "mem", "value": 16}, {"name": "disk", "value": 1}
    )

    # disk cannot be smaller than the inputs it holds
    assert job_resources(manifest, 20.0) == {"cpus": 0.25, "mem": 128.0, "disk": 20.0, "gpus": 0.0}


def test_input_multiplier_adds_a_multiple_of_the_input_size(minimal: dict[str, Any]) -> None:
    manifest = with_resources(
        minimal,
        {"name": "cpus", "value": 1, "inputMultiplier": 0.01},
        {"name": "mem", "value": 64, "inputMultiplier": 4},
        {"name": "disk", "value": 0.1, "inputMultiplier": 4.0},
    )

    resources = job_resources(manifest, 100.0)

    assert resources == pytest.approx({"cpus": 2.0, "mem": 464.0, "disk": 400.1, "gpus": 0.0})


def test_input_multiplier_result_still_gets_the_minimum(minimal: dict[str, Any]) -> None:
    manifest = with_resources(minimal, {"name": "mem", "value": 0, "inputMultiplier": 2})

    assert job_resources(manifest, 10.0)["mem"] == 128.0
    assert job_resources(manifest, 100.0)["mem"] == 200.0


def test_custom_resources_are_kept_under_their_names(minimal: dict[str, Any]) -> None:
    manifest = with_resources(
        minimal, {"name": "sharedMem", "value": 32}, {"name": "licenses", "value": 1, "inputMultiplier": 0.5}
    )

    resources = job_resources(manifest, 4.0)

    assert resources == {
        "cpus": 0.25,
        "mem": 128.0,
        "disk": 4.0,
        "gpus": 0.0,
        "sharedMem": 32.0,
        "licenses": 3.0,
    }


@pytest.mark.parametrize("size", [0, None])
def test_no_input_files(minimal: dict[str, Any], size: float | None) -> None:
    assert job_resources(validate_manifest(minimal), size) == {
        "cpus": 0.25,
        "mem": 128.0,
        "disk": 0.0,
        "gpus": 0.0,
    }


def test_a_negative_input_size_is_a_bug_of_the_caller(minimal: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="negative"):
        job_resources(validate_manifest(minimal), -1)
