"""The fast DynamoDB item encoding of local/moto_speedups.py answers exactly what moto's own serializer does."""
from __future__ import annotations

import contextlib
import json

import boto3
import pytest
from moto import mock_aws

from local import moto_speedups

ITEM = {
    "pk": {"S": "job#1"}, "sk": {"N": "7"}, "gsi": {"S": "g"}, "text": {"S": "héllo \"quoted\" \n"},
    "number": {"N": "-12.5"}, "blob": {"B": b"\x00\xffbinary"}, "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]}, "blobs": {"BS": [b"x", b"\x01"]}, "nothing": {"NULL": True},
    "flag": {"BOOL": False}, "empty_list": {"L": []}, "empty_map": {"M": {}},
    "nested": {"M": {"timeline": {"L": [{"M": {"status": {"S": "QUEUED"}, "at": {"N": "1"},
                                                "bin": {"B": b"z"}, "list": {"L": [{"NULL": True}]}}}]}}},
}


@contextlib.contextmanager
def speedups(on: bool):
    """The fast path on or off for the block, then as it was (the test session installs it)."""
    was = moto_speedups.installed()
    moto_speedups.install() if on else moto_speedups.uninstall()
    try:
        yield
    finally:
        moto_speedups.install() if was else moto_speedups.uninstall()


def _requests(client) -> list[tuple[str, dict]]:
    key = {"pk": {"S": "job#1"}, "sk": {"N": "7"}}
    return [
        ("get_item", {"TableName": "t", "Key": key}),
        ("get_item", {"TableName": "t", "Key": {"pk": {"S": "none"}, "sk": {"N": "1"}}}),
        ("query", {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {
            ":p": {"S": "job#1"}}, "Limit": 1}),
        ("scan", {"TableName": "t", "ProjectionExpression": "pk, sk"}),
        ("query", {"TableName": "t", "IndexName": "by-gsi", "KeyConditionExpression": "gsi = :g",
                   "ExpressionAttributeValues": {":g": {"S": "g"}}}),
        ("query", {"TableName": "t", "KeyConditionExpression": "pk = :p",
                   "ExpressionAttributeValues": {":p": {"S": "nobody"}}}),
        ("scan", {"TableName": "t", "Limit": 2}),
        ("scan", {"TableName": "t", "Select": "COUNT"}),
        ("batch_get_item", {"RequestItems": {"t": {"Keys": [key, {"pk": {"S": "job#2"}, "sk": {"N": "8"}}]}}}),
        ("transact_get_items", {"TransactItems": [{"Get": {"TableName": "t", "Key": key}}]}),
        ("update_item", {"TableName": "t", "Key": key, "UpdateExpression": "SET #n = :n",
                         "ExpressionAttributeNames": {"#n": "number"}, "ExpressionAttributeValues": {
                             ":n": {"N": "3"}}, "ReturnValues": "ALL_NEW"}),
        ("update_item", {"TableName": "t", "Key": key, "UpdateExpression": "SET #n = :n",
                         "ExpressionAttributeNames": {"#n": "number"}, "ExpressionAttributeValues": {
                             ":n": {"N": "4"}}, "ReturnValues": "NONE"}),
        ("put_item", {"TableName": "t", "Item": {**ITEM, "sk": {"N": "9"}}, "ReturnValues": "ALL_OLD"}),
        ("put_item", {"TableName": "t", "Item": {**ITEM, "sk": {"N": "9"}}, "ReturnValues": "ALL_OLD"}),
        ("delete_item", {"TableName": "t", "Key": {"pk": {"S": "job#1"}, "sk": {"N": "9"}},
                         "ReturnValues": "ALL_OLD"}),
        ("update_item", {"TableName": "t", "Key": key, "UpdateExpression": "SET nested.timeline[0].#s = :s",
                         "ExpressionAttributeNames": {"#s": "status"},
                         "ExpressionAttributeValues": {":s": {"S": "RUNNING"}}}),
        # read again: what was read before the updates (and kept) must not be answered
        ("query", {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {
            ":p": {"S": "job#1"}}}),
        ("scan", {"TableName": "t"}),
        ("query", {"TableName": "t", "IndexName": "by-gsi", "KeyConditionExpression": "gsi = :g",
                   "ExpressionAttributeValues": {":g": {"S": "g"}}, "ProjectionExpression": "pk, nested"}),
    ]


