"""One typed settings object, read from the environment once per process."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    table_prefix: str
    region: str
    # "local": bearer tokens from a local file; "gateway": the principal API Gateway's authorizer put
    # in the request context (the deployed mode).
    auth_mode: str
    tokens_file: str | None
    public_url: str | None
    # The dispatch queue's URL when the deployment gives it (the template does); otherwise the queue is
    # found by name, `<table prefix>dispatch`, once per process (local stack, tests).
    dispatch_queue_url: str | None = None
    # How long an `Idempotency-Key` is remembered (POST /v6/jobs/).
    idempotency_seconds: int = 24 * 60 * 60
    # Automatic retries wait base * 2**(attempt-1) seconds (capped, with full jitter).
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 900.0
    # A node whose heartbeat is older than this is offline and its executions are lost.
    node_lost_seconds: float = 90.0
    # A QUEUED job not dispatched for this long gets its dispatch message again.
    redispatch_seconds: float = 60.0
    # Origins allowed to call from a browser: ("*",) for any (the default: no credentials travel by
    # cookie), or a list (JOBS_CORS_ORIGINS="https://a.example,https://b.example").
    cors_origins: tuple[str, ...] = ("*",)
    # Let requests without credentials read (GET) as an anonymous viewer (the original's public reads).
    anonymous_reads: bool = False
    default_page_size: int = 100
    max_page_size: int = 1000
    # The CloudWatch Logs group of execution logs; by default `<table prefix>job-executions`
    # (chalicelib.execution_logs).
    log_group: str | None = None
    # The bulk cancel/requeue state machine's ARN when the deployment gives it (the template does);
    # otherwise found by name, `<table prefix>bulk-jobs` (local stack, tests).
    bulk_state_machine_arn: str | None = None
    # Conditional updates a bulk chunk runs at once: one after another, a chunk of 100 spends ~0.5-0.8 s
    # waiting on DynamoDB; the local stack sets 1 (its emulator serves one request at a time anyway).
    bulk_writers: int = 8
    # The maintenance sweep recomputes the job counters from the jobs (and fixes any drift, reported as
    # the metric JobService/CounterDriftFixed) at most once in this many seconds: a Scan of every job.
    count_repair_seconds: int = 86400
    # Where executions run (JOBS_RUNNER): "local" (the embedded stack's workers give this process a local
    # runner), or "ecs" (every execution an ECS Fargate task: chalicelib.runners.ecs); None: no runner is
    # built here (an API-only process).
    runner: str | None = None
    # The stack's bucket (JOBS_FILES_BUCKET): ECS executions' spec and result documents live under
    # `<table prefix>executions/` in it.
    files_bucket: str | None = None
    ecs: "EcsSettings | None" = None
    # Grace after an execution's timeout before the sweep ends and stops it (JOBS_TIMEOUT_GRACE_SECONDS).
    timeout_grace_seconds: float = 60.0


@dataclass(frozen=True)
class EcsSettings:
    """The ECS runner's settings (JOBS_ECS_*), required when JOBS_RUNNER=ecs."""

    cluster: str
    runner_image: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool = False
    execution_role_arn: str | None = None
    task_role_arn: str | None = None
    # Running (or starting) tasks at once in the cluster, whatever their job type (JOBS_ECS_MAX_TASKS).
    max_tasks: int = 20


AUTH_MODES = ("local", "gateway")
RUNNERS = ("local", "ecs")


