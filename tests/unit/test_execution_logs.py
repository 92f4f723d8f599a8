"""The pure parts of execution logs (message encoding, batching, ordering and merging) and the sink and
page walker against fake CloudWatch clients."""
from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from chalicelib import execution_logs as el
from chalicelib.execution_logs import (
    CloudWatchLogSink,
    RawLine,
    decode_message,
    encode_message,
    in_sequence,
    merge_lines,
    split_batches,
    stream_events,
)

# --- encoding -----------------------------------------------------------------------------------------


def test_a_message_carries_a_fixed_width_sequence_prefix():
    assert encode_message(42, "hello") == "#0000000042 hello"
    assert decode_message("#0000000042 hello") == (42, "hello")


def test_one_trailing_newline_is_dropped_and_empty_lines_survive():
    assert decode_message(encode_message(1, "line\r\n")) == (1, "line")
    assert decode_message(encode_message(2, "line\n\n")) == (2, "line\n")
    assert decode_message(encode_message(3, "")) == (3, "")


def test_a_line_that_looks_like_a_prefix_round_trips():
    assert decode_message(encode_message(7, "#0000000001 x")) == (7, "#0000000001 x")


def test_a_message_without_the_prefix_is_served_as_is():
    assert decode_message("plain line from another writer") == (None, "plain line from another writer")
    assert decode_message("#12 short") == (None, "#12 short")


def test_an_oversized_line_is_cut_on_a_character_boundary():
    message = encode_message(1, "日" * 200_000)  # 600,000 bytes of UTF-8

    assert len(message.encode("utf-8")) <= el.MAX_EVENT_BYTES
    sequence, line = decode_message(message)
    assert sequence == 1 and set(line) == {"日"}


def test_unicode_round_trips():
    assert decode_message(encode_message(5, "héllo — 日本語 🎉"))[1] == "héllo — 日本語 🎉"


# --- batches ------------------------------------------------------------------------------------------

def _events(count, size=10, timestamp=1_000):
    return [{"timestamp": timestamp, "message": "x" * size} for _ in range(count)]


def test_batches_hold_at_most_10000_events():
    batches = list(split_batches(_events(25_001)))

    assert [len(batch) for batch in batches] == [10_000, 10_000, 5_001]


def test_batches_hold_at_most_a_megabyte_counting_26_bytes_an_event():
    batches = list(split_batches(_events(2_000, size=1_000)))

    assert all(sum(len(e["message"]) + 26 for e in batch) <= 1_048_576 for batch in batches)
    assert len(batches[0]) == 1_048_576 // 1_026
    assert sum(len(batch) for batch in batches) == 2_000


def test_a_batch_never_spans_24_hours():
    events = [{"timestamp": 0, "message": "a"}, {"timestamp": el.MAX_BATCH_SPAN_MS - 1, "message": "b"},
              {"timestamp": el.MAX_BATCH_SPAN_MS, "message": "c"}]

    assert [[e["message"] for e in batch] for batch in split_batches(events)] == [["a", "b"], ["c"]]


# --- ordering and merge -------------------------------------------------------------------------------

def _line(timestamp, sequence, stream="stdout", text=None):
    return RawLine(timestamp, sequence, text or f"{stream}-{sequence}", stream)


def test_combined_merges_by_timestamp_then_sequence():
    stdout = [_line(1, 1), _line(1, 3), _line(2, 4), _line(5, 7)]
    stderr = [_line(1, 2, "stderr"), _line(3, 5, "stderr"), _line(3, 6, "stderr")]

    merged = list(merge_lines([iter(stdout), iter(stderr)]))

    assert [line.sequence for line in merged] == [1, 2, 3, 4, 5, 6, 7]


def test_merge_is_lazy():
    def endless(stream, start):
        sequence = start
        while True:
            yield _line(sequence, sequence, stream)
            sequence += 2

    merged = merge_lines([endless("stdout", 1), endless("stderr", 2)])

    assert [next(merged).sequence for _ in range(6)] == [1, 2, 3, 4, 5, 6]


def test_lines_sharing_a_millisecond_are_put_in_sequence_order():
    arrived = [_line(1, 2), _line(1, 1), _line(2, 4), _line(2, 3), _line(3, 5)]

    assert [line.sequence for line in in_sequence(arrived)] == [1, 2, 3, 4, 5]


def test_unnumbered_lines_keep_their_stream_order():
    stdout = [_line(1, None, text="a"), _line(1, None, text="b")]
    stderr = [_line(2, None, "stderr", text="c")]

    assert [line.line for line in merge_lines([in_sequence(stdout), in_sequence(stderr)])] == ["a", "b", "c"]


def test_iso_ms():
    assert el.iso_ms(1_440_784_661_005) == "2015-08-28T17:57:41.005Z"


