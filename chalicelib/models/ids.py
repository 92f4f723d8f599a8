"""Integer ids from atomic counters: one UpdateItem ADD per allocation (or per block of ids)."""
from __future__ import annotations

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.models.tables import Counter


def next_ids(name: str, count: int = 1) -> range:
    """Reserve `count` consecutive ids for `name`; ids start at 1 and are never reused."""
    counter = Counter(name)
    attributes = counter.update(actions=[Counter.value.add(count)])
    last = int(attributes["value"]) if isinstance(attributes, dict) and "value" in attributes else int(counter.value)
    return range(last - count + 1, last + 1)


def next_id(name: str) -> int:
    return next_ids(name)[0]


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
