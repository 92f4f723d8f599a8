"""The errors a job can fail with: the built-in catalog, and the errors a job type's manifest adds.

Built-in ids are published (jobs and clients refer to them, `error_id` filters on them), so they
never change: a new built-in is appended to `BUILTIN_ERRORS` with the next id, and none is ever
removed or reordered.
"""
from __future__ import annotations

from typing import Literal, NamedTuple

from chalicelib.seed.manifest import Manifest

Category = Literal["SYSTEM", "ALGORITHM", "DATA"]


class ErrorDefinition(NamedTuple):
    id: int | None  # fixed for built-ins; None for a job type's errors, whose ids the store assigns
    name: str
    title: str
    description: str | None
    category: Category
    is_builtin: bool
    should_be_retried: bool
    job_type_name: str | None  # None for built-ins


def _builtin(id: int, name: str, title: str, category: Category, should_be_retried: bool,
             description: str) -> ErrorDefinition:
    return ErrorDefinition(id, name, title, description, category, True, should_be_retried, None)


BUILTIN_ERRORS: tuple[ErrorDefinition, ...] = (
    # SYSTEM, retried: the job itself may well succeed on another try.
    _builtin(1, "unknown", "Unknown", "SYSTEM", True,
             "The cause of the failure is unknown."),
    _builtin(2, "database", "Database", "SYSTEM", True,
             "The service failed to read or write its database."),
    _builtin(3, "filesystem-io", "Filesystem I/O", "SYSTEM", True,
             "Reading or writing a file of the job failed."),
    _builtin(4, "task-launch", "Task Launch", "SYSTEM", True,
             "The job's task could not be launched."),
    _builtin(5, "node-lost", "Node Lost", "SYSTEM", True,
             "The node running the job was lost."),
    _builtin(6, "resource-starvation", "Resource Starvation", "SYSTEM", True,
             "The job ran out of a resource, such as memory, and was stopped."),
    _builtin(7, "launch-timeout", "Launch Timeout", "SYSTEM", True,
             "The job's task did not start in time."),
    _builtin(8, "pre-timeout", "Pre-Task Timeout", "SYSTEM", True,
             "Preparing the job (fetching its inputs) did not finish in time."),
    _builtin(9, "post-timeout", "Post-Task Timeout", "SYSTEM", True,
             "Storing the job's outputs did not finish in time."),
    _builtin(10, "system-timeout", "System Timeout", "SYSTEM", True,
             "A system step of the job did not finish in time."),
    # ALGORITHM, not retried: the job's own code failed and would fail again.
    _builtin(11, "timeout", "Timeout", "ALGORITHM", False,
             "The job ran longer than its manifest's timeout."),
    _builtin(12, "algorithm-unknown", "Algorithm Unknown", "ALGORITHM", False,
             "The job exited with a non-zero code its manifest does not map to an error."),
    _builtin(13, "invalid-results-manifest", "Invalid Results Manifest", "ALGORITHM", False,
             "The job wrote an invalid seed.outputs.json."),
    _builtin(14, "missing-required-output", "Missing Required Output", "ALGORITHM", False,
             "The job did not produce an output its manifest requires."),
    _builtin(15, "unexpected-multiple-outputs", "Unexpected Multiple Outputs", "ALGORITHM", False,
             "The job produced several files for an output its manifest declares as single."),
    # SYSTEM, not retried: the configuration lacks something; a retry cannot help until it is fixed.
    _builtin(16, "missing-setting", "Missing Setting", "SYSTEM", False,
             "A setting the job's manifest declares has no value in its configuration."),
    _builtin(17, "missing-mount", "Missing Mount", "SYSTEM", False,
             "A mount the job's manifest declares has no volume in its configuration."),
)

_BUILTIN_BY_NAME = {error.name: error for error in BUILTIN_ERRORS}


def builtin_error(name: str) -> ErrorDefinition:
    """The built-in error with this name; KeyError when there is none."""
    return _BUILTIN_BY_NAME[name]


def job_type_errors(manifest: Manifest) -> list[ErrorDefinition]:
    """The manifest's `errors[]` as error definitions, in exit code order."""
    return [_job_type_error(manifest, code) for code in sorted(manifest.errors)]


def error_definition_for_exit_code(manifest: Manifest, code: int) -> ErrorDefinition | None:
    """None for 0 (success); the manifest's error for a code it maps (its name may equal a built-in
    name: it is told apart by `job_type_name`); otherwise the built-in `algorithm-unknown`."""
    if code == 0:
        return None
    if code not in manifest.errors:
        return builtin_error("algorithm-unknown")
    return _job_type_error(manifest, code)


def error_for_exit_code(manifest: Manifest, code: int) -> str | None:
    """The name of the error for a job's exit code (see `error_definition_for_exit_code`)."""
    error = error_definition_for_exit_code(manifest, code)
    return error.name if error else None


def _job_type_error(manifest: Manifest, code: int) -> ErrorDefinition:
    e = manifest.errors[code]
    return ErrorDefinition(None, e.name, e.title, e.description, e.category, False, False, manifest.name)