class ConfigurationError(Exception):
    """A setting has a value the service cannot run with; raised when a process starts."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _number(name: str, default: float, kind: type = float, minimum: float | None = None) -> Any:
    raw = _env(name)
    if raw is None:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a{'n integer' if kind is int else ' number'}") from None
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _flag(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name}={raw!r} must be true or false")


def load_settings() -> Settings:
    """The settings in the environment, validated: a value the service cannot run with raises
    ConfigurationError naming it (a typo in JOBS_AUTH_MODE must not fall back to another mode)."""
    auth_mode = _env("JOBS_AUTH_MODE", "local") or "local"
    if auth_mode not in AUTH_MODES:
        raise ConfigurationError(f"JOBS_AUTH_MODE={auth_mode!r} is not one of {', '.join(AUTH_MODES)}")
    runner = _env("JOBS_RUNNER")
    if runner is not None and runner not in RUNNERS:
        raise ConfigurationError(f"JOBS_RUNNER={runner!r} is not one of {', '.join(RUNNERS)}")
    return Settings(
        table_prefix=_env("JOBS_TABLE_PREFIX", "jobs-local-") or "",
        region=_env("AWS_DEFAULT_REGION", _env("AWS_REGION", "us-east-1")) or "us-east-1",
        auth_mode=auth_mode,
        tokens_file=_env("JOBS_TOKENS_FILE"),
        public_url=_env("JOBS_PUBLIC_URL"),
        dispatch_queue_url=_env("JOBS_DISPATCH_QUEUE_URL"),
        log_group=_env("JOBS_LOG_GROUP"),
        bulk_state_machine_arn=_env("JOBS_BULK_STATE_MACHINE_ARN"),
        idempotency_seconds=_number("JOBS_IDEMPOTENCY_SECONDS", 86400, int, minimum=1),
        retry_base_seconds=_number("JOBS_RETRY_BASE_SECONDS", 30, minimum=0),
        retry_max_seconds=_number("JOBS_RETRY_MAX_SECONDS", 900, minimum=0),
        node_lost_seconds=_number("JOBS_NODE_LOST_SECONDS", 90, minimum=1),
        redispatch_seconds=_number("JOBS_REDISPATCH_SECONDS", 60, minimum=1),
        cors_origins=tuple(o.strip() for o in (_env("JOBS_CORS_ORIGINS", "*") or "*").split(",") if o.strip()),
        bulk_writers=_number("JOBS_BULK_WRITERS", 8, int, minimum=1),
        count_repair_seconds=_number("JOBS_COUNT_REPAIR_SECONDS", 86400, int, minimum=60),
        anonymous_reads=_flag("JOBS_ANONYMOUS_READS", False),
        runner=runner,
        files_bucket=_env("JOBS_FILES_BUCKET"),
        ecs=_ecs_settings() if runner == "ecs" else None,
        timeout_grace_seconds=_number("JOBS_TIMEOUT_GRACE_SECONDS", 60, minimum=0),
    )


def _names(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in (_env(name) or "").split(",") if part.strip())


def _ecs_settings() -> EcsSettings:
    """JOBS_RUNNER=ecs needs its cluster, the runner image, subnets and the stack's bucket: missing, the
    process refuses to start (a deployed stack must not queue jobs that can never run)."""
    required = {name: _env(name) for name in ("JOBS_ECS_CLUSTER", "JOBS_ECS_RUNNER_IMAGE", "JOBS_FILES_BUCKET")}
    missing = [name for name, value in required.items() if value is None]
    if not _names("JOBS_ECS_SUBNETS"):
        missing.append("JOBS_ECS_SUBNETS")
    if missing:
        raise ConfigurationError(f"JOBS_RUNNER=ecs needs {', '.join(missing)}")
    return EcsSettings(
        cluster=required["JOBS_ECS_CLUSTER"] or "", runner_image=required["JOBS_ECS_RUNNER_IMAGE"] or "",
        subnets=_names("JOBS_ECS_SUBNETS"), security_groups=_names("JOBS_ECS_SECURITY_GROUPS"),
        assign_public_ip=_flag("JOBS_ECS_ASSIGN_PUBLIC_IP", False),
        execution_role_arn=_env("JOBS_ECS_EXECUTION_ROLE_ARN"), task_role_arn=_env("JOBS_ECS_TASK_ROLE_ARN"),
        max_tasks=_number("JOBS_ECS_MAX_TASKS", 20, int, minimum=1))


def get_settings() -> Settings:
    """This process's settings (built once by the composition root, `chalicelib.wiring`)."""
    from chalicelib.wiring import services
    return services().settings


