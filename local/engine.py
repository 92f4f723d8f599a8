"""The embedded stack's storage engine, inside the moto process: a write-ahead journal of every mutating
request, point-in-time snapshots taken by a forked copy of the process, and a restore that loads the last
good snapshot and replays the journal written after it.

Durability. A request that changes DynamoDB, CloudWatch Logs or S3 state (from the API or the workers over
HTTP, or from this process's own state machine and chunk task in-process) is applied under one lock (the
order of the journal is the order of application), appended to the journal, and answered only once an
fsync covers its record (`local/journal.py`, group commit: concurrent writers share one fsync). A request
that answers an error is not journaled (it changed nothing). SQS and Step Functions are not journaled: the
job table is the truth (work is re-sent from it) and interrupted bulk operations are resumed from their
records.

Snapshots. Under the lock, the journal moves to a new segment and the process forks: the child holds the
state exactly as of that boundary (copy-on-write), writes it as a snapshot whose manifest names the first
segment it does not hold (`journal_from`) and a CRC-32 per file, swaps it in (keeping the previous one as
`snapshot.prev`) and exits; the parent goes on serving at once. Segments older than the previous snapshot's
boundary are then deleted, so either snapshot can still be completed from the journal.

Restore (at start, after the stack created its tables, queues and log group): the newest snapshot whose
files all match their checksums is loaded (a corrupt one is reported by name and the previous one used),
then every journal segment from its `journal_from` is replayed, oldest first, through moto's own request
handling; a record cut short by a crash ends its segment (reported, never fatal). Requests the replay
answers with an error are counted (the stack's own create-table calls of an earlier start are answered
"already exists").

Control requests, on the moto port: `POST /_local/restore`, `POST /_local/snapshot`, `GET /_local/status`.
"""
from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import re
import shutil
import signal
import threading
import time
import traceback
import zlib
from pathlib import Path
from typing import Any

from local.journal import Journal, ReplayReport, replay_records, segments
from local.private_files import DIR_MODE, private_dir, private_open, private_write_text, secure_data_folder

log = logging.getLogger("jobs.engine")

FORMAT_VERSION = 2  # version 1 (local/snapshot.py) has the same layout, without checksums or journal_from
SNAPSHOT, PREVIOUS, TMP_PREFIX, MANIFEST = "snapshot", "snapshot.prev", "snapshot.tmp-", "manifest.json"
JOURNAL = "journal"
SNAPSHOT_TIMEOUT = float(os.environ.get("JOBS_SNAPSHOT_TIMEOUT") or 900)

DYNAMODB_WRITES = frozenset({
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "CreateTable", "UpdateTable",
    "DeleteTable", "UpdateTimeToLive", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
    "RestoreTableFromBackup", "RestoreTableToPointInTime", "ImportTable", "TagResource", "UntagResource",
    "UpdateContinuousBackups"})
LOGS_READS = ("Describe", "Get", "List", "Filter", "Test", "StartQuery", "StopQuery", "StartLiveTail")
_SCOPE = re.compile(r"Credential=[^/,]+/[^/,]+/[^/,]+/([^/,]+)/aws4_request")


def is_mutating(method: str, target: str | None, authorization: str | None, host: str | None) -> bool:
    """Whether a request changes state this engine keeps (DynamoDB, CloudWatch Logs, S3)."""
    if target:
        prefix, _, operation = target.partition(".")
        if prefix.startswith("DynamoDB_"):
            return operation in DYNAMODB_WRITES
        if prefix.startswith("Logs_"):
            return not operation.startswith(LOGS_READS)
        return False
    scope = _SCOPE.search(authorization or "")
    service = scope.group(1) if scope else ("s3" if host and ".s3." in f".{host}" else None)
    return service == "s3" and method in ("PUT", "POST", "DELETE")


