"""Seed 1.0.0 manifests: validation and a typed read-only view.

`validate_manifest` checks a manifest in two passes: the JSON schema (`manifest-1.0.0.schema.json`,
compiled once, on first use) and then the rules a schema cannot express (unique names, unique error
codes, absolute mount paths). The first problem found becomes an `InvalidInput` whose detail starts
with the JSON path of the bad field, e.g. `manifest.job.interface.inputs.files[0].name: ...`.
"""
from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from chalicelib.errors import InvalidInput

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_PATH = Path(__file__).with_name("manifest-1.0.0.schema.json")
ROOT = "manifest"
# Seed injects this variable itself, so no input or setting may take its name.
RESERVED_ENV_NAMES = ("OUTPUT_DIR",)
# Variables the runner sets itself or that steer the shell, the dynamic loader or an interpreter: an input,
# setting, mount or output taking one of these names (as an environment variable: upper-cased, "-" as "_")
# would let whoever submits a job set it.
RUNTIME_ENV_NAMES = frozenset({
    "OUTPUT_DIR", "PATH", "HOME", "TMPDIR", "LANG", "TZ",  # set by the runner
    "SHELL", "IFS", "ENV", "BASH_ENV", "CDPATH", "PWD", "OLDPWD",  # read by the shell
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONUSERBASE", "NODE_OPTIONS", "NODE_PATH",
    "PERLLIB", "RUBYLIB", "RUBYOPT", "JAVA_TOOL_OPTIONS",  # load code into interpreters
    "GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", "NLSPATH", "MALLOC_CHECK_",  # read by libc
})
# LD_* (the dynamic loader), LC_* (locale, set by the runner), ALLOCATED_* (resources, set by the runner).
RUNTIME_ENV_PREFIXES = ("LD_", "LC_", "DYLD_", "ALLOCATED_", "BASH_FUNC_")
_MAX_DETAIL = 300
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")

ErrorCategory = Literal["ALGORITHM", "DATA"]


class FileInput(NamedTuple):
    name: str
    media_types: tuple[str, ...]
    required: bool
    partial: bool
    multiple: bool


class JsonInput(NamedTuple):
    name: str
    type: str  # a JSON schema type: string, integer, number, boolean, object, array
    required: bool


class FileOutput(NamedTuple):
    name: str
    pattern: str
    media_type: str | None
    multiple: bool
    required: bool


class JsonOutput(NamedTuple):
    name: str
    type: str
    key: str  # the key in the job's seed.outputs.json; Seed defaults it to the name
    required: bool


class Mount(NamedTuple):
    name: str
    path: str
    mode: str  # "ro" (the Seed default) or "rw"


class Setting(NamedTuple):
    name: str
    secret: bool


class ScalarResource(NamedTuple):
    name: str
    value: float
    input_multiplier: float  # 0.0 when the manifest gives none


class ManifestError(NamedTuple):
    name: str
    title: str  # defaults to the name, as Scale does
    description: str | None
    category: ErrorCategory


