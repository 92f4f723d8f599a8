"""Execution logs in CloudWatch Logs: the sink a runner writes stdout/stderr lines to while a job runs,
and the reader behind `GET /v6/job-executions/{id}/logs/{stdout|stderr|combined}/`.

Layout. One log group for the service, `<table prefix>job-executions` (`${AWS::StackName}-job-executions`
when deployed; `JOBS_LOG_GROUP` overrides it), and two streams per execution, `<cluster_id>/stdout` and
`<cluster_id>/stderr`, created on the first line written to each.

Message encoding. CloudWatch orders events by millisecond timestamp only, and the two streams are
separate, so the writer numbers every line of an execution with one sequence shared by both streams
and stores each event's message as

    "#" + the sequence as 10 zero-padded decimal digits + " " + the line      e.g. "#0000000042 hello"

The reader strips the prefix (it never appears in any response) and uses `(timestamp, sequence)` to
order lines sharing a millisecond and to merge the two streams into `combined`. A message without the
prefix (a stream written by something else, e.g. the awslogs driver of a future ECS runner) is served
as it is, ordered by timestamp and arrival. The sink also keeps timestamps non-decreasing across both
streams (a line's timestamp is raised to the previous line's when two threads race), so sequence order
and time order agree.

Writing. `CloudWatchLogSink.write` only buffers (it is called from the runner's pipe readers, which
must never block on the network or raise); a background thread sends a stream's buffer with
`PutLogEvents` every `flush_interval` seconds, or at once when a full batch is waiting (10,000 events,
or 1 MB counting 26 bytes of overhead per event, or a 24-hour span). Throttling and transient errors
are retried with exponential backoff and jitter; anything that still fails is logged as a warning and
dropped. `close()` sends what is left.

ECS executions. Their containers log through the awslogs driver into the same group, one stream per
container, `scale/<container>/<ECS task id>` (`awslogs-stream-prefix` "scale"), plain lines without the
sequence prefix; the driver merges a container's stdout and stderr into its stream, so they cannot be
told apart. `physical_streams` maps the API's logs onto them: `stdout` is the job's own output (`main`,
stdout and stderr together), `stderr` what the service's staging containers said (`pre`, `post`: e.g.
a missing output), `combined` all three by time. The task id comes from the execution's `task_results`
(`ecs_task_id`, kept when it ends) or, while it runs, from ECS (ListTasks by `startedBy`).

Reading. `read_log` pages through `GetLogEvents` (`startFromHead`, `nextForwardToken`, stopping when
the token comes back unchanged, which is how CloudWatch says "end of stream") lazily: a generator per
stream, a k-way merge for `combined`, so a large log is never held in memory here. `started` becomes
`startTime`, so a client tailing a running job pays only for the new lines.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, TypedDict

from chalicelib.errors import NotFound

logger = logging.getLogger("jobs.execution_logs")

LOG_GROUP_BASE_NAME = "job-executions"
LOG_GROUP_LOGICAL_ID = "JobExecutionLogGroup"
RETENTION_DAYS = 30
STREAMS = ("stdout", "stderr")
LOG_IDS = ("stdout", "stderr", "combined")

# PutLogEvents limits (CloudWatch Logs quotas).
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES  # a longer line is cut (UTF-8 safe)

SEQUENCE_DIGITS = 10
_PREFIX = re.compile(r"#(\d{%d}) " % SEQUENCE_DIGITS)
_PREFIX_LENGTH = SEQUENCE_DIGITS + 2

# GetLogEvents page size; None is CloudWatch's own (up to 10,000 events or 1 MB a page).
PAGE_SIZE: int | None = None

_RETRIED_ERRORS = {"ThrottlingException", "ServiceUnavailableException", "InternalFailure",
                   "InternalServerError", "RequestLimitExceeded", "LimitExceededException"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# --- names, the group, the deploy template ------------------------------------------------------------

def log_group_name(prefix: str | None = None) -> str:
    """`<prefix>job-executions`; without a prefix, the configured group (or the table prefix's)."""
    if prefix is not None:
        return prefix + LOG_GROUP_BASE_NAME
    from chalicelib.config import get_settings
    settings = get_settings()
    return settings.log_group or settings.table_prefix + LOG_GROUP_BASE_NAME


def stream_name(cluster_id: str, stream: str) -> str:
    return f"{cluster_id}/{stream}"


def create_log_group(client: Any, prefix: str) -> str:
    """Create the log group with its retention (idempotent; local stack and tests); returns its name."""
    name = log_group_name(prefix)
    try:
        client.create_log_group(logGroupName=name)
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    client.put_retention_policy(logGroupName=name, retentionInDays=RETENTION_DAYS)
    return name


def cloudformation_log_group() -> dict[str, Any]:
    """`{logical id: AWS::Logs::LogGroup}` named `<stack name>-job-executions`, to merge into the template's
    resources (as `cloudformation_queues()` is)."""
    return {LOG_GROUP_LOGICAL_ID: {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": {"Fn::Sub": "${AWS::StackName}-" + LOG_GROUP_BASE_NAME},
                       "RetentionInDays": RETENTION_DAYS},
    }}


