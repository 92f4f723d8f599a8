"""Counts DynamoDB round trips and items read, by wrapping PynamoDB's single call path."""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field

from pynamodb.connection.base import Connection


@dataclass
class Meter:
    calls: Counter = field(default_factory=Counter)
    count_round_trips: int = 0
    count_items_read: int = 0       # counter items, and index entries read by Select=COUNT queries
    page_round_trips: int = 0
    page_items_read: int = 0        # rows read from the table or an index to build the page
    related_items_read: int = 0     # job types and other related objects

    def record(self, operation: str, kwargs: dict, response: dict) -> None:
        self.calls[operation] += 1
        if operation in ("Query", "Scan"):
            scanned = int(response.get("ScannedCount", 0))
            if kwargs.get("Select") == "COUNT":
                self.count_round_trips += 1
                self.count_items_read += scanned
            else:
                self.page_round_trips += 1
                self.page_items_read += scanned
        elif operation == "BatchGetItem" and all(table.endswith("-job-counts") for table in kwargs["RequestItems"]):
            self.count_round_trips += 1  # the job counters a count reads (chalicelib.models.counters)
            # every key asked for (a shard not written yet is billed as a read all the same)
            self.count_items_read += sum(len(request["Keys"]) for request in kwargs["RequestItems"].values())
        elif operation == "BatchGetItem":
            self.page_round_trips += 1
            for table, items in response.get("Responses", {}).items():
                if table.endswith("-jobs"):
                    self.page_items_read += len(items)
                else:
                    self.related_items_read += len(items)
        elif operation == "GetItem":
            self.page_round_trips += 1
            self.related_items_read += 1 if response.get("Item") else 0


@contextlib.contextmanager
def metered():
    meter = Meter()
    original = Connection._make_api_call

    def wrapped(self, operation_name, operation_kwargs):
        response = original(self, operation_name, operation_kwargs)
        meter.record(operation_name, operation_kwargs, response)
        return response

    Connection._make_api_call = wrapped
    try:
        yield meter
    finally:
        Connection._make_api_call = original