class Engine:
    def __init__(self, data_dir: Path, sync: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.sync = sync
        self.lock = threading.RLock()        # orders every journaled write
        self.journal: Journal | None = None  # None until restored: nothing is journaled before
        self._depth = threading.local()
        self._snapshot_guard = threading.Lock()
        self.pending = 0                     # journal records a snapshot does not hold yet
        self.last_snapshot: dict[str, Any] = {}
        self.last_snapshot_end = time.monotonic()
        self.last_snapshot_seconds = 0.0
        self._lock_file = None
        self.region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    # -- the data folder ----------------------------------------------------------------------------
    def claim_folder(self) -> None:
        """One stack per data folder: a second one would journal into the same segments."""
        secure_data_folder(self.data_dir)  # 0700, and the journal/snapshots owner-only even if written wider
        self._lock_file = private_open(self.data_dir / "engine.lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            raise SystemExit(f"another local stack is using {self.data_dir}") from error

    # -- journaling hooks ---------------------------------------------------------------------------
    def _applying(self, record: bytes | None, apply, wait: bool = True):
        """Apply a mutating request under the lock, journal it if it succeeded, wait for its fsync (unless
        `wait` is false: this process's own writes, see `flush_loop`)."""
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        seq = 0
        try:
            with self.lock:
                outcome, ok = apply()
                if ok and depth == 0 and self.journal is not None and record is not None:
                    seq = self.journal.append(record())
                    self.pending += 1
        finally:
            self._depth.n = depth
        if seq and wait:
            self.journal.wait_durable(seq)
        return outcome

    def flush_loop(self, stop: threading.Event, seconds: float = 0.5) -> None:
        """This process's own writes (the bulk state machine and its chunk task) are journaled in order but
        answered without waiting for an fsync: nobody outside acknowledged them, a bulk operation cut by a
        crash is resumed from its records (which are in the same journal, so a crash keeps a consistent
        prefix), and an fsync for any acknowledged write covers them too. This syncs them within `seconds`
        otherwise, so a serial chunk does not pay one fsync per job."""
        while not stop.wait(seconds):
            journal = self.journal
            if journal is not None and journal._written > journal._durable:
                try:
                    journal.wait_durable(journal._written)
                except (OSError, ValueError):  # rotated or closed meanwhile: that synced it
                    pass

    def install(self) -> None:
        """Patch moto's server application and its in-process request path (botocore stubber) so this engine
        sees every request (once per process; `uninstall` puts moto back)."""
        global _engine
        _patch()
        _engine = self

    # -- control requests ---------------------------------------------------------------------------
    def control(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        try:
            if path == "/_local/restore" and method == "POST":
                answer = self.restore()
            elif path == "/_local/snapshot" and method == "POST":
                answer = self.snapshot(force="force=1" in environ.get("QUERY_STRING", ""))
            elif path == "/_local/status":
                answer = self.status()
            else:
                start_response("404 Not Found", [("Content-Type", "application/json")])
                return [b'{"error": "unknown control request"}']
        except Exception as error:  # noqa: BLE001 - reported to the stack, which stops loudly
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
            return [json.dumps({"error": f"{type(error).__name__}: {error}",
                                "trace": traceback.format_exc()}).encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]

    def status(self) -> dict[str, Any]:
        journal = self.journal
        return {"journaling": journal is not None, "pending_records": self.pending,
                "segment": journal.segment if journal else None, "fsyncs": journal.fsyncs if journal else 0,
                "journal_bytes": journal.size_on_disk() if journal else 0,
                "snapshot_bytes": _folder_size(self.data_dir / SNAPSHOT), "last_snapshot": self.last_snapshot}

    # -- restore ------------------------------------------------------------------------------------
    def restore(self) -> dict[str, Any]:
        """Load the last good snapshot, replay the journal after it, then journal every write from now on."""
        if self.journal is not None:
            raise RuntimeError("already restored")
        started = time.monotonic()
        folder, manifest, rejected = choose_snapshot(self.data_dir)
        answer: dict[str, Any] = {"snapshot": str(folder) if folder else None, "rejected": rejected}
        journal_from = 1
        if folder is not None:
            answer["loaded"] = load_snapshot(folder, self.region)
            journal_from = manifest.get("journal_from") or _first_segment(self.data_dir / JOURNAL)
        elif segments(self.data_dir / JOURNAL) and segments(self.data_dir / JOURNAL)[0] != 1:
            raise RuntimeError(f"no usable snapshot in {self.data_dir} ({'; '.join(rejected) or 'none'}) and the "
                               "journal does not start at its first segment: the state cannot be rebuilt")
        report = ReplayReport()
        failed = self._replay(replay_records(self.data_dir / JOURNAL, journal_from, report))
        answer.update(replayed=report.records, segments=report.segments, torn=report.torn, replay_errors=failed,
                      seconds=round(time.monotonic() - started, 3))
        self.pending = report.records
        self.journal = Journal(self.data_dir / JOURNAL, sync=self.sync)
        self.last_snapshot_end = time.monotonic()
        return answer

    def _replay(self, payloads) -> int:
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.compat import HTTPHeaders
        from moto.core.botocore_stubber import BotocoreStubber
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        app = DomainDispatcherApplication(create_backend_app)
        stub = BotocoreStubber()
        failed = 0
        for payload in payloads:
            kind, head, body = _decode(payload)
            if kind == "w":
                environ = dict(head)
                environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                                "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0),
                                "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False})
                statuses: list[str] = []
                chunks = _ORIGINAL['served'](app, environ, _collect_status(statuses))
                b"".join(chunks)
                ok = bool(statuses) and statuses[0].startswith("2")
            else:
                headers = HTTPHeaders()
                for name, value in head["h"].items():
                    headers[name] = value
                request = AWSPreparedRequest(method=head["m"], url=head["u"], headers=headers, body=body,
                                             stream_output=False)
                response = _ORIGINAL['stubbed'](stub, request)
                ok = response is not None and 200 <= int(response[0]) < 300
            failed += 0 if ok else 1
        return failed

    # -- snapshots ----------------------------------------------------------------------------------
    def snapshot(self, force: bool = False) -> dict[str, Any]:
        """A point-in-time snapshot written by a forked child; returns once it is on disk."""
        if self.journal is None:
            raise RuntimeError("not restored yet")
        with self._snapshot_guard:
            if not force and self.pending == 0 and (self.data_dir / SNAPSHOT).is_dir():
                return {"skipped": "nothing written since the last snapshot"}
            started = time.monotonic()
            with self.lock:
                journal_from = self.journal.rotate()
                pending, self.pending = self.pending, 0
                pid = os.fork()
                if pid == 0:  # the child: the state as of the journal boundary
                    _child_writes_snapshot(self.data_dir, journal_from, self.region)
            code = _wait_child(pid, deadline=time.monotonic() + SNAPSHOT_TIMEOUT)
            seconds = time.monotonic() - started
            if code != 0:
                self.pending += pending
                error = (self.data_dir / "snapshot-error.txt")
                raise RuntimeError(f"snapshot child exited with {code}: "
                                   f"{error.read_text() if error.exists() else 'no report'}")
            previous = _read_manifest(self.data_dir / PREVIOUS)
            # Either snapshot can still be completed from the journal (a corrupt newest one falls back).
            keep_from = (previous or {}).get("journal_from") or 1
            removed = self.journal.remove_before(keep_from)
            self.last_snapshot_seconds, self.last_snapshot_end = seconds, time.monotonic()
            self.last_snapshot = {"seconds": round(seconds, 3), "journal_from": journal_from,
                                  "records_compacted": pending, "segments_removed": removed,
                                  "bytes": _folder_size(self.data_dir / SNAPSHOT)}
            return self.last_snapshot

    def compact_loop(self, stop: threading.Event) -> None:
        """Snapshot when the journal has grown (JOBS_JOURNAL_MAX_RECORDS, default 5,000 records, bounding
        the replay at start) or JOBS_SNAPSHOT_SECONDS (60) have passed with writes, never sooner after one
        than JOBS_SNAPSHOT_PAUSE_RATIO (9) times what it took."""
        every = float(os.environ.get("JOBS_SNAPSHOT_SECONDS") or 60)
        ratio = float(os.environ.get("JOBS_SNAPSHOT_PAUSE_RATIO") or 9)
        most = int(os.environ.get("JOBS_JOURNAL_MAX_RECORDS") or 5000)
        while not stop.wait(1):
            if self.journal is None or self.pending == 0:
                continue
            since = time.monotonic() - self.last_snapshot_end
            if since < ratio * self.last_snapshot_seconds:
                continue
            if self.pending >= most or since >= every:
                try:
                    self.snapshot()
                except Exception:  # noqa: BLE001 - the journal keeps everything; try again later
                    log.exception("snapshot failed")
                    self.last_snapshot_end = time.monotonic()

    def close(self) -> None:
        if self.journal is not None:
            with self.lock:
                self.journal.close()


# --- hooks ----------------------------------------------------------------------------------------

_engine: Engine | None = None
_ORIGINAL: dict[str, Any] = {}


def uninstall() -> None:
    global _engine
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    if _ORIGINAL:
        DomainDispatcherApplication.__call__ = _ORIGINAL.pop("served")
        BotocoreStubber.process_request = _ORIGINAL.pop("stubbed")
    _engine = None


def _patch() -> None:
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    if _ORIGINAL:
        return
    served = _ORIGINAL["served"] = DomainDispatcherApplication.__call__
    stubbed = _ORIGINAL["stubbed"] = BotocoreStubber.process_request

    def __call__(app, environ, start_response):
        engine = _engine
        path = environ.get("PATH_INFO", "")
        if engine is not None and path.startswith("/_local/"):
            return engine.control(environ, start_response)
        if engine is None or engine.journal is None or not is_mutating(
                environ.get("REQUEST_METHOD", ""), environ.get("HTTP_X_AMZ_TARGET"),
                environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_HOST")):
            return served(app, environ, start_response)
        body = _read_body(environ)
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)
            return lambda data: captured.setdefault("written", []).append(data)

        def apply():
            chunks = served(app, environ, capture)
            try:
                out = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
            out = b"".join(captured.get("written", [])) + out
            return out, str(captured.get("status", "500")).startswith("2")

        out = engine._applying(lambda: _wsgi_record(environ, body), apply)
        start_response(captured["status"], captured["headers"])
        return [out]

    def process_request(stub, request):
        engine = _engine
        headers = request.headers
        if engine is None or engine.journal is None or not is_mutating(
                request.method, _text(headers.get("X-Amz-Target")), _text(headers.get("Authorization")),
                _host(request.url)):
            return stubbed(stub, request)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
            request.body = body
        body = body.encode() if isinstance(body, str) else (body or b"")

        def apply():
            response = stubbed(stub, request)
            return response, response is not None and 200 <= int(response[0]) < 300

        return engine._applying(lambda: _stub_record(request, body), apply, wait=False)

    DomainDispatcherApplication.__call__ = __call__
    BotocoreStubber.process_request = process_request


# --- records ---------------------------------------------------------------------------------------

_ENVIRON_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "RAW_URI", "REQUEST_URI", "SERVER_NAME",
                 "SERVER_PORT", "SERVER_PROTOCOL", "CONTENT_TYPE", "SCRIPT_NAME")


def _read_body(environ) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit():
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def _wsgi_record(environ, body: bytes) -> bytes:
    head = {key: environ[key] for key in _ENVIRON_KEYS if isinstance(environ.get(key), str)}
    head.update({key: value for key, value in environ.items() if key.startswith("HTTP_") and isinstance(value, str)})
    return _encode("w", head, body)


def _stub_record(request, body: bytes) -> bytes:
    headers = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
               for name, value in request.headers.items()}
    return _encode("s", {"m": request.method, "u": request.url, "h": headers}, body)


def _encode(kind: str, head: dict, body: bytes) -> bytes:
    text = json.dumps({"k": kind, **head} if kind == "s" else {"k": kind, "e": head}, separators=(",", ":")).encode()
    return len(text).to_bytes(4, "big") + text + body


def _decode(payload: bytes) -> tuple[str, dict, bytes]:
    size = int.from_bytes(payload[:4], "big")
    head = json.loads(payload[4:4 + size])
    body = payload[4 + size:]
    return (head["k"], head["e"], body) if head["k"] == "w" else (head["k"], head, body)


def _text(value: str | bytes | None) -> str | None:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _collect_status(statuses: list[str]):
    def start_response(status, headers, exc_info=None):
        statuses.append(status)
        return lambda data: None
    return start_response


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0]


