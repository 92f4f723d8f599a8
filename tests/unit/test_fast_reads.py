"""Query/Scan pages read without botocore's per-value parse (chalicelib/models/fast_reads.py) give exactly
what the ordinary parse gives, and a page that may hold a binary value takes the ordinary parse."""
from __future__ import annotations

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
