"""Persistence of bulk operations (cancel/requeue): creation, progress counted per chunk, reads."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.domain import BulkOperationRecord
from chalicelib.models.ids import next_id
from chalicelib.models.tables import BulkOperation, get_or_none, to_record, update_item

SHARD = "operations"


def create_operation(now: datetime, *, kind: str, filter: dict[str, Any], job_filter: dict[str, Any],  # noqa: A002
                     requested_by: str | None, project: str | None, reason: str | None,
                     priority: int | None) -> BulkOperationRecord:
    operation = BulkOperation(next_id("bulk_operation"), shard=SHARD, state="RUNNING", started=now,
                              matched=0, changed=0, skipped=0, chunks=0, kind=kind, filter=filter,
                              job_filter=job_filter, requested_by=requested_by, project=project, reason=reason,
                              priority=priority)
    operation.save(condition=BulkOperation.id.does_not_exist())
    return to_record(operation, BulkOperationRecord)


def get_operation(operation_id: int, consistent: bool = False) -> BulkOperationRecord | None:
    return get_or_none(BulkOperation, BulkOperationRecord, operation_id, consistent=consistent)


def list_operations(offset: int, limit: int) -> tuple[int, list[BulkOperationRecord]]:
    """Newest first, with the total count."""
    count = BulkOperation.count(SHARD, index_name=BulkOperation.by_shard.Meta.index_name)
    rows = []
    for index, operation in enumerate(BulkOperation.by_shard.query(SHARD, scan_index_forward=False,
                                                                    page_size=min(offset + limit, 1000))):
        if index >= offset + limit:
            break
        if index >= offset:
            rows.append(to_record(operation, BulkOperationRecord))
    return count, rows


def running_operations() -> list[BulkOperationRecord]:
    return [to_record(operation, BulkOperationRecord) for operation in
            BulkOperation.by_shard.query(SHARD, filter_condition=BulkOperation.state == "RUNNING")]


def record_chunk(operation_id: int, matched: int, changed: int, now: datetime, done: bool) -> None:
    """Add one chunk's counts (one write per chunk); the last chunk also ends the operation. Only while
    RUNNING: a chunk replayed after the end (a retried Lambda) does not count twice past SUCCEEDED."""
    actions: list[Action] = [BulkOperation.matched.add(matched), BulkOperation.changed.add(changed),
                             BulkOperation.skipped.add(matched - changed), BulkOperation.chunks.add(1)]
    if done:
        actions += [BulkOperation.state.set("SUCCEEDED"), BulkOperation.ended.set(now)]
    update_item(BulkOperation(operation_id), actions, BulkOperation.state == "RUNNING")


def mark_failed(operation_id: int, error: str, now: datetime) -> None:
    update_item(BulkOperation(operation_id), [BulkOperation.state.set("FAILED"), BulkOperation.error.set(error),
                                              BulkOperation.ended.set(now)], BulkOperation.state == "RUNNING")


def set_execution(operation_id: int, execution_arn: str) -> None:
    update_item(BulkOperation(operation_id), [BulkOperation.execution_arn.set(execution_arn)])