def _answers(installed: bool) -> list[dict]:
    bodies: list[dict] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                                  (("pk", "S"), ("sk", "N"), ("gsi", "S"))],
            GlobalSecondaryIndexes=[{"IndexName": "by-gsi", "KeySchema": [{"AttributeName": "gsi", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}])
        client.put_item(TableName="t", Item=ITEM)
        client.put_item(TableName="t", Item={**ITEM, "pk": {"S": "job#2"}, "sk": {"N": "8"}})
        client.meta.events.register("after-call.dynamodb", lambda http_response, **_: bodies.append(
            json.loads(http_response.content or b"{}")))
        with speedups(installed):
            for operation, request in _requests(client):
                getattr(client, operation)(**request)
    return bodies


def test_the_fast_encoding_answers_what_moto_answers(monkeypatch):
    encoded = []
    original, original_stored = moto_speedups.attribute_map, moto_speedups._item_json
    monkeypatch.setattr(moto_speedups, "attribute_map", lambda item: encoded.append(item) or original(item))
    monkeypatch.setattr(moto_speedups, "_item_json", lambda item: encoded.append(item) or original_stored(item))
    generic = _answers(installed=False)
    assert encoded == []
    fast = _answers(installed=True)
    assert len(encoded) >= 10  # the fast path really served the item-bearing answers
    assert len(fast) == len(_requests(None))
    assert fast == generic


def test_errors_are_still_moto_s_own():
    with mock_aws(), speedups(True):
        client = boto3.client("dynamodb", region_name="us-east-1")
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.query(TableName="missing", KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "x"}})


def test_a_kept_update_expression_applies_each_call_s_own_values():
    with mock_aws(), speedups(True):
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="u", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        expression = "SET #s = :s, #t = list_append(if_not_exists(#t, :empty), :entry) REMOVE #gone"
        for key, status in (("a", "QUEUED"), ("b", "RUNNING"), ("a", "CANCELED")):
            client.update_item(
                TableName="u", Key={"pk": {"S": key}}, UpdateExpression=expression,
                ExpressionAttributeNames={"#s": "status", "#t": "timeline", "#gone": "queue_key"},
                ExpressionAttributeValues={":s": {"S": status}, ":empty": {"L": []},
                                           ":entry": {"L": [{"S": status}]}})
        items = {item["pk"]["S"]: item for item in client.scan(TableName="u")["Items"]}
        assert items["a"]["status"] == {"S": "CANCELED"}
        assert items["a"]["timeline"] == {"L": [{"S": "QUEUED"}, {"S": "CANCELED"}]}
        assert items["b"]["timeline"] == {"L": [{"S": "RUNNING"}]}
        with pytest.raises(client.exceptions.ClientError, match="ValidationException"):
            client.update_item(TableName="u", Key={"pk": {"S": "a"}}, UpdateExpression="SET = oops")


