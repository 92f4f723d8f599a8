"""Seed 1.0.0 job types: manifest validation, resources, input data and configuration, errors.

Pure logic, no I/O. Importing this package is cheap: jsonschema and the manifest schema are loaded on
the first `validate_manifest` call.
"""
from chalicelib.seed.data import (
    DEFAULT_PRIORITY,
    NormalisedInput,
    merge_configuration,
    redact_secrets,
    requested_file_ids,
    validate_configuration,
    validate_job_input,
    workspaces_used,
)
from chalicelib.seed.errors_catalog import (
    BUILTIN_ERRORS,
    ErrorDefinition,
    builtin_error,
    error_definition_for_exit_code,
    error_for_exit_code,
    job_type_errors,
)
from chalicelib.seed.manifest import (
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
from chalicelib.seed.resources import MIN_CPUS, MIN_MEM_MIB, job_resources

__all__ = [
    "BUILTIN_ERRORS",
    "DEFAULT_PRIORITY",
    "MIN_CPUS",
    "MIN_MEM_MIB",
    "ErrorDefinition",
    "FileInput",
    "FileOutput",
    "JsonInput",
    "JsonOutput",
    "Manifest",
    "ManifestError",
    "Mount",
    "NormalisedInput",
    "ScalarResource",
    "Setting",
    "builtin_error",
    "error_definition_for_exit_code",
    "error_for_exit_code",
    "job_resources",
    "job_type_errors",
    "merge_configuration",
    "redact_secrets",
    "requested_file_ids",
    "validate_configuration",
    "validate_job_input",
    "validate_manifest",
    "workspaces_used",
]