class Manifest(NamedTuple):
    """Typed view of a valid manifest. `raw` is a private deep copy of the manifest as submitted
    (store and return that one); treat it as read-only."""

    raw: Mapping[str, Any]
    name: str
    job_version: str
    package_version: str
    title: str
    description: str
    timeout: int
    command: str | None
    file_inputs: tuple[FileInput, ...]
    json_inputs: tuple[JsonInput, ...]
    file_outputs: tuple[FileOutput, ...]
    json_outputs: tuple[JsonOutput, ...]
    mounts: tuple[Mount, ...]
    settings: tuple[Setting, ...]
    scalar_resources: tuple[ScalarResource, ...]
    errors: Mapping[int, ManifestError]  # exit code -> error

    @property
    def secret_setting_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.settings if s.secret)

    @classmethod
    def from_validated(cls, raw: Mapping[str, Any]) -> Manifest:
        """Builds the view without validating: only for manifests that already passed
        `validate_manifest` (e.g. read back from the store), to skip the schema on hot paths."""
        raw = copy.deepcopy(dict(raw))
        job = raw["job"]
        interface = job.get("interface", {})
        inputs = interface.get("inputs", {})
        outputs = interface.get("outputs", {})
        return cls(
            raw=raw,
            name=job["name"],
            job_version=job["jobVersion"],
            package_version=job["packageVersion"],
            title=job["title"],
            description=job["description"],
            timeout=int(job["timeout"]),
            command=interface.get("command"),
            file_inputs=tuple(
                FileInput(f["name"], tuple(f.get("mediaTypes", ())), f.get("required", True),
                          f.get("partial", False), f.get("multiple", False))
                for f in inputs.get("files", ())
            ),
            json_inputs=tuple(
                JsonInput(j["name"], j["type"], j.get("required", True)) for j in inputs.get("json", ())
            ),
            file_outputs=tuple(
                FileOutput(f["name"], f["pattern"], f.get("mediaType"), f.get("multiple", False),
                           f.get("required", True))
                for f in outputs.get("files", ())
            ),
            json_outputs=tuple(
                JsonOutput(j["name"], j["type"], j.get("key", j["name"]), j.get("required", True))
                for j in outputs.get("json", ())
            ),
            mounts=tuple(
                Mount(m["name"], m["path"], m.get("mode", "ro")) for m in interface.get("mounts", ())
            ),
            settings=tuple(
                Setting(s["name"], s.get("secret", False)) for s in interface.get("settings", ())
            ),
            scalar_resources=tuple(
                ScalarResource(r["name"], float(r["value"]), float(r.get("inputMultiplier", 0.0)))
                for r in job.get("resources", {}).get("scalar", ())
            ),
            errors=MappingProxyType({
                int(e["code"]): ManifestError(
                    e["name"], e.get("title", e["name"]), e.get("description"),
                    "DATA" if e.get("category") == "data" else "ALGORITHM",
                )
                for e in job.get("errors", ())
            }),
        )


def validate_manifest(manifest: Any) -> Manifest:
    """Validates a Seed 1.0.0 manifest and returns its view; raises `InvalidInput` naming the JSON
    path of the most relevant problem (jsonschema's `best_match`: the shallowest error first)."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(manifest))
    if error is not None:
        raise invalid(_schema_error_path(error), _schema_error_message(error))
    _check_names(manifest["job"])
    return Manifest.from_validated(manifest)


def json_path(root: str, parts: Iterable[str | int]) -> str:
    """`json_path("manifest", ["job", "errors", 0])` -> `manifest.job.errors[0]`."""
    out = root
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def invalid(path: str, message: str) -> InvalidInput:
    """The 400 for a bad field: the detail starts with the field's JSON path."""
    if len(message) > _MAX_DETAIL:  # schema messages repeat the bad value, which may be huge
        message = message[: _MAX_DETAIL - 3] + "..."
    return InvalidInput(f"{path}: {message}", field=path)


