"""Save the emulated AWS state (moto) to a local folder and load it back, so local data survives restarts.

The launcher calls `restore_snapshot` once at start, after creating the resources the repository
defines, and `save_snapshot` periodically and on shutdown. Both only use boto3 clients, so they work
the same against the moto server, in-process `mock_aws` (tests) or anything else speaking the APIs.

Format (version 1). Every bulk file is JSON Lines, written and read one line at a time, so neither
side ever holds a whole table, log stream or object in memory:

    snapshot/
      manifest.json          written last; only a folder holding it is a complete snapshot
      dynamodb/tables.jsonl  per table: create_table arguments, TTL setting, items file, item count
      dynamodb/<n>.jsonl     the items of one table, one per line in DynamoDB JSON as on the wire
                             (N and S as strings, B and BS as base64), so every type round-trips exactly
      logs/groups.jsonl      per log group: name, retention
      logs/streams.jsonl     per log stream: group, name, events file, event count
      logs/<n>.jsonl         the events of one stream, {"timestamp", "message"}, oldest first
                             (the order GetLogEvents returns them in)
      s3/buckets.jsonl       per bucket: name, region
      s3/objects.jsonl       per object: bucket, key, content type, user metadata, data file
      s3/<n>.bin             the content of one object, byte for byte
      sqs/queues.jsonl       per queue: name and settable attributes. Messages are not kept: the job
                             table is the truth and the service re-sends work from it.

Data files are numbered instead of named after what they hold because log group names and object
keys may contain any character. Step Functions state machines are not saved: the launcher recreates
them from the repository.

Atomic replace. A save writes into `snapshot.tmp-<pid>`, fsyncs every file, writes `manifest.json`
last, fsyncs it and the folders, and only then swaps folders: `snapshot` -> `snapshot.prev`,
`snapshot.tmp-<pid>` -> `snapshot`, fsync of the data folder, delete `snapshot.prev`. Whenever a
crash hits, the data folder still holds one complete snapshot: in `snapshot`, or, if the crash fell
between the two renames, in `snapshot.prev`, which restore falls back to. A save that fails removes
its temporary folder; one left by a killed process is removed by the next save (on POSIX, where a
dead pid can be told apart). Saves within one process are serialised by a lock, since the periodic
and the shutdown save may overlap.

A save taken while the service runs is not a point-in-time image (a table is scanned page by page
while jobs change it); the shutdown save, taken once the service has stopped, is exact.

Restore only adds: a table the launcher has already created keeps its current definition and only
receives the items (same-key items and same-key objects are overwritten); an existing log group,
bucket or queue keeps its settings; events are only loaded into log streams the restore itself
created, so restoring twice does not duplicate them. PutLogEvents (AWS and moto
alike) rejects events older than 14 days or more than 2 hours in the future: those are counted in
`SnapshotStats.log_events_rejected` and logged as a warning, not silently lost.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError

from local.private_files import DIR_MODE, private_dir, private_open

if TYPE_CHECKING:
    import boto3

FORMAT_VERSION = 1
SNAPSHOT = "snapshot"
PREVIOUS = "snapshot.prev"
TMP_PREFIX = "snapshot.tmp-"
MANIFEST = "manifest.json"

# Service limits; module constants so tests can shrink them to exercise paging and batching.
_BATCH_WRITE_SIZE = 25
_BATCH_WRITE_ATTEMPTS = 10
_LOG_PAGE_SIZE = 10_000
_LOG_BATCH_EVENTS = 10_000
_LOG_BATCH_BYTES = 1_048_576
_LOG_EVENT_OVERHEAD = 26  # bytes PutLogEvents counts per event on top of the UTF-8 message
_LOG_BATCH_SPAN_MS = 24 * 3600 * 1000  # a PutLogEvents batch may not span more than 24 hours
_COPY_CHUNK = 1 << 20

# Attributes GetQueueAttributes reports but CreateQueue does not accept.
_SQS_READ_ONLY = {"QueueArn", "CreatedTimestamp", "LastModifiedTimestamp"}

_save_lock = threading.Lock()
logger = logging.getLogger(__name__)


class SnapshotError(Exception):
    """A snapshot cannot be used (no manifest, unknown format) or could not be fully restored."""


@dataclass
class SnapshotStats:
    """What a save wrote or a restore loaded, for the launcher's one-line report."""

    tables: int = 0
    items: int = 0
    log_groups: int = 0
    log_streams: int = 0
    log_events: int = 0
    log_events_rejected: int = 0
    buckets: int = 0
    objects: int = 0
    queues: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        rejected = f" ({self.log_events_rejected} rejected as too old)" if self.log_events_rejected else ""
        return (
            f"{self.tables} tables / {self.items} items, {self.log_groups} log groups / "
            f"{self.log_streams} streams / {self.log_events} events{rejected}, "
            f"{self.buckets} buckets / {self.objects} objects, {self.queues} queues "
            f"in {self.seconds:.2f}s"
        )


