"""Persistence of bulk operations (cancel/requeue): creation, progress counted per chunk, reads."""
from __future__ import annotations

from datetime import datetime

from chalicelib.models.ids import next_id
from chalicelib.models.tables import BulkOperation, get_or_none, update_item

SHARD = "operations"


def create_operation(now: datetime, **fields) -> BulkOperation:
    operation = BulkOperation(next_id("bulk_operation"), shard=SHARD, state="RUNNING", started=now,
                              matched=0, changed=0, skipped=0, chunks=0, **fields)
    operation.save(condition=BulkOperation.id.does_not_exist())
    return operation


def get_operation(operation_id: int, consistent: bool = False) -> BulkOperation | None:
    return get_or_none(BulkOperation, operation_id, consistent=consistent)


def list_operations(offset: int, limit: int) -> tuple[int, list[BulkOperation]]:
    """Newest first, with the total count."""
    count = BulkOperation.count(SHARD, index_name=BulkOperation.by_shard.Meta.index_name)
    rows = []
    for index, operation in enumerate(BulkOperation.by_shard.query(SHARD, scan_index_forward=False,
                                                                    page_size=min(offset + limit, 1000))):
        if index >= offset + limit:
            break
        if index >= offset:
            rows.append(operation)
    return count, rows


def running_operations() -> list[BulkOperation]:
    return list(BulkOperation.by_shard.query(SHARD, filter_condition=BulkOperation.state == "RUNNING"))


def record_chunk(operation_id: int, matched: int, changed: int, now: datetime, done: bool) -> None:
    """Add one chunk's counts (one write per chunk); the last chunk also ends the operation. Only while
    RUNNING: a chunk replayed after the end (a retried Lambda) does not count twice past SUCCEEDED."""
    actions = [BulkOperation.matched.add(matched), BulkOperation.changed.add(changed),
               BulkOperation.skipped.add(matched - changed), BulkOperation.chunks.add(1)]
    if done:
        actions += [BulkOperation.state.set("SUCCEEDED"), BulkOperation.ended.set(now)]
    update_item(BulkOperation(operation_id), actions, BulkOperation.state == "RUNNING")


def mark_failed(operation_id: int, error: str, now: datetime) -> None:
    update_item(BulkOperation(operation_id), [BulkOperation.state.set("FAILED"), BulkOperation.error.set(error),
                                              BulkOperation.ended.set(now)], BulkOperation.state == "RUNNING")


def set_execution(operation_id: int, execution_arn: str) -> None:
    update_item(BulkOperation(operation_id), [BulkOperation.execution_arn.set(execution_arn)])