# --- snapshot files --------------------------------------------------------------------------------

def _child_writes_snapshot(data_dir: Path, journal_from: int, region: str) -> None:
    """In the forked child only: never returns."""
    code = 1
    try:
        try:
            import ctypes
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # dies with the server
        except OSError:
            pass
        (data_dir / "snapshot-error.txt").unlink(missing_ok=True)
        write_snapshot(data_dir, journal_from, region)
        code = 0
    except BaseException:  # noqa: BLE001
        try:
            private_write_text(data_dir / "snapshot-error.txt", traceback.format_exc())
        except OSError:
            pass
    finally:
        os._exit(code)


def write_snapshot(data_dir: Path, journal_from: int, region: str) -> Path:
    """Write the current state as `data_dir/snapshot` (the former one kept as `snapshot.prev`)."""
    import boto3

    from local import snapshot as v1
    data_dir = Path(data_dir)
    for stale in data_dir.glob(f"{TMP_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = data_dir / f"{TMP_PREFIX}{os.getpid()}"
    tmp.mkdir(mode=DIR_MODE)
    os.chmod(tmp, DIR_MODE)
    try:
        stats = v1.SnapshotStats()
        session = boto3.session.Session(region_name=region)  # in-process: this process's own backends
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "journal_from": journal_from,
            "tables": _write_tables(tmp / "dynamodb", region, stats),
            "log_groups": v1._save_logs(v1._client(session, None, "logs"), tmp / "logs", stats),
            "buckets": v1._save_buckets(v1._client(session, None, "s3"), tmp / "s3", stats),
            "queues": v1._save_queues(v1._client(session, None, "sqs"), tmp / "sqs", stats),
        }
        manifest["files"] = {str(path.relative_to(tmp)): _checksum(path)
                             for path in sorted(tmp.rglob("*")) if path.is_file()}
        with private_open(tmp / MANIFEST, "w", encoding="utf-8") as out:
            json.dump(manifest, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        for folder in ("dynamodb", "logs", "s3", "sqs", "."):
            v1._fsync_dir(tmp / folder)
        current, previous = data_dir / SNAPSHOT, data_dir / PREVIOUS
        if current.is_dir():
            shutil.rmtree(previous, ignore_errors=True)
            current.rename(previous)
        tmp.rename(current)
        v1._fsync_dir(data_dir)
        return current
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_tables(folder: Path, region: str, stats) -> dict[str, int]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from local import snapshot as v1
    from local.moto_speedups import attribute_map
    private_dir(folder)
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
    counts: dict[str, int] = {}
    with private_open(folder / "tables.jsonl", "w", encoding="utf-8") as tables:
        for name in sorted(backend.tables):
            table = backend.tables[name]
            file = f"{len(counts):06d}.jsonl"
            count = 0
            with private_open(folder / file, "w", encoding="utf-8") as items:
                for entry in list(table.items.values()):
                    for item in (entry.values() if table.range_key_attr else (entry,)):
                        items.write(json.dumps(attribute_map(item.to_json()["Attributes"]), separators=(",", ":")))
                        items.write("\n")
                        count += 1
                items.flush()
                os.fsync(items.fileno())
            definition = v1._create_table_arguments(table.describe(base_key="Table")["Table"])
            tables.write(json.dumps({"definition": definition,
                                     "ttl": v1._ttl_specification(table.ttl or {}), "file": file, "items": count},
                                    separators=(",", ":")) + "\n")
            counts[name] = count
        tables.flush()
        os.fsync(tables.fileno())
    stats.tables, stats.items = len(counts), sum(counts.values())
    return counts


def _checksum(path: Path) -> dict[str, int]:
    crc, size = 0, 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return {"crc32": crc, "bytes": size}


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def verify_snapshot(folder: Path) -> dict[str, Any]:
    """The manifest of a complete, intact snapshot; raises SnapshotError naming what is wrong."""
    from local.snapshot import SnapshotError
    manifest = _read_manifest(folder)
    if manifest is None:
        raise SnapshotError(f"{folder}: {MANIFEST} missing or unreadable")
    if manifest.get("format_version") not in (1, FORMAT_VERSION):
        raise SnapshotError(f"{folder}: format version {manifest.get('format_version')} is unknown")
    for name, expected in (manifest.get("files") or {}).items():
        path = folder / name
        if not path.is_file():
            raise SnapshotError(f"{folder}: {name} is missing")
        if _checksum(path) != expected:
            raise SnapshotError(f"{folder}: {name} does not match its checksum (corrupt)")
    return manifest


def choose_snapshot(data_dir: Path) -> tuple[Path | None, dict, list[str]]:
    """The newest intact snapshot (its folder and manifest) and why any newer one was rejected."""
    from local.snapshot import SnapshotError
    rejected: list[str] = []
    for name in (SNAPSHOT, PREVIOUS):
        folder = data_dir / name
        if not folder.is_dir():
            continue
        try:
            return folder, verify_snapshot(folder), rejected
        except SnapshotError as error:
            log.error("snapshot rejected: %s", error)
            rejected.append(str(error))
    return None, {}, rejected


def load_snapshot(folder: Path, region: str) -> dict[str, int]:
    """Load a snapshot into this process's backends (add-only, as local/snapshot.py restores)."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from local import moto_speedups
    from local import snapshot as v1
    session = boto3.session.Session(region_name=region)
    stats = v1.SnapshotStats()
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
    dynamodb = None
    for line in v1._read_lines(folder / "dynamodb" / "tables.jsonl"):
        name = line["definition"]["TableName"]
        if name not in backend.tables:
            dynamodb = dynamodb or v1._client(session, None, "dynamodb")
            dynamodb.create_table(**line["definition"])
            if line["ttl"]:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=line["ttl"])
        table = backend.tables[name]
        with open(folder / "dynamodb" / line["file"], encoding="utf-8") as lines:
            items = (json.loads(text) for text in lines if text.strip())
            if moto_speedups.installed():
                stats.items += moto_speedups.load_trusted_items(table, items)
            else:
                for item in items:
                    table.put_item(item, overwrite=True)
                    stats.items += 1
        stats.tables += 1
    v1._restore_logs(v1._client(session, None, "logs"), folder / "logs", stats)
    v1._restore_buckets(v1._client(session, None, "s3"), folder / "s3", stats)
    v1._restore_queues(v1._client(session, None, "sqs"), folder / "sqs", stats)
    return {"tables": stats.tables, "items": stats.items, "log_events": stats.log_events,
            "log_events_rejected": stats.log_events_rejected, "objects": stats.objects}


def _wait_child(pid: int, deadline: float) -> int:
    """The child's exit code; a child still running at the deadline (stuck) is killed."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -signal.SIGKILL
        time.sleep(0.02)


def _first_segment(folder: Path) -> int:
    found = segments(folder)
    return found[0] if found else 1


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