# --- message encoding (pure) --------------------------------------------------------------------------

def encode_message(sequence: int, line: str) -> str:
    """`#0000000042 <line>`; the line loses one trailing newline and is cut to fit one event."""
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    message = f"#{sequence:0{SEQUENCE_DIGITS}d} {line}"
    encoded = message.encode("utf-8")
    if len(encoded) > MAX_EVENT_BYTES:
        message = encoded[:MAX_EVENT_BYTES].decode("utf-8", errors="ignore")
    return message


def decode_message(message: str) -> tuple[int | None, str]:
    """(sequence, line); a message without our prefix is (None, message)."""
    match = _PREFIX.match(message)
    if match is None:
        return None, message
    return int(match.group(1)), message[_PREFIX_LENGTH:]


def event_size(message: str) -> int:
    """What an event counts towards the 1 MB batch limit."""
    return len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES


# --- the sink -----------------------------------------------------------------------------------------

@dataclass
class _Pending:
    events: list[dict[str, Any]]
    size: int = 0

    def full(self) -> bool:
        return (len(self.events) >= MAX_BATCH_EVENTS or self.size >= MAX_BATCH_BYTES
                or bool(self.events) and self.events[-1]["timestamp"] - self.events[0]["timestamp"]
                >= MAX_BATCH_SPAN_MS)


def split_batches(events: list[dict[str, Any]], max_events: int = MAX_BATCH_EVENTS,
                  max_bytes: int = MAX_BATCH_BYTES) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches that each respect the PutLogEvents limits (count, bytes, 24-hour span)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_bytes = event_size(event["message"])
        if batch and (len(batch) >= max_events or size + event_bytes > max_bytes
                      or event["timestamp"] - batch[0]["timestamp"] >= MAX_BATCH_SPAN_MS):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event_bytes
    if batch:
        yield batch


