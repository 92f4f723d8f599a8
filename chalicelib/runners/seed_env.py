"""The Seed environment of an execution and its command line. Pure functions.

Seed hands every input, setting, mount and allocated resource to the job as an environment
variable named after it (upper-cased, `-` as `_`), plus `OUTPUT_DIR`, and lets the interface
`command` refer to them as `${NAME}`. The local runner runs the command with `/bin/sh -c`, so
instead of pasting values into the command text (where a JSON input such as `"; rm -rf ~"` would
be parsed as shell code) it rewrites every `${name}` that names a known variable to `${ENV_NAME}`
and lets the shell expand it from the environment: values are never parsed as shell syntax, and
quoting in the command (`"${INPUT_FILE}"`) keeps its usual meaning.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

OUTPUT_DIR = "OUTPUT_DIR"
_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_-]+)\}")


def env_name(name: str) -> str:
    """`input-file` -> `INPUT_FILE`, as Seed names variables."""
    return name.upper().replace("-", "_")


def resource_env_name(resource: str) -> str:
    """`sharedMem` -> `ALLOCATED_SHAREDMEM`."""
    return "ALLOCATED_" + env_name(resource)


def format_number(value: float) -> str:
    """`1.0` -> `1`, `0.25` -> `0.25` (Go's `FormatFloat(v, 'f', -1, 64)`, which Seed uses)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def json_value(value: Any) -> str:
    """A JSON input as the job sees it: strings as they are, anything else JSON-encoded."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def seed_environment(
    *,
    file_inputs: Mapping[str, str],
    json_inputs: Mapping[str, Any],
    settings: Mapping[str, str],
    mounts: Mapping[str, str],
    resources: Mapping[str, float],
    output_dir: str,
) -> dict[str, str]:
    """The Seed variables. `file_inputs`: input name -> staged path (a file, or the input's
    directory for a `multiple` input); `mounts`: mount name -> host path. Later groups win a name
    clash (the manifest validation already rules out clashes between inputs, settings, resources
    and OUTPUT_DIR; mount names are not checked against them)."""
    env: dict[str, str] = {}
    env.update({resource_env_name(name): format_number(value) for name, value in resources.items()})
    env.update({env_name(name): path for name, path in mounts.items()})
    env.update({env_name(name): value for name, value in settings.items()})
    env.update({env_name(name): json_value(value) for name, value in json_inputs.items()})
    env.update({env_name(name): path for name, path in file_inputs.items()})
    env[OUTPUT_DIR] = output_dir
    return env


def known_names(manifest_names: Iterable[str], resources: Iterable[str]) -> dict[str, str]:
    """How a command may refer to each variable -> its environment name. Inputs, settings and mounts
    by their manifest name or their environment name; resources as `ALLOCATED_<name>` either way."""
    names = {OUTPUT_DIR: OUTPUT_DIR}
    for name in manifest_names:
        names[name] = names[env_name(name)] = env_name(name)
    for resource in resources:
        names["ALLOCATED_" + resource] = names[resource_env_name(resource)] = resource_env_name(resource)
    return names


def rewrite_command(command: str, names: Mapping[str, str]) -> str:
    """`cat ${input-file} > ${OUTPUT_DIR}/x` -> `cat ${INPUT_FILE} > ${OUTPUT_DIR}/x`. References to
    unknown names are left for the shell (an unset variable expands to nothing, as in Seed)."""
    return _REFERENCE.sub(lambda m: "${" + names[m.group(1)] + "}" if m.group(1) in names else m.group(0), command)
