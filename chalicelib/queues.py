"""SQS queues: the single definition of every queue (name, attributes, dead-letter redrive) and the
messages the service sends.

The deploy template (`cloudformation_queues`), the local stack and the test fixture (`create_queues`)
are all generated from `QUEUES`, as the tables are from the models, so they cannot drift. A queue is
named `<prefix><base name>`, with the table prefix (`${AWS::StackName}-` when deployed).

The queue is a signal, not the truth: a job is stored before its dispatch message is sent, and a
sweep re-sends for QUEUED jobs that were never dispatched. A failed send is therefore reported to the
caller (`QueueSendError`), which decides whether it matters.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings

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
    return (get_settings().table_prefix if prefix is None else prefix) + base_name


# --- creation: local stack, tests, deploy template ---------------------------------------------------

def create_queues(client, prefix: str) -> dict[str, str]:
    """Create every queue (idempotent: CreateQueue with the same attributes returns the existing one);
    returns base name -> queue URL."""
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for definition in QUEUES:
        attributes = dict(definition.attributes)
        if definition.dead_letter:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arns[definition.dead_letter],
                                                      "maxReceiveCount": str(definition.max_receives)})
        url = client.create_queue(QueueName=prefix + definition.base_name, Attributes=attributes)["QueueUrl"]
        urls[definition.base_name] = url
        arns[definition.base_name] = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return urls


def cloudformation_queues() -> dict[str, Any]:
    """`AWS::SQS::Queue` resources named `<stack name>-<base name>`."""
    logical_ids = {definition.base_name: definition.logical_id for definition in QUEUES}
    resources: dict[str, Any] = {}
    for definition in QUEUES:
        properties: dict[str, Any] = {"QueueName": {"Fn::Sub": "${AWS::StackName}-" + definition.base_name}}
        properties.update({name: int(value) for name, value in definition.attributes.items()})
        if definition.dead_letter:
            properties["RedrivePolicy"] = {
                "deadLetterTargetArn": {"Fn::GetAtt": [logical_ids[definition.dead_letter], "Arn"]},
                "maxReceiveCount": definition.max_receives}
        resources[definition.logical_id] = {"Type": "AWS::SQS::Queue", "Properties": properties}
    return resources


# --- sending -----------------------------------------------------------------------------------------

class QueueSendError(Exception):
    """A message could not be sent; the AWS error is the cause."""


_urls: dict[str, str] = {}
_urls_lock = threading.Lock()


def queue_url(base_name: str) -> str:
    """The configured URL of the dispatch queue, else the URL looked up by name once per process."""
    configured = get_settings().dispatch_queue_url
    if base_name == DISPATCH and configured:
        return configured
    name = queue_name(base_name)
    with _urls_lock:
        if name not in _urls:
            _urls[name] = aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return _urls[name]


def reset_queue_urls() -> None:
    """Forget looked-up URLs (tests and the local launcher start new emulated accounts)."""
    with _urls_lock:
        _urls.clear()


def send_dispatch(job_id: int, exe_num: int, priority: int, delay_seconds: int = 0) -> None:
    """Ask for execution `exe_num` of job `job_id` to be dispatched (not before `delay_seconds`, <= 900)."""
    body = _dispatch_body(job_id, exe_num, priority)
    try:
        aws.client("sqs").send_message(QueueUrl=queue_url(DISPATCH), MessageBody=body,
                                       DelaySeconds=max(0, min(int(delay_seconds), 900)))
    except Exception as error:  # noqa: BLE001 - botocore raises many kinds; the caller decides
        raise QueueSendError(f"sending the dispatch message of job {job_id} failed: {error}") from error


def send_dispatch_batch(items: list[tuple[int, int, int]]) -> None:
    """Dispatch messages for many `(job_id, exe_num, priority)` (a bulk requeue's chunk, the redispatch
    sweep), each message naming up to JOBS_PER_MESSAGE jobs. A message only wakes the dispatcher, so one
    per hundred jobs does what one per job would at a hundredth of the SQS requests and wake-ups."""
    client, url = aws.client("sqs"), queue_url(DISPATCH)
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
