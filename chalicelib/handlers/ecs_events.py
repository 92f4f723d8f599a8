"""The ECS task state-change handler: EventBridge's "ECS Task State Change" events of the jobs cluster.
Thin: the service (`chalicelib.services.ecs_events`) turns an event into the execution's phase or end.

The rule's pattern here names no cluster (Chalice writes it as a literal); the merge template
(deploy/template.py) adds `detail.clusterArn` = the stack's cluster, and the service ignores tasks not
started by this service (`startedBy` is not an execution's cluster id) or in another cluster."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint
from chalice.app import CloudWatchEvent

blueprint = Blueprint(__name__)

# ECS sends an event each time the task's or one of its containers' status changes: with `pre`, `main` and
# `post` about six while the task is RUNNING or STOPPED, more before and after. Only two change anything here:
# the STOPPED task (its end) and the RUNNING one showing `main` running (EXECUTING); filtered out by the rule,
# the others cost no invocation. EventBridge matches a field inside an array of objects (`containers`) against
# the values of every element: if its matching keeps `name` and `lastStatus` to the same element, only the
# event showing `main` running passes; if not, every RUNNING event with some container running does (`pre`,
# `main` or `post`), and the service ignores those without a read. The RUNNING events of a container that
# stopped while the next has not started (no container running) never pass.
EVENT_PATTERN: dict[str, Any] = {
    "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
    "detail": {"$or": [
        {"lastStatus": ["STOPPED"]},
        {"lastStatus": ["RUNNING"], "containers": {"name": ["main"], "lastStatus": ["RUNNING"]}},
    ]}}


def handle_task_state_change(event: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.services.ecs_events import on_task_state_change
    return {"changed": on_task_state_change(event)}


@blueprint.on_cw_event(EVENT_PATTERN)
def ecs_task_state_change(event: CloudWatchEvent) -> dict[str, Any]:
    return handle_task_state_change(event.to_dict())