# --- the page walker ----------------------------------------------------------------------------------

class FakeReader:
    """GetLogEvents over a list, CloudWatch-style: the same forward token again means the end."""

    def __init__(self, events, page_size=3):
        self.events = events
        self.page_size = page_size
        self.requests = []

    def get_log_events(self, **request):
        self.requests.append(request)
        start = int(request.get("nextToken", "f/0")[2:])
        page = [e for e in self.events if e["timestamp"] >= request.get("startTime", 0)][start:start + self.page_size]
        return {"events": page, "nextForwardToken": f"f/{start + len(page)}"}


def test_pages_are_walked_until_the_token_repeats():
    reader = FakeReader([{"timestamp": i, "message": str(i)} for i in range(7)])

    events = list(stream_events(reader, "group", "stream"))

    assert [e["message"] for e in events] == [str(i) for i in range(7)]
    assert [r.get("nextToken") for r in reader.requests] == [None, "f/3", "f/6", "f/7"]
    assert all(r["startFromHead"] is True for r in reader.requests)


def test_started_becomes_start_time():
    reader = FakeReader([{"timestamp": i, "message": str(i)} for i in range(7)])

    events = list(stream_events(reader, "group", "stream", start_ms=5))

    assert [e["message"] for e in events] == ["5", "6"]
    assert reader.requests[0]["startTime"] == 5


def test_a_missing_stream_has_no_events():
    class Missing:
        def get_log_events(self, **request):
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "GetLogEvents")

    assert list(stream_events(Missing(), "group", "stream")) == []


def test_an_execution_that_never_started_reads_nothing():
    execution = SimpleNamespace(started=None, cluster_id="c", id=1, node_hostname=None)

    assert list(el.read_log(execution, "combined", client=object())) == []


def test_an_unknown_log_id_is_not_found():
    from chalicelib.errors import NotFound
    with pytest.raises(NotFound):
        el.read_log(SimpleNamespace(started=None), "syslog", client=object())


# --- the sink -----------------------------------------------------------------------------------------

def _client_error(code):
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutLogEvents")


class FakeWriter:
    def __init__(self, failures=()):
        self.failures = list(failures)
        self.streams = []
        self.puts = []
        self.lock = threading.Lock()

    def create_log_stream(self, logGroupName, logStreamName):
        self.streams.append(logStreamName)

    def put_log_events(self, logGroupName, logStreamName, logEvents):
        with self.lock:
            if self.failures:
                raise _client_error(self.failures.pop(0))
            self.puts.append((logStreamName, list(logEvents)))
        return {"nextSequenceToken": "x"}

    def lines(self, stream):
        return [(e["timestamp"],) + decode_message(e["message"]) for name, events in self.puts
                if name.endswith("/" + stream) for e in events]


def test_streams_are_created_lazily_once_and_batches_keep_order():
    writer = FakeWriter()
    sink = CloudWatchLogSink("exe-1", client=writer, log_group="g", background=False, flush_interval=3600)

    for i in range(5):
        sink.write("stdout", f"line {i}", 100 + i)
    sink.flush()
    sink.write("stdout", "line 5", 200)
    sink.close()

    assert writer.streams == ["exe-1/stdout"]
    assert [line for _, _, line in writer.lines("stdout")] == [f"line {i}" for i in range(6)]
    assert [len(events) for _, events in writer.puts] == [5, 1]


def test_one_sequence_spans_both_streams_and_timestamps_never_go_back():
    writer = FakeWriter()
    with CloudWatchLogSink("exe", client=writer, log_group="g", background=False, flush_interval=3600) as sink:
        sink.write("stdout", "a", 100)
        sink.write("stderr", "b", 99)   # the other thread's clock read came first: raised to 100
        sink.write("stdout", "c", 101)

    assert writer.lines("stdout") == [(100, 1, "a"), (101, 3, "c")]
    assert writer.lines("stderr") == [(100, 2, "b")]


def test_a_full_batch_is_sent_from_write_without_a_background_thread():
    writer = FakeWriter()
    sink = CloudWatchLogSink("exe", client=writer, log_group="g", background=False, flush_interval=3600)

    for i in range(el.MAX_BATCH_EVENTS):
        sink.write("stdout", "x", 1_000 + i)

    assert len(writer.puts) == 1 and len(writer.puts[0][1]) == el.MAX_BATCH_EVENTS
    sink.close()


def test_write_sends_when_the_buffer_is_older_than_the_flush_interval():
    writer = FakeWriter()
    now = [0.0]
    sink = CloudWatchLogSink("exe", client=writer, log_group="g", background=False, flush_interval=1.0,
                             monotonic=lambda: now[0])

    sink.write("stdout", "first", 1)
    now[0] = 0.5
    sink.write("stdout", "second", 2)
    assert writer.puts == []
    now[0] = 1.0
    sink.write("stdout", "third", 3)

    assert [line for _, _, line in writer.lines("stdout")] == ["first", "second", "third"]