def _after_transactions(on: bool) -> tuple[list[dict], list[dict]]:
    """Run a successful and two cancelled transactions; return the errors seen and the table's items."""
    errors = []
    with mock_aws(), speedups(on):
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="x", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "N"}])
        for n in range(3):
            client.put_item(TableName="x", Item={"pk": {"S": "job"}, "sk": {"N": str(n)}, "status": {"S": "QUEUED"}})

        def claim(sk: str, expected: str, new_sk: str) -> list[dict]:
            return [{"Update": {"TableName": "x", "Key": {"pk": {"S": "job"}, "sk": {"N": sk}},
                                "UpdateExpression": "SET #s = :r", "ConditionExpression": "#s = :q",
                                "ExpressionAttributeNames": {"#s": "status"},
                                "ExpressionAttributeValues": {":r": {"S": "RUNNING"}, ":q": {"S": expected}}}},
                    {"Put": {"TableName": "x", "Item": {"pk": {"S": "exe"}, "sk": {"N": new_sk}},
                             "ConditionExpression": "attribute_not_exists(pk)"}}]
        client.transact_write_items(TransactItems=claim("0", "QUEUED", "0"))
        for items in (claim("1", "QUEUED", "0"),      # the put's condition fails: the update is undone
                      claim("2", "RUNNING", "2")):    # the update's condition fails: the put is undone
            with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
                client.transact_write_items(TransactItems=items)
            errors.append(cancelled.value.response["CancellationReasons"])
        items = sorted(client.scan(TableName="x")["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["N"]))
    return errors, items


def test_a_cancelled_transaction_is_undone_item_by_item_as_moto_undoes_it_by_table(monkeypatch):
    backed_up = []
    original = moto_speedups._item_backups
    monkeypatch.setattr(moto_speedups, "_item_backups", lambda *a: backed_up.append(1) or original(*a))
    generic = _after_transactions(on=False)
    fast = _after_transactions(on=True)
    assert len(backed_up) == 3
    assert fast == generic
    errors, items = fast
    assert [[reason["Code"] for reason in reasons] for reasons in errors] == [
        ["None", "ConditionalCheckFailed"], ["ConditionalCheckFailed", "None"]]
    assert [(i["pk"]["S"], i["sk"]["N"], i.get("status", {}).get("S")) for i in items] == [
        ("exe", "0", None), ("job", "0", "RUNNING"), ("job", "1", "QUEUED"), ("job", "2", "QUEUED")]


def _pages_after_growing_updates(on: bool) -> list[tuple[int, dict | None, list[int]]]:
    """Items of ~100 KB grow in place (UpdateItem, and inside a transaction), then a Query and a Scan page
    through them: where each 1 MB page ends depends on every item's current size."""
    pages = []
    with mock_aws(), speedups(on):
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="s", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "N"}])
        for n in range(24):
            client.put_item(TableName="s", Item={"pk": {"S": "p"}, "sk": {"N": str(n)}, "blob": {"S": "x" * 100_000}})
        query = {"TableName": "s", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}}
        client.query(**query)  # sizes measured (and kept, when on) before the items grow
        for n in range(0, 24, 3):
            client.update_item(TableName="s", Key={"pk": {"S": "p"}, "sk": {"N": str(n)}},
                               UpdateExpression="SET more = :m", ExpressionAttributeValues={":m": {"S": "y" * 200_000}})
        client.transact_write_items(TransactItems=[{"Update": {
            "TableName": "s", "Key": {"pk": {"S": "p"}, "sk": {"N": "1"}}, "UpdateExpression": "SET more = :m",
            "ExpressionAttributeValues": {":m": {"S": "z" * 250_000}}}}])
        for operation, request in (("query", query), ("scan", {"TableName": "s"})):
            start = None
            while True:
                answer = getattr(client, operation)(**request, **({"ExclusiveStartKey": start} if start else {}))
                start = answer.get("LastEvaluatedKey")
                pages.append((answer["Count"], start, [int(item["sk"]["N"]) for item in answer["Items"]]))
                if start is None:
                    break
    return pages


def test_pages_end_where_moto_ends_them_after_items_grow_in_place():
    generic = _pages_after_growing_updates(on=False)
    assert len(generic) > 6  # both reads really span several 1 MB pages
    assert _pages_after_growing_updates(on=True) == generic


def _too_large_answers(on: bool) -> list[str]:
    answers = []
    with mock_aws(), speedups(on):
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="big", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        for size in (404_000, 406_000):  # either side of moto's 405,000-byte limit, in several attributes
            item = {"pk": {"S": f"p{size}"}, **{f"a{n}": {"S": "x" * (size // 4)} for n in range(4)}}
            try:
                client.put_item(TableName="big", Item=item)
                answers.append("stored")
            except client.exceptions.ClientError as error:
                answers.append(error.response["Error"]["Message"])
        answers.append(str(client.scan(TableName="big", Select="COUNT")["Count"]))
    return answers


def test_an_item_too_large_is_refused_as_moto_refuses_it():
    generic = _too_large_answers(on=False)
    assert generic[0] == "stored" and generic[1] != "stored" and generic[2] == "1"
    assert _too_large_answers(on=True) == generic
