"""Runners: how an execution is launched and stopped. `base` holds the contract the service codes
against; `local` runs executions as subprocesses of this machine. Importing this package loads only
the contract."""
from chalicelib.runners.base import (
    DuplicateExecution,
    ExecutionEvents,
    ExecutionResult,
    ExecutionSpec,
    InputFile,
    LogSink,
    NoFreeSlot,
    OutputFile,
    OutputWorkspace,
    Runner,
    RunnerError,
)

__all__ = [
    "DuplicateExecution",
    "ExecutionEvents",
    "ExecutionResult",
    "ExecutionSpec",
    "InputFile",
    "LogSink",
    "NoFreeSlot",
    "OutputFile",
    "OutputWorkspace",
    "Runner",
    "RunnerError",
]