class CloudWatchLogSink:
    """The LogSink a runner writes an execution's stdout/stderr lines to (see the module docstring).

    Thread-safe: `write` may be called from one thread per stream at once. Never raises for a logging
    failure. `client`, `sleep` and `monotonic` are injectable; `background=False` sends from `write`
    itself (when a batch is full or the oldest buffered line is older than `flush_interval`) instead of
    from a thread."""

    def __init__(self, cluster_id: str, *, client: Any = None, log_group: str | None = None,
                 flush_interval: float = 1.0, background: bool = True, max_attempts: int = 6,
                 max_buffered_events: int = 200_000, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cluster_id = cluster_id
        self.log_group = log_group or log_group_name()
        self.flush_interval = flush_interval
        self.background = background
        self.max_attempts = max_attempts
        self.max_buffered_events = max_buffered_events
        self._client = client
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Condition()
        self._send_lock = threading.Lock()     # one sender at a time keeps each stream's batches in order
        self._pending = {stream: _Pending([]) for stream in STREAMS}
        self._buffered = 0
        self._oldest: float | None = None      # monotonic time the oldest buffered line was written
        self._sequence = 0
        self._last_timestamp = 0
        self._created: set[str] = set()
        self._closed = False
        self._dropped = 0
        self._thread: threading.Thread | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from chalicelib import aws
            self._client = aws.client("logs")
        return self._client

    def write(self, stream: str, line: str, timestamp_ms: int) -> None:
        try:
            self._write(stream, line, timestamp_ms)
        except Exception:  # noqa: BLE001 - a logging failure must never reach the runner
            logger.warning("execution %s: could not buffer a %s line", self.cluster_id, stream, exc_info=True)

    def _write(self, stream: str, line: str, timestamp_ms: int) -> None:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        with self._lock:
            if self._closed:
                self._drop(1, "written after close")
                return
            if self._buffered >= self.max_buffered_events:
                self._drop(1, "buffer full (CloudWatch Logs unreachable?)")
                return
            self._sequence += 1
            self._last_timestamp = max(int(timestamp_ms), self._last_timestamp)
            message = encode_message(self._sequence, line)
            pending = self._pending[stream]
            pending.events.append({"timestamp": self._last_timestamp, "message": message})
            pending.size += event_size(message)
            self._buffered += 1
            if self._oldest is None:
                self._oldest = self._monotonic()
            batch_ready = pending.full()
            if self.background:
                self._start_flusher()
                if batch_ready:
                    self._lock.notify_all()
                return
            due = batch_ready or self._monotonic() - self._oldest >= self.flush_interval
        if due:
            self.flush()

    def flush(self) -> None:
        """Send everything buffered now (in order, in as many batches as the limits need)."""
        with self._send_lock:
            with self._lock:
                taken = {stream: pending.events for stream, pending in self._pending.items() if pending.events}
                self._pending = {stream: _Pending([]) for stream in STREAMS}
                self._buffered = 0
                self._oldest = None
            for stream, events in taken.items():
                for batch in split_batches(events):
                    self._send(stream, batch)

    def close(self) -> None:
        """Send what is left and stop the flusher. Idempotent; later writes are dropped with a warning."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - close() runs in the runner's cleanup and must not raise
            logger.warning("execution %s: could not send its last log lines", self.cluster_id, exc_info=True)

    def __enter__(self) -> "CloudWatchLogSink":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals --

    def _drop(self, count: int, why: str) -> None:
        if self._dropped == 0:
            logger.warning("execution %s: dropping log lines: %s", self.cluster_id, why)
        self._dropped += count

    def _start_flusher(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._flush_loop, name=f"logs-{self.cluster_id}", daemon=True)
            self._thread.start()

    def _flush_loop(self) -> None:
        while True:
            with self._lock:
                deadline = None if self._oldest is None else self._oldest + self.flush_interval
                while not self._closed:
                    if any(pending.full() for pending in self._pending.values()):
                        break
                    if deadline is not None and self._monotonic() >= deadline:
                        break
                    timeout = self.flush_interval if deadline is None else max(deadline - self._monotonic(), 0.01)
                    self._lock.wait(timeout)
                    if deadline is None and self._oldest is not None:
                        deadline = self._oldest + self.flush_interval
                if self._closed:
                    return  # close() sends the rest
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the flusher thread must outlive a failed flush
                logger.warning("execution %s: log flush failed", self.cluster_id, exc_info=True)

    def _send(self, stream: str, events: list[dict[str, Any]]) -> None:
        name = stream_name(self.cluster_id, stream)
        for attempt in range(1, self.max_attempts + 1):
            try:
                if name not in self._created:
                    self._create_stream(name)
                response = self.client.put_log_events(logGroupName=self.log_group, logStreamName=name,
                                                      logEvents=events)
                rejected = response.get("rejectedLogEventsInfo")
                if rejected:
                    logger.warning("execution %s: CloudWatch rejected some %s lines: %s", self.cluster_id,
                                   stream, rejected)
                return
            except Exception as error:  # noqa: BLE001 - connection errors too: retried, then counted as lost
                code = _error_code(error)
                if code == "ResourceNotFoundException" and name in self._created:
                    self._created.discard(name)  # the stream went away: create it again and retry
                    continue
                # No error code at all (a connection error) is retried too.
                if (code is not None and code not in _RETRIED_ERRORS) or attempt == self.max_attempts:
                    self._drop(len(events), f"PutLogEvents failed on {name}: {error}")
                    logger.warning("execution %s: %d %s lines lost: %s", self.cluster_id, len(events), stream,
                                   error)
                    return
                self._sleep(backoff_seconds(attempt))

    def _create_stream(self, name: str) -> None:
        from botocore.exceptions import ClientError
        try:
            self.client.create_log_stream(logGroupName=self.log_group, logStreamName=name)
        except ClientError as error:  # only a ClientError carries the code; anything else propagates
            if _error_code(error) != "ResourceAlreadyExistsException":
                raise
        self._created.add(name)


def backoff_seconds(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Full jitter: a random wait up to `base * 2^(attempt-1)`, at most `cap`."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def _error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


# --- the reader ---------------------------------------------------------------------------------------

LogEntry = TypedDict("LogEntry", {
    "message": str,
    "@timestamp": str,
    "scale_order_num": int,
    "scale_task": int,       # the execution's id: an execution runs as one task (pre/main/post share streams)
    "scale_job_exe": str,    # the execution's cluster_id
    "scale_node": str | None,
    "stream": str,
})


@dataclass(frozen=True)
class RawLine:
    timestamp: int
    sequence: int | None
    line: str
    stream: str


def read_execution_log(execution_id: int, log_id: str, started: datetime | None = None,
                       limit: int | None = None) -> Iterator[LogEntry]:
    """The log of an execution by its id; NotFound for an unknown log id or a missing execution."""
    if log_id not in LOG_IDS:
        raise NotFound()
    from chalicelib.models.executions import get_execution_by_id
    execution = get_execution_by_id(execution_id)
    if execution is None:
        raise NotFound()
    return read_log(execution, log_id, started, limit)


def read_log(execution: Any, log_id: str, started: datetime | None = None, limit: int | None = None, *,
             client: Any = None, log_group: str | None = None, page_size: int | None = None) -> Iterator[LogEntry]:
    """Entries of `stdout`, `stderr` or `combined` in (timestamp, sequence) order, lazily; only those at
    or after `started`. Empty for an execution that never started or wrote nothing."""
    if log_id not in LOG_IDS:
        raise NotFound()
    if execution.started is None:
        return iter(())
    start_ms = None if started is None else math.ceil((started - _EPOCH) / timedelta(milliseconds=1))
    group = log_group or log_group_name()
    page_size = page_size if page_size is not None else PAGE_SIZE
    streams = STREAMS if log_id == "combined" else (log_id,)


    def lines(physical: str, stream: str) -> Iterator[RawLine]:
        events = stream_events(client or _logs_client(), group, physical, start_ms, page_size)
        return in_sequence(decode_events(events, stream))

    entries = to_entries(merge_lines([lines(physical, stream) for physical, stream in
                                      physical_streams(execution, streams)]), execution)
    return itertools.islice(entries, limit) if limit is not None else entries


ECS_HOSTNAME = "fargate"   # chalicelib.runners.ecs.FARGATE_HOSTNAME
ECS_STREAMS = {"stdout": ("main",), "stderr": ("pre", "post")}


def ecs_stream_name(container: str, task_id: str) -> str:
    return f"scale/{container}/{task_id}"


def physical_streams(execution: Any, streams: Iterable[str]) -> list[tuple[str, str]]:
    """(CloudWatch stream, the API's stream it serves) for each of `streams` ("stdout", "stderr")."""
    if getattr(execution, "node_hostname", None) != ECS_HOSTNAME:
        return [(stream_name(execution.cluster_id, stream), stream) for stream in streams]
    task = ecs_task_id(execution)
    if task is None:
        return []
    return [(ecs_stream_name(container, task), stream) for stream in streams for container in ECS_STREAMS[stream]]


def ecs_task_id(execution: Any) -> str | None:
    """The ECS task of an execution: kept in its task results once it ended; while it runs, asked of ECS."""
    kept = (execution.task_results or {}).get("ecs_task_id") if isinstance(execution.task_results, dict) else None
    if kept:
        return str(kept)
    from chalicelib.config import get_settings
    settings = get_settings()
    if settings.ecs is None:
        return None
    from chalicelib import aws
    for status in ("RUNNING", "STOPPED"):
        arns = aws.client("ecs").list_tasks(cluster=settings.ecs.cluster, startedBy=execution.cluster_id,
                                            desiredStatus=status).get("taskArns", [])
        if arns:
            return str(arns[0]).rsplit("/", 1)[-1]
    return None


def _logs_client() -> Any:
    from chalicelib import aws
    return aws.client("logs")


def stream_events(client: Any, group: str, stream: str, start_ms: int | None = None,
                  page_size: int | None = None) -> Iterator[dict[str, Any]]:
    """Every event of one stream, oldest first, one GetLogEvents page at a time. A stream (or group)
    that does not exist has no events."""
    request: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    if start_ms is not None:
        request["startTime"] = start_ms
    if page_size is not None:
        request["limit"] = page_size
    from botocore.exceptions import ClientError
    token = None
    while True:
        try:
            page = client.get_log_events(**request, **({"nextToken": token} if token else {}))
        except ClientError as error:  # only a ClientError carries the code; anything else propagates
            if _error_code(error) == "ResourceNotFoundException":
                return
            raise
        yield from page.get("events", ())
        next_token = page.get("nextForwardToken")
        if not next_token or next_token == token:
            return
        token = next_token


def decode_events(events: Iterable[dict[str, Any]], stream: str) -> Iterator[RawLine]:
    for event in events:
        sequence, line = decode_message(event["message"])
        yield RawLine(int(event["timestamp"]), sequence, line, stream)


def in_sequence(lines: Iterable[RawLine]) -> Iterator[RawLine]:
    """Lines of one stream with those sharing a millisecond put in sequence order (CloudWatch does not
    promise an order within a millisecond); holds only one millisecond's lines at a time."""
    for _, same_ms in itertools.groupby(lines, key=lambda line: line.timestamp):
        group = list(same_ms)
        if len(group) > 1:
            group.sort(key=_sequence_key)
        yield from group


def _sequence_key(line: RawLine) -> int:
    return -1 if line.sequence is None else line.sequence


def merge_lines(streams: list[Iterator[RawLine]]) -> Iterator[RawLine]:
    """k-way merge by (timestamp, sequence); stable, so unnumbered lines keep their stream's order."""
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda line: (line.timestamp, _sequence_key(line)))


def to_entries(lines: Iterable[RawLine], execution: Any) -> Iterator[LogEntry]:
    for ordinal, line in enumerate(lines, start=1):
        yield {
            "message": line.line,
            "@timestamp": iso_ms(line.timestamp),
            "scale_order_num": line.sequence if line.sequence is not None else ordinal,
            "scale_task": execution.id,
            "scale_job_exe": execution.cluster_id,
            "scale_node": execution.node_hostname,
            "stream": line.stream,
        }


def iso_ms(timestamp_ms: int) -> str:
    value = _EPOCH + timedelta(milliseconds=timestamp_ms)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
