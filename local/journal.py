"""The write-ahead journal of the embedded stack's emulator: every mutating request it answered with a 2xx,
on disk before the answer leaves.

Layout: `$JOBS_DATA_DIR/journal/<n>.log` segments, `n` counting up from 1 (twelve digits). A record is

    length (4 bytes, big endian) | CRC-32 of the payload (4 bytes) | payload (`length` bytes)

and a payload is the request: a 4-byte length, a JSON header `{"m": method, "u": url, "h": headers}`, then
the body bytes. A start replays, after the snapshot, every segment the snapshot does not hold
(`journal_from` in its manifest), oldest first. A record cut short by a crash (its length runs past the end
of the file or its checksum does not match) ends the reading of its segment: it was never acknowledged (the
answer waits for the fsync), so dropping it loses nothing acknowledged; it is reported, never fatal. Each
start writes into a new segment, so a torn tail stays the last bytes of its segment.

Group commit: `append` writes a record into the file (under the caller's ordering lock, so the journal holds
writes in the order they were applied) and returns its sequence number; `wait_durable(seq)` returns once an
fsync covering it is done. Concurrent writers share one fsync: whoever finds none running syncs everything
written so far; the others wait for it.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from local.private_files import private_dir, private_open

log = logging.getLogger("jobs.journal")

_HEADER = struct.Struct(">II")
_LENGTH = struct.Struct(">I")
SUFFIX = ".log"
MAX_RECORD = 1 << 31


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def encode(self) -> bytes:
        head = json.dumps({"m": self.method, "u": self.url, "h": self.headers}, separators=(",", ":")).encode()
        return _LENGTH.pack(len(head)) + head + self.body

    @classmethod
    def decode(cls, payload: bytes) -> Request:
        (size,) = _LENGTH.unpack_from(payload)
        head = json.loads(payload[4:4 + size])
        return cls(head["m"], head["u"], head["h"], payload[4 + size:])


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass
class ReplayReport:
    segments: int = 0
    records: int = 0
    torn: list[str] = field(default_factory=list)  # "<segment>: offset N, M bytes dropped"

    def __str__(self) -> str:
        torn = f", dropped torn tails: {'; '.join(self.torn)}" if self.torn else ""
        return f"{self.records} journal records from {self.segments} segments{torn}"


def segment_name(number: int) -> str:
    return f"{number:012d}{SUFFIX}"


def segments(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name[:-len(SUFFIX)]) for p in folder.iterdir()
                  if p.name.endswith(SUFFIX) and p.name[:-len(SUFFIX)].isdigit())


def read_segment(path: Path, report: ReplayReport | None = None) -> Iterator[bytes]:
    """The payloads of one segment, in order, up to the first torn or corrupt record."""
    with open(path, "rb") as file:
        data = file.read()
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            break
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            break
        yield data[start:end]
        offset = end
    if offset < len(data):
        message = f"{path.name}: offset {offset}, {len(data) - offset} bytes dropped"
        log.warning("journal: a torn or corrupt record ends segment %s", message)
        if report is not None:
            report.torn.append(message)


def replay_records(folder: Path, first_segment: int, report: ReplayReport) -> Iterator[bytes]:
    for number in segments(folder):
        if number < first_segment:
            continue
        report.segments += 1
        for payload in read_segment(folder / segment_name(number), report):
            report.records += 1
            yield payload


class Journal:
    """Appends records to the current segment; `rotate` starts the next one (a snapshot's boundary)."""

    def __init__(self, folder: Path, sync: bool = True) -> None:
        self.folder = Path(folder)
        private_dir(self.folder, parents=True)
        self.sync = sync
        existing = segments(self.folder)
        self.segment = (existing[-1] + 1) if existing else 1
        self._file = self._open(self.segment)
        self._cond = threading.Condition()
        self._written = 0       # sequence number of the last record written
        self._durable = 0       # ... and of the last one an fsync covers
        self._syncing = False
        self.records_in_segment = 0
        self.bytes_in_segment = 0
        self.fsyncs = 0

    def _open(self, number: int):
        file = private_open(self.folder / segment_name(number), "ab", buffering=0)
        _fsync_dir(self.folder)  # the new segment's name is durable before anything in it counts
        return file

    def append(self, payload: bytes) -> int:
        """Write one record (not yet durable); call under the lock that orders the writes it records."""
        record = frame(payload)
        with self._cond:
            self._file.write(record)
            self._written += 1
            self.records_in_segment += 1
            self.bytes_in_segment += len(record)
            return self._written

    def wait_durable(self, seq: int) -> None:
        """Returns once record `seq` is on disk, sharing one fsync with every writer waiting meanwhile."""
        with self._cond:
            while self._durable < seq:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target, file = self._written, self._file
                self._cond.release()
                try:
                    if self.sync:
                        os.fdatasync(file.fileno())
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self.fsyncs += 1
                    self._durable = max(self._durable, target)
                    self._cond.notify_all()

    def rotate(self) -> int:
        """Close the current segment (durably) and open the next; returns the new segment's number.
        Call under the ordering lock: the boundary is exact."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self.sync:
                os.fdatasync(self._file.fileno())
            self._durable = self._written
            self._file.close()
            self.segment += 1
            self._file = self._open(self.segment)
            self.records_in_segment = self.bytes_in_segment = 0
            self._cond.notify_all()
            return self.segment

    def remove_before(self, number: int) -> int:
        removed = 0
        for old in segments(self.folder):
            if old < number:
                (self.folder / segment_name(old)).unlink(missing_ok=True)
                removed += 1
        return removed

    def size_on_disk(self) -> int:
        return sum((self.folder / segment_name(n)).stat().st_size for n in segments(self.folder))

    def close(self) -> None:
        with self._cond:
            if self.sync:
                os.fdatasync(self._file.fileno())
            self._file.close()


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
