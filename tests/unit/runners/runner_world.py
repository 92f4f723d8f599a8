"""The local runner's test world: host workspaces in tmp_path, a recorder of the runner's reports, an
in-memory log sink and a builder of manifests and specs. No AWS."""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.runners.base import ExecutionResult, ExecutionSpec, InputFile, OutputWorkspace
from chalicelib.runners.local import LocalRunner


def manifest(command: str, *, files=(), json=(), outputs=(), json_outputs=(), settings=(), mounts=(),
             resources=(), timeout: int = 1) -> dict:
    """A Seed manifest with the given interface (each list as the manifest spells it)."""
    interface: dict[str, Any] = {"command": command, "inputs": {}, "outputs": {}}
    if files:
        interface["inputs"]["files"] = list(files)
    if json:
        interface["inputs"]["json"] = list(json)
    if outputs:
        interface["outputs"]["files"] = list(outputs)
    if json_outputs:
        interface["outputs"]["json"] = list(json_outputs)
    if settings:
        interface["settings"] = list(settings)
    if mounts:
        interface["mounts"] = list(mounts)
    job: dict[str, Any] = {
        "name": "test-job", "jobVersion": "1.0.0", "packageVersion": "1.0.0", "title": "Test",
        "description": "A test job", "maintainer": {"name": "A", "email": "a@example.com"},
        "timeout": timeout, "interface": interface,
    }
    if resources:
        job["resources"] = {"scalar": list(resources)}
    return {"seedVersion": "1.0.0", "job": job}


@dataclass
class Recorder:
    """The runner's reports, with a wait for the end of each execution."""

    phases: list[tuple[str, str, datetime]] = field(default_factory=list)
    results: dict[str, list[ExecutionResult]] = field(default_factory=dict)
    free_at_finish: dict[str, int] = field(default_factory=dict)
    runner: LocalRunner | None = None
    _done: threading.Condition = field(default_factory=threading.Condition)

    def phase(self, spec: ExecutionSpec, phase: str, at: datetime) -> None:
        self.phases.append((spec.cluster_id, phase, at))

    def finished(self, spec: ExecutionSpec, result: ExecutionResult) -> None:
        if self.runner is not None:
            self.free_at_finish[spec.cluster_id] = self.runner.free_slots()
        with self._done:
            self.results.setdefault(spec.cluster_id, []).append(result)
            self._done.notify_all()

    def wait(self, cluster_id: str, timeout: float = 5.0) -> ExecutionResult:
        with self._done:
            assert self._done.wait_for(lambda: cluster_id in self.results, timeout), f"{cluster_id} never finished"
        return self.results[cluster_id][0]

    def phases_of(self, cluster_id: str) -> list[str]:
        return [phase for cid, phase, _ in self.phases if cid == cluster_id]


class MemorySink:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, int]] = []
        self.closed = False

    def write(self, stream: str, line: str, timestamp_ms: int) -> None:
        assert not self.closed
        self.lines.append((stream, line, timestamp_ms))

    def close(self) -> None:
        self.closed = True

    def of(self, stream: str) -> list[str]:
        return [line for s, line, _ in self.lines if s == stream]


class Harness:
    """A runner with host workspaces `in` and `out` below tmp_path."""

    def __init__(self, tmp_path: Path, slots: int = 2, **options: Any) -> None:
        self.tmp = tmp_path
        self.in_root = tmp_path / "ws-in"
        self.out_root = tmp_path / "ws-out"
        self.in_root.mkdir()
        self.out_root.mkdir()
        self.in_broker = {"broker": {"type": "host", "host_path": str(self.in_root)}}
        self.out_broker = {"broker": {"type": "host", "host_path": str(self.out_root)}}
        self.events = Recorder()
        self.sinks: dict[str, MemorySink] = {}
        options.setdefault("kill_grace", 0.3)
        self.runner = LocalRunner(slots, tmp_path / "work", self.events, self._sink, **options)
        self.events.runner = self.runner
        self._ids = 0

    def _sink(self, spec: ExecutionSpec) -> MemorySink:
        self.sinks[spec.cluster_id] = MemorySink()
        return self.sinks[spec.cluster_id]

    def input_file(self, path: str, content: bytes, file_id: int = 1) -> InputFile:
        target = self.in_root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return InputFile(file_id=file_id, file_name=Path(path).name, file_path=path, workspace="in",
                         broker=self.in_broker)

    def spec(self, raw_manifest: dict, *, files=None, json=None, settings=None, mounts=None, resources=None,
             timeout: int | None = None, cluster_id: str | None = None) -> ExecutionSpec:
        self._ids += 1
        raw = copy.deepcopy(raw_manifest)
        outputs = raw["job"]["interface"].get("outputs", {}).get("files", [])
        return ExecutionSpec(
            job_id=7, exe_num=1, execution_id=self._ids, cluster_id=cluster_id or f"scale_job_7_{self._ids}",
            job_type_name="test-job", job_type_version="1.0.0", docker_image="test-job:1.0.0", manifest=raw,
            file_inputs={name: tuple(fs) for name, fs in (files or {}).items()}, json_inputs=json or {},
            settings=settings or {}, mounts=mounts or {},
            resources=resources or {"cpus": 1.0, "mem": 128.0, "disk": 1.0, "gpus": 0.0},
            timeout_seconds=raw["job"]["timeout"] if timeout is None else timeout,
            output_workspaces={o["name"]: OutputWorkspace("out", self.out_broker) for o in outputs})

    def run(self, spec: ExecutionSpec, timeout: float = 5.0) -> ExecutionResult:
        self.runner.launch(spec)
        return self.events.wait(spec.cluster_id, timeout)