# --- save -------------------------------------------------------------------------------------


def save_snapshot(session: boto3.session.Session, endpoint_url: str | None, data_dir: Path) -> SnapshotStats:
    """Write the whole emulated state to `data_dir/snapshot`, replacing the previous one atomically."""
    started = time.monotonic()
    data_dir = Path(data_dir)
    stats = SnapshotStats()
    with _save_lock:
        private_dir(data_dir, parents=True)
        _remove_stale_tmp_dirs(data_dir)
        tmp = data_dir / f"{TMP_PREFIX}{os.getpid()}"
        try:
            tmp.mkdir(mode=DIR_MODE)
            os.chmod(tmp, DIR_MODE)
            manifest = {
                "format_version": FORMAT_VERSION,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "tables": _save_tables(_client(session, endpoint_url, "dynamodb"), tmp / "dynamodb", stats),
                "log_groups": _save_logs(_client(session, endpoint_url, "logs"), tmp / "logs", stats),
                "buckets": _save_buckets(_client(session, endpoint_url, "s3"), tmp / "s3", stats),
                "queues": _save_queues(_client(session, endpoint_url, "sqs"), tmp / "sqs", stats),
            }
            with private_open(tmp / MANIFEST, "w", encoding="utf-8") as out:
                json.dump(manifest, out, indent=2)
                _sync(out)
            for folder in ("dynamodb", "logs", "s3", "sqs", "."):
                _fsync_dir(tmp / folder)
            _swap_in(tmp, data_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    stats.seconds = time.monotonic() - started
    return stats


def _save_tables(dynamodb: Any, folder: Path, stats: SnapshotStats) -> dict[str, int]:
    private_dir(folder)
    counts: dict[str, int] = {}
    with _JsonLines(folder / "tables.jsonl") as tables:
        for page in dynamodb.get_paginator("list_tables").paginate():
            for name in page["TableNames"]:
                description = dynamodb.describe_table(TableName=name)["Table"]
                ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
                file = f"{len(counts):06d}.jsonl"
                count = 0
                with _JsonLines(folder / file) as items:
                    scan = dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True)
                    for scanned in scan:
                        for item in scanned["Items"]:
                            items.write(_item_to_json(item))
                            count += 1
                tables.write(
                    {
                        "definition": _create_table_arguments(description),
                        "ttl": _ttl_specification(ttl),
                        "file": file,
                        "items": count,
                    }
                )
                counts[name] = count
    stats.tables, stats.items = len(counts), sum(counts.values())
    return counts


