"""What a job's life costs in DynamoDB write and read units, priced the way DynamoDB bills them.

A job is queued (`POST /v6/jobs/`), dispatched (the dispatch Lambda's SQS message: the claim), goes
through its three phases (UPLOADING, EXECUTING, DOWNLOADING) and ends COMPLETED; a second job is queued,
canceled and requeued by bulk operations. Every DynamoDB request the service sends is caught on
PynamoDB's single call path; around each write the items it touches are read (unmetered, strongly
consistent) before and after, and priced from those images and the table layout the code defines
(`deploy.schema`, the same definitions the template deploys):

- a table write costs ceil(size / 1 KB) of the larger of the item before and after (a put of a new item:
  its size; a delete: the old size); in TransactWriteItems every item (ConditionCheck too) costs double;
- every global secondary index entry the write changes is a write of its own (projected size, 1 KB
  units, not doubled: index propagation is not transactional): a new entry is one put, a removed one a
  delete, a moved key a delete plus a put, a changed projection one write; an index the item is not in
  (sparse) or whose projected attributes did not change costs nothing;
- reads cost ceil(size / 4 KB) per item read (GetItem, BatchGetItem) or per request (Query, Scan: the
  summed size of what it read), half for eventually consistent reads, double in TransactGetItems; a
  Select=COUNT query is priced on the entries it counted (read again, unmetered, to size them).

Run: `.venv/bin/python -m bench.write_units` (writes the `write-units` section of docs/performance.md).
"""
from __future__ import annotations

import base64
import contextlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from pynamodb.connection.base import Connection

from bench.common import HEADERS, bench_store, publish

KB = 1024
PREFIX = "bench-"


# --- item sizes -------------------------------------------------------------------------------------

def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return 1 + math.ceil(len(digits) / 2) + (1 if text.startswith("-") else 0)


def value_size(value: dict) -> int:
    """DynamoDB's size of one attribute value (its documented rules)."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(base64.b64decode(raw)) if isinstance(raw, str) else len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in raw)
    if kind == "NS":
        return sum(_number_size(v) for v in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    raise ValueError(kind)


def item_size(item: dict | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


# --- the layout -------------------------------------------------------------------------------------

@dataclass
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str
    non_key: tuple[str, ...] = ()

    def entry(self, table_keys: tuple[str, ...], item: dict | None) -> dict | None:
        """The item's entry in this index, or None when it has none (an index key attribute is absent)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return item
        wanted = set(table_keys) | set(self.keys) | (set(self.non_key) if self.projection == "INCLUDE" else set())
        return {name: value for name, value in item.items() if name in wanted}


@dataclass
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: list[Index] = field(default_factory=list)


def layout() -> dict[str, Table]:
    from deploy.schema import all_create_table_args
    tables = {}
    for args in all_create_table_args(PREFIX):
        keys = tuple(element["AttributeName"] for element in args["KeySchema"])
        indexes = [Index(index["IndexName"], tuple(e["AttributeName"] for e in index["KeySchema"]),
                         index["Projection"]["ProjectionType"], tuple(index["Projection"].get("NonKeyAttributes", ())))
                   for index in args.get("GlobalSecondaryIndexes", [])]
        tables[args["TableName"]] = Table(args["TableName"], keys, indexes)
    return tables


def describe_layout(tables: dict[str, Table], name: str) -> str:
    table = tables[PREFIX + name]
    return ", ".join(f"{index.name} ({index.projection}{': ' + '/'.join(index.non_key) if index.non_key else ''})"
                     for index in sorted(table.indexes, key=lambda i: i.name))


# --- pricing ----------------------------------------------------------------------------------------

