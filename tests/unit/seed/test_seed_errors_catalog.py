from __future__ import annotations

from typing import Any

import pytest

from chalicelib.seed import (
    BUILTIN_ERRORS,
    ErrorDefinition,
    builtin_error,
    error_definition_for_exit_code,
    error_for_exit_code,
    job_type_errors,
    validate_manifest,
)

# Published ids: this list may only grow at its end.
PUBLISHED_IDS = [
    (1, "unknown"),
    (2, "database"),
    (3, "filesystem-io"),
    (4, "task-launch"),
    (5, "node-lost"),
    (6, "resource-starvation"),
    (7, "launch-timeout"),
    (8, "pre-timeout"),
    (9, "post-timeout"),
    (10, "system-timeout"),
    (11, "timeout"),
    (12, "algorithm-unknown"),
    (13, "invalid-results-manifest"),
    (14, "missing-required-output"),
    (15, "unexpected-multiple-outputs"),
    (16, "missing-setting"),
    (17, "missing-mount"),
]


def test_builtin_ids_never_change() -> None:
    assert [(e.id, e.name) for e in BUILTIN_ERRORS][: len(PUBLISHED_IDS)] == PUBLISHED_IDS


def test_builtin_ids_and_names_are_unique_and_ids_run_from_1() -> None:
    ids = [e.id for e in BUILTIN_ERRORS]
    assert ids == list(range(1, len(BUILTIN_ERRORS) + 1))
    assert len({e.name for e in BUILTIN_ERRORS}) == len(BUILTIN_ERRORS)


@pytest.mark.parametrize(
    ("names", "category", "retried"),
    [
        (
            [
                "unknown",
                "database",
                "filesystem-io",
                "task-launch",
                "node-lost",
                "resource-starvation",
                "launch-timeout",
                "pre-timeout",
                "post-timeout",
                "system-timeout",
            ],
            "SYSTEM",
            True,
        ),
        (
            [
                "timeout",
                "algorithm-unknown",
                "invalid-results-manifest",
                "missing-required-output",
                "unexpected-multiple-outputs",
            ],
            "ALGORITHM",
            False,
        ),
        (["missing-setting", "missing-mount"], "SYSTEM", False),
    ],
)
def test_builtin_categories_and_retries(names: list[str], category: str, retried: bool) -> None:
    for name in names:
        error = builtin_error(name)
        assert (error.category, error.should_be_retried) == (category, retried), name


def test_every_builtin_is_marked_builtin_and_titled() -> None:
    for error in BUILTIN_ERRORS:
        assert error.is_builtin is True
        assert error.job_type_name is None
        assert error.title and error.description


def test_unknown_builtin_name() -> None:
    with pytest.raises(KeyError):
        builtin_error("no-such-error")


def test_job_type_errors_from_the_manifest(full: dict[str, Any]) -> None:
    errors = job_type_errors(validate_manifest(full))

    assert errors == [
        ErrorDefinition(None, "crashed", "Crashed", None, "ALGORITHM", False, False, "my-job"),
        ErrorDefinition(None, "bad-input", "Bad input", "Unreadable HDF5", "DATA", False, False, "my-job"),
        # no category: Seed's default "job"; no title: the name
        ErrorDefinition(None, "overflow", "overflow", None, "ALGORITHM", False, False, "my-job"),
    ]


def test_no_manifest_errors(minimal: dict[str, Any]) -> None:
    assert job_type_errors(validate_manifest(minimal)) == []


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0, None),
        (1, "crashed"),
        (2, "bad-input"),
        (255, "overflow"),
        (3, "algorithm-unknown"),
        (137, "algorithm-unknown"),
        (-9, "algorithm-unknown"),
    ],
)
def test_exit_code_to_error_name(full: dict[str, Any], code: int, name: str | None) -> None:
    assert error_for_exit_code(validate_manifest(full), code) == name


def test_exit_code_definition_tells_a_job_type_error_from_a_builtin(full: dict[str, Any]) -> None:
    # A job type may name an error like a built-in one; job_type_name tells them apart.
    full["job"]["errors"][1]["name"] = "timeout"
    manifest = validate_manifest(full)

    mapped = error_definition_for_exit_code(manifest, 1)
    unmapped = error_definition_for_exit_code(manifest, 7)

    assert mapped == ErrorDefinition(None, "timeout", "Crashed", None, "ALGORITHM", False, False, "my-job")
    assert unmapped == builtin_error("algorithm-unknown")
    assert unmapped is not None and unmapped.id == 12
    assert error_definition_for_exit_code(manifest, 0) is None
