"""SQS queues: the single definition of every queue (name, attributes, dead-letter redrive) and the
messages the service sends.

The deploy template (`deploy/schema.py`), the local stack and the test fixture (`local/emulated_aws.py`)
are all generated from `QUEUES`, as the tables are from the models, so they cannot drift. A queue is
named `<prefix><base name>`, with the table prefix (`${AWS::StackName}-` when deployed).

The queue is a signal, not the truth: a job is stored before its dispatch message is sent, and a
sweep re-sends for QUEUED jobs that were never dispatched. A failed send is therefore reported to the
caller (`QueueSendError`), which decides whether it matters.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from chalicelib.wiring import services

DISPATCH = "dispatch"
DISPATCH_DEAD_LETTER = "dispatch-dlq"
MAX_RECEIVES = 5  # deliveries of one message before SQS moves it to the dead-letter queue
JOBS_PER_MESSAGE = 100  # jobs named by one bulk dispatch message (~5 KB of the 256 KB SQS allows)


@dataclass(frozen=True)
class QueueDefinition:
    base_name: str
    logical_id: str                       # its resource name in the deploy template
    attributes: dict[str, str] = field(default_factory=dict)
    dead_letter: str | None = None        # base name of its dead-letter queue
    max_receives: int = MAX_RECEIVES


# Dead-letter queues first: a queue's redrive policy needs its dead-letter queue's ARN.
QUEUES: tuple[QueueDefinition, ...] = (
    QueueDefinition(DISPATCH_DEAD_LETTER, "DispatchDeadLetterQueue",
                    {"MessageRetentionPeriod": str(14 * 24 * 3600)}),
    # The visibility timeout outlasts a dispatch attempt (claim, create the execution, launch).
    QueueDefinition(DISPATCH, "DispatchQueue",
                    {"VisibilityTimeout": "120", "MessageRetentionPeriod": str(4 * 24 * 3600)},
                    dead_letter=DISPATCH_DEAD_LETTER),
)


def queue_name(base_name: str, prefix: str | None = None) -> str:
    return (services().settings.table_prefix if prefix is None else prefix) + base_name


# --- sending -----------------------------------------------------------------------------------------

class QueueSendError(Exception):
    """A message could not be sent; the AWS error is the cause."""


def queue_url(base_name: str) -> str:
    """The configured URL of the dispatch queue, else the URL looked up by name once per process."""
    current = services()
    configured = current.settings.dispatch_queue_url
    if base_name == DISPATCH and configured:
        return configured
    name = queue_name(base_name)
    urls = current.caches.queue_urls
    with current.caches.lock:
        if name not in urls:
            urls[name] = current.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return urls[name]


def send_dispatch(job_id: int, exe_num: int, priority: int, delay_seconds: int = 0) -> None:
    """Wake the dispatcher for execution `exe_num` of job `job_id` (not before `delay_seconds`, <= 900). The
    message names the job for whoever reads the queue; what runs is the queue index's choice."""
    body = _dispatch_body(job_id, exe_num, priority)
    try:
        services().client("sqs").send_message(QueueUrl=queue_url(DISPATCH), MessageBody=body,
                                       DelaySeconds=max(0, min(int(delay_seconds), 900)))
    except Exception as error:  # noqa: BLE001 - botocore raises many kinds; the caller decides
        raise QueueSendError(f"sending the dispatch message of job {job_id} failed: {error}") from error


def send_dispatch_batch(items: list[tuple[int, int, int]]) -> None:
    """Dispatch messages for many `(job_id, exe_num, priority)` (a bulk requeue's chunk, the redispatch
    sweep), each message naming up to JOBS_PER_MESSAGE jobs. A message only wakes the dispatcher, so one
    per hundred jobs does what one per job would at a hundredth of the SQS requests and wake-ups."""
    client, url = services().client("sqs"), queue_url(DISPATCH)
    for start in range(0, len(items), JOBS_PER_MESSAGE):
        jobs = [_dispatch_entry(*item) for item in items[start:start + JOBS_PER_MESSAGE]]
        body = jobs[0] if len(jobs) == 1 else {"jobs": jobs}  # a lone job keeps the one-job form
        try:
            client.send_message(QueueUrl=url, MessageBody=json.dumps(body, separators=(",", ":")))
        except Exception as error:  # noqa: BLE001
            raise QueueSendError(f"sending the dispatch message of {len(jobs)} jobs failed: {error}") from error


def _dispatch_entry(job_id: int, exe_num: int, priority: int) -> dict:
    return {"job_id": job_id, "exe_num": exe_num, "priority": priority}


def _dispatch_body(job_id: int, exe_num: int, priority: int) -> str:
    return json.dumps(_dispatch_entry(job_id, exe_num, priority), separators=(",", ":"))
