"""Query planning for the job history: which stored index can narrow a bound RSQL tree.

Only a top-level conjunct can narrow a search (under an OR every branch would need an index). Of the
top-level conjuncts, positive equalities / `=in=` on an indexed attribute name the partitions to read,
ranges on `lastModifiedTime` / `submissionTime` become key ranges. The plan is abstract: the
persistence layer maps it onto tables and indexes. Whatever the index reads is re-checked against the
whole tree, so a plan can only cost more or less, never change the answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.rsql.bind import BoundAnd, BoundNode, Predicate
from chalicelib.rsql.fields import FieldType, TextPattern

# History statuses -> the v6 statuses that can show them.
EXIT_STATUS_TO_V6 = {
    "SUCCESS": ("COMPLETED",), "KILLED": ("CANCELED",), "LOST": ("FAILED",), "EXECUTION_ERROR": ("FAILED",),
    "FAILED_SETUP_EXECUTION_ENVIRONMENT": ("FAILED",), "NO_MACHINE_AVAILABLE": ("FAILED",),
    "UNEXPECTED_MACHINE_ERROR": ("FAILED",), "UNKNOWN": ("PENDING", "BLOCKED", "QUEUED", "RUNNING"),
}
JOB_STATUS_TO_V6 = {
    "SCHEDULED": ("PENDING", "BLOCKED"), "QUEUED": ("QUEUED",), "INIT": ("RUNNING",), "UPLOADING": ("RUNNING",),
    "EXECUTING": ("RUNNING",), "DOWNLOADING": ("RUNNING",), "FINISHED": ("FAILED", "COMPLETED", "CANCELED"),
}
MAX_PARTITIONS = 8


@dataclass
class HistoryPlan:
    kind: str                                  # ids | algorithm | owner | project | status | created | modified | scan
    values: tuple[Any, ...] = ()               # job ids, owners, projects or v6 statuses
    statuses: tuple[str, ...] = ()             # with kind "algorithm": v6 statuses to pair with the job types
    algorithm: tuple[Predicate, ...] = ()      # with kind "algorithm": predicates on the job type
    modified: tuple[int | None, int | None] = (None, None)   # epoch ms bounds, inclusive
    created: tuple[int | None, int | None] = (None, None)
    used: list[str] = field(default_factory=list)             # selectors the index serves

    @property
    def indexed(self) -> bool:
        return self.kind != "scan"


def conjuncts(node: BoundNode | None) -> list[BoundNode]:
    if node is None:
        return []
    if isinstance(node, BoundAnd):
        return [leaf for child in node.children for leaf in conjuncts(child)]
    return [node]


def _exact_values(predicate: Predicate) -> tuple[Any, ...] | None:
    """The values of a positive equality without wildcards, else None."""
    if predicate.op not in ("==", "=in="):
        return None
    values = []
    for value in predicate.values:
        if isinstance(value, TextPattern):
            if value.kind != "exact":
                return None
            value = value.text
        values.append(value)
    return tuple(values)


def _range(predicates: list[Predicate], name: str) -> tuple[int | None, int | None]:
    low = high = None
    for p in predicates:
        if p.field.name != name or p.field.type is not FieldType.DATE:
            continue
        value = p.values[0]
        if p.op in ("=gt=", "=ge="):
            bound = value + 1 if p.op == "=gt=" else value
            low = bound if low is None else max(low, bound)
        elif p.op in ("=lt=", "=le="):
            bound = value - 1 if p.op == "=lt=" else value
            high = bound if high is None else min(high, bound)
        elif p.op == "==":
            low = value if low is None else max(low, value)
            high = value if high is None else min(high, value)
    return low, high


def plan(tree: BoundNode | None) -> HistoryPlan:
    predicates = [c for c in conjuncts(tree) if isinstance(c, Predicate)]
    by_name: dict[str, list[Predicate]] = {}
    for p in predicates:
        by_name.setdefault(p.field.name, []).append(p)

    def exact(name: str) -> tuple[Any, ...] | None:
        for p in by_name.get(name, []):
            values = _exact_values(p)
            if values is not None:
                return values
        return None

    statuses: set[str] | None = None
    used_status = []
    for name, mapping in (("exitStatus", EXIT_STATUS_TO_V6), ("jobStatus", JOB_STATUS_TO_V6)):
        values = exact(name)
        if values is not None:
            mapped = {v6 for value in values for v6 in mapping.get(value, ())}
            statuses = mapped if statuses is None else statuses & mapped
            used_status.append(name)
    modified = _range(predicates, "lastModifiedTime")
    created = _range(predicates, "submissionTime")

    ids = exact("jobId")
    if ids is not None:
        numbers = tuple(sorted({int(v) for v in ids if v.isdigit()}))
        return HistoryPlan("ids", numbers, used=["jobId"])
    algorithm = tuple(p for name in ("algorithmId", "algorithmVersion", "algorithmName")
                      for p in by_name.get(name, []) if _exact_values(p) is not None)
    if any(p.field.name in ("algorithmId", "algorithmName") for p in algorithm):
        pair = tuple(sorted(statuses)) if statuses is not None and len(statuses) <= 2 else ()
        return HistoryPlan("algorithm", statuses=pair, algorithm=algorithm, modified=modified,
                           used=sorted({p.field.name for p in algorithm}) + (used_status if pair else []))
    for name, kind in (("jobOwner", "owner"), ("projectId", "project")):
        values = exact(name)
        if values is not None and len(values) <= MAX_PARTITIONS:
            return HistoryPlan(kind, tuple(sorted(set(values))), modified=modified, used=[name])
    if statuses is not None:
        return HistoryPlan("status", tuple(sorted(statuses)), modified=modified, used=used_status)
    if created != (None, None):
        return HistoryPlan("created", created=created, used=["submissionTime"])
    if modified != (None, None):
        return HistoryPlan("modified", modified=modified, used=["lastModifiedTime"])
    return HistoryPlan("scan")
