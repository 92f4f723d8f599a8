"""A job's input data and configuration, checked against its job type's manifest (POST /v6/jobs/).

Every `InvalidInput` names the body field at fault by its JSON path, e.g. `input.files.input_a` or
`configuration.settings.DB_HOST`.
"""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from chalicelib.errors import PayloadTooLarge
from chalicelib.seed.manifest import Manifest, invalid, json_path

DATA_KEYS = ("files", "json", "version")
DATA_VERSIONS = ("6", "7")
CONFIGURATION_KEYS = ("priority", "output_workspaces", "mounts", "settings")
DEFAULT_PRIORITY = 100
# Every input and setting reaches the job as one environment variable, which Linux caps at 128 KiB
# (MAX_ARG_STRLEN): a value may hold at most 64 KiB of UTF-8 (a JSON value as the job sees it, compact JSON).
MAX_VALUE_BYTES = 64 * 1024
# The job's data item holds its input and its effective configuration, under DynamoDB's 400 KB item limit:
# at most 128 KiB each as JSON (UTF-8), 256 KiB together.
MAX_INPUT_BYTES = 128 * 1024
MAX_CONFIGURATION_BYTES = 128 * 1024


class NormalisedInput(TypedDict):
    """Data JSON without `version`: the inputs given, in manifest order."""

    files: dict[str, list[int]]
    json: dict[str, Any]


def requested_file_ids(data: Any) -> set[int]:
    """The integer file ids `data` refers to, read leniently (`validate_job_input` reports any
    junk), so that the caller can fetch them before calling `validate_job_input`."""
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return set()
    return {fid for ids in files.values() if isinstance(ids, list) for fid in ids if _is_int(fid)}


def validate_job_input(manifest: Manifest, data: Any, known_file_ids: set[int]) -> NormalisedInput:
    """Checks a job's input Data JSON `{"files": {name: [ids]}, "json": {name: value}, "version"?}`
    against the manifest interface. `known_file_ids`: the ids among `requested_file_ids(data)` that
    exist."""
    if not isinstance(data, dict):
        raise invalid("input", "must be a JSON object")
    check_text(data, "input")
    check_json_size(data, "input", MAX_INPUT_BYTES)
    for key in data:
        if key not in DATA_KEYS:
            raise invalid(json_path("input", [key]), "is not allowed: the input takes files, json, version")
    if "version" in data and data["version"] not in DATA_VERSIONS:
        raise invalid("input.version", f'must be "6" or "7", not {data["version"]!r}')
    return {
        "files": _check_files(manifest, _section(data, "files"), known_file_ids),
        "json": _check_json(manifest, _section(data, "json")),
    }


def validate_configuration(
    configuration: Any, manifest: Manifest, root: str = "configuration"
) -> dict[str, Any]:
    """Checks one job configuration (a job type's or a job's) against the manifest and returns a
    copy of it, holding only the keys given. None is an empty configuration."""
    if configuration is None:
        return {}
    if not isinstance(configuration, dict):
        raise invalid(root, "must be a JSON object")
    check_text(configuration, root)
    for key in configuration:
        if key not in CONFIGURATION_KEYS:
            allowed = ", ".join(CONFIGURATION_KEYS)
            raise invalid(json_path(root, [key]), f"is not allowed: a configuration takes {allowed}")
    priority = configuration.get("priority", DEFAULT_PRIORITY)
    if not _is_int(priority) or priority < 1:
        raise invalid(f"{root}.priority", f"must be an integer >= 1, not {priority!r}")
    if "output_workspaces" in configuration:
        workspaces, path = configuration["output_workspaces"], f"{root}.output_workspaces"
        if not isinstance(workspaces, dict):
            raise invalid(path, "must be a JSON object")
        for key in workspaces:
            if key not in ("default", "outputs"):
                raise invalid(json_path(path, [key]), "is not allowed: it takes default and outputs")
        if "default" in workspaces and not _is_workspace_name(workspaces["default"]):
            raise invalid(f"{path}.default", "must be a workspace name")
        _check_named(workspaces, "outputs", path, "file output", {o.name for o in manifest.file_outputs},
                      _is_workspace_name, "a workspace name")
    _check_named(configuration, "mounts", root, "mount", {m.name for m in manifest.mounts},
                 lambda v: isinstance(v, dict), "a JSON object")
    _check_named(configuration, "settings", root, "setting", {s.name for s in manifest.settings},
                 lambda v: isinstance(v, str), "a string")
    for name, value in (configuration.get("settings") or {}).items():
        _check_value_size(value, json_path(f"{root}.settings", [name]))
    return copy.deepcopy(configuration)


