"""Moving bytes between workspaces and a working directory, and finding a job's outputs.

Memory stays bounded whatever the file size: a `host` workspace is copied (inputs) or hard-linked
(outputs, once the job's processes are gone) file to file, an `s3` one is streamed by boto3's managed
transfer; only an unknown broker type falls back to `Broker.read`/`write`, which hold a whole file.
"""
from __future__ import annotations

import json
import mimetypes
import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.errors import InvalidInput
from chalicelib.runners.base import InputFile
from chalicelib.seed import FileOutput, JsonOutput
from chalicelib.storage import broker_for, check_file_name, check_relative_path, contained

RESULTS_MANIFEST = "seed.outputs.json"


class StepFailure(Exception):
    """A failure of an execution step, named as `ExecutionResult.failure`."""

    def __init__(self, failure: str, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


# --- inputs -------------------------------------------------------------------------------------


def staged_names(files: Sequence[InputFile]) -> list[str]:
    """A file name for each input file inside its input's directory: its own name, made safe, with
    `<file id>_` in front when two files of the input share one."""
    names, seen = [], set()
    for f in files:
        name = os.path.basename(f.file_name.replace("\\", "/"))
        if not _plain(name):  # spaces, newlines...: `${NAME}` would not expand to one word
            name = f"file-{f.file_id}"
        if name in seen:
            name = f"{f.file_id}_{name}"
        seen.add(name)
        names.append(name)
    return names


def _plain(name: str) -> bool:
    try:
        check_file_name(name)
    except InvalidInput:
        return False
    return True


class OutsideWorkspace(Exception):
    """A path whose real path (symbolic links resolved) leaves its workspace."""


def inside(root: str, key: str) -> Path:
    """`root/key`, refused (OutsideWorkspace) when its real path leaves the real path of `root`."""
    try:
        return contained(root, key)
    except InvalidInput:
        raise OutsideWorkspace(f"{key!r} resolves outside its workspace (a symbolic link leaves it)") from None


_COPY_CHUNK = 1024 * 1024


def open_inside(root: str, key: str) -> int:
    """A read-only descriptor of `root/key`, known to be a regular file inside `root` *as opened*.

    Checking the path and then copying it could be raced: a folder or the file swapped for a symbolic link
    between the check and the copy would be followed out of the workspace. So the file is opened first and the
    descriptor itself is checked (on Linux, `/proc/self/fd/N` names what was opened; elsewhere its device and
    inode must be those of the checked real path), and the bytes are then read from that descriptor only."""
    path = inside(root, key)  # the early, readable refusal
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OutsideWorkspace(f"{key!r} is not a regular file")
        real_root = os.path.realpath(root)
        proc = f"/proc/self/fd/{descriptor}"
        if os.path.exists(proc):
            opened = os.readlink(proc)
        else:
            opened = os.path.realpath(path)
            if (os.stat(opened).st_dev, os.stat(opened).st_ino) != (status.st_dev, status.st_ino):
                raise OutsideWorkspace(f"{key!r} changed while it was opened")
        if os.path.commonpath([real_root, opened]) != real_root:
            raise OutsideWorkspace(f"{key!r} resolves outside its workspace (a symbolic link leaves it)")
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def fetch(source: InputFile, target: Path) -> None:
    """Copies one input file from its workspace to `target`. In a `host` workspace, the file's real path must
    stay inside the workspace's: a symbolic link pointing out of it is refused (OutsideWorkspace)."""
    broker = source.broker.get("broker", {})
    key = check_relative_path(source.file_path)
    if broker.get("type") == "host":
        descriptor = open_inside(broker["host_path"], key)
        with os.fdopen(descriptor, "rb") as opened, open(target, "wb") as copy:
            shutil.copyfileobj(opened, copy, _COPY_CHUNK)  # a copy, never a link: the job may write it
    elif broker.get("type") == "s3":
        from chalicelib.aws import client
        client("s3").download_file(broker["bucket_name"], key, str(target))
    else:
        target.write_bytes(broker_for(source.broker).read(key))


# --- outputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    output: FileOutput
    path: Path          # the file in the working directory
    relative: str       # its path below OUTPUT_DIR, with "/"


def match_outputs(output_dir: Path, outputs: Sequence[FileOutput]) -> list[Match]:
    """The files each file output's `pattern` (a glob relative to OUTPUT_DIR; `**` spans folders)
    matches, in path order. Only regular files inside OUTPUT_DIR count (a link pointing out of it does
    not), and never the results manifest. Raises StepFailure for a required output without a file or
    a single output with several."""
    root = output_dir.resolve()
    matches: list[Match] = []
    for output in outputs:
        found = []
        for path in sorted(_glob(output_dir, output.pattern)):
            resolved = path.resolve()
            if not resolved.is_file() or not resolved.is_relative_to(root) or resolved == root / RESULTS_MANIFEST:
                continue
            found.append(Match(output, path, path.relative_to(output_dir).as_posix()))
        if not found and output.required:
            raise StepFailure("missing-required-output",
                              f"required output {output.name!r} has no file matching {output.pattern!r}")
        if len(found) > 1 and not output.multiple:
            raise StepFailure("unexpected-multiple-outputs",
                              f"output {output.name!r} takes one file but {len(found)} match {output.pattern!r}")
        matches.extend(found)
    return matches


def _glob(root: Path, pattern: str) -> list[Path]:
    pattern = pattern.lstrip("/")
    if not pattern or any(part == ".." for part in pattern.split("/")):
        return []
    return list(root.glob(pattern))


def store(source: Path, workspace_broker: dict[str, Any], key: str, media_type: str | None) -> int:
    """Writes a file of the working directory to a workspace; returns its size."""
    broker = workspace_broker.get("broker", {})
    key = check_relative_path(key)
    size = source.stat().st_size
    if broker.get("type") == "host":
        target = inside(broker["host_path"], key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            os.link(source, tmp)  # the job's processes are gone: nothing writes to the file any more
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    elif broker.get("type") == "s3":
        from chalicelib.aws import client
        extra = {"ContentType": media_type} if media_type else None
        client("s3").upload_file(str(source), broker["bucket_name"], key, ExtraArgs=extra)
    else:
        broker_for(workspace_broker).write(key, source.read_bytes(), media_type)
    return size


def media_type_of(output: FileOutput, file_name: str) -> str | None:
    return output.media_type or mimetypes.guess_type(file_name)[0]


# --- JSON outputs -------------------------------------------------------------------------------

_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def read_json_outputs(output_dir: Path, outputs: Sequence[JsonOutput]) -> dict[str, Any]:
    """JSON output name -> value, from `OUTPUT_DIR/seed.outputs.json` (each under its `key`)."""
    if not outputs:
        return {}
    path = output_dir / RESULTS_MANIFEST
    document: Any = {}
    if path.is_file():
        try:
            document = json.loads(path.read_bytes())
        except ValueError as error:
            raise StepFailure("invalid-results-manifest", f"{RESULTS_MANIFEST} is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise StepFailure("invalid-results-manifest", f"{RESULTS_MANIFEST} must hold a JSON object")
    values: dict[str, Any] = {}
    for output in outputs:
        if output.key not in document:
            if output.required:
                raise StepFailure("missing-required-output",
                                  f"required JSON output {output.name!r} ({output.key!r}) is not in {RESULTS_MANIFEST}")
            continue
        value = document[output.key]
        check = _JSON_TYPES.get(output.type)
        if check and not check(value):
            raise StepFailure("invalid-results-manifest",
                              f"JSON output {output.name!r} must be of type {output.type}")
        values[output.name] = value
    return values
