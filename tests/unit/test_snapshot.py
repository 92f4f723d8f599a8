"""Saving the emulated AWS state and restoring it into a fresh moto gives back exactly the same state."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import snapshot
from local.snapshot import SnapshotError, restore_snapshot, save_snapshot

TABLE = "jobs"
INDEX = "by-status"
GROUP = "/aws/lambda/job-service-dev-dispatch"
BUCKET = "job-artifacts"
NOW_MS = int(time.time() * 1000)


pytestmark = pytest.mark.usefixtures("only_fake_aws_credentials")


def session() -> boto3.session.Session:
    return boto3.session.Session(region_name="us-east-1")


# --- given ------------------------------------------------------------------------------------

EVERY_TYPE_ITEM = {
    "pk": {"S": "job#1"},
    "status": {"S": "RUNNING"},
    "count": {"N": "42"},
    "ratio": {"N": "-0.000125"},
    "big": {"N": "123456789012345678901234567890.5"},
    "done": {"BOOL": False},
    "nothing": {"NULL": True},
    "text": {"S": "héllo ✓ 🚀\nsecond line"},
    "blob": {"B": bytes(range(256))},
    "tags": {"SS": ["alpha", "beta"]},
    "sizes": {"NS": ["1", "2.5", "-7"]},
    "blobs": {"BS": [b"\x00", b"\xff\xfe"]},
    "params": {
        "M": {
            "retries": {"N": "3"},
            "inner": {"M": {"deep": {"L": [{"B": b"\x01\x02"}, {"NULL": True}]}}},
            "empty": {"M": {}},
        }
    },
    "history": {"L": [{"S": "QUEUED"}, {"N": "1"}, {"M": {"at": {"S": "2024-01-01"}}}, {"L": []}]},
}


def create_jobs_table(dynamodb: Any, with_index: bool = True) -> None:
    index = {
        "GlobalSecondaryIndexes": [
            {
                "IndexName": INDEX,
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["count"]},
            }
        ]
    }
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}]
        + ([{"AttributeName": "status", "AttributeType": "S"}] if with_index else []),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        **(index if with_index else {}),
    )


def populate(aws: boto3.session.Session) -> None:
    dynamodb = aws.client("dynamodb")
    create_jobs_table(dynamodb)
    dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    dynamodb.put_item(TableName=TABLE, Item=EVERY_TYPE_ITEM)
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "job#2"}, "status": {"S": "QUEUED"}})

    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=30)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="2024/01/01/[$LATEST]abc")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="2024/01/01/[$LATEST]abc",
        logEvents=[{"timestamp": NOW_MS - 5000 + i, "message": f"line {i} ✓"} for i in range(5)],
    )
    logs.create_log_stream(logGroupName=GROUP, logStreamName="empty")
    logs.create_log_group(logGroupName="no-retention")

    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(
        Bucket=BUCKET, Key="results/job#1/out.json", Body=b'{"ok": true}', ContentType="application/json"
    )
    s3.put_object(
        Bucket=BUCKET, Key="raw data/ü.bin", Body=bytes(range(256)) * 10, Metadata={"job-id": "job#1"}
    )
    s3.put_object(Bucket=BUCKET, Key="empty", Body=b"")
    s3.create_bucket(Bucket="empty-bucket")

    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName="dispatch-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.create_queue(
        QueueName="dispatch",
        Attributes={
            "VisibilityTimeout": "120",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )
    sqs.create_queue(
        QueueName="events.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )


def state(aws: boto3.session.Session) -> dict[str, Any]:
    """Everything the snapshot must preserve, read through the public APIs."""
    dynamodb, logs, s3, sqs = (aws.client(name) for name in ("dynamodb", "logs", "s3", "sqs"))
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        table = dynamodb.describe_table(TableName=name)["Table"]
        items = [
            item for page in dynamodb.get_paginator("scan").paginate(TableName=name) for item in page["Items"]
        ]
        tables[name] = {
            "key": table["KeySchema"],
            "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "indexes": [
                (i["IndexName"], i["KeySchema"], i["Projection"])
                for i in table.get("GlobalSecondaryIndexes", [])
            ],
            "stream": table.get("StreamSpecification"),
            "ttl": dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
            "items": sorted(items, key=lambda item: item["pk"]["S"]),
        }
    groups = {}
    for group in logs.describe_log_groups()["logGroups"]:
        streams = {}
        for stream in logs.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]:
            events = logs.get_log_events(
                logGroupName=group["logGroupName"], logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
            streams[stream["logStreamName"]] = [(e["timestamp"], e["message"]) for e in events]
        groups[group["logGroupName"]] = {"retention": group.get("retentionInDays"), "streams": streams}
    buckets = {}
    for bucket in s3.list_buckets()["Buckets"]:
        objects = {}
        for listed in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            got = s3.get_object(Bucket=bucket["Name"], Key=listed["Key"])
            objects[listed["Key"]] = (got["Body"].read(), got["ContentType"], got["Metadata"])
        buckets[bucket["Name"]] = objects
    queues = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        attributes.pop("CreatedTimestamp")
        attributes.pop("LastModifiedTimestamp")
        queues[url.rsplit("/", 1)[-1]] = attributes
    return {"tables": tables, "log_groups": groups, "buckets": buckets, "queues": queues}


# --- tests ------------------------------------------------------------------------------------


def test_round_trip_restores_everything_identically(tmp_path: Path) -> None:
    # Given a populated AWS saved to a snapshot
    with mock_aws():
        populate(session())
        before = state(session())
        saved = save_snapshot(session(), None, tmp_path)

    # When a fresh (empty) AWS restores it
    with mock_aws():
        assert state(session())["tables"] == {}
        restored = restore_snapshot(session(), None, tmp_path)
        after = state(session())

    # Then the state is identical, down to attribute types, event order and object bytes
    assert after == before
    table = after["tables"][TABLE]
    assert table["items"][0] == EVERY_TYPE_ITEM
    assert table["indexes"][0][0] == INDEX
    assert table["ttl"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    events = after["log_groups"][GROUP]["streams"]["2024/01/01/[$LATEST]abc"]
    assert events == [(NOW_MS - 5000 + i, f"line {i} ✓") for i in range(5)]
    assert after["buckets"][BUCKET]["results/job#1/out.json"] == (b'{"ok": true}', "application/json", {})
    assert after["queues"]["dispatch"]["VisibilityTimeout"] == "120"
    assert "RedrivePolicy" in after["queues"]["dispatch"]
    assert after["queues"]["events.fifo"]["FifoQueue"] == "true"
    assert restored is not None
    counts = ("tables", "items", "log_groups", "log_streams", "log_events", "buckets", "objects", "queues")
    expected = {"tables": 1, "items": 2, "log_groups": 2, "log_streams": 2, "log_events": 5}
    expected |= {"buckets": 2, "objects": 3, "queues": 3}
    assert {name: getattr(saved, name) for name in counts} == expected
    assert {name: getattr(restored, name) for name in counts} == expected
    assert restored.log_events_rejected == 0
    manifest = json.loads((tmp_path / "snapshot" / "manifest.json").read_text())
    assert manifest["format_version"] == snapshot.FORMAT_VERSION
    assert manifest["tables"] == {TABLE: 2}
    assert manifest["log_groups"] == {GROUP: 5, "no-retention": 0}
    assert manifest["buckets"] == {BUCKET: 3, "empty-bucket": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]


def test_restoring_twice_changes_nothing(tmp_path: Path) -> None:
    # Given a snapshot already restored once
    with mock_aws():
        populate(session())
        save_snapshot(session(), None, tmp_path)
    with mock_aws():
        restore_snapshot(session(), None, tmp_path)
        once = state(session())

        # When it is restored again into the same AWS
        restore_snapshot(session(), None, tmp_path)

        # Then nothing is duplicated (log events in particular)
        assert state(session()) == once


def test_existing_table_keeps_its_definition_and_receives_the_items(tmp_path: Path) -> None:
    # Given a snapshot, and a table the launcher already created from newer definitions
    with mock_aws():
        populate(session())
        save_snapshot(session(), None, tmp_path)
    with mock_aws():
        create_jobs_table(session().client("dynamodb"), with_index=False)

        # When the snapshot is restored
        restore_snapshot(session(), None, tmp_path)

        # Then the table keeps the launcher's definition but holds the saved items
        table = state(session())["tables"][TABLE]
        assert table["indexes"] == []
        assert table["ttl"] == {"TimeToLiveStatus": "DISABLED"}
        assert [item["pk"]["S"] for item in table["items"]] == ["job#1", "job#2"]


def test_restore_without_a_snapshot_returns_none(tmp_path: Path) -> None:
    with mock_aws():
        assert restore_snapshot(session(), None, tmp_path) is None
        assert restore_snapshot(session(), None, tmp_path / "missing") is None


def test_a_crash_mid_save_leaves_the_previous_snapshot_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a saved snapshot holding job#1 and job#2
    with mock_aws():
        populate(session())
        save_snapshot(session(), None, tmp_path)
        manifest = (tmp_path / "snapshot" / "manifest.json").read_text()

        # When a later save dies while writing (job#3 added since)
        session().client("dynamodb").put_item(TableName=TABLE, Item={"pk": {"S": "job#3"}})
        written = 0

        def failing_write(self: Any, document: Any) -> None:
            nonlocal written
            written += 1
            if written == 2:
                raise OSError("disk full")

        monkeypatch.setattr(snapshot._JsonLines, "write", failing_write)
        with pytest.raises(OSError, match="disk full"):
            save_snapshot(session(), None, tmp_path)
        monkeypatch.undo()

    # Then the previous snapshot is untouched, nothing is left behind, and it restores
    assert (tmp_path / "snapshot" / "manifest.json").read_text() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]
    with mock_aws():
        restore_snapshot(session(), None, tmp_path)
        items = state(session())["tables"][TABLE]["items"]
    assert [item["pk"]["S"] for item in items] == ["job#1", "job#2"]


def test_a_crash_between_the_renames_restores_from_prev(tmp_path: Path) -> None:
    # Given a crash after `snapshot` became `snapshot.prev` and before the new one took its place
    with mock_aws():
        populate(session())
        before = state(session())
        save_snapshot(session(), None, tmp_path)
    (tmp_path / "snapshot").rename(tmp_path / "snapshot.prev")
    (tmp_path / "snapshot.tmp-999999999").mkdir()  # left by the killed process

    # When the service restarts, restores, and saves again
    with mock_aws():
        restore_snapshot(session(), None, tmp_path)
        assert state(session()) == before
        save_snapshot(session(), None, tmp_path)

    # Then the new save replaced both leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]


def test_a_snapshot_without_manifest_is_refused(tmp_path: Path) -> None:
    with mock_aws():
        populate(session())
        save_snapshot(session(), None, tmp_path)
    (tmp_path / "snapshot" / "manifest.json").unlink()

    with mock_aws(), pytest.raises(SnapshotError, match="no manifest.json"):
        restore_snapshot(session(), None, tmp_path)


def test_thousands_of_items_round_trip_across_scan_pages(tmp_path: Path) -> None:
    # Given 3,000 items of ~700 bytes: about 2 MB, so Scan needs several 1 MB pages
    with mock_aws():
        dynamodb = session().client("dynamodb")
        create_jobs_table(dynamodb)
        for start in range(0, 3000, 25):
            dynamodb.batch_write_item(
                RequestItems={
                    TABLE: [
                        {
                            "PutRequest": {
                                "Item": {
                                    "pk": {"S": f"job#{n:05d}"},
                                    "n": {"N": str(n)},
                                    "pad": {"S": "x" * 700},
                                }
                            }
                        }
                        for n in range(start, start + 25)
                    ]
                }
            )
        before = state(session())["tables"][TABLE]["items"]
        saved = save_snapshot(session(), None, tmp_path)

    # When restored into a fresh AWS
    with mock_aws():
        restored = restore_snapshot(session(), None, tmp_path)
        after = state(session())["tables"][TABLE]["items"]

    # Then every item is back, unchanged
    assert restored is not None
    assert saved.items == restored.items == len(after) == 3000
    assert after == before


def test_long_log_streams_are_paged_and_batched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given tiny page and batch limits, so 23 events take several GetLogEvents pages and PutLogEvents batches
    monkeypatch.setattr(snapshot, "_LOG_PAGE_SIZE", 4)
    monkeypatch.setattr(snapshot, "_LOG_BATCH_EVENTS", 5)
    sent = [(NOW_MS - 60_000 + i * 100, f"event {i}") for i in range(23)]
    with mock_aws():
        logs = session().client("logs")
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
        logs.put_log_events(
            logGroupName=GROUP, logStreamName="s", logEvents=[{"timestamp": t, "message": m} for t, m in sent]
        )
        save_snapshot(session(), None, tmp_path)

    # When restored
    with mock_aws():
        stats = restore_snapshot(session(), None, tmp_path)
        events = state(session())["log_groups"][GROUP]["streams"]["s"]

    # Then all events are back, in order
    assert stats is not None and stats.log_events == 23
    assert events == sent


def test_log_batches_respect_count_size_and_time_span(monkeypatch: pytest.MonkeyPatch) -> None:
    day = 24 * 3600 * 1000

    def sizes(events: list[tuple[int, str]]) -> list[int]:
        batches = snapshot._log_batches({"timestamp": t, "message": m} for t, m in events)
        return [len(batch) for batch in batches]

    assert sizes([(0, "a"), (day - 1, "b"), (day, "c")]) == [2, 1]  # span
    monkeypatch.setattr(snapshot, "_LOG_BATCH_EVENTS", 3)
    assert sizes([(i, "x") for i in range(7)]) == [3, 3, 1]  # count
    monkeypatch.setattr(snapshot, "_LOG_BATCH_BYTES", 2 * (26 + 10))
    assert sizes([(i, "x" * 10) for i in range(5)]) == [2, 2, 1]  # bytes: message + 26 each
    assert sizes([(i, "é" * 5) for i in range(5)]) == [2, 2, 1]  # UTF-8 bytes, not characters


def test_events_too_old_for_put_log_events_are_counted_not_hidden(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a snapshot whose stream holds events now 20 days old
    with mock_aws():
        populate(session())
        save_snapshot(session(), None, tmp_path)
    events_file = tmp_path / "snapshot" / "logs" / "000000.jsonl"
    old = [json.loads(line) for line in events_file.read_text().splitlines()]
    for event in old:
        event["timestamp"] -= 20 * 24 * 3600 * 1000
    events_file.write_text("".join(json.dumps(event) + "\n" for event in old))

    # When restored (PutLogEvents accepts only the last 14 days)
    with mock_aws(), caplog.at_level(logging.WARNING, logger="local.snapshot"):
        stats = restore_snapshot(session(), None, tmp_path)

    # Then the loss is reported
    assert stats is not None
    assert (stats.log_events, stats.log_events_rejected) == (0, 5)
    assert "5 log events were rejected" in caplog.text
    assert "5 rejected" in str(stats)


def test_batch_write_retries_unprocessed_items_until_done() -> None:
    class FakeDynamoDB:
        def __init__(self) -> None:
            self.requests: list[dict[str, Any]] = []

        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
            self.requests.append(RequestItems)
            if len(self.requests) == 1:
                return {"UnprocessedItems": {TABLE: RequestItems[TABLE][1:]}}
            return {"UnprocessedItems": {}}

    items = [{"pk": {"S": f"job#{n}"}} for n in range(3)]
    fake, pauses = FakeDynamoDB(), []

    snapshot._batch_write(fake, TABLE, items, sleep=pauses.append)

    assert fake.requests == [
        {TABLE: [{"PutRequest": {"Item": item}} for item in items]},
        {TABLE: [{"PutRequest": {"Item": item}} for item in items[1:]]},
    ]
    assert len(pauses) == 1


def test_batch_write_gives_up_with_a_clear_error() -> None:
    class ThrottledDynamoDB:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
            return {"UnprocessedItems": RequestItems}

    with pytest.raises(SnapshotError, match="unprocessed"):
        snapshot._batch_write(ThrottledDynamoDB(), TABLE, [{"pk": {"S": "a"}}], sleep=lambda _: None)


@pytest.mark.parametrize("configured, took, pause", [(60, 0.5, 60), (60, 10, 90), (5, 2, 18)])
def test_snapshots_of_a_large_store_are_spaced_to_stay_under_a_tenth_of_the_time(configured, took, pause) -> None:
    from local.stack import next_snapshot_pause
    assert next_snapshot_pause(configured, took) == pause
    assert took / (took + next_snapshot_pause(configured, took)) <= 0.1