def _create_table_arguments(description: dict[str, Any]) -> dict[str, Any]:
    """Reduce a DescribeTable answer to what CreateTable accepts (always on-demand billing)."""

    def index(described: dict[str, Any]) -> dict[str, Any]:
        return {key: described[key] for key in ("IndexName", "KeySchema", "Projection")}

    arguments: dict[str, Any] = {
        "TableName": description["TableName"],
        "AttributeDefinitions": description["AttributeDefinitions"],
        "KeySchema": description["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    # CreateTable refuses empty index lists, which DescribeTable (moto) reports.
    if description.get("GlobalSecondaryIndexes"):
        arguments["GlobalSecondaryIndexes"] = [index(i) for i in description["GlobalSecondaryIndexes"]]
    if description.get("LocalSecondaryIndexes"):
        arguments["LocalSecondaryIndexes"] = [index(i) for i in description["LocalSecondaryIndexes"]]
    stream = description.get("StreamSpecification") or {}
    if stream.get("StreamEnabled"):
        arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return arguments


def _ttl_specification(description: dict[str, Any]) -> dict[str, Any] | None:
    if description.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return {"Enabled": True, "AttributeName": description["AttributeName"]}
    return None


def _save_logs(logs: Any, folder: Path, stats: SnapshotStats) -> dict[str, int]:
    private_dir(folder)
    counts: dict[str, int] = {}
    with _JsonLines(folder / "groups.jsonl") as groups, _JsonLines(folder / "streams.jsonl") as streams:
        for page in logs.get_paginator("describe_log_groups").paginate():
            for group in page["logGroups"]:
                name = group["logGroupName"]
                groups.write({"name": name, "retentionInDays": group.get("retentionInDays")})
                counts[name] = 0
                for stream_page in logs.get_paginator("describe_log_streams").paginate(logGroupName=name):
                    for stream in stream_page["logStreams"]:
                        file = f"{stats.log_streams:06d}.jsonl"
                        count = 0
                        with _JsonLines(folder / file) as events:
                            for event in _log_events(logs, name, stream["logStreamName"]):
                                events.write({"timestamp": event["timestamp"], "message": event["message"]})
                                count += 1
                        streams.write(
                            {"group": name, "stream": stream["logStreamName"], "file": file, "events": count}
                        )
                        stats.log_streams += 1
                        counts[name] += count
    stats.log_groups, stats.log_events = len(counts), sum(counts.values())
    return counts


def _log_events(logs: Any, group: str, stream: str) -> Iterator[dict[str, Any]]:
    """All events of a stream, oldest first. GetLogEvents signals the end by repeating the token."""
    token: str | None = None
    while True:
        paging = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=True, limit=_LOG_PAGE_SIZE, **paging
        )
        yield from page["events"]
        if not page.get("nextForwardToken") or page["nextForwardToken"] == token:
            return
        token = page["nextForwardToken"]


def _save_buckets(s3: Any, folder: Path, stats: SnapshotStats) -> dict[str, int]:
    private_dir(folder)
    counts: dict[str, int] = {}
    with _JsonLines(folder / "buckets.jsonl") as buckets, _JsonLines(folder / "objects.jsonl") as objects:
        for bucket in s3.list_buckets()["Buckets"]:
            name = bucket["Name"]
            region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
            buckets.write({"name": name, "region": region})
            counts[name] = 0
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for listed in page.get("Contents", []):
                    file = f"{stats.objects:06d}.bin"
                    response = s3.get_object(Bucket=name, Key=listed["Key"])
                    with private_open(folder / file, "wb") as out:
                        shutil.copyfileobj(response["Body"], out, _COPY_CHUNK)
                        _sync(out)
                    response["Body"].close()
                    objects.write(
                        {
                            "bucket": name,
                            "key": listed["Key"],
                            "content_type": response.get("ContentType"),
                            "metadata": response.get("Metadata", {}),
                            "file": file,
                        }
                    )
                    stats.objects += 1
                    counts[name] += 1
    stats.buckets = len(counts)
    return counts


def _save_queues(sqs: Any, folder: Path, stats: SnapshotStats) -> list[str]:
    private_dir(folder)
    names: list[str] = []
    with _JsonLines(folder / "queues.jsonl") as queues:
        # Without MaxResults, ListQueues returns at most 1,000 queues and no token.
        for page in sqs.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 1000}):
            for url in page.get("QueueUrls", []):
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                name = url.rstrip("/").rsplit("/", 1)[-1]
                settable = {
                    key: value
                    for key, value in attributes.items()
                    if key not in _SQS_READ_ONLY and not key.startswith("Approximate")
                }
                queues.write({"name": name, "attributes": settable})
                names.append(name)
    stats.queues = len(names)
    return names


def _swap_in(tmp: Path, data_dir: Path) -> None:
    current, previous = data_dir / SNAPSHOT, data_dir / PREVIOUS
    if current.exists():
        # `snapshot` is complete, so an older `snapshot.prev` (left by a crash) is redundant.
        shutil.rmtree(previous, ignore_errors=True)
        current.rename(previous)
    # Without `snapshot`, a `snapshot.prev` is the last complete one: keep it until the rename is done.
    tmp.rename(current)
    _fsync_dir(data_dir)
    shutil.rmtree(previous, ignore_errors=True)


def _remove_stale_tmp_dirs(data_dir: Path) -> None:
    for path in data_dir.glob(f"{TMP_PREFIX}*"):
        pid = path.name[len(TMP_PREFIX) :]
        if pid.isdigit() and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) is not a probe on Windows: leave the folder alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- restore ----------------------------------------------------------------------------------