def reset_settings() -> None:
    """Read the environment again on next use (tests and the local launcher change it); drops every cache."""
    from chalicelib.wiring import reset
    reset()


# --- the local stack's own settings (`make run`) ---------------------------------------------------------

@dataclass(frozen=True)
class LocalSettings:
    """What `python -m local.stack` and its worker process read from the environment, checked before anything
    starts: a value it cannot run with stops start-up with a message naming the setting (exit status 2)."""
    port: int = 8000                        # PORT: the API's port on 127.0.0.1
    data_dir: str = ".local-data"           # JOBS_DATA_DIR
    admin_token: str | None = None          # JOBS_ADMIN_TOKEN
    worker_slots: int | None = None         # JOBS_WORKER_SLOTS: jobs run at once (default: the CPU count)
    api_processes: int | None = None        # JOBS_API_PROCESSES: processes serving the API (default: see below)
    snapshot_seconds: float = 60.0          # JOBS_SNAPSHOT_SECONDS
    snapshot_pause_ratio: float = 9.0       # JOBS_SNAPSHOT_PAUSE_RATIO
    snapshot_timeout: float = 900.0         # JOBS_SNAPSHOT_TIMEOUT
    journal_max_records: int = 5000         # JOBS_JOURNAL_MAX_RECORDS
    sweep_seconds: float = 15.0             # JOBS_SWEEP_SECONDS
    cancel_watch_seconds: float = 2.0       # JOBS_CANCEL_WATCH_SECONDS
    moto: str = "process"                   # JOBS_MOTO: process | thread
    journal: bool = True                    # JOBS_JOURNAL
    journal_fsync: bool = True              # JOBS_JOURNAL_FSYNC
    moto_index: bool = True                 # JOBS_MOTO_INDEX


MOTO_MODES = ("process", "thread")


def _positive(name: str, default: float, kind: type = float) -> Any:
    value = _number(name, default, kind)
    if value <= 0 or value != value or value == float("inf"):
        raise ConfigurationError(f"{name}={_env(name)!r} must be a {'whole ' if kind is int else ''}number above 0")
    return value


def load_local_settings() -> LocalSettings:
    """The local stack's settings, validated (the service's own, `load_settings`, are checked with them)."""
    moto = _env("JOBS_MOTO", "process") or "process"
    if moto not in MOTO_MODES:
        raise ConfigurationError(f"JOBS_MOTO={moto!r} is not one of {', '.join(MOTO_MODES)}")
    port = _number("PORT", 8000, int, minimum=1)
    if port > 65535:
        raise ConfigurationError(f"PORT={_env('PORT')!r} must be a port number from 1 to 65535")
    slots = _env("JOBS_WORKER_SLOTS")
    api_processes = _env("JOBS_API_PROCESSES")
    load_settings()
    return LocalSettings(
        port=port,
        data_dir=_env("JOBS_DATA_DIR", ".local-data") or ".local-data",
        admin_token=_env("JOBS_ADMIN_TOKEN"),
        worker_slots=None if slots is None else _positive("JOBS_WORKER_SLOTS", 1, int),
        api_processes=None if api_processes is None else _positive("JOBS_API_PROCESSES", 1, int),
        snapshot_seconds=_positive("JOBS_SNAPSHOT_SECONDS", 60),
        snapshot_pause_ratio=_number("JOBS_SNAPSHOT_PAUSE_RATIO", 9, minimum=0),
        snapshot_timeout=_positive("JOBS_SNAPSHOT_TIMEOUT", 900),
        journal_max_records=_positive("JOBS_JOURNAL_MAX_RECORDS", 5000, int),
        sweep_seconds=_positive("JOBS_SWEEP_SECONDS", 15),
        cancel_watch_seconds=_positive("JOBS_CANCEL_WATCH_SECONDS", 2),
        moto=moto,
        journal=_flag("JOBS_JOURNAL", True),
        journal_fsync=_flag("JOBS_JOURNAL_FSYNC", True),
        moto_index=_flag("JOBS_MOTO_INDEX", True),
    )