@functools.cache
def _validator() -> Validator:
    # Imported here: jsonschema and the schema file cost tens of milliseconds, and most Lambda
    # invocations never validate a manifest.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _error_schema(error: ValidationError) -> Mapping[str, Any]:
    """The (sub)schema holding the keyword that failed. jsonschema types it as a mapping, a boolean
    schema or unset; the keywords read here (pattern, required, additionalProperties) only live in
    mappings, and their `validator_value` is that mapping's value for the keyword."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _schema_error_message(error: ValidationError) -> str:
    # A regex means little to a client: patterns carry a "description" that says the rule in words.
    schema = _error_schema(error)
    if error.validator == "pattern" and "description" in schema:
        return f"{error.instance!r} must be {schema['description']}"
    return error.message


def _schema_error_path(error: ValidationError) -> str:
    parts: list[str | int] = list(error.absolute_path)
    instance: Any = error.instance  # JSON; always set on an error a validator raised
    schema = _error_schema(error)
    # Name the missing or unexpected key itself, not the object that lacks or holds it.
    if error.validator == "required":
        # one error per missing key, in `required` order: best_match kept the first
        parts.append(next(p for p in schema["required"] if p not in instance))
    elif error.validator == "additionalProperties":
        allowed = schema.get("properties", {})
        parts.append(next(k for k in instance if k not in allowed))
    return json_path(ROOT, parts)


def _check_names(job: Mapping[str, Any]) -> None:
    """Seed's uniqueness rules, which Scale enforced too. Inputs, settings and resources (as
    ALLOCATED_<name>) are injected as environment variables, upper-cased with '-' as '_', so they
    share one namespace with the variables Seed reserves."""
    env: dict[object, str] = {name: "a variable Seed reserves" for name in RESERVED_ENV_NAMES}
    as_env = " as an environment variable"
    for path, item in _items(job, ("interface", "inputs", "files"), ("interface", "inputs", "json"),
                             ("interface", "settings")):
        _claim(env, _env_name(item["name"]), f"{path}.name", item["name"], as_env)
    for path, item in _items(job, ("resources", "scalar")):
        _claim(env, "ALLOCATED_" + _env_name(item["name"]), f"{path}.name", item["name"], as_env)
    for path, item in _items(job, ("interface", "inputs", "files"), ("interface", "inputs", "json"),
                             ("interface", "settings"), ("interface", "mounts"), ("interface", "outputs", "files"),
                             ("interface", "outputs", "json")):
        if is_runtime_env_name(_env_name(item["name"])):
            raise invalid(f"{path}.name", f"{item['name']!r} is reserved: as the environment variable "
                          f"{_env_name(item['name'])} it would change how the job runs (PATH, LD_*, HOME, "
                          f"OUTPUT_DIR, ALLOCATED_*... are set by the runner)")

    outputs: dict[object, str] = {}
    for path, item in _items(job, ("interface", "outputs", "files"), ("interface", "outputs", "json")):
        _claim(outputs, item["name"], f"{path}.name", item["name"])

    mounts: dict[object, str] = {}
    for path, item in _items(job, ("interface", "mounts")):
        _claim(mounts, item["name"], f"{path}.name", item["name"])
        if not item["path"].startswith("/"):
            raise invalid(f"{path}.path", f"{item['path']!r} is not an absolute path")

    codes: dict[object, str] = {}
    names: dict[object, str] = {}
    for path, item in _items(job, ("errors",)):
        _claim(codes, int(item["code"]), f"{path}.code", item["code"])
        _claim(names, item["name"], f"{path}.name", item["name"])


def is_runtime_env_name(env_name: str) -> bool:
    """Whether a job's input, setting, mount or output may not take this environment variable name."""
    return env_name in RUNTIME_ENV_NAMES or env_name.startswith(RUNTIME_ENV_PREFIXES)


def reserved_names(manifest: Manifest) -> list[str]:
    """The names of the manifest's inputs, settings and mounts that `is_runtime_env_name` refuses (a manifest
    stored before the rule existed may have some)."""
    names = [*(i.name for i in manifest.file_inputs), *(i.name for i in manifest.json_inputs),
             *(s.name for s in manifest.settings), *(m.name for m in manifest.mounts)]
    return [name for name in names if is_runtime_env_name(_env_name(name))]


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _items(job: Mapping[str, Any], *lists: tuple[str, ...]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(JSON path, item) of every item of the given lists, each given by its keys under `job`."""
    for keys in lists:
        node: Any = job
        for key in keys:
            node = node.get(key, {})
        for i, item in enumerate(node):
            yield json_path(ROOT, ["job", *keys, i]), item


def _claim(seen: dict[object, str], key: object, path: str, value: object, how: str = "") -> None:
    if key in seen:
        raise invalid(path, f"{value!r} is already used{how} by {seen[key]}")
    seen[key] = path