def restore_snapshot(
    session: boto3.session.Session, endpoint_url: str | None, data_dir: Path
) -> SnapshotStats | None:
    """Load `data_dir/snapshot` into the emulated AWS. None when there is no snapshot."""
    started = time.monotonic()
    folder = _find_snapshot(Path(data_dir))
    if folder is None:
        return None
    _check_manifest(folder)
    stats = SnapshotStats()
    _restore_tables(_client(session, endpoint_url, "dynamodb"), folder / "dynamodb", stats)
    _restore_logs(_client(session, endpoint_url, "logs"), folder / "logs", stats)
    _restore_buckets(_client(session, endpoint_url, "s3"), folder / "s3", stats)
    _restore_queues(_client(session, endpoint_url, "sqs"), folder / "sqs", stats)
    stats.seconds = time.monotonic() - started
    return stats


def _find_snapshot(data_dir: Path) -> Path | None:
    for name in (SNAPSHOT, PREVIOUS):  # only a crash between the two renames leaves just `prev`
        if (data_dir / name).is_dir():
            return data_dir / name
    return None


def _check_manifest(folder: Path) -> None:
    path = folder / MANIFEST
    if not path.is_file():
        raise SnapshotError(
            f"{folder} has no {MANIFEST}, so it is not a complete snapshot; "
            "move it away to start with empty AWS state"
        )
    try:
        version = json.loads(path.read_text(encoding="utf-8"))["format_version"]
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(f"{path} is unreadable: {error}") from error
    if version != FORMAT_VERSION:
        raise SnapshotError(f"{folder} has format version {version}; this code reads {FORMAT_VERSION}")


def _restore_tables(dynamodb: Any, folder: Path, stats: SnapshotStats) -> None:
    for table in _read_lines(folder / "tables.jsonl"):
        name = table["definition"]["TableName"]
        # An existing table was created by the launcher from the current definitions: keep them.
        if _create(dynamodb.create_table, "ResourceInUseException", **table["definition"]):
            dynamodb.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
            if table["ttl"]:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=table["ttl"])
        items = (_item_from_json(line) for line in _read_lines(folder / table["file"]))
        for chunk in _chunks(items, _BATCH_WRITE_SIZE):
            _batch_write(dynamodb, name, chunk)
            stats.items += len(chunk)
        stats.tables += 1


def _batch_write(
    dynamodb: Any, table: str, items: list[dict[str, Any]], sleep: Callable[[float], None] = time.sleep
) -> None:
    request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    for attempt in range(_BATCH_WRITE_ATTEMPTS):
        request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        if not request:
            return
        sleep(min(0.05 * 2**attempt, 2.0))
    raise SnapshotError(
        f"table {table}: items still unprocessed after {_BATCH_WRITE_ATTEMPTS} BatchWriteItem calls"
    )


def _restore_logs(logs: Any, folder: Path, stats: SnapshotStats) -> None:
    for group in _read_lines(folder / "groups.jsonl"):
        created = _create(logs.create_log_group, "ResourceAlreadyExistsException", logGroupName=group["name"])
        if created and group["retentionInDays"]:
            logs.put_retention_policy(logGroupName=group["name"], retentionInDays=group["retentionInDays"])
        stats.log_groups += 1
    for stream in _read_lines(folder / "streams.jsonl"):
        stats.log_streams += 1
        names = {"logGroupName": stream["group"], "logStreamName": stream["stream"]}
        if not _create(logs.create_log_stream, "ResourceAlreadyExistsException", **names):
            continue  # its events are there already: loading them again would duplicate them
        for batch in _log_batches(_read_lines(folder / stream["file"])):
            response = logs.put_log_events(**names, logEvents=batch)
            rejected = _rejected_count(response.get("rejectedLogEventsInfo") or {}, len(batch))
            stats.log_events += len(batch) - rejected
            stats.log_events_rejected += rejected
    if stats.log_events_rejected:
        logger.warning(
            "%d log events were rejected by PutLogEvents (older than 14 days or too far in the future)",
            stats.log_events_rejected,
        )


