"""Count the AWS calls a process makes (botocore, every client), by `service:Operation`: how the
benchmarks price work done in the stack's other processes (the workers, the moto process's chunk task).

With `JOBS_COUNT_CALLS_TRACE` = a folder, each counted call is also tallied by where it came from (the
innermost frames of this repository's code, outside this module), and `write_counts` writes the tally to
`<folder>/<pid>.json`: how to find which path of the service makes which calls (`bench.ecs_jobs` prints
the merged tally when the variable is set)."""
from __future__ import annotations

import json
import os
from pathlib import Path

VARIABLE = "JOBS_COUNT_CALLS_FILE"
TRACE_VARIABLE = "JOBS_COUNT_CALLS_TRACE"
TRACE_FRAMES = 6
# A client carrying this attribute is not counted: the local task agent's, which plays ECS itself (its calls
# stand for nothing the service pays for in AWS).
UNCOUNTED = "_jobs_uncounted"
_REPO = str(Path(__file__).resolve().parents[1])


def uncounted(client):
    setattr(client, UNCOUNTED, True)
    return client


class CallCounts(dict):
    """`service:Operation` -> calls; `traces`: `service:Operation <- frames` -> calls (when tracing)."""

    traces: dict[str, int]

    def clear(self) -> None:
        super().clear()
        self.traces.clear()


def _where() -> str:
    import traceback
    frames = [frame for frame in traceback.extract_stack()
              if frame.filename.startswith(_REPO) and "/.venv/" not in frame.filename
              and not frame.filename.endswith("call_counter.py")]
    return " < ".join(f"{Path(frame.filename).stem}.{frame.name}" for frame in reversed(frames[-TRACE_FRAMES:]))


def count_aws_calls() -> CallCounts:
    """Start counting; the returned dict fills as calls are made."""
    import threading

    import botocore.client
    counts = CallCounts()
    counts.traces = {}
    tracing = bool(os.environ.get(TRACE_VARIABLE))
    lock = threading.Lock()  # calls come from many threads (bulk writers, request handlers)
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if getattr(self, UNCOUNTED, False):
            return original(self, operation_name, api_params)
        key = f"{self.meta.service_model.service_name}:{operation_name}"
        where = f"{key} <- {_where()}" if tracing else None
        with lock:
            counts[key] = counts.get(key, 0) + 1
            if where:
                counts.traces[where] = counts.traces.get(where, 0) + 1
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting
    return counts


def counting_requested() -> bool:
    return bool(os.environ.get(VARIABLE))


def write_counts(counts: CallCounts) -> None:
    path = Path(os.environ[VARIABLE])
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(dict(counts)))
    temporary.replace(path)
    write_traces(counts)


def write_traces(counts: CallCounts) -> None:
    folder = os.environ.get(TRACE_VARIABLE)
    if folder and counts.traces:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{os.getpid()}.json").write_text(json.dumps(counts.traces))


def read_traces(folder: str) -> dict[str, int]:
    merged: dict[str, int] = {}
    for path in Path(folder).glob("*.json"):
        for where, count in json.loads(path.read_text()).items():
            merged[where] = merged.get(where, 0) + count
    return merged
