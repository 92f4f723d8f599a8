"""Job state changes, each one conditional write (or transaction) that states its precondition.

Every change carries `(job_id, exe_num)` and only applies while `exe_num` is the job's current one
and the job is in the state the change starts from; otherwise it raises `StaleUpdate` and changes
nothing. So a duplicate, stale or out-of-order event is harmless, and two workers racing for the same
job leave it in one consistent state. Only a failed precondition means "stale": throttling, a transaction
conflict or a network fault is raised as it is, for the caller's retry (never mistaken for "moved on").
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, NoReturn, Sequence

from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.domain import ExecutionEnd, ExecutionRecord, JobOutcome, JobRecord
from chalicelib.errors import StaleUpdate, Throttled
from chalicelib.models import counters
from chalicelib.models.jobs import modified_key, queue_key, type_status_key
from chalicelib.models.tables import (
    Job,
    JobData,
    JobExecution,
    JobType,
    commit,
    set_nullable,
    to_item,
    update_item,
    write_transaction,
)
from chalicelib.timeutil import iso

# What DynamoDB answers when it refuses for load or a transient fault: worth a retry, never "stale".
RETRYABLE_CODES = ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                   "TransactionConflict", "InternalServerError")


def _touch(job_id: int, status: str, job_type_id: int, now: datetime, entries: list[tuple[str, int]],
           earlier: Sequence[dict[str, Any]] = ()) -> list[Action]:
    """Actions every status change carries: status, its index keys, timestamps, timeline entries
    (`earlier`: entries that happened before now, such as the phases of an ending execution)."""
    return [
        Job.status.set(status),
        Job.type_status.set(type_status_key(job_type_id, status)),
        Job.last_status_change.set(now),
        Job.last_modified.set(now),
        Job.modified_key.set(modified_key(now, job_id)),
        Job.timeline.set((Job.timeline | []).append(
            list(earlier) + [{"status": name, "at": iso(now), "exe_num": number} for name, number in entries])),
    ]


def _refused(error: PynamoDBException, message: str) -> NoReturn:
    """StaleUpdate when the write was refused because its precondition failed; Throttled when DynamoDB
    refused for load or a conflicting transaction; otherwise the error as it is."""
    code = error.cause_response_code
    if code == "TransactionCanceledException":
        reasons = [reason for reason in getattr(error, "cancellation_reasons", None) or () if reason is not None]
        if reasons and all(reason.code == "ConditionalCheckFailed" for reason in reasons):
            raise StaleUpdate(message) from error
        if any(reason.code in RETRYABLE_CODES for reason in reasons):
            raise Throttled(f"{message}: {code}") from error
    elif code == "ConditionalCheckFailedException":
        raise StaleUpdate(message) from error
    if code in RETRYABLE_CODES or code == "TransactionCanceledException":
        raise Throttled(f"{message}: {code}") from error
    raise error


def _clear(job: JobRecord, *attributes: Any) -> list[Action]:
    """REMOVE actions for those of `attributes` the job held when read. Only status changes set them, and
    the change's condition pins the status and exe_num it was read with, so that is what it holds now;
    a shorter update expression is cheaper to parse and check (markedly so in the emulator)."""
    return [attribute.remove() for attribute in attributes if _holds(job, attribute.attr_name)]


def _holds(job: JobRecord, name: str) -> bool:
    if name in ("queue_shard", "queue_key"):  # index keys, derived: present exactly while QUEUED
        return job.status == "QUEUED"
    return getattr(job, name) is not None


def _current(job_id: int, exe_num: int, *statuses: str) -> Condition:
    return (Job.id == job_id) & (Job.num_exes == exe_num) & Job.status.is_in(*statuses)


def _unmoved(job: JobRecord) -> Condition:
    """The job is still at the last_modified it was read with. With the status the change also pins, that
    is what the counters hold the job as (`counters`), so the counter ADDs sent with the change are the
    right ones. Every service write moving last_modified also moves the status or exe_num, so only a write
    from outside the service (an admin's fix, a migration) makes this refuse where the rest would not."""
    return Job.last_modified == job.last_modified


def _count(transaction: Any, job: JobRecord, status: str, now: datetime) -> None:
    """The counter ADDs of moving `job` (as read) to `status` at `now`, into the change's transaction."""
    counters.add_to_transaction(transaction, job, replace(job, status=status, last_modified=now))


def claim(job: JobRecord, execution: ExecutionRecord, now: datetime) -> None:
    """QUEUED -> RUNNING for `execution.exe_num`, creating the execution, atomically."""
    actions = _touch(job.id, "RUNNING", job.job_type_id, now, [("RUNNING", execution.exe_num)]) + [
        Job.started.set(now), Job.ended.remove(), set_nullable(Job.node_id, execution.node_id),
        set_nullable(Job.node_hostname, execution.node_hostname), Job.queue_shard.remove(), Job.queue_key.remove(),
        Job.dispatch_after.remove(), Job.error.remove(), Job.error_id.remove(), Job.error_category.remove(),
    ]

    def build(transaction: TransactWrite) -> None:
        transaction.update(Job(job.id), actions=actions,
                           condition=_current(job.id, execution.exe_num, "QUEUED") & _unmoved(job))
        transaction.save(to_item(execution, JobExecution), condition=JobExecution.job_id.does_not_exist())
        _count(transaction, job, "RUNNING", now)

    try:
        commit(build, write_transaction)
    except TransactWriteError as error:
        _refused(error, f"job {job.id} exe {execution.exe_num} is no longer claimable")


def record_phase(job_id: int, exe_num: int, phase: str, now: datetime) -> None:
    """A phase of the running execution (UPLOADING, EXECUTING, DOWNLOADING), for the history. It does not
    move `last_modified`: that would rewrite the job's entry in every index keyed on it (a delete and a
    put each) and its time counters, for a change no list shows. EXECUTING is recorded once per execution
    (`executing_exe` marks it in the same write), so a repeated report needs no read to be refused."""
    actions = [Job.timeline.set((Job.timeline | []).append([{"status": phase, "at": iso(now), "exe_num": exe_num}]))]
    condition = _current(job_id, exe_num, "RUNNING")
    if phase == "EXECUTING":
        actions.append(Job.executing_exe.set(exe_num))
        condition &= Job.executing_exe.does_not_exist() | (Job.executing_exe != exe_num)
    try:
        update_item(Job(job_id), actions, condition)
    except UpdateError as error:
        _refused(error, f"job {job_id} exe {exe_num} is not running (or its {phase} is recorded)")


ENDABLE = ("QUEUED", "RUNNING")


def end_execution(job: JobRecord, exe_num: int, end: ExecutionEnd, outcome: JobOutcome, now: datetime,
                  output: dict[str, Any] | None, phases: Sequence[tuple[str, str]] = ()) -> None:
    """Record an execution's end and the job's fate in one transaction.

    `outcome.status` is COMPLETED, FAILED or QUEUED (an automatic retry: `num_exes` + 1, held back until
    `dispatch_after`). Only applies while the job is still QUEUED/RUNNING on this exe_num and the
    execution still RUNNING; the job must still be in the status it was read with (the counters move
    from it).
    """
    if job.status not in ENDABLE:
        raise StaleUpdate(f"job {job.id} is {job.status}")
    earlier = [{"status": name, "at": at, "exe_num": exe_num} for name, at in phases]
    status = outcome.status
    error = outcome.error
    error_actions = ([Job.error.set(error), Job.error_id.set(error["id"]), Job.error_category.set(error["category"])]
                     if error else [Job.error.remove(), Job.error_id.remove(), Job.error_category.remove()])
    measures = [set_nullable(Job.exit_code, end.exit_code), set_nullable(Job.cpu_seconds, end.cpu_seconds),
                set_nullable(Job.wall_seconds, end.wall_seconds),
                set_nullable(Job.peak_memory_mib, end.peak_memory_mib)]
    if status == "QUEUED":
        retry_at = outcome.dispatch_after
        # The failed attempt ends (FINISHED in the history), then the retry starts again at QUEUED.
        entries = [("FAILED", exe_num), ("QUEUED", exe_num + 1)]
        actions = _touch(job.id, "QUEUED", job.job_type_id, now, entries, earlier) + error_actions + measures + [
            Job.num_exes.set(exe_num + 1), Job.queued.set(now), Job.started.remove(), Job.ended.remove(),
            Job.node_id.remove(), Job.node_hostname.remove(), set_nullable(Job.dispatch_after, retry_at),
            Job.queue_shard.set("queued"), Job.queue_key.set(queue_key(job.priority, now, job.id)),
        ]
    else:
        actions = _touch(job.id, status, job.job_type_id, now, [(status, exe_num)], earlier) + error_actions + [
            *measures, Job.ended.set(now), Job.queue_shard.remove(), Job.queue_key.remove()]
    recorded = {"status": end.status, "ended": end.ended, "last_modified": now, "error": end.error,
                "error_id": end.error["id"] if end.error else None,
                "error_category": end.error["category"] if end.error else None, "exit_code": end.exit_code,
                "task_results": end.task_results, "output": end.output, "cpu_seconds": end.cpu_seconds,
                "wall_seconds": end.wall_seconds, "peak_memory_mib": end.peak_memory_mib}
    execution_actions = [getattr(JobExecution, key).set(value) for key, value in recorded.items() if value is not None]

    def build(transaction: TransactWrite) -> None:
        transaction.update(Job(job.id), actions=actions,
                           condition=_current(job.id, exe_num, job.status) & _unmoved(job))
        transaction.update(JobExecution(job.id, exe_num), actions=execution_actions,
                           condition=JobExecution.status == "RUNNING")
        if output is not None:
            transaction.update(JobData(job.id), actions=[JobData.output.set(output)],
                               condition=JobData.job_id.exists())
        _count(transaction, job, status, now)

    try:
        commit(build, write_transaction)
    except TransactWriteError as error:
        _refused(error, f"job {job.id} exe {exe_num} already ended or moved on")


def end_canceled_execution(job_id: int, exe_num: int, task_results: dict[str, Any] | None, now: datetime) -> bool:
    """A canceled execution's own end report: its task results, while it is still RUNNING (a cancel
    usually ended it already: then nothing changes and the answer is False)."""
    try:
        update_item(JobExecution(job_id, exe_num), [
            JobExecution.status.set("CANCELED"), JobExecution.ended.set(now),
            JobExecution.task_results.set(task_results), JobExecution.last_modified.set(now),
        ], JobExecution.status == "RUNNING")
    except UpdateError as error:
        try:
            _refused(error, f"job {job_id} exe {exe_num} already ended")
        except StaleUpdate:
            return False
    return True


def set_unmet_resources(job_type_id: int, unmet: str | None) -> None:
    """Note on a job type which resources no node offers (None: all fit again), while the job type exists."""
    actions = [JobType.unmet_resources.set(unmet)] if unmet else [JobType.unmet_resources.remove()]
    try:
        update_item(JobType(job_type_id), actions, JobType.id.exists())
    except UpdateError as error:
        _refused(error, f"job type {job_type_id} no longer exists")


CANCELLABLE = ("PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED")
REQUEUEABLE = ("FAILED", "CANCELED")


def cancel(job: JobRecord, now: datetime, operation: dict[str, Any]) -> None:
    """Any status but COMPLETED/CANCELED -> CANCELED, while the job is still in the status and on the
    exe_num it was read with. A RUNNING job's execution ends CANCELED in the same transaction (its end
    report, arriving later, then finds nothing to change)."""
    if job.status not in CANCELLABLE:
        raise StaleUpdate(f"job {job.id} is {job.status}")
    actions = _touch(job.id, "CANCELED", job.job_type_id, now, [("CANCELED", job.num_exes)]) + _clear(
        job, Job.error, Job.error_id, Job.error_category, Job.node_id, Job.node_hostname, Job.queue_shard,
        Job.queue_key, Job.dispatch_after) + [Job.bulk_operation.set(operation)]
    condition = (Job.id == job.id) & (Job.num_exes == job.num_exes) & (Job.status == job.status) & _unmoved(job)

    def build(transaction: TransactWrite) -> None:
        if job.status != "RUNNING":
            transaction.update(Job(job.id), actions=actions, condition=condition)
        else:
            transaction.update(Job(job.id), actions=actions + [Job.ended.set(now)], condition=condition)
            transaction.update(JobExecution(job.id, job.num_exes), condition=JobExecution.status == "RUNNING",
                               actions=[JobExecution.status.set("CANCELED"), JobExecution.ended.set(now),
                                        JobExecution.last_modified.set(now)])
        _count(transaction, job, "CANCELED", now)

    try:
        commit(build, write_transaction)
    except TransactWriteError as error:
        _refused(error, f"job {job.id} exe {job.num_exes} changed before it could be canceled")


def requeue(job: JobRecord, job_type_max_tries: int, priority: int, now: datetime, operation: dict[str, Any]) -> None:
    """FAILED/CANCELED (not superseded) -> QUEUED as execution num_exes + 1, with
    max_tries = num_exes + the job type's max_tries, while the job is as it was read."""
    if job.status not in REQUEUEABLE or job.is_superseded:
        raise StaleUpdate(f"job {job.id} is {job.status}")
    exe_num = job.num_exes + 1
    actions = _touch(job.id, "QUEUED", job.job_type_id, now, [("QUEUED", exe_num)]) + [
        Job.num_exes.set(exe_num), Job.max_tries.set(job.num_exes + job_type_max_tries), Job.priority.set(priority),
        Job.queued.set(now), Job.queue_shard.set("queued"), Job.queue_key.set(queue_key(priority, now, job.id)),
        Job.bulk_operation.set(operation)] + _clear(job, Job.started, Job.ended, Job.node_id, Job.node_hostname,
                                                    Job.error, Job.error_id, Job.error_category, Job.dispatch_after)
    condition = ((Job.id == job.id) & (Job.num_exes == job.num_exes) & (Job.status == job.status) & _unmoved(job)
                 & (Job.is_superseded.does_not_exist() | (Job.is_superseded == False)))  # noqa: E712

    def build(transaction: TransactWrite) -> None:
        transaction.update(Job(job.id), actions=actions, condition=condition)
        _count(transaction, job, "QUEUED", now)

    try:
        commit(build, write_transaction)
    except TransactWriteError as error:
        _refused(error, f"job {job.id} exe {job.num_exes} changed before it could be requeued")
