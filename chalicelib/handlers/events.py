"""Event handlers: the SQS dispatch queue and the maintenance schedule. Thin: parse, call, report."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

blueprint = Blueprint(__name__)

# Chalice writes the event source's queue ARN into the package as a literal; the merge template
# (deploy/template.py) replaces it with `Fn::GetAtt DispatchQueue.Arn`, so the package names no stage.
# Only this placeholder must stay a plain string for that replacement to work.
DISPATCH_QUEUE_ARN_PLACEHOLDER = "arn:aws:sqs:us-east-1:000000000000:replaced-by-the-merge-template"


def _is_dispatch_entry(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("job_id"), int) and isinstance(value.get("exe_num"), int)


def _dispatch_record(record: SQSRecord) -> None:
    """A dispatch message names one job (`{"job_id", "exe_num", "priority"}`) or, from a bulk requeue,
    several (`{"jobs": [...]}`); anything else is a poison message."""
    body = json.loads(record.body)
    entries = body.get("jobs") if isinstance(body, dict) and "jobs" in body else [body]
    if not isinstance(entries, list) or not entries or not all(_is_dispatch_entry(entry) for entry in entries):
        raise ValueError(f"not a dispatch message: {record.body[:200]!r}")


def handle_dispatch_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Powertools batch processing: a record that raises is reported as a batch item failure, the
    others are deleted; after MAX_RECEIVES failures SQS moves a poison message to the dead-letter queue.
    A message only wakes the dispatcher (the queue index decides what runs), so one fill serves the
    whole batch; if it fails, every record is retried."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.services.dispatch import fill_slots
    processor = BatchProcessor(event_type=EventType.SQS)
    result = process_partial_response(event=event, record_handler=_dispatch_record, processor=processor,
                                      context=context)
    fill_slots()
    return dict(result)


@blueprint.on_sqs_message(queue_arn=DISPATCH_QUEUE_ARN_PLACEHOLDER, batch_size=10)
def dispatch(event: SQSEvent) -> dict[str, Any]:
    return handle_dispatch_batch(event.to_dict(), event.context)


@blueprint.schedule(Rate(1, unit=Rate.MINUTES))
def maintenance(event: CloudWatchEvent) -> dict[str, int]:
    from chalicelib.services.sweeps import sweep
    return sweep()