def merge_configuration(job_type_config: Any, job_config: Any, manifest: Manifest) -> dict[str, Any]:
    """The effective configuration of a job: the job's values over its job type's, key by key
    (name by name inside `output_workspaces.outputs`, `mounts` and `settings`).

    The result always has `priority` (default 100), `output_workspaces` with `outputs` (and
    `default` only when one is set), `mounts` and `settings`. Every file output must end up with a
    workspace. Secret settings are still in it: see `redact_secrets`."""
    base = validate_configuration(job_type_config, manifest, "job_type.configuration")
    over = validate_configuration(job_config, manifest)
    base_ws, over_ws = base.get("output_workspaces", {}), over.get("output_workspaces", {})
    default = over_ws.get("default", base_ws.get("default"))
    workspaces: dict[str, Any] = {"default": default} if default is not None else {}
    workspaces["outputs"] = {**base_ws.get("outputs", {}), **over_ws.get("outputs", {})}
    for output in manifest.file_outputs:
        if default is None and output.name not in workspaces["outputs"]:
            raise invalid("configuration.output_workspaces", f"file output {output.name!r} has no workspace:"
                          f" set default or outputs.{output.name}")
    effective = {
        "priority": over.get("priority", base.get("priority", DEFAULT_PRIORITY)),
        "output_workspaces": workspaces,
        "mounts": {**base.get("mounts", {}), **over.get("mounts", {})},
        "settings": {**base.get("settings", {}), **over.get("settings", {})},
    }
    check_json_size(effective, "configuration", MAX_CONFIGURATION_BYTES, " (merged over the job type's)")
    return effective


