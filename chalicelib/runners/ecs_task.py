"""The `pre` and `post` programs of an ECS execution, run inside the runner image:
`python -m chalicelib.runners.ecs_task pre|post`.

Both read the execution's spec document (`$JOBS_EXECUTION_SPEC` when the runner could put it in the task's
overrides, else `$JOBS_EXECUTION_DOCUMENTS` + `spec.json` in S3, written at launch) and work in the task's
shared volume (`/scale`, or `$JOBS_TASK_ROOT` for the local task agent):

- `pre` makes `inputs/`, `outputs/`, `tmp/`, `home/`, stages every input file from its workspace to
  `inputs/<input>/<file>` (the names the runner put in `main`'s environment), notes its times in
  `.pre.json` and exits 0. On a failure it writes the result document (`failure`, `detail`) and exits 1,
  so `main` never starts.
- `post` reads `main`'s exit code from `.main-exit`. After exit code 0 it matches the file outputs, reads
  `seed.outputs.json` and, only when every output is valid, stores the files in their workspaces. It always
  writes the result document (`result.json`): the outputs (or the failure) and the three tasks' times.

The event handler (`chalicelib.services.ecs_events`) reads the result document when the task stops.
Exit codes: 0 done, 1 a failure described in the result document, 2 no spec document.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chalicelib.runners.base import InputFile
from chalicelib.runners.files import (
    OutsideWorkspace,
    StepFailure,
    fetch,
    match_outputs,
    media_type_of,
    read_json_outputs,
    staged_names,
    store,
)
from chalicelib.seed import Manifest

PRE_NOTE = ".pre.json"
MAIN_EXIT = ".main-exit"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _split(address: str) -> tuple[str, str]:
    if not address.startswith("s3://"):
        raise ValueError(f"not an s3:// address: {address!r}")
    bucket, _, key = address[5:].partition("/")
    return bucket, key


def _s3() -> Any:
    import boto3
    return boto3.session.Session().client("s3", region_name=os.environ.get("AWS_DEFAULT_REGION"))


def read_spec(documents: str) -> dict[str, Any]:
    bucket, key = _split(documents + "spec.json")
    return dict(json.loads(_s3().get_object(Bucket=bucket, Key=key)["Body"].read()))


def write_result(spec: dict[str, Any], result: dict[str, Any]) -> None:
    bucket, key = _split(spec["result"])
    _s3().put_object(Bucket=bucket, Key=key, Body=json.dumps(result).encode(), ContentType="application/json")


def pre(spec: dict[str, Any], root: Path) -> dict[str, Any]:
    """Stages the inputs; raises StepFailure."""
    manifest = Manifest.from_validated(spec["manifest"])
    try:
        for sub in ("inputs", "outputs", "tmp", "home"):
            (root / sub).mkdir(parents=True, exist_ok=True)
            if sub != "inputs":  # `main` may run as any user of its image
                (root / sub).chmod(0o1777 if sub == "tmp" else 0o777)
    except OSError as error:
        raise StepFailure("filesystem-io", f"the working directory could not be made: {error}") from None
    given = {name: tuple(InputFile(**entry) for entry in entries) for name, entries in spec["file_inputs"].items()}
    for declared in manifest.file_inputs:
        files = given.get(declared.name, ())
        if not files:
            if declared.required:
                raise StepFailure("filesystem-io", f"required input {declared.name!r} has no file")
            continue
        folder = root / "inputs" / declared.name
        folder.mkdir(exist_ok=True)
        for source, name in zip(files, staged_names(files)):
            try:
                fetch(source, folder / name)
            except OutsideWorkspace as error:
                raise StepFailure("filesystem-io", f"input {declared.name!r}: file {source.file_id} refused: "
                                                   f"{error}") from None
            except Exception as error:  # noqa: BLE001 - any broker error is an I/O failure here
                raise StepFailure("filesystem-io", f"input {declared.name!r}: file {source.file_id} "
                                  f"({source.workspace}:{source.file_path}) could not be read: {error}") from None
    return {"staged": sorted(given)}


def post(spec: dict[str, Any], root: Path) -> dict[str, Any]:
    """Collects and stores the outputs after a successful `main`; raises StepFailure."""
    manifest = Manifest.from_validated(spec["manifest"])
    output_dir = root / "outputs"
    try:
        matches = match_outputs(output_dir, manifest.file_outputs)
        output_json = read_json_outputs(output_dir, manifest.json_outputs)
    except OSError as error:
        raise StepFailure("filesystem-io", f"the outputs could not be read: {error}") from None
    workspaces = spec["output_workspaces"]
    for match in matches:
        if match.output.name not in workspaces:
            raise StepFailure("filesystem-io", f"output {match.output.name!r} has no workspace")
    files = []
    for match in matches:
        workspace = workspaces[match.output.name]
        key = f"outputs/{spec['job_id']}/{spec['exe_num']}/{match.relative}"
        media_type = media_type_of(match.output, match.path.name)
        try:
            size = store(match.path, workspace["broker"], key, media_type)
        except Exception as error:  # noqa: BLE001 - any broker error is an I/O failure here
            raise StepFailure("filesystem-io", f"output {match.output.name!r}: {match.relative} could not be "
                              f"written to workspace {workspace['name']}: {error}") from None
        files.append({"output": match.output.name, "file_name": match.path.name, "file_path": key,
                      "workspace": workspace["name"], "file_size": size, "media_type": media_type})
    return {"output_files": files, "output_json": output_json}


def _main_exit(root: Path) -> tuple[int | None, str | None]:
    marker = root / MAIN_EXIT
    try:
        text = marker.read_text().strip()
        ended = datetime.fromtimestamp(marker.stat().st_mtime, timezone.utc).isoformat().replace("+00:00", "Z")
        return int(text), ended
    except (OSError, ValueError):
        return None, None


def run(step: str, documents: str, root: Path, inline: str = "") -> int:
    try:
        spec = json.loads(inline) if inline else read_spec(documents)
    except Exception as error:  # noqa: BLE001 - nothing to report to: the handler sees exit code 2
        print(f"[scale] {step}: the spec document could not be read: {error}", file=sys.stderr, flush=True)
        return 2
    started = _now()
    if step == "pre":
        try:
            pre(spec, root)
        except StepFailure as failure:
            print(f"[scale] pre: {failure.detail}", file=sys.stderr, flush=True)
            write_result(spec, {"failure": failure.failure, "detail": failure.detail, "tasks": {
                "pre": {"started": started, "ended": _now(), "exit_code": 1}}})
            return 1
        (root / PRE_NOTE).write_text(json.dumps({"started": started, "ended": _now()}))
        return 0
    try:
        pre_note = json.loads((root / PRE_NOTE).read_text())
    except (OSError, ValueError):
        pre_note = {}
    code, main_ended = _main_exit(root)
    tasks = {"pre": {**pre_note, "exit_code": 0}, "main": {"started": pre_note.get("ended"), "ended": main_ended,
                                                          "exit_code": code}}
    result: dict[str, Any] = {"failure": None, "detail": None, "main_exit_code": code, "tasks": tasks}
    status = 0
    if code == 0:
        try:
            result.update(post(spec, root))
        except StepFailure as failure:
            print(f"[scale] post: {failure.detail}", file=sys.stderr, flush=True)
            result.update(failure=failure.failure, detail=failure.detail)
            status = 1
        tasks["post"] = {"started": started, "ended": _now(), "exit_code": status}
    write_result(spec, result)
    return status


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("pre", "post"):
        print("usage: python -m chalicelib.runners.ecs_task pre|post", file=sys.stderr)
        return 64
    documents = os.environ.get("JOBS_EXECUTION_DOCUMENTS", "")
    root = Path(os.environ.get("JOBS_TASK_ROOT") or "/scale")
    return run(argv[0], documents, root, os.environ.get("JOBS_EXECUTION_SPEC", ""))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