@dataclass
class Cost:
    table_wcu: float = 0.0
    index_wcu: float = 0.0
    rcu: float = 0.0
    requests: int = 0
    by_index: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_table: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def wcu(self) -> float:
        return self.table_wcu + self.index_wcu

    def add(self, other: "Cost") -> None:
        self.table_wcu += other.table_wcu
        self.index_wcu += other.index_wcu
        self.rcu += other.rcu
        self.requests += other.requests
        for name, value in other.by_index.items():
            self.by_index[name] += value
        for name, value in other.by_table.items():
            self.by_table[name] += value


class Pricer:
    """Wraps PynamoDB's call path: prices every request while `phase` names what is being measured."""

    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables
        self.phases: dict[str, Cost] = defaultdict(Cost)
        self.phase: str | None = None
        self.original = Connection._make_api_call

    @contextlib.contextmanager
    def installed(self) -> Iterator["Pricer"]:
        pricer = self

        def wrapped(connection, operation, kwargs):
            if pricer.phase is None:
                return pricer.original(connection, operation, kwargs)
            return pricer.call(connection, operation, kwargs)
        Connection._make_api_call = wrapped
        try:
            yield self
        finally:
            Connection._make_api_call = self.original

    @contextlib.contextmanager
    def measuring(self, phase: str) -> Iterator[Cost]:
        self.phase = phase
        try:
            yield self.phases[phase]
        finally:
            self.phase = None

    def _get(self, connection, table: str, key: dict) -> dict | None:
        response = self.original(connection, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
        return response.get("Item")

    def _key(self, table: str, item: dict) -> dict:
        return {name: item[name] for name in self.tables[table].keys}

    def call(self, connection, operation: str, kwargs: dict) -> Any:
        cost = self.phases[self.phase or ""]
        cost.requests += 1
        writes: list[tuple[str, dict, bool]] = []   # (table, key, transactional)
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            key = kwargs.get("Key") or self._key(kwargs["TableName"], kwargs["Item"])
            writes.append((kwargs["TableName"], key, False))
        elif operation == "TransactWriteItems":
            for entry in kwargs["TransactItems"]:
                (kind, body), = entry.items()
                key = body.get("Key") or self._key(body["TableName"], body["Item"])
                writes.append((body["TableName"], key, True))
        elif operation == "BatchWriteItem":
            for table, requests in kwargs["RequestItems"].items():
                for request in requests:
                    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                    writes.append((table, self._key(table, body), False))
        before = [self._get(connection, table, key) for table, key, _ in writes]
        response = self.original(connection, operation, kwargs)
        for (table, key, transactional), old in zip(writes, before):
            new = self._get(connection, table, key)
            self._price_write(cost, table, old, new, transactional)
        self._price_read(connection, cost, operation, kwargs, response)
        return response

    def _price_write(self, cost: Cost, table_name: str, old: dict | None, new: dict | None,
                     transactional: bool) -> None:
        table = self.tables[table_name]
        units = write_units(max(item_size(old), item_size(new))) * (2 if transactional else 1)
        short = table_name[len(PREFIX):]
        cost.table_wcu += units
        cost.by_table[short] += units
        for index in table.indexes:
            before, after = index.entry(table.keys, old), index.entry(table.keys, new)
            if before is None and after is None:
                continue
            if before is None or after is None:
                units = write_units(item_size(after or before))
            elif any(before.get(k) != after.get(k) for k in index.keys):
                units = write_units(item_size(before)) + write_units(item_size(after))
            elif before == after:
                continue
            else:
                units = write_units(max(item_size(before), item_size(after)))
            cost.index_wcu += units
            cost.by_index[f"{short}.{index.name}"] += units

    def _price_read(self, connection, cost: Cost, operation: str, kwargs: dict, response: dict) -> None:
        def units(size: int, consistent: bool, factor: float = 1.0) -> float:
            return max(1, math.ceil(size / (4 * KB))) * (1.0 if consistent else 0.5) * factor
        if operation == "GetItem":
            cost.rcu += units(item_size(response.get("Item")), bool(kwargs.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                consistent = bool(kwargs["RequestItems"][table].get("ConsistentRead"))
                cost.rcu += sum(units(item_size(item), consistent) for item in items)
        elif operation == "TransactGetItems":
            cost.rcu += sum(units(item_size(r.get("Item")), True, 2) for r in response.get("Responses", []))
        elif operation in ("Query", "Scan"):
            items = response.get("Items")
            if kwargs.get("Select") == "COUNT":
                again = {k: v for k, v in kwargs.items() if k != "Select"}
                items = self.original(connection, operation, again).get("Items", [])
            cost.rcu += units(sum(item_size(item) for item in items or []), bool(kwargs.get("ConsistentRead")))
        elif operation in ("UpdateItem", "PutItem", "DeleteItem") and kwargs.get("ReturnValues", "NONE") != "NONE":
            pass  # returned values are not billed beyond the write


# --- the job's life ---------------------------------------------------------------------------------

class _Runner:
    """A runner that launches nothing (the bench prices the store, not the work)."""

    def __init__(self) -> None:
        self.launched: list = []

    def launch(self, spec) -> None:
        self.launched.append(spec)

    def stop(self, cluster_id: str) -> bool:
        return True

    def free_slots(self) -> int:
        return 10

    def running(self) -> list[str]:
        return []


def life(client, pricer: Pricer) -> dict[str, Cost]:
    import tempfile

    import boto3

    from chalicelib import clock, wiring
    from chalicelib.bootstrap import prepare_store
    from chalicelib.models import files as file_store
    from chalicelib.models import nodes
    from chalicelib.runners.base import ExecutionResult
    from chalicelib.services import execution_events
    from local import sample_data as sd
    from local.emulated_aws import create_queues
    create_queues(boto3.client("sqs"), PREFIX)
    prepare_store(tempfile.mkdtemp(prefix="bench-write-units-"))
    # A fixed timeline, so the figures do not depend on when the bench runs (a change crossing a minute or
    # an hour touches one more time counter): queued at 12:00:00.1, claimed 2 s later, phases, ended a
    # minute after the claim; the second job queued at 12:02, canceled 10 s later, requeued at 12:03.
    t0 = datetime(2026, 12, 3, 12, 0, 0, 100_000, tzinfo=timezone.utc)
    moment = {"t": t0}
    clock.set_clock(lambda: moment["t"])
    runner = _Runner()
    node = nodes.register("worker-1", {"cpus": 4.0, "mem": 8192.0, "disk": 100000.0, "gpus": 0.0}, 4, t0)
    wiring.set_runtime(wiring.Runtime(runner, node.id, node.hostname, node.resources))
    job_type = sd.job_type("priced", configuration={"output_workspaces": {"default": "default"}})
    workspace = file_store.get_workspace("default")
    (source,) = file_store.save_files([dict(workspace_id=workspace.id, workspace_name="default", file_name="in.txt",
                                            file_path="in/in.txt", file_size=10)], t0)
    body = {"job_type_id": job_type.id, "input": {"files": {"INPUT_FILE": [source.id]}}}
    headers = {**HEADERS, "Content-Type": "application/json", "X-Jobs-Project": "default"}

    def queue(phase: str) -> int:
        with pricer.measuring(phase):
            response = client.http.post("/v6/jobs/", body=json.dumps(body), headers=headers)
        assert response.status_code == 201, response.body
        return int(response.json_body["id"])

    def dispatch(job_id: int, exe_num: int, phase: str) -> None:
        event = client.events.generate_sqs_event(
            message_bodies=[json.dumps({"job_id": job_id, "exe_num": exe_num, "priority": 100})],
            queue_name=f"{PREFIX}dispatch")
        with pricer.measuring(phase):
            assert client.lambda_.invoke("dispatch", event).payload == {"batchItemFailures": []}

    def bulk(kind: str, job_id: int, phase: str) -> None:
        from chalicelib import workflows
        start = workflows.start_bulk_execution
        workflows.start_bulk_execution = lambda operation_id: None
        try:
            with pricer.measuring(phase):
                response = client.http.post(f"/v6/jobs/{kind}/", body=json.dumps({"job_ids": [job_id]}),
                                            headers=headers)
                assert response.status_code == 202, response.body
                task = {"operation_id": str(response.json_body["id"]), "cursor": None}
                while not task.get("done"):
                    task = client.lambda_.invoke("bulk_chunk", task).payload
        finally:
            workflows.start_bulk_execution = start

    job_id = queue("queue")
    moment["t"] = t0 + timedelta(seconds=2)
    dispatch(job_id, 1, "claim")
    at = t0 + timedelta(seconds=3)
    with pricer.measuring("phases (3)"):
        for offset, phase in enumerate(("UPLOADING", "EXECUTING", "DOWNLOADING")):
            assert execution_events.on_phase(job_id, 1, phase, at + timedelta(seconds=offset))
    result = ExecutionResult(exit_code=0, failure=None, detail=None, task_results={"tasks": []}, output_files=(),
                             output_json={}, cpu_seconds=1.0, wall_seconds=60.0, peak_memory_mib=100.0,
                             started=at, ended=at + timedelta(minutes=1))
    moment["t"] = t0 + timedelta(seconds=62)
    with pricer.measuring("end"):
        assert execution_events.on_finished(job_id, 1, result) == "COMPLETED"

    moment["t"] = t0 + timedelta(minutes=2)
    other = queue("queue (2nd job)")
    moment["t"] = t0 + timedelta(minutes=2, seconds=10)
    bulk("cancel", other, "cancel (bulk, 1 job)")
    moment["t"] = t0 + timedelta(minutes=3)
    bulk("requeue", other, "requeue (bulk, 1 job)")
    wiring.set_runtime(None)
    clock.set_clock(None)
    return pricer.phases


def report(phases: dict[str, Cost], tables: dict[str, Table]) -> str:
    life_phases = ("queue", "claim", "phases (3)", "end")
    total = Cost()
    for name in life_phases:
        total.add(phases[name])
    extra = Cost()
    for name in ("cancel (bulk, 1 job)", "requeue (bulk, 1 job)"):
        extra.add(phases[name])
    lines = ["| step | requests | table WCU | index WCU | WCU | RCU |", "|---|---:|---:|---:|---:|---:|"]
    for name, cost in phases.items():
        if name == "queue (2nd job)":
            continue
        lines.append(f"| {name} | {cost.requests} | {cost.table_wcu:g} | {cost.index_wcu:g} | {cost.wcu:g} | "
                     f"{cost.rcu:g} |")
    lines.append(f"| **a job's life** (queue, claim, phases, end) | {total.requests} | {total.table_wcu:g} | "
                 f"{total.index_wcu:g} | **{total.wcu:g}** | {total.rcu:g} |")
    lines.append(f"| cancel + requeue | {extra.requests} | {extra.table_wcu:g} | {extra.index_wcu:g} | "
                 f"{extra.wcu:g} | {extra.rcu:g} |")
    where = sorted(total.by_index.items(), key=lambda pair: -pair[1])
    tables_line = ", ".join(f"{name} {units:g}" for name, units in sorted(total.by_table.items(), key=lambda p: -p[1]))
    return "\n".join([
        "A job's life in DynamoDB units (`bench/write_units.py`; on-demand pricing per 1 KB write / 4 KB read, "
        "transactions doubled, every index entry written):", "", *lines, "",
        f"Where a life's writes go - tables: {tables_line}; indexes: "
        + ", ".join(f"{name} {units:g}" for name, units in where) + ".", "",
        f"Jobs table indexes: {describe_layout(tables, 'jobs')}.",
    ])


def main() -> None:
    tables = layout()
    with bench_store() as client_factory:
        pricer = Pricer(tables)
        with client_factory() as client, pricer.installed():
            phases = life(client, pricer)
    publish(report(phases, tables), "write-units")


if __name__ == "__main__":
    main()