def check_text(value: Any, root: str) -> None:
    """Every string and key in a JSON value is text a job can receive and the store can hold: no NUL, no
    lone surrogate (JSON `"\\ud800"` alone). Raises the 400 naming the first bad one's JSON path."""
    stack: list[tuple[Any, str]] = [(value, root)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_string(item, path)
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = json_path(path, [_printable(key)])
                if isinstance(key, str):
                    _check_string(key, child_path)
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def _printable(key: Any) -> str:
    text = str(key)
    text = "".join("?" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)
    return text if len(text) <= 100 else text[:97] + "..."


def _check_string(text: str, path: str) -> None:
    if "\x00" in text:
        raise invalid(path, "must not hold NUL characters")
    if any("\ud800" <= c <= "\udfff" for c in text):
        raise invalid(path, "must not hold lone surrogates (invalid Unicode)")


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON: what the store holds."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def check_json_size(value: Any, field: str, limit: int, what: str = "") -> None:
    size = json_size(value)
    if size > limit:
        raise PayloadTooLarge(f"{field}: {size} bytes as JSON{what}, more than the {limit} bytes "
                              f"({limit // 1024} KiB) a job may hold")


def _check_value_size(value: Any, path: str) -> None:
    """A value as the job's environment gets it (a string as is, anything else as compact JSON)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        raise invalid(path, f"{size} bytes, more than the {MAX_VALUE_BYTES} (64 KiB) an input or setting "
                      "may hold (it reaches the job as one environment variable)")


def redact_secrets(configuration: Mapping[str, Any], manifest: Manifest) -> dict[str, Any]:
    """A copy of the configuration without the settings the manifest declares secret (the keys
    go too, so a response does not even tell which secrets are set)."""
    redacted = copy.deepcopy(dict(configuration))
    settings = redacted.get("settings")
    if isinstance(settings, dict):
        for name in manifest.secret_setting_names:
            settings.pop(name, None)
    return redacted


def workspaces_used(configuration: Mapping[str, Any]) -> set[str]:
    """The workspace names a configuration refers to, for the caller to check they exist."""
    workspaces = configuration.get("output_workspaces") or {}
    used = set(workspaces.get("outputs", {}).values())
    if workspaces.get("default") is not None:
        used.add(workspaces["default"])
    return used


def _section(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise invalid(f"input.{key}", "must be a JSON object")
    return value


def _reject_unknown(given: Mapping[str, Any], declared: Mapping[str, Any], section: str, kind: str) -> None:
    for name in given:
        if name not in declared:
            known = f"; its {kind} inputs are {', '.join(declared)}" if declared else ""
            path = json_path("input", [section, name])
            raise invalid(path, f"the job type has no {kind} input {name!r}{known}")


def _check_files(manifest: Manifest, files: dict[str, Any], known_file_ids: set[int]) -> dict[str, list[int]]:
    declared = {spec.name: spec for spec in manifest.file_inputs}
    _reject_unknown(files, declared, "files", "file")
    checked: dict[str, list[int]] = {}
    for spec in manifest.file_inputs:
        path = json_path("input", ["files", spec.name])
        if spec.name not in files:
            if spec.required:
                raise invalid(path, "required input is missing")
            continue
        ids = files[spec.name]
        if not isinstance(ids, list):
            raise invalid(path, "must be a list of file ids")
        if not ids:
            raise invalid(path, "needs at least one file")
        if len(ids) > 1 and not spec.multiple:
            raise invalid(path, f"takes one file, not {len(ids)}")
        for i, file_id in enumerate(ids):
            if not _is_int(file_id):
                raise invalid(f"{path}[{i}]", f"{file_id!r} is not a file id (an integer)")
        unknown = [file_id for file_id in ids if file_id not in known_file_ids]
        if unknown:
            raise invalid(path, f"no file has id {', '.join(map(str, unknown))}")
        checked[spec.name] = list(ids)
    return checked


def _check_json(manifest: Manifest, values: dict[str, Any]) -> dict[str, Any]:
    declared = {spec.name: spec for spec in manifest.json_inputs}
    _reject_unknown(values, declared, "json", "json")
    checked: dict[str, Any] = {}
    for spec in manifest.json_inputs:
        path = json_path("input", ["json", spec.name])
        if spec.name not in values:
            if spec.required:
                raise invalid(path, "required input is missing")
            continue
        value = values[spec.name]
        if not _JSON_TYPES[spec.type](value):
            raise invalid(path, f"must be of type {spec.type}, not {_json_type(value)}")
        _check_value_size(value, path)
        checked[spec.name] = value
    return checked


def _check_named(container: Mapping[str, Any], key: str, root: str, kind: str, declared: set[str],
                 valid: Callable[[Any], bool], expected: str) -> None:
    """`container[key]`, if present, maps names the manifest declares to valid values."""
    if key not in container:
        return
    path = f"{root}.{key}"
    if not isinstance(container[key], dict):
        raise invalid(path, "must be a JSON object")
    for name, value in container[key].items():
        if name not in declared:
            raise invalid(json_path(path, [name]), f"the job type declares no {kind} {name!r}")
        if not valid(value):
            raise invalid(json_path(path, [name]), f"must be {expected}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not 1


def _is_workspace_name(value: Any) -> bool:
    return isinstance(value, str) and value != ""


# JSON types as Seed means them: JSON schema's, without its "1.0 is an integer" leniency.
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_int,
    "number": lambda v: _is_int(v) or (isinstance(v, float) and math.isfinite(v)),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _json_type(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN or Infinity"  # Python's json module reads these; JSON has no such values
    for name, python_type in (("null", type(None)), ("boolean", bool), ("integer", int), ("number", float),
                              ("string", str), ("object", dict), ("array", list)):
        if isinstance(value, python_type):
            return name
    return type(value).__name__
