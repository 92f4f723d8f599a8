"""The runner contract: how the service hands an execution to an engine and hears back from it.

Transport-neutral on purpose. An `ExecutionSpec` holds everything an engine needs (the raw Seed
manifest, staged-input locations as workspace broker configurations, values, resources, output
workspaces), so a runner never reads the store. A runner reports through `ExecutionEvents` (phases,
then exactly one `finished`) and streams the job's stdout/stderr lines to a `LogSink`; the service
turns those reports into state changes, files and errors. The `local` runner runs the Seed command as
a subprocess on this machine; an `ecs` runner would start a Fargate task with the same spec and
deliver the same reports from task state changes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

Phase = Literal["UPLOADING", "EXECUTING", "DOWNLOADING"]
PHASES: tuple[str, ...] = ("UPLOADING", "EXECUTING", "DOWNLOADING")

# `ExecutionResult.failure` values. Except "exit-code" (the service maps the exit code through the
# manifest's errors) and "canceled" (not an error), each is the name of a built-in Scale error.
FAILURES: tuple[str, ...] = (
    "exit-code", "timeout", "missing-required-output", "unexpected-multiple-outputs",
    "invalid-results-manifest", "filesystem-io", "missing-setting", "missing-mount", "task-launch", "canceled",
)

# `task_results["tasks"][i]["type"]`
TASK_TYPES: tuple[str, ...] = ("pre", "main", "post")


class RunnerError(Exception):
    """Base of the errors `Runner.launch` raises (nothing was started; no `finished` will follow)."""


class NoFreeSlot(RunnerError):
    """Every slot is busy: launch only when `free_slots() > 0`."""


class DuplicateExecution(RunnerError):
    """An execution with this cluster id is already running here."""


@dataclass(frozen=True)
class InputFile:
    """One file to stage for a file input."""

    file_id: int
    file_name: str
    file_path: str              # path inside the workspace
    workspace: str              # workspace name
    broker: dict[str, Any]      # the workspace's configuration: {"broker": {"type": ..., ...}}


@dataclass(frozen=True)
class OutputWorkspace:
    name: str
    broker: dict[str, Any]      # the workspace's configuration: {"broker": {"type": ..., ...}}


@dataclass(frozen=True)
class ExecutionSpec:
    job_id: int
    exe_num: int
    execution_id: int
    cluster_id: str             # unique per execution; names its working dir, process, log streams
    job_type_name: str
    job_type_version: str
    docker_image: str
    manifest: Mapping[str, Any]  # raw Seed manifest, only read
    file_inputs: dict[str, tuple[InputFile, ...]]
    json_inputs: dict[str, Any]
    settings: dict[str, str]    # values, secrets included: never log them
    mounts: dict[str, dict[str, Any]]  # mount name -> configuration, e.g. {"type": "host", "host_path": "/data"}
    resources: dict[str, float]  # cpus, mem, disk, gpus and custom scalar resources
    timeout_seconds: int        # of the main task; <= 0 means none
    output_workspaces: dict[str, OutputWorkspace]  # file output name -> workspace


@dataclass(frozen=True)
class OutputFile:
    output: str                 # the manifest's file output name
    file_name: str
    file_path: str              # path inside the workspace
    workspace: str
    file_size: int
    media_type: str | None


@dataclass(frozen=True)
class ExecutionResult:
    exit_code: int | None       # of the main task; a signal N is reported as 128 + N, as shells and ECS do
    failure: str | None         # None on success, else one of FAILURES
    detail: str | None          # short human text for the failure
    task_results: dict[str, Any]  # {"tasks": [{"type", "started", "ended", "exit_code", "was_started"}]}
    output_files: tuple[OutputFile, ...]
    output_json: dict[str, Any]  # JSON output name -> value
    cpu_seconds: float | None
    wall_seconds: float | None
    peak_memory_mib: float | None
    started: datetime
    ended: datetime


class ExecutionEvents(Protocol):
    """Reports from a runner. Called from runner threads; an exception raised here is logged and
    does not change the execution."""

    def phase(self, spec: ExecutionSpec, phase: str, at: datetime) -> None: ...

    def finished(self, spec: ExecutionSpec, result: ExecutionResult) -> None: ...  # exactly once per launch


class LogSink(Protocol):
    """Where one execution's output lines go. A runner serialises the calls of one sink (no two at
    once) and keeps each stream's lines in order; `close` comes last, before `finished`."""

    def write(self, stream: str, line: str, timestamp_ms: int) -> None: ...  # stream "stdout" | "stderr"

    def close(self) -> None: ...


class Runner(Protocol):
    def launch(self, spec: ExecutionSpec) -> None:
        """Starts the execution and returns at once; the result comes through `events.finished`.
        Raises `RunnerError` (e.g. `NoFreeSlot`) when nothing was started."""
        ...

    def stop(self, cluster_id: str) -> bool:
        """Kills the execution; `finished(failure="canceled")` follows. False if it is unknown here
        or already ending (its own `finished` follows)."""
        ...

    def free_slots(self) -> int: ...

    def running(self) -> list[str]: ...  # cluster ids of the executions not yet finished
