"""The storage engine of the local stack's moto process (local/engine.py), in-process: snapshots written from
moto's backends load back exactly; a corrupt snapshot is reported by name and the previous one used; the
journal replays every acknowledged write, and only those, onto the snapshot."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from local import engine as engine_module
from local.engine import Engine, choose_snapshot, is_mutating, load_snapshot, write_snapshot
from tests.unit.test_snapshot import EVERY_TYPE_ITEM

NOW_MS = int(time.time() * 1000)


@pytest.fixture(autouse=True)
def aws_credentials(only_fake_aws_credentials):
    yield
    engine_module.uninstall()


def create_table(dynamodb) -> None:
    dynamodb.create_table(
        TableName="jobs", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "status", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}]}])


def state() -> dict:
    """Everything a test compares: items as boto3 reads them, log events, objects."""
    dynamodb, logs, s3 = (boto3.client(n, region_name="us-east-1") for n in ("dynamodb", "logs", "s3"))
    out = {"tables": {}}
    for name in dynamodb.list_tables()["TableNames"]:
        out["tables"][name] = sorted(dynamodb.scan(TableName=name)["Items"], key=repr)
    out["events"] = {g["logGroupName"]: [(e["timestamp"], e["message"]) for e in logs.filter_log_events(
        logGroupName=g["logGroupName"])["events"]] for g in logs.describe_log_groups()["logGroups"]}
    out["objects"] = {(b["Name"], o["Key"]): s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read()
                      for b in s3.list_buckets()["Buckets"]
                      for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", [])}
    return out


def fill() -> None:
    dynamodb, logs, s3 = (boto3.client(n, region_name="us-east-1") for n in ("dynamodb", "logs", "s3"))
    create_table(dynamodb)
    dynamodb.put_item(TableName="jobs", Item=EVERY_TYPE_ITEM)
    for n in range(30):
        dynamodb.put_item(TableName="jobs", Item={"pk": {"S": f"job#{n + 2}"}, "status": {"S": "QUEUED"},
                                                  "n": {"N": str(n)}, "blob": {"B": bytes([n, 0, 255])}})
    logs.create_log_group(logGroupName="/jobs")
    logs.create_log_stream(logGroupName="/jobs", logStreamName="exe-1")
    logs.put_log_events(logGroupName="/jobs", logStreamName="exe-1",
                        logEvents=[{"timestamp": NOW_MS + i, "message": f"line {i} ✓"} for i in range(5)])
    s3.create_bucket(Bucket="files")
    s3.put_object(Bucket="files", Key="a dir/ü.bin", Body=bytes(range(256)))


def test_a_snapshot_of_the_backends_loads_back_exactly(tmp_path):
    with mock_aws():
        fill()
        before = state()
        write_snapshot(tmp_path, journal_from=3, region="us-east-1")
    manifest = json.loads((tmp_path / "snapshot" / "manifest.json").read_text())
    assert manifest["journal_from"] == 3 and manifest["tables"] == {"jobs": 31}
    assert "dynamodb/000000.jsonl" in manifest["files"]
    with mock_aws():
        folder, manifest, rejected = choose_snapshot(tmp_path)
        assert (folder, rejected) == (tmp_path / "snapshot", [])
        loaded = load_snapshot(folder, "us-east-1")
        assert loaded["items"] == 31 and loaded["log_events"] == 5 and loaded["objects"] == 1
        assert state() == before


def test_a_corrupt_snapshot_is_reported_by_name_and_the_previous_one_used(tmp_path):
    with mock_aws():
        fill()
        write_snapshot(tmp_path, journal_from=2, region="us-east-1")
        boto3.client("dynamodb", region_name="us-east-1").put_item(TableName="jobs", Item={"pk": {"S": "later"}})
        write_snapshot(tmp_path, journal_from=5, region="us-east-1")
    items = tmp_path / "snapshot" / "dynamodb" / "000000.jsonl"
    data = bytearray(items.read_bytes())
    data[10] ^= 0x01  # one flipped bit
    items.write_bytes(bytes(data))
    folder, manifest, rejected = choose_snapshot(tmp_path)
    assert folder == tmp_path / "snapshot.prev" and manifest["journal_from"] == 2
    assert rejected == [f"{tmp_path / 'snapshot'}: dynamodb/000000.jsonl does not match its checksum (corrupt)"]
    (tmp_path / "snapshot.prev" / "manifest.json").write_text("{")
    assert choose_snapshot(tmp_path)[0] is None


def test_the_journal_replays_every_acknowledged_write_onto_the_last_snapshot(tmp_path):
    with mock_aws():
        engine = Engine(tmp_path, sync=False)
        engine.install()
        assert engine.restore()["replayed"] == 0
        fill()  # in-process calls: journaled through moto's botocore stubber
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.update_item(TableName="jobs", Key={"pk": {"S": "job#2"}}, UpdateExpression="ADD n :one",
                             ExpressionAttributeValues={":one": {"N": "1"}})
        with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):  # an error: not journaled
            dynamodb.put_item(TableName="jobs", Item={"pk": {"S": "job#2"}},
                              ConditionExpression="attribute_not_exists(pk)")
        dynamodb.delete_item(TableName="jobs", Key={"pk": {"S": "job#3"}})
        # a snapshot at this point, then more writes in the journal after it
        journal_from = engine.journal.rotate()
        write_snapshot(tmp_path, journal_from, "us-east-1")
        dynamodb.update_item(TableName="jobs", Key={"pk": {"S": "job#2"}}, UpdateExpression="ADD n :one",
                             ExpressionAttributeValues={":one": {"N": "1"}})
        boto3.client("logs", region_name="us-east-1").put_log_events(
            logGroupName="/jobs", logStreamName="exe-1", logEvents=[{"timestamp": NOW_MS + 9, "message": "late"}])
        boto3.client("s3", region_name="us-east-1").delete_object(Bucket="files", Key="a dir/ü.bin")
        before = state()
        engine.close()
    with mock_aws():
        again = Engine(tmp_path, sync=False)
        again.install()
        answer = again.restore()
        assert answer["snapshot"] == str(tmp_path / "snapshot")
        assert (answer["replayed"], answer["replay_errors"], answer["torn"]) == (3, 0, [])
        after = state()
        job2 = next(i for i in after["tables"]["jobs"] if i["pk"] == {"S": "job#2"})
        assert job2["n"] == {"N": "2"}  # 0, +1 before the snapshot, +1 replayed: applied exactly once
        assert after == before


def test_only_writes_to_kept_services_are_journaled():
    dynamo = "DynamoDB_20120810."
    assert is_mutating("POST", dynamo + "UpdateItem", None, None)
    assert not is_mutating("POST", dynamo + "Query", None, None)
    assert is_mutating("POST", "Logs_20140328.PutLogEvents", None, None)
    assert not is_mutating("POST", "Logs_20140328.GetLogEvents", None, None)
    assert not is_mutating("POST", "AmazonSQS.SendMessage", None, None)
    s3_auth = "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/s3/aws4_request, SignedHeaders=host"
    assert is_mutating("PUT", None, s3_auth, "127.0.0.1:5000")
    assert not is_mutating("GET", None, s3_auth, "127.0.0.1:5000")
    assert is_mutating("DELETE", None, None, "files.s3.amazonaws.com")
    sqs_auth = s3_auth.replace("/s3/", "/sqs/")
    assert not is_mutating("POST", None, sqs_auth, "127.0.0.1:5000")


def _load_and_read(tmp_path, fast: bool) -> list:
    """Load a snapshot of a table with a sort key and an index, with the fast restore or moto's put_item,
    then read it the ways the service does: a scan, an index query, 1 MB pages."""
    from local import moto_speedups
    was = moto_speedups.installed()
    moto_speedups.install() if fast else moto_speedups.uninstall()
    try:
        with mock_aws():
            load_snapshot(tmp_path / "snapshot", "us-east-1")
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            reads = [[item for page in dynamodb.get_paginator("scan").paginate(TableName="runs")
                      for item in page["Items"]]]
            reads.append(dynamodb.query(TableName="runs", IndexName="by-state", KeyConditionExpression="#s = :s",
                                        ExpressionAttributeNames={"#s": "state"},
                                        ExpressionAttributeValues={":s": {"S": "RUNNING"}})["Items"])
            page = dynamodb.query(TableName="runs", KeyConditionExpression="job = :j",
                                  ExpressionAttributeValues={":j": {"S": "big"}})
            reads.append((page["Count"], page.get("LastEvaluatedKey")))
            return reads
    finally:
        moto_speedups.install() if was else moto_speedups.uninstall()


def test_a_fast_restore_stores_what_moto_s_put_item_stores(tmp_path):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="runs", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "job", "KeyType": "HASH"}, {"AttributeName": "exe", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                                  for n, t in (("job", "S"), ("exe", "N"), ("state", "S"))],
            GlobalSecondaryIndexes=[{"IndexName": "by-state", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "state", "KeyType": "HASH"},
                                                   {"AttributeName": "exe", "KeyType": "RANGE"}]}])
        dynamodb.put_item(TableName="runs", Item={**EVERY_TYPE_ITEM, "job": {"S": "every"}, "exe": {"N": "1"},
                                                  "state": {"S": "RUNNING"}})
        for n in range(24):  # ~2.4 MB in one partition: where the first 1 MB page ends depends on item sizes
            dynamodb.put_item(TableName="runs", Item={
                "job": {"S": "big"}, "exe": {"N": str(n)}, "state": {"S": "RUNNING" if n % 2 else "DONE"},
                "log": {"L": [{"M": {"line": {"S": "x" * 10_000}, "n": {"N": str(i)}}} for i in range(10)]}})
        write_snapshot(tmp_path, journal_from=1, region="us-east-1")
    fast, generic = _load_and_read(tmp_path, fast=True), _load_and_read(tmp_path, fast=False)
    assert len(fast[0]) == 25 and fast[1] and fast[2][1] is not None  # every item; an index page; a 1 MB page
    assert fast == generic
