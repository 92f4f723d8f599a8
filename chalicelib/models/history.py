"""Reading candidates for a history search: a `HistoryPlan` mapped onto the jobs table's indexes.

Reads are counted (round trips and items, from each response's ScannedCount) so `explain=true` can
say what a search cost."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chalicelib.models.jobs import modified_key, type_status_key
from chalicelib.models.tables import Job, JobType, update_item
from chalicelib.rsql.fields import from_epoch_ms, stored_value
from chalicelib.rsql.plan import HistoryPlan

SCAN_SEGMENTS = 4


@dataclass
class CandidateRead:
    jobs: list = field(default_factory=list)
    index: str = ""
    partitions: list = field(default_factory=list)
    key_condition: str = ""
    round_trips: int = 0
    items_read: int = 0

    def take(self, result) -> None:
        """Drain a PynamoDB result page by page, counting what each page cost."""
        for page in result.page_iter:
            self.round_trips += 1
            self.items_read += page.get("ScannedCount", len(page.get("Items", [])))
            self.jobs.extend(Job.from_raw_data(item) for item in page.get("Items", []))


def _bounds(bounds: tuple[int | None, int | None]) -> tuple[str | None, str | None]:
    low, high = bounds
    low_key = modified_key(from_epoch_ms(low), 0) if low is not None else None
    high_key = modified_key(from_epoch_ms(high), 10 ** 12 - 1) if high is not None else None
    return low_key, high_key


def _condition(attribute, low: str | None, high: str | None):
    if low and high:
        return attribute.between(low, high)
    if low:
        return attribute >= low
    if high:
        return attribute <= high
    return None


def _describe(name: str, low: str | None, high: str | None) -> str:
    if low and high:
        return f"{name} BETWEEN {low} AND {high}"
    if low:
        return f"{name} >= {low}"
    if high:
        return f"{name} <= {high}"
    return ""


def read_candidates(plan: HistoryPlan) -> CandidateRead:
    read = CandidateRead()
    if plan.kind == "ids":
        read.index, read.partitions = "table (BatchGetItem)", list(plan.values)
        read.jobs = list(Job.batch_get(plan.values)) if plan.values else []
        read.round_trips = -(-len(plan.values) // 100)
        read.items_read = len(read.jobs)
        return read
    if plan.kind == "scan":
        return _parallel_scan(read)
    if plan.kind == "created":
        low, high = _bounds(plan.created)
        read.index, read.partitions = "by-created", ["jobs"]
        read.key_condition = _describe("created_key", low, high)
        read.take(Job.by_created.query("jobs", range_key_condition=_condition(Job.created_key, low, high)))
        return read
    index, partitions = _partitions(plan, read)
    low, high = _bounds(plan.modified)
    read.index, read.partitions = index.Meta.index_name, list(partitions)
    read.key_condition = _describe("modified_key", low, high)
    for partition in partitions:
        read.take(index.query(partition, range_key_condition=_condition(Job.modified_key, low, high)))
    return read


def _partitions(plan: HistoryPlan, read: CandidateRead):
    if plan.kind == "owner":
        return Job.by_owner, plan.values
    if plan.kind == "project":
        return Job.by_project, plan.values
    if plan.kind == "status":
        return Job.by_status, plan.values
    type_ids = _matching_job_types(plan, read)
    if plan.statuses:
        return Job.by_type_status, [type_status_key(t, s) for t in type_ids for s in plan.statuses]
    return Job.by_type, type_ids


def _matching_job_types(plan: HistoryPlan, read: CandidateRead) -> list[int]:
    """Job types are few: read them all (one round trip) and keep those the algorithm terms accept."""
    result = JobType.scan(attributes_to_get=["id", "name", "version", "title"])
    matching = []
    for page in result.page_iter:
        read.round_trips += 1
        read.items_read += page.get("ScannedCount", 0)
        for item in page.get("Items", []):
            job_type = JobType.from_raw_data(item)
            values = {"algorithmId": job_type.name, "algorithmVersion": job_type.version,
                      "algorithmName": job_type.title or job_type.name}
            if all(p.test(stored_value(p.field, values[p.field.name])) for p in plan.algorithm):
                matching.append(job_type.id)
    return sorted(matching)


def _parallel_scan(read: CandidateRead) -> CandidateRead:
    """No index applies: a parallel Scan (bounded by the table, never repeated per page)."""
    read.index, read.partitions = "table (parallel Scan)", list(range(SCAN_SEGMENTS))
    parts = [CandidateRead() for _ in range(SCAN_SEGMENTS)]
    with ThreadPoolExecutor(max_workers=SCAN_SEGMENTS) as pool:
        list(pool.map(lambda s: parts[s].take(Job.scan(segment=s, total_segments=SCAN_SEGMENTS)),
                      range(SCAN_SEGMENTS)))
    for part in parts:
        read.jobs.extend(part.jobs)
        read.round_trips += part.round_trips
        read.items_read += part.items_read
    return read


def mark_deleted(job_id: int) -> bool:
    """Hide a job from the history (the job itself stays); False when there is no such job."""
    from pynamodb.exceptions import UpdateError
    try:
        update_item(Job(job_id), [Job.history_deleted.set(True)], Job.id.exists())
    except UpdateError as error:
        if getattr(error, "cause_response_code", "") == "ConditionalCheckFailedException":
            return False
        raise
    return True

