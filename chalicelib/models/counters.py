"""Job counts kept beside the jobs, so a list's `count` reads a few counters instead of every match.

What is counted. Every job adds one to:

- the slot of its status in the scope counters `c#all`, `c#type:<id>`, `c#batch:<id>` and `c#recipe:<id>`
  (when the job has a batch, a recipe): one item per scope holds every status, so a status change is one
  item per scope (-1 in one slot, +1 in another), and a filter on status, job type (its versions are
  ids), batch or recipe, or none, is a sum of slots of a few items;
- one slot in each of six time containers, by its `last_modified` (the v6 `started`/`ended` window): the
  second within its minute (`t#s#<minute>`), the minute within its hour (`t#m#<hour>`), the hour within
  its day, the day within its month, the month within its year and the year within its century. A
  window is then whole seconds, minutes, hours... read as slot ranges of at most two containers per level
  (one BatchGetItem), plus an exact read of the by-modified index for the two partial seconds at its
  edges (milliseconds of one second each, so a handful of entries at most).

How it stays exact. A state change moves a job from one (status, last_modified) to another; the
difference of what the two add is a set of ADDs, sent in the SAME TransactWriteItems as the change
(which states its precondition: the status and last_modified it read). So a change and its counts
apply together or not at all: a stale, repeated or conflicting change changes no count either.

Hot counters. Every change of a job in a status touches that status's counters, and transactions
touching one item at once conflict, so each counter is `SHARDS` items (`<name>#<n>`), a change picks
one at random, and a read sums them all. The repair pass (`repair`) recomputes every counter from the
jobs and reports the drift it fixed (a metric), should anything ever write a job outside these paths.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Mapping

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.domain import JOB_STATUSES, JobFilter, JobRecord
from chalicelib.models.fast_reads import batch_get_raw, number_value
from chalicelib.models.tables import COUNT_SLOTS, Job, JobCount, count_slot, to_record, update_item

SHARDS = 4
STATUS_SLOT = {status: number for number, status in enumerate(JOB_STATUSES)}
BATCH_GET_LIMIT = 100
# Per level, finest first: (container prefix, the container's start, slot of an instant, last slot).
_LEVELS = ("s", "m", "h", "d", "M", "y")
_LAST_SLOT = (59, 59, 23, 31, 12, 99)
# Windows open on one side are closed here: no job is modified before 1970 or after 2099.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
# Most counter items one job's insert adds to (4 scopes + 6 time containers): the room a new job's
# transaction keeps for them (DynamoDB's limit is 100 items a transaction).
MAX_ITEMS_PER_INSERT = 4 + len(_LEVELS)

Key = tuple[str, int | None]  # (counter name without shard, time slot or None for a plain counter)


# --- what a job adds ---------------------------------------------------------------------------------

def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _trunc(level: int, t: datetime) -> datetime:
    """The start of the level's unit holding `t` (level 0: second, ... 5: year)."""
    t = t.replace(microsecond=0)
    if level >= 1:
        t = t.replace(second=0)
    if level >= 2:
        t = t.replace(minute=0)
    if level >= 3:
        t = t.replace(hour=0)
    if level >= 4:
        t = t.replace(day=1)
    if level >= 5:
        t = t.replace(month=1)
    return t


def _next(level: int, t: datetime) -> datetime:
    """The start of the following unit (t is aligned to the level)."""
    if level <= 3:
        return t + (timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1))[level]
    if level == 4:
        return t.replace(year=t.year + 1, month=1) if t.month == 12 else t.replace(month=t.month + 1)
    return t.replace(year=t.year + 1)


def _slot(level: int, t: datetime) -> int:
    return (t.second, t.minute, t.hour, t.day, t.month, t.year % 100)[level]


def _container(level: int, t: datetime) -> str:
    """The name of the item holding level-`level` slot of `t` (the unit one level up)."""
    formats = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d", "%Y-%m", "%Y")
    stamp = f"{t.year // 100}" if level == 5 else t.strftime(formats[level])
    return f"t#{_LEVELS[level]}#{stamp}"


def scope_name(scope: str) -> str:
    return f"c#{scope}"


def _scopes(job: JobRecord) -> list[str]:
    scopes = ["all", f"type:{job.job_type_id}"]
    if job.batch_id is not None:
        scopes.append(f"batch:{job.batch_id}")
    if job.recipe_id is not None:
        scopes.append(f"recipe:{job.recipe_id}")
    return scopes


def contributions(job: JobRecord) -> list[Key]:
    """Every counter (and time slot) one job adds one to."""
    keys: list[Key] = [(scope_name(scope), STATUS_SLOT[job.status]) for scope in _scopes(job)]
    modified = _utc(job.last_modified)
    keys += [(_container(level, modified), _slot(level, modified)) for level in range(len(_LEVELS))]
    return keys


def deltas(before: JobRecord | None, after: JobRecord | None) -> dict[Key, int]:
    """What the counters must change by when a job goes from `before` to `after` (None: absent)."""
    changes: dict[Key, int] = defaultdict(int)
    for key in contributions(before) if before is not None else ():
        changes[key] -= 1
    for key in contributions(after) if after is not None else ():
        changes[key] += 1
    return {key: change for key, change in changes.items() if change}


