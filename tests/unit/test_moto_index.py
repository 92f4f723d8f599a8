"""local/moto_index.py answers every Query exactly as moto does, while the table changes under it: the same
random writes and queries run with the windowed query off and on, and every answer is compared."""
from __future__ import annotations

import contextlib
import json
import random

import boto3
import pytest
from moto import mock_aws

from local import moto_index

STATUSES = ["QUEUED", "RUNNING", "FAILED", "COMPLETED"]


@contextlib.contextmanager
def windowed(on: bool):
    was = moto_index.installed()
    moto_index.install() if on else moto_index.uninstall()
    try:
        yield
    finally:
        moto_index.install() if was else moto_index.uninstall()


def create(client) -> None:
    client.create_table(
        TableName="jobs", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                              (("pk", "S"), ("sk", "N"), ("status", "S"), ("modified", "S"), ("owner", "S"))],
        GlobalSecondaryIndexes=[
            {"IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                           {"AttributeName": "modified", "KeyType": "RANGE"}]},
            {"IndexName": "by-owner", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}]}])


def item(rng: random.Random, n: int) -> dict:
    value = {"pk": {"S": f"p{rng.randrange(4)}"}, "sk": {"N": str(n)}, "size": {"N": str(rng.randrange(100))}}
    if rng.random() < 0.9:
        value["status"] = {"S": rng.choice(STATUSES)}
    if rng.random() < 0.9:
        value["modified"] = {"S": f"2024-01-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}"}
    if rng.random() < 0.7:
        value["owner"] = {"S": rng.choice(["ann", "bob"])}
    return value


def query(rng: random.Random) -> dict:
    kind = rng.choice(["status", "status", "owner", "table"])
    request: dict = {"TableName": "jobs", "ScanIndexForward": rng.random() < 0.5}
    values: dict = {}
    if kind == "status":
        request["IndexName"] = "by-status"
        condition = "#h = :h"
        values[":h"] = {"S": rng.choice(STATUSES)}
        names = {"#h": "status"}
        op = rng.choice([None, "<", "<=", ">", ">=", "=", "between", "begins_with"])
        day = f"2024-01-{rng.randrange(1, 29):02d}"
        if op == "between":
            condition += " AND #r BETWEEN :a AND :b"
            values.update({":a": {"S": day}, ":b": {"S": f"2024-01-{rng.randrange(1, 29):02d}T99"}})
        elif op == "begins_with":
            condition += " AND begins_with(#r, :a)"
            values[":a"] = {"S": day[:9]}
        elif op:
            condition += f" AND #r {op} :a"
            values[":a"] = {"S": day}
        if op:
            names["#r"] = "modified"
    elif kind == "owner":
        request["IndexName"] = "by-owner"
        condition, names = "#h = :h", {"#h": "owner"}
        values[":h"] = {"S": rng.choice(["ann", "bob", "nobody"])}
    else:
        condition, names = "#h = :h", {"#h": "pk"}
        values[":h"] = {"S": f"p{rng.randrange(5)}"}
        if rng.random() < 0.5:
            condition += " AND #r > :a"
            names["#r"] = "sk"
            values[":a"] = {"N": str(rng.randrange(200))}
    if rng.random() < 0.7:
        request["Limit"] = rng.choice([1, 2, 3, 7, 25])
    if rng.random() < 0.3:
        request["FilterExpression"] = "#f < :f"
        names["#f"] = "size"
        values[":f"] = {"N": "50"}
    if rng.random() < 0.2:
        request["Select"] = "COUNT"
    request.update(KeyConditionExpression=condition, ExpressionAttributeNames=names,
                   ExpressionAttributeValues=values)
    return request