def test_the_background_flusher_sends_within_the_interval():
    writer = FakeWriter()
    sink = CloudWatchLogSink("exe", client=writer, log_group="g", flush_interval=0.05)

    sink.write("stderr", "soon", 1)
    deadline = time.monotonic() + 2
    while not writer.puts and time.monotonic() < deadline:
        time.sleep(0.01)

    assert writer.lines("stderr") == [(1, 1, "soon")]
    sink.close()


def test_two_threads_writing_at_once_lose_nothing_and_keep_order():
    writer = FakeWriter()
    sink = CloudWatchLogSink("exe", client=writer, log_group="g", flush_interval=0.01)

    def run(stream):
        for i in range(3_000):
            sink.write(stream, f"{stream} {i}", int(time.time() * 1000))

    threads = [threading.Thread(target=run, args=(stream,)) for stream in ("stdout", "stderr")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()

    for stream in ("stdout", "stderr"):
        lines = writer.lines(stream)
        assert [line for _, _, line in lines] == [f"{stream} {i}" for i in range(3_000)]
        assert [ts for ts, _, _ in lines] == sorted(ts for ts, _, _ in lines)
        assert [seq for _, seq, _ in lines] == sorted(seq for _, seq, _ in lines)
    everything = sorted(writer.lines("stdout") + writer.lines("stderr"), key=lambda line: line[1])
    assert [seq for _, seq, _ in everything] == list(range(1, 6_001))
    assert [ts for ts, _, _ in everything] == sorted(ts for ts, _, _ in everything)


def test_throttling_is_retried_with_backoff():
    writer = FakeWriter(failures=["ThrottlingException", "ThrottlingException"])
    waits = []
    with CloudWatchLogSink("exe", client=writer, log_group="g", background=False, flush_interval=3600,
                           sleep=waits.append) as sink:
        sink.write("stdout", "kept", 1)

    assert [line for _, _, line in writer.lines("stdout")] == ["kept"]
    assert len(waits) == 2 and all(0 <= wait <= 5 for wait in waits)


def test_a_logging_failure_never_reaches_the_runner(caplog):
    writer = FakeWriter(failures=["AccessDeniedException"] * 10)
    caplog.set_level(logging.WARNING, logger="jobs.execution_logs")
    sink = CloudWatchLogSink("exe", client=writer, log_group="g", background=False, flush_interval=0,
                             sleep=lambda _: None)

    sink.write("stdout", "lost", 1)
    sink.write("nonsense", "bad stream", 2)
    sink.close()
    sink.close()
    sink.write("stdout", "after close", 3)

    assert writer.puts == []
    assert "1 stdout lines lost" in caplog.text and "AccessDeniedException" in caplog.text


def test_persistent_throttling_gives_up_after_the_last_attempt():
    writer = FakeWriter(failures=["ThrottlingException"] * 10)
    waits = []
    with CloudWatchLogSink("exe", client=writer, log_group="g", background=False, flush_interval=3600,
                           max_attempts=3, sleep=waits.append) as sink:
        sink.write("stdout", "x", 1)

    assert writer.puts == [] and len(waits) == 2


def test_an_existing_stream_is_fine():
    writer = FakeWriter()

    def exists(logGroupName, logStreamName):
        raise _client_error("ResourceAlreadyExistsException")
    writer.create_log_stream = exists
    with CloudWatchLogSink("exe", client=writer, log_group="g", background=False, flush_interval=3600) as sink:
        sink.write("stdout", "x", 1)

    assert len(writer.puts) == 1


def test_the_deploy_resource_and_the_group_name():
    resource = el.cloudformation_log_group()[el.LOG_GROUP_LOGICAL_ID]

    assert resource["Type"] == "AWS::Logs::LogGroup"
    assert resource["Properties"] == {"LogGroupName": {"Fn::Sub": "${AWS::StackName}-job-executions"},
                                      "RetentionInDays": 30}
    assert el.log_group_name("local-") == "local-job-executions"
    assert el.stream_name("scale_job_1_1x2", "stderr") == "scale_job_1_1x2/stderr"


def test_create_log_group_is_idempotent_with_30_day_retention():
    import boto3
    from moto import mock_aws
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        assert el.create_log_group(client, "unit-") == "unit-job-executions"
        el.create_log_group(client, "unit-")
        (group,) = client.describe_log_groups(logGroupNamePrefix="unit-")["logGroups"]
        assert group["logGroupName"] == "unit-job-executions" and group["retentionInDays"] == 30
