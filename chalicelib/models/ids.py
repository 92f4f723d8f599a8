"""Integer ids from atomic counters: one UpdateItem ADD per allocation (or per block of ids)."""
from __future__ import annotations

from typing import Iterator

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