def _log_batches(events: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Cut a chronological event stream into batches PutLogEvents accepts (count, bytes, 24 h span)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode("utf-8")) + _LOG_EVENT_OVERHEAD
        if batch and (
            len(batch) >= _LOG_BATCH_EVENTS
            or size + event_size > _LOG_BATCH_BYTES
            or event["timestamp"] - batch[0]["timestamp"] >= _LOG_BATCH_SPAN_MS
        ):
            yield sorted(batch, key=_timestamp)
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        yield sorted(batch, key=_timestamp)  # the file is already in order; this guards the API rule


def _timestamp(event: dict[str, Any]) -> int:
    return int(event["timestamp"])


def _rejected_count(info: dict[str, int], batch_size: int) -> int:
    too_old_end = max(info.get("tooOldLogEventEndIndex", -1), info.get("expiredLogEventEndIndex", -1))
    too_new = batch_size - info["tooNewLogEventStartIndex"] if "tooNewLogEventStartIndex" in info else 0
    return too_old_end + 1 + too_new


def _restore_buckets(s3: Any, folder: Path, stats: SnapshotStats) -> None:
    for bucket in _read_lines(folder / "buckets.jsonl"):
        location = {}
        if bucket["region"] != "us-east-1":
            location = {"CreateBucketConfiguration": {"LocationConstraint": bucket["region"]}}
        _create(s3.create_bucket, "BucketAlreadyOwnedByYou", Bucket=bucket["name"], **location)
        stats.buckets += 1
    for entry in _read_lines(folder / "objects.jsonl"):
        content_type = {"ContentType": entry["content_type"]} if entry["content_type"] else {}
        with open(folder / entry["file"], "rb") as body:
            s3.put_object(
                Bucket=entry["bucket"],
                Key=entry["key"],
                Body=body,
                Metadata=entry["metadata"],
                **content_type,
            )
        stats.objects += 1


def _restore_queues(sqs: Any, folder: Path, stats: SnapshotStats) -> None:
    queues = list(_read_lines(folder / "queues.jsonl"))  # a handful of small records
    # Queues without a redrive policy first: a redrive policy must name an existing dead-letter queue.
    for queue in sorted(queues, key=lambda q: "RedrivePolicy" in q["attributes"]):
        try:
            sqs.get_queue_url(QueueName=queue["name"])
        except sqs.exceptions.QueueDoesNotExist:
            sqs.create_queue(QueueName=queue["name"], Attributes=queue["attributes"])
        stats.queues += 1


def _create(call: Callable[..., Any], exists_code: str, **arguments: Any) -> bool:
    """Call a Create* API; False when the resource already exists."""
    try:
        call(**arguments)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == exists_code:
            return False
        raise
    return True


# --- DynamoDB JSON ----------------------------------------------------------------------------


def _item_to_json(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _map_binary(value, _b64encode) for name, value in item.items()}


def _item_from_json(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _map_binary(value, base64.b64decode) for name, value in item.items()}


def _map_binary(value: dict[str, Any], convert: Callable[[Any], Any]) -> dict[str, Any]:
    """Apply `convert` to every binary inside one attribute value; everything else is JSON already."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": convert(inner)}
    if kind == "BS":
        return {"BS": [convert(member) for member in inner]}
    if kind == "M":
        return {"M": {name: _map_binary(member, convert) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [_map_binary(member, convert) for member in inner]}
    return value


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- files ------------------------------------------------------------------------------------


class _JsonLines:
    """Writes one JSON document per line; on a clean exit flushes and fsyncs the file."""

    def __init__(self, path: Path) -> None:
        self._file = private_open(path, "w", encoding="utf-8")

    def write(self, document: Any) -> None:
        self._file.write(json.dumps(document, separators=(",", ":")) + "\n")

    def __enter__(self) -> _JsonLines:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                _sync(self._file)
        finally:
            self._file.close()


def _read_lines(path: Path) -> Iterator[Any]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sync(file: IO[Any]) -> None:
    file.flush()
    os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    """Make renames and new entries in a folder durable (POSIX only; Windows cannot open folders)."""
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _client(session: boto3.session.Session, endpoint_url: str | None, service: str) -> Any:
    # Path-style S3 addressing: `<bucket>.127.0.0.1` is not a host.
    config = Config(retries={"mode": "standard", "max_attempts": 5}, s3={"addressing_style": "path"})
    return session.client(service, endpoint_url=endpoint_url, config=config)
