"""Integer ids from atomic counters: one UpdateItem ADD per allocation (or per block of ids)."""
from __future__ import annotations

from typing import Callable, Iterator, TypeVar

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.models.tables import Counter
from chalicelib.wiring import caches


def next_ids(name: str, count: int = 1) -> range:
    """Reserve `count` consecutive ids for `name`; ids start at 1 and are never reused."""
    counter = Counter(name)
    attributes = counter.update(actions=[Counter.value.add(count)])
    last = int(attributes["value"]) if isinstance(attributes, dict) and "value" in attributes else int(counter.value)
    return range(last - count + 1, last + 1)


# Ids taken most often are reserved in blocks, one counter write per block per process: ids stay
# unique and increasing within a process, with gaps where a process stopped before using its block.
BLOCK_SIZE = {"job": 20, "event": 20, "job_exe": 20}


def next_id(name: str) -> int:
    size = BLOCK_SIZE.get(name, 1)
    if size == 1:
        return next_ids(name)[0]
    held = caches()
    with held.lock:
        block: Iterator[int] | None = held.id_blocks.get(name)
        value = next(block, None) if block is not None else None
        if value is None:
            block = iter(next_ids(name, size))
            held.id_blocks[name] = block
            value = next(block)
        return value


def reserve_ids(name: str, at_least: int) -> None:
    """Make sure the counter is past `at_least` (fixed-id catalogs, such as the built-in errors)."""
    try:
        Counter(name, value=at_least).save(condition=Counter.name.does_not_exist())
    except PutError:
        counter = Counter.get(name)
        if counter.value < at_least:
            try:
                counter.update(actions=[Counter.value.set(at_least)], condition=Counter.value < at_least)
            except UpdateError:
                pass  # someone else moved it past at_least meanwhile


T = TypeVar("T")
MAX_ID_COLLISIONS = 5


def create_with_new_id(name: str, save: Callable[[int], T], highest: Callable[[], int | None]) -> T:
    """`save(id)` with a new id from counter `name`, where `save` puts the item on condition that its id does
    not exist (raising `PutError`). A counter behind its table (a store restored from snapshots taken at
    different moments, a counter item lost) would hand out ids that exist: on a collision the counter is moved
    past the table's `highest()` id and a new one is taken. Normally one counter write and one put."""
    for _ in range(MAX_ID_COLLISIONS):
        new_id = next_id(name)
        try:
            return save(new_id)
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            reserve_ids(name, max(highest() or 0, new_id))
    raise RuntimeError(f"the {name} counter kept handing out ids that exist ({MAX_ID_COLLISIONS} tries)")
