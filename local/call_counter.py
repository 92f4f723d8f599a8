"""Count the AWS calls a process makes (botocore, every client), by `service:Operation`: how the
benchmarks price work done in the stack's other processes (the workers, the moto process's chunk task)."""
from __future__ import annotations

import json
import os
from pathlib import Path

VARIABLE = "JOBS_COUNT_CALLS_FILE"
# A client carrying this attribute is not counted: the local task agent's, which plays ECS itself (its calls
# stand for nothing the service pays for in AWS).
UNCOUNTED = "_jobs_uncounted"


def uncounted(client):
    setattr(client, UNCOUNTED, True)
    return client


def count_aws_calls() -> dict[str, int]:
    """Start counting; the returned dict fills as calls are made."""
    import threading

    import botocore.client
    counts: dict[str, int] = {}
    lock = threading.Lock()  # calls come from many threads (bulk writers, request handlers)
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if getattr(self, UNCOUNTED, False):
            return original(self, operation_name, api_params)
        key = f"{self.meta.service_model.service_name}:{operation_name}"
        with lock:
            counts[key] = counts.get(key, 0) + 1
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting
    return counts


def counting_requested() -> bool:
    return bool(os.environ.get(VARIABLE))


def write_counts(counts: dict[str, int]) -> None:
    path = Path(os.environ[VARIABLE])
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(dict(counts)))
    temporary.replace(path)
