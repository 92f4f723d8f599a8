"""Query/Scan pages read without botocore's per-value parse (chalicelib/models/fast_reads.py) give exactly
what the ordinary parse gives, and a page that may hold a binary value takes the ordinary parse."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from chalicelib.models import fast_reads

PLAIN = {
    "pk": {"S": "p"}, "sk": {"N": "1"}, "text": {"S": "héllo \"quoted\" \n \u2028 B: \"B\""},
    "number": {"N": "-12.50"}, "big": {"N": "123456789012345678901234567890"}, "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]}, "nothing": {"NULL": True}, "flag": {"BOOL": False},
    "empty_list": {"L": []}, "empty_map": {"M": {}},
    "nested": {"M": {"timeline": {"L": [{"M": {"status": {"S": "QUEUED"}, "at": {"N": "1"},
                                                "list": {"L": [{"NULL": True}, {"BOOL": True}]}}}]}}},
}
BINARY = {"pk": {"S": "p"}, "sk": {"N": "2"}, "blob": {"B": b"\x00\xff"},
          "nested": {"M": {"blobs": {"BS": [b"x", b"\x01"]}}}}


@pytest.fixture
def clients():
    with mock_aws():
        plain = boto3.client("dynamodb", region_name="us-east-1")
        plain.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "sk", "KeyType": "RANGE"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                 {"AttributeName": "sk", "AttributeType": "N"}])
        fast = boto3.client("dynamodb", region_name="us-east-1")
        fast_reads.register(fast)
        took_shortcut: list[bool] = []
        for operation in fast_reads.OPERATIONS:  # registered after the shortcut: sees what it did
            fast.meta.events.register(f"before-parse.dynamodb.{operation}",
                                      lambda customized_response_dict, **_: took_shortcut.append(
                                          "Items" in customized_response_dict))
        yield plain, fast, took_shortcut


def _reads(sk: int) -> list[tuple[str, dict]]:
    return [("query", {"TableName": "t", "KeyConditionExpression": "pk = :p AND sk = :s",
                       "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {"N": str(sk)}}}),
            ("scan", {"TableName": "t", "FilterExpression": "sk = :s", "ExpressionAttributeValues": {
                ":s": {"N": str(sk)}}})]


def _without_metadata(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def test_a_page_without_binary_values_is_the_same_by_the_shortcut(clients):
    plain, fast, took_shortcut = clients
    plain.put_item(TableName="t", Item=PLAIN)
    for operation, request in _reads(1) + [("query", {"TableName": "t", "KeyConditionExpression": "pk = :p",
                                                      "ExpressionAttributeValues": {":p": {"S": "none"}}})]:
        expected = _without_metadata(getattr(plain, operation)(**request))
        assert _without_metadata(getattr(fast, operation)(**request)) == expected
    assert took_shortcut == [True, True, True]


def test_a_page_with_binary_values_takes_the_ordinary_parse(clients):
    plain, fast, took_shortcut = clients
    plain.put_item(TableName="t", Item=BINARY)
    for operation, request in _reads(2):
        answer = getattr(fast, operation)(**request)
        assert _without_metadata(answer) == _without_metadata(getattr(plain, operation)(**request))
        assert answer["Items"][0]["blob"] == {"B": b"\x00\xff"}
    assert took_shortcut == [False, False]


def test_a_paged_answer_keeps_its_last_key_and_counts(clients):
    plain, fast, _ = clients
    for sk in range(5):
        plain.put_item(TableName="t", Item={**PLAIN, "sk": {"N": str(sk)}})
    request = {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {
        ":p": {"S": "p"}}, "Limit": 2}
    answer = fast.query(**request)
    assert answer["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "1"}}
    assert (answer["Count"], answer["ScannedCount"]) == (2, 2)
    assert _without_metadata(answer) == _without_metadata(plain.query(**request))


def test_a_batch_get_answer_is_the_same_by_the_shortcut(clients):
    plain, fast, took_shortcut = clients
    plain.put_item(TableName="t", Item=PLAIN)
    plain.put_item(TableName="t", Item={**PLAIN, "sk": {"N": "3"}})
    request = {"RequestItems": {"t": {"Keys": [{"pk": {"S": "p"}, "sk": {"N": str(sk)}} for sk in (1, 3, 9)]}}}

    def sorted_items(answer: dict) -> dict:
        answer = _without_metadata(answer)
        answer["Responses"]["t"].sort(key=lambda item: item["sk"]["N"])
        return answer

    assert sorted_items(fast.batch_get_item(**request)) == sorted_items(plain.batch_get_item(**request))
    assert fast.batch_get_item(**request)["UnprocessedKeys"] == {}


# --- records straight from raw items -------------------------------------------------------------------

def _full_job():
    from datetime import datetime, timedelta, timezone

    from chalicelib.domain import JobRecord
    at = datetime(2026, 12, 3, 10, 0, 0, 123000, tzinfo=timezone.utc)
    return JobRecord(
        created=at, id=42, job_type_id=7, job_type_name="core", job_type_rev_id=3, job_type_revision_num=2,
        job_type_version="1.0.0", last_modified=at + timedelta(seconds=5), status="FAILED",
        batch={"id": 1, "title": "b", "created": "2026-12-03T10:00:00Z"}, batch_id=1,
        bulk_operation={"id": 5, "kind": "cancel", "reason": None}, cpu_seconds=1.25, description="d",
        dispatch_after=at, ended=at + timedelta(minutes=1), error={"id": 2, "name": "node-lost", "title": "Lost"},
        error_category="SYSTEM", error_id=2, event={"id": 9, "type": "USER"}, exit_code=-1, history_deleted=True,
        input_file_size=12.5, input_files={"INPUT": ["a.txt"]}, is_superseded=True, job_type_title="Core",
        last_status_change=at, max_tries=5, node_hostname="host", node_id=3, num_exes=2, owner="admin",
        parameters=[{"id": 1, "value": ["x"]}], peak_memory_mib=512.0, priority=0, project="default",
        queued=at, recipe={"id": 1, "recipe_type": {"id": 1}}, recipe_id=1, source_collection="c",
        source_ended=at, source_sensor="s", source_sensor_class="sc", source_started=at, source_task="t",
        started=at, superseded=at, superseded_by_job_id=43, superseded_job_id=41,
        timeline=[{"status": "QUEUED", "at": "2026-12-03T10:00:00.123Z", "exe_num": 1}], wall_seconds=60)


def _raw(job) -> dict:
    from chalicelib.models.jobs import _item
    return _item(job).serialize()


def _by_pynamodb(raw: dict):
    from chalicelib.domain import JobRecord
    from chalicelib.models.tables import Job, to_record
    return to_record(Job.from_raw_data(raw), JobRecord)


def _by_reader(raw: dict):
    from chalicelib.domain import JobRecord
    from chalicelib.models.tables import Job
    return fast_reads.record_reader(Job, JobRecord)(raw)


def test_a_job_read_from_its_raw_item_is_the_record_pynamodb_gives():
    raw = _raw(_full_job())
    assert _by_reader(raw) == _by_pynamodb(raw) == _full_job()


def test_absent_null_and_json_null_values_take_the_models_defaults_as_pynamodb_does():
    from dataclasses import replace
    raw = _raw(replace(_full_job(), batch=None, error=None, node_id=None, timeline=None))
    for name in ("num_exes", "max_tries", "priority", "is_superseded"):  # absent: the model's (= the record's) default
        raw.pop(name)
    raw["description"] = {"NULL": True}
    raw["event"] = {"S": "null"}  # a JSON null: None, so the record's default
    raw["input_file_size"] = {"N": "0"}
    raw["exit_code"] = {"N": "-3"}
    raw["cpu_seconds"] = {"N": "1E+2"}
    record = _by_reader(raw)
    assert record == _by_pynamodb(raw)
    assert (record.num_exes, record.max_tries, record.priority, record.description, record.event) == (0, 3, 100,
                                                                                                      None, None)
    assert (record.exit_code, record.cpu_seconds, record.input_file_size) == (-3, 100.0, 0)


def test_numbers_decode_as_json_does():
    for text in ("0", "7", "007", "-1", "1.50", "1e3", "123456789012345678901234567890", "\u0663"):
        try:
            expected = json.loads(text)
        except ValueError:
            expected = ValueError
        try:
            got = fast_reads.number_value(text)
        except ValueError:
            got = ValueError
        assert got == expected and type(got) is type(expected), text


def test_list_members_of_every_plain_type_decode_as_pynamodb_does():
    from dataclasses import replace
    timeline = [{"status": "QUEUED", "at": "2026-12-03T10:00:00.123Z", "exe_num": 1},
                {"status": "RUNNING", "exe_num": 1.5, "nested": {"ok": True, "none": None, "list": [0, "x", [2e3]]}},
                [], {}, None, False, "007", -12]
    raw = _raw(replace(_full_job(), timeline=timeline))
    record = _by_reader(raw)
    assert record == _by_pynamodb(raw)
    assert record.timeline == timeline


def test_a_list_member_of_another_type_takes_pynamodbs_way():
    raw = _raw(_full_job())
    raw["timeline"]["L"].append({"SS": ["a", "b"]})  # a set: not one of the plain types the reader decodes
    assert _by_reader(raw) == _by_pynamodb(raw)
    assert _by_reader(raw).timeline[-1] == {"a", "b"}


def test_an_attribute_stored_with_another_type_takes_pynamodbs_way():
    raw = _raw(_full_job())
    raw["num_exes"] = {"S": "2"}  # not a number: PynamoDB refuses it, and so does the reader
    with pytest.raises(Exception) as by_pynamodb:
        _by_pynamodb(raw)
    with pytest.raises(type(by_pynamodb.value)):
        _by_reader(raw)
