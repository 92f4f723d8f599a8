"""The local runner: executions run the Seed way as subprocesses of this machine, one thread each.

An execution goes through three tasks, reported as phases and recorded in `task_results`:

- pre (UPLOADING): make `work_root/<cluster_id>/` with `inputs/`, `outputs/` (OUTPUT_DIR) and `tmp/`;
  stage every input file to `inputs/<input name>/<file name>`; check every declared setting and mount
  is given. A problem ends the execution before the command starts.
- main (EXECUTING): the interface command with `/bin/sh -c` in its own process group, with the Seed
  environment (see `seed_env`), output lines streamed to the log sink, a timeout, measured (see
  `process`). The environment holds only a few variables of this process (PATH, locale, TZ: never
  the service's credentials) plus HOME and TMPDIR inside the working directory.
- post (DOWNLOADING, after exit code 0 only): match the file outputs, read `seed.outputs.json`, and
  only when every output is valid, write the files to their workspaces.

Whatever happens, the log sink is closed, the working directory removed (unless `keep_workdirs`),
the slot freed and then `events.finished` called, exactly once. A `stop` that returned True always
ends in "canceled"; once the result is settled `stop` returns False.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib import clock as service_clock
from chalicelib.runners.base import (
    DuplicateExecution,
    ExecutionEvents,
    ExecutionResult,
    ExecutionSpec,
    LogSink,
    NoFreeSlot,
    OutputFile,
)
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
from chalicelib.runners.process import ProcessGroup, ProcessOutcome, become_subreaper
from chalicelib.runners.seed_env import known_names, rewrite_command, seed_environment
from chalicelib.seed import Manifest
from chalicelib.seed.manifest import reserved_names
from chalicelib.timeutil import iso

logger = logging.getLogger("jobs.runners")

PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_CLUSTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")

# How an execution ended: (failure, detail, exit code, the main task's measures, output files, JSON outputs).
_Outcome = tuple[str | None, str | None, int | None, ProcessOutcome | None, tuple[OutputFile, ...], dict[str, Any]]


class _NullSink:
    def write(self, stream: str, line: str, timestamp_ms: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Execution:
    def __init__(self, spec: ExecutionSpec) -> None:
        self.spec = spec
        self.canceled = False
        self.settled = False
        self.process: ProcessGroup | None = None
        self.measured: ProcessOutcome | None = None  # of the main task, once it ended
        self.tasks: dict[str, dict[str, Any]] = {
            kind: {"type": kind, "started": None, "ended": None, "exit_code": None, "was_started": False}
            for kind in ("pre", "main", "post")}


class LocalRunner:
    """`slots` executions at once (None: the CPU count). `clock` gives the times reported (phases,
    task times, `started`/`ended`, log timestamps); durations are measured on the monotonic clock."""

    def __init__(
        self,
        slots: int | None,
        work_root: Path,
        events: ExecutionEvents,
        log_sink_factory: Callable[[ExecutionSpec], LogSink],
        clock: Callable[[], datetime] = service_clock.now,
        *,
        keep_workdirs: bool = False,
        kill_grace: float = 2.0,
        base_env: Mapping[str, str] | None = None,
        reap_orphans: bool = True,
    ) -> None:
        self.slots = slots if slots is not None else (os.cpu_count() or 1)
        if self.slots < 1:
            raise ValueError(f"slots must be at least 1, not {self.slots}")
        self.work_root = Path(work_root)
        self._events = events
        self._sink_factory = log_sink_factory
        self._clock = clock
        self._keep = keep_workdirs
        self._grace = kill_grace
        if base_env is None:
            base_env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        self._base_env = {"PATH": DEFAULT_PATH, **base_env}
        self._lock = threading.Lock()
        self._executions: dict[str, _Execution] = {}
        self._threads: dict[str, threading.Thread] = {}
        if reap_orphans:
            become_subreaper()

    # --- Runner -------------------------------------------------------------------------------

    def launch(self, spec: ExecutionSpec) -> None:
        if not _CLUSTER_ID.fullmatch(spec.cluster_id) or spec.cluster_id in (".", ".."):
            raise ValueError(f"cluster_id {spec.cluster_id!r} cannot name a working directory")
        execution = _Execution(spec)
        with self._lock:
            if spec.cluster_id in self._executions:
                raise DuplicateExecution(f"{spec.cluster_id} is already running here")
            if len(self._executions) >= self.slots:
                raise NoFreeSlot(f"all {self.slots} slots are busy")
            self._executions[spec.cluster_id] = execution
            thread = threading.Thread(target=self._run, args=(execution,), daemon=True,
                                      name=f"runner-{spec.cluster_id}")
            self._threads[spec.cluster_id] = thread
        thread.start()

    def stop(self, cluster_id: str) -> bool:
        with self._lock:
            execution = self._executions.get(cluster_id)
            if execution is None or execution.settled:
                return False
            execution.canceled = True
            process = execution.process
        if process is not None:
            process.terminate("canceled")
        return True

    def free_slots(self) -> int:
        with self._lock:
            return self.slots - len(self._executions)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._executions)

    # --- beyond the protocol ------------------------------------------------------------------

    def shutdown(self, timeout: float | None = None) -> None:
        """Cancels every execution and waits for their `finished` (at most `timeout` seconds)."""
        with self._lock:
            ids, threads = list(self._executions), list(self._threads.values())
        for cluster_id in ids:
            self.stop(cluster_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # --- one execution ------------------------------------------------------------------------

    def _run(self, execution: _Execution) -> None:
        spec = execution.spec
        started = self._clock()
        workdir = self.work_root / spec.cluster_id
        sink: LogSink = _NullSink()
        outcome: _Outcome
        try:
            try:
                sink = self._sink_factory(spec)
            except Exception as error:  # noqa: BLE001 - any sink error is a launch failure, reported
                logger.exception("%s: no log sink", spec.cluster_id)
                raise StepFailure("task-launch", f"the log sink could not be opened: {_describe(error)}") from None
            outcome = self._execute(execution, workdir, _SerialSink(sink, self._clock))
        except StepFailure as step:
            outcome = (step.failure, step.detail, None, None, (), {})
        except Exception as error:  # noqa: BLE001 - whatever happens, `finished` is called
            logger.exception("%s: execution failed unexpectedly", spec.cluster_id)
            started_main = execution.tasks["main"]["was_started"]
            kind = "filesystem-io" if started_main else "task-launch"
            measured = execution.measured
            outcome = (kind, _describe(error), measured.exit_code if measured else None, measured, (), {})
        failure, detail, exit_code, measured, output_files, output_json = outcome
        with self._lock:
            execution.settled = True
            if execution.canceled and failure != "canceled":
                failure, detail, output_files, output_json = "canceled", "canceled", (), {}
        for task in execution.tasks.values():  # a task cut short by an unexpected error
            if task["was_started"] and task["ended"] is None:
                task["ended"] = iso(self._clock())
        result = ExecutionResult(
            exit_code=exit_code, failure=failure, detail=detail,
            task_results={"tasks": list(execution.tasks.values())},
            output_files=tuple(output_files), output_json=dict(output_json),
            cpu_seconds=measured.cpu_seconds if measured else None,
            wall_seconds=measured.wall_seconds if measured else None,
            peak_memory_mib=measured.peak_memory_mib if measured else None,
            started=started, ended=self._clock())
        try:
            sink.close()
        except Exception:  # noqa: BLE001 - the clean-up and `finished` below must still run
            logger.exception("%s: closing the log sink failed", spec.cluster_id)
        if not self._keep:
            shutil.rmtree(workdir, ignore_errors=True)
        with self._lock:
            self._executions.pop(spec.cluster_id, None)
            self._threads.pop(spec.cluster_id, None)
        try:
            self._events.finished(spec, result)
        except Exception:  # noqa: BLE001 - last step of the runner thread: nobody above to tell
            logger.exception("%s: the finished report failed", spec.cluster_id)

    def _execute(self, execution: _Execution, workdir: Path, sink: _SerialSink) -> _Outcome:
        spec = execution.spec
        manifest = Manifest.from_validated(spec.manifest)
        output_dir = workdir / "outputs"

        # pre: working directory, inputs, settings, mounts
        self._phase(spec, "UPLOADING")
        pre = self._begin(execution, "pre")
        try:
            staged = self._prepare(execution, manifest, workdir)
        except StepFailure:
            self._end(pre, 1)
            raise
        self._end(pre, 0)
        if execution.canceled:
            raise StepFailure("canceled", "canceled")

        # main: the command
        if not manifest.command:
            raise StepFailure("task-launch", "the job type's interface has no command to run here")
        env = {**self._base_env, "HOME": str(workdir), "TMPDIR": str(workdir / "tmp")}
        mounts = {m.name: spec.mounts[m.name]["host_path"] for m in manifest.mounts}  # checked by _prepare
        env.update(seed_environment(file_inputs=staged, json_inputs=spec.json_inputs, settings=spec.settings,
                                    mounts=mounts, resources=spec.resources, output_dir=str(output_dir)))
        names = known_names([*(i.name for i in manifest.file_inputs), *(i.name for i in manifest.json_inputs),
                             *(s.name for s in manifest.settings), *(m.name for m in manifest.mounts)],
                            spec.resources)
        command = rewrite_command(manifest.command, names)
        process = ProcessGroup(command, str(workdir), env, sink.write, kill_grace=self._grace)
        self._phase(spec, "EXECUTING")
        main = self._begin(execution, "main")
        try:
            process.start()
        except OSError as error:
            self._end(main, None)
            raise StepFailure("task-launch", f"the command could not start: {_describe(error)}") from None
        with self._lock:
            execution.process = process
            canceled = execution.canceled
        if canceled:
            process.terminate("canceled")
        measured = execution.measured = process.wait(spec.timeout_seconds)
        self._end(main, measured.exit_code)
        code = measured.exit_code
        if measured.stopped == "timeout":
            return "timeout", f"exceeded the timeout of {spec.timeout_seconds} s", code, measured, (), {}
        if measured.stopped:
            # Say so in the execution's log, where whoever canceled it will look.
            sink.write("stderr", "[scale] the job was canceled: its process was stopped")
            return "canceled", "canceled", code, measured, (), {}
        if code != 0:
            return "exit-code", f"the command exited with code {code}", code, measured, (), {}

        # post: outputs
        self._phase(spec, "DOWNLOADING")
        post = self._begin(execution, "post")
        try:
            output_files, output_json = self._capture(execution, manifest, output_dir)
        except StepFailure as failure:
            self._end(post, 1)
            return failure.failure, failure.detail, code, measured, (), {}
        self._end(post, 0)
        return None, None, code, measured, output_files, output_json

    def _prepare(self, execution: _Execution, manifest: Manifest, workdir: Path) -> dict[str, str]:
        """Makes the working directory and stages the inputs; input name -> the path the job gets."""
        spec = execution.spec
        reserved = reserved_names(manifest)
        if reserved:  # a manifest registered before these names were refused: never let a job set PATH & co
            raise StepFailure("task-launch", f"the job type declares {reserved[0]!r}, which names an environment "
                              "variable the runner reserves (PATH, LD_*, HOME, ALLOCATED_*...)")
        for setting in manifest.settings:
            if not isinstance(spec.settings.get(setting.name), str):
                raise StepFailure("missing-setting", f"setting {setting.name!r} has no value")
        for mount in manifest.mounts:
            config = spec.mounts.get(mount.name)
            if not isinstance(config, dict) or not isinstance(config.get("host_path"), str):
                raise StepFailure("missing-mount", f"mount {mount.name!r} has no host path")
            if not os.path.isdir(config["host_path"]):
                raise StepFailure("missing-mount", f"mount {mount.name!r}: {config['host_path']} is not a directory")
        try:
            if workdir.exists():  # left over by a crash
                shutil.rmtree(workdir)
            for sub in ("inputs", "outputs", "tmp"):
                (workdir / sub).mkdir(parents=True)
        except OSError as error:
            raise StepFailure("filesystem-io", f"the working directory could not be made: {_describe(error)}") from None
        staged: dict[str, str] = {}
        for spec_input in manifest.file_inputs:
            files = spec.file_inputs.get(spec_input.name, ())
            if not files:
                if spec_input.required:
                    raise StepFailure("filesystem-io", f"required input {spec_input.name!r} has no file")
                continue
            folder = workdir / "inputs" / spec_input.name
            folder.mkdir()
            for source, name in zip(files, staged_names(files)):
                if execution.canceled:
                    raise StepFailure("canceled", "canceled")
                try:
                    fetch(source, folder / name)
                except OutsideWorkspace as error:
                    raise StepFailure("filesystem-io", f"input {spec_input.name!r}: file {source.file_id} "
                                      f"({source.workspace}:{source.file_path}) refused: {error}") from None
                except Exception as error:  # noqa: BLE001 - any broker error is an I/O failure here
                    raise StepFailure("filesystem-io", f"input {spec_input.name!r}: file {source.file_id} "
                                      f"({source.workspace}:{source.file_path}) could not be read: "
                                      f"{_describe(error)}") from None
            staged[spec_input.name] = str(folder if spec_input.multiple else folder / staged_names(files)[0])
        return staged

    def _capture(self, execution: _Execution, manifest: Manifest,
                 output_dir: Path) -> tuple[tuple[OutputFile, ...], dict[str, Any]]:
        spec = execution.spec
        try:
            matches = match_outputs(output_dir, manifest.file_outputs)
            output_json = read_json_outputs(output_dir, manifest.json_outputs)
        except OSError as error:
            raise StepFailure("filesystem-io", f"the outputs could not be read: {_describe(error)}") from None
        for match in matches:
            if match.output.name not in spec.output_workspaces:
                raise StepFailure("filesystem-io", f"output {match.output.name!r} has no workspace")
        if execution.canceled:
            raise StepFailure("canceled", "canceled")
        output_files = []
        for match in matches:
            workspace = spec.output_workspaces[match.output.name]
            key = f"outputs/{spec.job_id}/{spec.exe_num}/{match.relative}"
            media_type = media_type_of(match.output, match.path.name)
            try:
                size = store(match.path, workspace.broker, key, media_type)
            except Exception as error:  # noqa: BLE001 - any broker error is an I/O failure here
                raise StepFailure("filesystem-io", f"output {match.output.name!r}: {match.relative} could not be "
                                  f"written to workspace {workspace.name}: {_describe(error)}") from None
            output_files.append(OutputFile(output=match.output.name, file_name=match.path.name, file_path=key,
                                           workspace=workspace.name, file_size=size, media_type=media_type))
        return tuple(output_files), output_json

    # --- reports ------------------------------------------------------------------------------

    def _phase(self, spec: ExecutionSpec, phase: str) -> None:
        try:
            self._events.phase(spec, phase, self._clock())
        except Exception:  # noqa: BLE001 - a lost phase report must not stop the job
            logger.exception("%s: the %s report failed", spec.cluster_id, phase)

    def _begin(self, execution: _Execution, kind: str) -> dict[str, Any]:
        task = execution.tasks[kind]
        task.update(started=iso(self._clock()), was_started=True)
        return task

    def _end(self, task: dict[str, Any], exit_code: int | None) -> None:
        task.update(ended=iso(self._clock()), exit_code=exit_code)


class _SerialSink:
    """One execution's sink as the two output readers share it: one call at a time, timestamped;
    a failing sink is logged once and the output is still drained (or the job would block)."""

    def __init__(self, sink: LogSink, clock: Callable[[], datetime]) -> None:
        self._sink = sink
        self._clock = clock
        self._lock = threading.Lock()
        self._failed = False

    def write(self, stream: str, line: str) -> None:
        with self._lock:
            if self._failed:
                return
            try:
                self._sink.write(stream, line, int(self._clock().timestamp() * 1000))
            except Exception:  # noqa: BLE001 - a failing sink must not block the output readers
                self._failed = True
                logger.exception("the log sink failed; the rest of the output is dropped")


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
