"""The write-ahead journal: records come back in order, a torn or corrupt tail is dropped and reported,
concurrent writers share fsyncs."""
from __future__ import annotations

import os
import threading
import time

from local import journal as journal_module
from local.journal import Journal, ReplayReport, read_segment, replay_records, segment_name, segments


def test_records_come_back_in_order_across_segments(tmp_path):
    journal = Journal(tmp_path)
    for n in range(5):
        journal.wait_durable(journal.append(f"first {n}".encode()))
    assert journal.rotate() == 2
    journal.wait_durable(journal.append(b"second \x00\xff binary"))
    journal.close()
    report = ReplayReport()
    assert list(replay_records(tmp_path, 1, report)) == [f"first {n}".encode() for n in range(5)] + [
        b"second \x00\xff binary"]
    assert (report.records, report.segments, report.torn) == (6, 2, [])
    # a snapshot holding segment 1 replays only what came after it
    assert list(replay_records(tmp_path, 2, ReplayReport())) == [b"second \x00\xff binary"]


def test_a_new_journal_writes_after_the_existing_segments(tmp_path):
    Journal(tmp_path).close()
    Journal(tmp_path).close()
    assert segments(tmp_path) == [1, 2]


def test_a_record_cut_by_a_crash_is_dropped_and_reported_and_the_next_segment_still_read(tmp_path):
    journal = Journal(tmp_path)
    for payload in (b"a" * 10, b"b" * 100, b"c" * 1000):
        journal.wait_durable(journal.append(payload))
    journal.close()
    path = tmp_path / segment_name(1)
    size = path.stat().st_size
    os.truncate(path, size - 7)  # the crash hit in the middle of the last record
    later = Journal(tmp_path)   # the next start writes into segment 2
    later.wait_durable(later.append(b"after the restart"))
    later.close()
    report = ReplayReport()
    assert list(replay_records(tmp_path, 1, report)) == [b"a" * 10, b"b" * 100, b"after the restart"]
    assert report.torn == [f"{segment_name(1)}: offset {size - 1008}, 1001 bytes dropped"]


def test_a_header_cut_short_and_a_checksum_mismatch_end_the_segment(tmp_path):
    journal = Journal(tmp_path)
    for payload in (b"one", b"two", b"three"):
        journal.append(payload)
    journal.close()
    path = tmp_path / segment_name(1)
    data = bytearray(path.read_bytes())
    data[8 + 3 + 8] ^= 0xFF  # first byte of "two"
    path.write_bytes(bytes(data))
    report = ReplayReport()
    assert list(read_segment(path, report)) == [b"one"]
    assert len(report.torn) == 1
    path.write_bytes(journal_module.frame(b"whole") + b"\x00\x00\x00")  # three bytes of a header
    assert list(read_segment(path)) == [b"whole"]


def test_concurrent_writers_share_fsyncs_and_all_return_durable(tmp_path, monkeypatch):
    synced = []
    real = os.fdatasync

    def slow_sync(fd):
        time.sleep(0.02)  # a disk: long enough for other writers to queue up behind it
        synced.append(fd)
        real(fd)
    monkeypatch.setattr(journal_module.os, "fdatasync", slow_sync)
    journal = Journal(tmp_path)
    order_lock = threading.Lock()
    durable = []

    def writer(n: int) -> None:
        for i in range(5):
            with order_lock:
                seq = journal.append(f"{n}-{i}".encode())
            journal.wait_durable(seq)
            assert journal._durable >= seq
            durable.append(seq)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(durable) == list(range(1, 41))
    assert len(synced) < 40 / 2, f"{len(synced)} fsyncs for 40 records: not grouped"
    journal.close()
    assert len(list(replay_records(tmp_path, 1, ReplayReport()))) == 40
