"""Persistence of nodes: registration, heartbeats, going offline."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.domain import NodeRecord
from chalicelib.models.ids import next_id
from chalicelib.models.tables import Node, to_record, update_item


def register(hostname: str, resources: dict[str, Any], slots: int, now: datetime) -> NodeRecord:
    """The node with this hostname (created the first time), marked active with a fresh heartbeat."""
    for node in Node.by_hostname.query(hostname):
        node.update(actions=[Node.is_active.set(True), Node.resources.set(resources), Node.slots.set(slots),
                             Node.last_heartbeat.set(now), Node.last_modified.set(now)])
        return to_record(node, NodeRecord)
    node = Node(next_id("node"), hostname=hostname, resources=resources, slots=slots, is_active=True,
                last_heartbeat=now, created=now, last_modified=now)
    node.save()
    return to_record(node, NodeRecord)


def heartbeat(node_id: int, now: datetime) -> None:
    update_item(Node(node_id), [Node.last_heartbeat.set(now), Node.is_active.set(True)], Node.id.exists())


def all_nodes() -> list[NodeRecord]:
    return [to_record(node, NodeRecord) for node in Node.scan()]


def mark_stale_offline(stale_before: datetime, now: datetime) -> list[int]:
    """Active nodes whose last heartbeat is older than `stale_before` become inactive."""
    marked = []
    for node in all_nodes():
        if node.is_active and (node.last_heartbeat is None or node.last_heartbeat < stale_before):
            try:
                update_item(Node(node.id), [Node.is_active.set(False), Node.last_modified.set(now)],
                            (Node.last_heartbeat == node.last_heartbeat) & (Node.is_active == True))  # noqa: E712
                marked.append(node.id)
            except UpdateError:
                pass  # it heartbeated meanwhile, or another sweep got there first
    return marked
