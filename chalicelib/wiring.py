"""The composition root: the one place that builds what the service runs on.

Every entry point - the API (app.py at import), the SQS dispatch handler, the schedule, the bulk chunk
task, the embedded stack's processes, the tests - reaches its settings, clock, AWS clients, store
configuration, caches and runner through `services()`. It is built once per process from the
environment (settings validated then: a bad setting refuses to start, it never falls back silently)
or installed explicitly (`install`: the local workers with their runner, tests with a clock). Nothing
else in `chalicelib` keeps module-level state: a new `install` starts a process afresh.
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.config import Settings, load_settings

if TYPE_CHECKING:
    from chalicelib.runners.base import Runner


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    """Where executions run: the runner this process dispatches to, and the node it stands for."""

    runner: "Runner"
    node_id: int
    hostname: str
    resources: dict[str, float]   # what the node offers: cpus, mem, disk, gpus


@dataclass
class Caches:
    """What a process remembers between requests. Each entry is safe to lose."""

    clients: dict[str, Any] = field(default_factory=dict)            # boto3 clients by service
    revisions: dict[tuple[str, int, int], Any] = field(default_factory=dict)   # immutable job type revisions
    workspaces: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)  # a few seconds each
    setting_values: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)
    id_blocks: dict[str, Any] = field(default_factory=dict)          # ids reserved in blocks (models.ids)
    queue_urls: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    idempotency_layers: dict[int, Any] = field(default_factory=dict)
    transaction_connection: Any = None
    tokens: Any = None                                               # the local tokens file, reloaded on change
    lock: threading.RLock = field(default_factory=threading.RLock)


@dataclass
class Services:
    settings: Settings
    clock: Callable[[], datetime] = system_clock
    runtime: Runtime | None = None
    caches: Caches = field(default_factory=Caches)
    # One dispatch fill at a time in a process: racing fills would only lose claims to each other.
    fill_lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str) -> Any:
        """A boto3 client, created on first use (each costs 30-60 ms: cold start matters)."""
        with self.caches.lock:
            if service not in self.caches.clients:
                import boto3
                self.caches.clients[service] = boto3.session.Session().client(service,
                                                                             region_name=self.settings.region)
            return self.caches.clients[service]


_current: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    """This process's services, built from the environment on first use."""
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            _current = _build(load_settings())
        return _current


def install(settings: Settings | None = None, clock: Callable[[], datetime] | None = None,
            runtime: Runtime | None = None) -> Services:
    """Start this process afresh: settings (default: from the environment), clock and runner; every cache
    is dropped. The local stack's processes and the tests call it; a Lambda builds its own on first use."""
    global _current
    with _lock:
        _current = _build(settings or load_settings(), clock, runtime)
        return _current


def set_runtime(runtime: Runtime | None) -> None:
    """Give this process a runner (the local workers, once their node is registered), keeping the rest."""
    services().runtime = runtime


def reset() -> None:
    """Forget everything built; the next use builds from the environment again."""
    global _current
    with _lock:
        _current = None


def _build(settings: Settings, clock: Callable[[], datetime] | None = None,
           runtime: Runtime | None = None) -> Services:
    # The tables are named from the settings; PynamoDB costs ~100 ms to import, so a function that never
    # touches the store (a cold start that only answers /docs) does not load it: the models configure
    # themselves from these services when first imported.
    tables = sys.modules.get("chalicelib.models.tables")
    if tables is not None:
        tables.configure_tables(settings.table_prefix, settings.region)
    built = Services(settings=settings, clock=clock or system_clock, runtime=runtime)
    if runtime is None and settings.runner == "ecs":
        # Every process of an ECS deployment can launch and stop tasks (dispatch, the sweep's timeouts, a
        # bulk cancel's StopTask); the executions run on the Fargate pseudo node, which no heartbeat sweeps.
        from chalicelib.runners.ecs import FARGATE_HOSTNAME, FARGATE_NODE_ID, FARGATE_RESOURCES, build_runner
        built.runtime = Runtime(build_runner(settings, built.client), FARGATE_NODE_ID, FARGATE_HOSTNAME,
                                dict(FARGATE_RESOURCES))
    return built


def caches() -> Caches:
    return services().caches


def client(service: str) -> Any:
    return services().client(service)
