"""Query and Scan pages without botocore's per-value parse.

botocore turns a DynamoDB answer into Python by walking every attribute value through the service model
(a structure per value, a map per item): for a page of jobs that is most of the time the read takes on the
client (about 0.3 ms an item, ~0.4 s for 1,200 history candidates), and what it hands back is what the
JSON already said. DynamoDB's attribute values are JSON strings, numbers written as strings, booleans,
null markers, lists and maps: only binary values (base64 text the parse decodes to bytes) differ. So a
page with no binary value keeps its `Items` as `json.loads` made them, and botocore parses the rest of
the answer (keys, counts, capacity) as usual. A page that may hold a binary value, or an error answer,
takes botocore's way.
"""
from __future__ import annotations

import json
import re
from typing import Any

from pynamodb.models import Model

OPERATIONS = ("Query", "Scan")
# A binary value's type key ("B" or "BS") followed by its colon; a false positive (a map key named "B")
# only costs the ordinary parse.
_BINARY = re.compile(rb'"BS?"\s*:')
_HANDLER_ID = "jobs-items-as-sent"


def _items_as_sent(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                   **_: Any) -> None:
    body = response_dict.get("body")
    if response_dict.get("status_code", 500) >= 300 or not body or _BINARY.search(body):
        return
    answer = json.loads(body)
    items = answer.pop("Items", None)
    if not isinstance(items, list):
        return
    customized_response_dict["Items"] = items
    response_dict["body"] = json.dumps(answer).encode()


def use_fast_reads(model: type[Model]) -> None:
    """Register the shortcut on the client `model` reads with (idempotent; a client PynamoDB re-creates gets
    it at the next read)."""
    register(model._get_connection().connection.client)  # noqa: SLF001 - PynamoDB keeps its client there


def register(client: Any) -> None:
    """The shortcut on one botocore DynamoDB client."""
    events = client.meta.events
    for operation in OPERATIONS:
        events.register(f"before-parse.dynamodb.{operation}", _items_as_sent,
                        unique_id=f"{_HANDLER_ID}-{operation}")
