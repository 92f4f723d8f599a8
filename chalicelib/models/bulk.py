"""Persistence of bulk operations (cancel/requeue): creation, progress counted per chunk, reads."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.domain import BulkOperationRecord
from chalicelib.models.ids import create_with_new_id
from chalicelib.models.tables import BulkOperation, get_or_none, set_nullable, to_record, update_item

SHARD = "operations"


def create_operation(now: datetime, *, kind: str, filter: dict[str, Any], job_filter: dict[str, Any],  # noqa: A002
                     requested_by: str | None, project: str | None, reason: str | None,
                     priority: int | None) -> BulkOperationRecord:
    def save(operation_id: int) -> BulkOperation:
        operation = BulkOperation(operation_id, shard=SHARD, state="RUNNING", started=now, matched=0, changed=0,
                                  skipped=0, chunks=0, position=0, kind=kind, filter=filter, job_filter=job_filter,
                                  requested_by=requested_by, project=project, reason=reason, priority=priority)
        operation.save(condition=BulkOperation.id.does_not_exist())
        return operation
    return to_record(create_with_new_id("bulk_operation", save, _highest_id), BulkOperationRecord)


def _highest_id() -> int | None:
    """The newest operation's id: one item read from the by-shard index."""
    for operation in BulkOperation.by_shard.query(SHARD, scan_index_forward=False, limit=1):
        return int(operation.id)
    return None


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


def record_chunk(operation_id: int, position: int, matched: int, changed: int, following: str | None,
                 now: datetime, done: bool) -> bool:
    """Add the counts of the chunk at `position` and move the operation to the next one (`following`), in one
    write conditioned on the operation still being RUNNING at that position; the last chunk also ends it.
    False when the condition failed: the chunk was recorded already (a retried Lambda, a resumed operation)
    or the operation ended, and nothing is added twice."""
    actions: list[Action] = [BulkOperation.matched.add(matched), BulkOperation.changed.add(changed),
                             BulkOperation.skipped.add(matched - changed), BulkOperation.chunks.add(1),
                             BulkOperation.position.set(position + 1), set_nullable(BulkOperation.cursor, following)]
    if done:
        actions += [BulkOperation.state.set("SUCCEEDED"), BulkOperation.ended.set(now)]
    return _update_at(operation_id, position, actions)


def record_partial(operation_id: int, position: int, changed: int) -> bool:
    """Count the jobs a chunk changed before it failed part way, without moving on: they have left the
    operation's range, so the chunk's retry (same position) does not read them again."""
    return _update_at(operation_id, position, [BulkOperation.matched.add(changed), BulkOperation.changed.add(changed)])


def _update_at(operation_id: int, position: int, actions: list[Action]) -> bool:
    at_position = BulkOperation.position == position
    if position == 0:  # operations recorded before positions existed have none
        at_position = at_position | BulkOperation.position.does_not_exist()
    try:
        update_item(BulkOperation(operation_id), actions, (BulkOperation.state == "RUNNING") & at_position)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_failed(operation_id: int, error: str, now: datetime) -> None:
    update_item(BulkOperation(operation_id), [BulkOperation.state.set("FAILED"), BulkOperation.error.set(error),
                                              BulkOperation.ended.set(now)], BulkOperation.state == "RUNNING")


def set_execution(operation_id: int, execution_arn: str) -> None:
    update_item(BulkOperation(operation_id), [BulkOperation.execution_arn.set(execution_arn)])
