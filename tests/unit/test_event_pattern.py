"""The local stack's EventBridge matching (`local.event_pattern`) with the state-change rule's pattern: which of
a task's "ECS Task State Change" events reach the handler (and cost an invocation)."""
from __future__ import annotations

import pytest

from chalicelib.handlers.ecs_events import EVENT_PATTERN
from local.event_pattern import matches


def event(task: str, **containers: tuple[str, int | None]) -> dict:
    """A task state change: the task's lastStatus, each container as (lastStatus, exitCode)."""
    listed = []
    for name in ("pre", "main", "post"):
        status, code = containers.get(name, ("PENDING", None))
        listed.append({"name": name, "lastStatus": status, **({} if code is None else {"exitCode": code})})
    return {"source": "aws.ecs", "detail-type": "ECS Task State Change",
            "detail": {"lastStatus": task, "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/jobs",
                       "containers": listed}}


# One successful task's events as ECS sends them, in order.
LIFE = [
    ("provisioning", event("PROVISIONING"), False),
    ("pre running", event("RUNNING", pre=("RUNNING", None)), True),  # passes if EventBridge crushes arrays
    ("pre stopped", event("RUNNING", pre=("STOPPED", 0)), False),
    ("main running", event("RUNNING", pre=("STOPPED", 0), main=("RUNNING", None)), True),
    ("main stopped", event("RUNNING", pre=("STOPPED", 0), main=("STOPPED", 0)), False),
    ("post running", event("RUNNING", pre=("STOPPED", 0), main=("STOPPED", 0), post=("RUNNING", None)), True),
    ("stopping", event("STOPPING", pre=("STOPPED", 0), main=("STOPPED", 0), post=("STOPPED", 0)), False),
    ("stopped", event("STOPPED", pre=("STOPPED", 0), main=("STOPPED", 0), post=("STOPPED", 0)), True),
]


@pytest.mark.parametrize(("name", "sent", "delivered"), LIFE, ids=[name for name, _, _ in LIFE])
def test_the_rule_passes_the_stopped_task_and_running_events_with_a_container_running(name, sent, delivered):
    assert matches(EVENT_PATTERN, sent) is delivered


def test_a_task_that_never_started_is_delivered_stopped():
    assert matches(EVENT_PATTERN, event("STOPPED"))
    assert not matches(EVENT_PATTERN, event("PENDING"))


def test_another_detail_type_or_cluster_is_not_delivered():
    assert not matches(EVENT_PATTERN, dict(event("STOPPED"), **{"detail-type": "ECS Container Instance State Change"}))
    in_cluster = {**EVENT_PATTERN, "detail": {**EVENT_PATTERN["detail"],
                                              "clusterArn": ["arn:aws:ecs:us-east-1:1:cluster/jobs"]}}
    assert matches(in_cluster, event("STOPPED"))
    other = event("STOPPED")
    other["detail"]["clusterArn"] = "arn:aws:ecs:us-east-1:1:cluster/other"
    assert not matches(in_cluster, other)


def test_operators():
    sent = {"detail": {"code": 0, "name": "scale_job_1", "tags": ["a", "b"], "flag": True}}
    assert matches({"detail": {"code": [0]}}, sent) and not matches({"detail": {"code": [1]}}, sent)
    assert matches({"detail": {"name": [{"prefix": "scale_"}]}}, sent)
    assert matches({"detail": {"tags": ["b"]}}, sent) and not matches({"detail": {"tags": ["c"]}}, sent)
    assert matches({"detail": {"missing": [{"exists": False}], "code": [{"exists": True}]}}, sent)
    assert matches({"detail": {"name": [{"anything-but": ["x", "y"]}]}}, sent)
    assert not matches({"detail": {"code": [{"anything-but": 0}]}}, sent)
    assert matches({"detail": {"flag": [True]}}, sent) and not matches({"detail": {"flag": [1]}}, sent)
    assert matches({"$or": [{"detail": {"code": [1]}}, {"detail": {"tags": ["a"]}}]}, sent)
    with pytest.raises(ValueError, match="numeric"):
        matches({"detail": {"code": [{"numeric": [">", 0]}]}}, sent)