def run(on: bool, seed: int) -> list:
    rng = random.Random(seed)
    answers = []
    with mock_aws(), windowed(on):
        client = boto3.client("dynamodb", region_name="us-east-1")
        create(client)
        for n in range(120):
            client.put_item(TableName="jobs", Item=item(rng, n))
        for round_ in range(6):
            for _ in range(25):
                request = query(rng)
                pages = 0
                while pages < 60:  # every page, following LastEvaluatedKey
                    try:
                        page = client.query(**request)
                    except client.exceptions.ClientError as error:
                        answers.append(("error", str(error)))
                        break
                    page.pop("ResponseMetadata", None)
                    answers.append(json.dumps(page, sort_keys=True, default=str))
                    pages += 1
                    if "LastEvaluatedKey" not in page:
                        break
                    request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            for _ in range(30):  # the table changes between rounds: keys move between partitions
                n = rng.randrange(140)
                key = {"pk": {"S": f"p{rng.randrange(4)}"}, "sk": {"N": str(n)}}
                choice = rng.random()
                if choice < 0.3:
                    client.put_item(TableName="jobs", Item=item(rng, 200 + round_ * 30 + _))
                elif choice < 0.6:
                    client.update_item(TableName="jobs", Key=key, UpdateExpression="SET #s = :s, #m = :m",
                                       ExpressionAttributeNames={"#s": "status", "#m": "modified"},
                                       ExpressionAttributeValues={":s": {"S": rng.choice(STATUSES)},
                                                                  ":m": {"S": f"2024-01-{rng.randrange(1, 29):02d}"}})
                elif choice < 0.75:
                    client.delete_item(TableName="jobs", Key=key)
                elif choice < 0.9:
                    client.update_item(TableName="jobs", Key=key, UpdateExpression="REMOVE #o",
                                       ExpressionAttributeNames={"#o": "owner"})
                else:
                    with contextlib.suppress(client.exceptions.TransactionCanceledException):
                        client.transact_write_items(TransactItems=[
                            {"Update": {"TableName": "jobs", "Key": key, "UpdateExpression": "SET #s = :s",
                                        "ExpressionAttributeNames": {"#s": "status"},
                                        "ExpressionAttributeValues": {":s": {"S": "CANCELED"}}}},
                            {"ConditionCheck": {"TableName": "jobs", "Key": {"pk": {"S": "p0"}, "sk": {"N": "0"}},
                                                "ConditionExpression": "attribute_exists(pk)"}}])
    return answers


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_windowed_queries_answer_what_moto_answers(seed, monkeypatch):
    moto_index.stats.update(windowed=0, passed_through=0)
    generic = run(on=False, seed=seed)
    assert moto_index.stats["windowed"] == 0
    fast = run(on=True, seed=seed)
    assert moto_index.stats["windowed"] >= 150  # the windows really served the queries
    assert len(fast) == len(generic)
    for number, (a, b) in enumerate(zip(generic, fast)):
        assert a == b, f"answer {number} differs"


def test_a_query_reads_only_its_window(monkeypatch):
    with mock_aws(), windowed(True):
        client = boto3.client("dynamodb", region_name="us-east-1")
        create(client)
        rng = random.Random(5)
        for n in range(2000):
            status = "FAILED" if n % 100 else "RUNNING"
            client.put_item(TableName="jobs", Item={**item(rng, n), "status": {"S": status},
                                                    "modified": {"S": f"m{n:05d}"}})
        seen = []
        original = moto_index._Window.all_items
        monkeypatch.setattr(moto_index._Window, "all_items", lambda self: seen.append(len(self._items))
                            or original(self))
        page = client.query(TableName="jobs", IndexName="by-status", KeyConditionExpression="#s = :s",
                            ExpressionAttributeNames={"#s": "status"}, ScanIndexForward=False, Limit=10,
                            ExpressionAttributeValues={":s": {"S": "FAILED"}})
        assert len(page["Items"]) == 10 and seen == [11]
        after = client.query(TableName="jobs", IndexName="by-status", KeyConditionExpression="#s = :s",
                             ExpressionAttributeNames={"#s": "status"}, ScanIndexForward=False, Limit=10,
                             ExpressionAttributeValues={":s": {"S": "FAILED"}},
                             ExclusiveStartKey=page["LastEvaluatedKey"])
        assert after["Items"][0]["modified"]["S"] < page["Items"][-1]["modified"]["S"] and seen[1] <= 13
        count = client.query(TableName="jobs", IndexName="by-status", KeyConditionExpression="#s = :s",
                             ExpressionAttributeNames={"#s": "status"}, Select="COUNT",
                             ExpressionAttributeValues={":s": {"S": "RUNNING"}})
        assert count["Count"] == 20 and seen[2] == 20