def _actions(changes: Mapping[Key, int]) -> dict[str, list[Action]]:
    """The ADDs of `changes`, grouped by counter item (one per counter name: a transaction may hold an
    item once)."""
    grouped: dict[str, list[Action]] = defaultdict(list)
    for (name, slot), change in sorted(changes.items(), key=lambda pair: (pair[0][0], pair[0][1] or 0)):
        attribute = JobCount.value if slot is None else count_slot(slot)
        grouped[name].append(attribute.add(change))
    return grouped


def add_to_transaction(transaction: TransactWrite, before: JobRecord | None, after: JobRecord | None) -> int:
    """Put the counter ADDs of a job's change into the change's transaction, each counter on a shard
    picked at random; returns how many items that adds to the transaction."""
    grouped = _actions(deltas(before, after))
    for name, actions in grouped.items():
        transaction.update(JobCount(f"{name}#{random.randrange(SHARDS)}"), actions=actions)
    return len(grouped)


def add_seeded(jobs: Iterable[JobRecord]) -> None:
    """Count new jobs written outside a transaction (batched seeding): one ADD per counter item, after the
    jobs are written."""
    changes: dict[Key, int] = defaultdict(int)
    for job in jobs:
        for key in contributions(job):
            changes[key] += 1
    for name, actions in _actions(changes).items():
        update_item(JobCount(f"{name}#0"), actions)


# --- reading counts ----------------------------------------------------------------------------------

@dataclass
class CountPlan:
    """How a count is answered from counters: slot ranges of counter items, and exact index reads of the
    window's partial seconds (`edges`: inclusive (low, high) last_modified ranges)."""

    ranges: list[tuple[str, int | None, int | None]]   # (counter name, first slot, last slot); None: value
    edges: list[tuple[datetime, datetime]]

    @property
    def items(self) -> int:
        return len({name for name, _, _ in self.ranges}) * SHARDS


def plan_count(f: JobFilter) -> CountPlan | None:
    """The counters that answer `f`'s count exactly, or None when they cannot (the caller then counts the
    index entries of the matches): a project scope, filters on errors, source fields, superseded or job
    ids, two of job type/batch/recipe at once, or a time window combined with any other filter."""
    if (f.job_ids or f.projects is not None or f.error_ids or f.error_categories or f.source_sensor_classes
            or f.source_sensors or f.source_collections or f.source_tasks or f.is_superseded is not None
            or f.source_started is not None or f.source_ended is not None or f.matches_nothing):
        return None
    scoped = [(kind, values) for kind, values in (("type", f.job_type_ids), ("batch", f.batch_ids),
                                                  ("recipe", f.recipe_ids)) if values]
    if len(scoped) > 1:
        return None
    if f.modified_after is not None or f.modified_before is not None:
        if scoped or f.statuses:
            return None
        return window_plan(f.modified_after, f.modified_before)
    scopes = [f"{kind}:{value}" for kind, values in scoped for value in sorted(set(values))] or ["all"]
    slots = sorted({STATUS_SLOT[status] for status in f.statuses}) if f.statuses else list(STATUS_SLOT.values())
    plan = CountPlan([(scope_name(scope), slot, slot) for scope in scopes for slot in slots], [])
    return plan if plan.items <= BATCH_GET_LIMIT else None


def _ceil_ms(value: datetime) -> datetime:
    truncated = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return truncated if truncated == value else truncated + timedelta(milliseconds=1)


def _floor_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def window_plan(after: datetime | None, before: datetime | None) -> CountPlan:
    """Jobs last modified in [after, before] (millisecond precision, as the index keys): whole seconds
    from the time containers, the partial seconds at both ends read exactly."""
    low = _ceil_ms(_utc(after)) if after is not None else EARLIEST
    high = _floor_ms(_utc(before)) if before is not None else None
    first_whole = _trunc(0, low) if _trunc(0, low) == low else _trunc(0, low) + timedelta(seconds=1)
    end = _trunc(0, high) if high is not None else LATEST   # whole seconds are [first_whole, end)
    if high is not None and first_whole > end:
        return CountPlan([], [(low, high)] if low <= high else [])
    edges = []
    if low < first_whole:
        edges.append((low, first_whole - timedelta(milliseconds=1)))
    if high is not None:
        edges.append((end, high))
    return CountPlan(list(_spans(first_whole, end)), edges)


