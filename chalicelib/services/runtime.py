"""Where executions run: the runner this process dispatches to, and the node it runs on.

The embedded stack installs a local runner (worker slots on this machine) at start; a deployment
would install the ECS runner. With no runner installed (an API-only process), dispatch does nothing
and jobs wait QUEUED.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

_lock = threading.Lock()
_runtime: "Runtime | None" = None


@dataclass
class Runtime:
    runner: object            # chalicelib.runners.base.Runner
    node_id: int
    hostname: str
    resources: dict           # what the node offers: cpus, mem, disk, gpus


def install(runtime: "Runtime | None") -> None:
    global _runtime
    with _lock:
        _runtime = runtime


def current() -> "Runtime | None":
    return _runtime
