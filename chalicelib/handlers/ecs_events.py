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

# Only RUNNING and STOPPED tasks' events: the others (PROVISIONING, PENDING, ACTIVATING, DEACTIVATING,
# STOPPING, DEPROVISIONING) change nothing here, and filtered out by the rule they cost no invocation.
EVENT_PATTERN: dict[str, Any] = {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                                 "detail": {"lastStatus": ["RUNNING", "STOPPED"]}}


def handle_task_state_change(event: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.services.ecs_events import on_task_state_change
    return {"changed": on_task_state_change(event)}


@blueprint.on_cw_event(EVENT_PATTERN)
def ecs_task_state_change(event: CloudWatchEvent) -> dict[str, Any]:
    return handle_task_state_change(event.to_dict())
