"""Races produced for real, and bulk operations run step by step.

Every use case that changes a job reads it first and then writes with a precondition (the status and
exe_num it read). `racing(read, competing)` lets the named read return, runs the competing write once,
then lets the use case carry on and write with what it read, which is now stale: exactly the interleaving
two Lambdas (or a Lambda and a worker) can produce. Nothing sleeps or waits: the interleaving is forced.

`READS` names the reads the use cases make; they are the only coupling to the service's internals here,
so a refactor that renames one updates this table and nothing else.

`Bulk` runs a bulk cancel/requeue the way the state machine does, but synchronously: the operation is
recorded through `POST /v6/jobs/{kind}/` (with the state machine start stubbed out) and its chunks are
the `bulk_chunk` Lambda invoked with the task input the state machine would send.
"""
from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator

# what is read -> (module, function) the use case calls to read it
READS = {
    # the dispatcher's read of the queue index (what it then claims)
    "dispatch": ("chalicelib.models.jobs", "queued_jobs"),
    # the dispatcher's read of a candidate's job type (before it notes unmet resources)
    "job type": ("chalicelib.models.catalog", "get_job_type"),
    # an execution end report's read of the job (before it records the end)
    "end report": ("chalicelib.models.jobs", "get_job"),
    # a bulk chunk's read of the matching jobs (before it cancels/requeues each)
    "bulk chunk": ("chalicelib.models.jobs", "chunk_of"),
}


def _target(read: str):
    module_name, name = READS[read]
    return importlib.import_module(module_name), name


@contextlib.contextmanager
def racing(read: str, competing: Callable[[], object]) -> Iterator[dict]:
    """Within the block, the first `read` returns, then `competing()` runs (once), then the reader goes on.
    Yields a dict whose "fired" says whether the competing write ran (assert it: a race that did not happen
    proves nothing)."""
    module, name = _target(read)
    original = getattr(module, name)
    state = {"fired": False}

    def read_then_compete(*args, **kwargs):
        result = original(*args, **kwargs)
        if state["fired"]:
            return result
        state["fired"] = True  # before competing: it may make the same read itself
        if isinstance(result, Iterator):
            result = list(result)  # read now, as the real reader does before it writes
        competing()
        return result

    setattr(module, name, read_then_compete)
    try:
        yield state
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def stale_queue_index() -> Iterator[None]:
    """The queue index answers, for the rest of the block, what it answered the first time: a global
    secondary index is eventually consistent, so a second dispatcher can still see a job the first one
    just claimed as QUEUED on the same exe_num."""
    module, name = _target("dispatch")
    original = getattr(module, name)
    first: list = []

    def replay(*args, **kwargs):
        if not first:
            first.extend(original(*args, **kwargs))
        return iter(list(first))

    setattr(module, name, replay)
    try:
        yield
    finally:
        setattr(module, name, original)


def out_of_band(job_id: int, **attributes) -> None:
    """A write that is none of the service's state changes (an admin's fix, the original system sharing the
    table during a migration, an imported record): it sets the job's attributes and touches nothing else,
    so the job and its execution record can disagree. Used where a precondition is only reachable so."""
    from chalicelib.models import jobs as job_store
    job = job_store.get_job(job_id, consistent=True)
    for name, value in attributes.items():
        setattr(job, name, value)
    job_store.replace_job(job)


class Bulk:
    """Bulk operations through the API, their chunks run by the test (no background state machine)."""

    def __init__(self, api, monkeypatch) -> None:
        from chalicelib import workflows
        self.api = api
        monkeypatch.setattr(workflows, "start_bulk_execution", lambda operation_id: None)

    def start(self, kind: str, body: dict) -> int:
        response = self.api.post(f"/v6/jobs/{kind}/", body)
        assert response.status_code == 202, response.body
        return response.json_body["id"]

    def run(self, operation_id: int) -> dict:
        """Every chunk, as the state machine's ProcessChunk task would run them; the operation after."""
        task = {"operation_id": str(operation_id), "cursor": None}
        for _ in range(1000):
            task = self.api.client.lambda_.invoke("bulk_chunk", task).payload
            if task["done"]:
                return self.api.get(f"/v6/jobs/bulk-operations/{operation_id}/").json_body
        raise AssertionError(f"bulk operation {operation_id} did not finish")

    def do(self, kind: str, body: dict) -> dict:
        return self.run(self.start(kind, body))

    def cancel(self, *job_ids: int) -> dict:
        return self.do("cancel", {"job_ids": list(job_ids)})

    def requeue(self, *job_ids: int) -> dict:
        return self.do("requeue", {"job_ids": list(job_ids)})
