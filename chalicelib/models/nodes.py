"""Persistence of nodes: registration, heartbeats, going offline."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.domain import NodeRecord
from chalicelib.models.ids import create_with_new_id
from chalicelib.models.tables import Node, to_record, update_item


def register(hostname: str, resources: dict[str, Any], slots: int, now: datetime) -> NodeRecord:
    """The node with this hostname (created the first time), marked active with a fresh heartbeat."""
    for node in Node.by_hostname.query(hostname):
        node.update(actions=[Node.is_active.set(True), Node.resources.set(resources), Node.slots.set(slots),
                             Node.last_heartbeat.set(now), Node.last_modified.set(now)])
        return to_record(node, NodeRecord)

    def save(node_id: int) -> Node:
        node = Node(node_id, hostname=hostname, resources=resources, slots=slots, is_active=True,
                    last_heartbeat=now, created=now, last_modified=now)
        node.save(condition=Node.id.does_not_exist())  # never over another node (a counter behind the table)
        return node
    return to_record(create_with_new_id("node", save, _highest_id), NodeRecord)


def _highest_id() -> int | None:
    """Nodes are few (one per worker host): a scan of their ids."""
    return max((int(node.id) for node in Node.scan(attributes_to_get=["id"])), default=None)


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