def _spans(start: datetime, end: datetime) -> Iterator[tuple[str, int | None, int | None]]:
    """Slot ranges covering [start, end) (both whole seconds): up the levels from `start` while a whole
    unit fits, then whole years, then down the levels to `end`."""
    pos = start
    ascending = True
    for level in range(len(_LEVELS) - 1):
        up = _trunc(level + 1, pos)
        if up == pos:
            continue
        following = _next(level + 1, up)
        if following > end:
            ascending = False
            break
        yield _container(level, pos), _slot(level, pos), _LAST_SLOT[level]
        pos = following
    if ascending:
        last_year = _trunc(5, end)
        while pos < last_year:
            century_end = datetime(pos.year // 100 * 100 + 100, 1, 1, tzinfo=timezone.utc)
            stop = min(last_year, century_end)
            yield _container(5, pos), _slot(5, pos), (stop.year - 1) % 100
            pos = stop
    for level in range(len(_LEVELS) - 2, -1, -1):
        target = _trunc(level, end)
        if target > pos:
            yield _container(level, pos), _slot(level, pos), _slot(level, target) - 1
            pos = target


def read_plan(plan: CountPlan) -> int:
    """The counters' part of a count: one BatchGetItem of every shard of every counter the plan names."""
    names = sorted({name for name, _, _ in plan.ranges})
    if not names:
        return 0
    # Raw items: a JobCount model is 101 attributes to build per item, to read a few slots of it.
    stored = {raw["name"]["S"]: raw for raw in batch_get_raw(JobCount, [f"{name}#{shard}" for name in names
                                                                       for shard in range(SHARDS)])}
    total = 0
    for name, first, last in plan.ranges:
        for shard in range(SHARDS):
            item = stored.get(f"{name}#{shard}")
            if item is None:
                continue
            total += _sum_range(item, first, last)
    return total


def _sum_range(raw: dict[str, Any], first: int | None, last: int | None) -> int:
    """The counter's `value`, or the sum of its slots `first`..`last`, from a raw JobCount item (what the
    model's NumberAttributes would read: absent or NULL is 0)."""
    if first is None or last is None:
        return _stored_number(raw, "value")
    return sum(_stored_number(raw, f"s{slot:02d}") for slot in range(first, last + 1))


def _stored_number(raw: dict[str, Any], name: str) -> int:
    value = raw.get(name)
    if not value or "NULL" in value:
        return 0
    return int(number_value(value["N"]) or 0)


# --- repair ------------------------------------------------------------------------------------------

def expected(jobs: Iterable[JobRecord]) -> dict[Key, int]:
    """Every counter's value recomputed from the jobs."""
    totals: dict[Key, int] = defaultdict(int)
    for job in jobs:
        for key in contributions(job):
            totals[key] += 1
    return totals


def stored_counts() -> dict[Key, int]:
    """Every counter's value as stored (its shards summed), by a Scan of the counters table."""
    totals: dict[Key, int] = defaultdict(int)
    for item in JobCount.scan(consistent_read=True):
        if not item.name.startswith(("c#", "t#")):
            continue
        name = item.name.rsplit("#", 1)[0]
        if item.value is not None:
            totals[(name, None)] += int(item.value)
        for slot in range(COUNT_SLOTS):
            value = getattr(item, f"s{slot:02d}")
            if value is not None:
                totals[(name, slot)] += int(value)
    return totals


def all_jobs() -> Iterator[JobRecord]:
    """Every job, by a strongly consistent Scan (the repair compares them with the counters)."""
    for item in Job.scan(consistent_read=True):
        yield to_record(item, JobRecord)


def drift(jobs: Iterable[JobRecord] | None = None) -> dict[Key, int]:
    """What each counter must change by to agree with the jobs (counters that agree are left out)."""
    wanted = expected(all_jobs() if jobs is None else jobs)
    stored = stored_counts()
    return {key: wanted.get(key, 0) - stored.get(key, 0) for key in set(wanted) | set(stored)
            if wanted.get(key, 0) != stored.get(key, 0)}


def apply(changes: Mapping[Key, int]) -> None:
    """Add `changes` to the counters (shard 0), one update per counter item."""
    for name, actions in _actions(changes).items():
        update_item(JobCount(f"{name}#0"), actions)


REPAIR_MARK = "repair#last"


def claim_repair(now: datetime, interval_seconds: float) -> bool:
    """True for the one caller that may repair now: the last repair started `interval_seconds` ago or more
    (a conditional write, so two sweeps at once never both repair)."""
    stamp = int(now.timestamp())
    try:
        update_item(JobCount(REPAIR_MARK), [JobCount.value.set(stamp)],
                    JobCount.value.does_not_exist() | (JobCount.value <= stamp - int(interval_seconds)))
    except UpdateError as error:
        if getattr(error, "cause_response_code", "") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def repair() -> dict[Key, int]:
    """Recompute every counter from the jobs and fix the ones that drifted; returns what it fixed.

    A change committed between the scan of the jobs and the scan of the counters looks like drift for a
    moment, so the comparison runs twice and only a drift both passes agree on is fixed."""
    first = drift()
    if not first:
        return {}
    second = drift()
    fixes = {key: change for key, change in second.items() if first.get(key) == change}
    apply(fixes)
    return fixes


def describe(changes: Mapping[Key, Any]) -> list[str]:
    return [f"{name}{'' if slot is None else f'[{slot}]'}{change:+d}" for (name, slot), change in
            sorted(changes.items(), key=lambda pair: (pair[0][0], pair[0][1] or 0))]
