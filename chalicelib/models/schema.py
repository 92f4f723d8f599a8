"""Table definitions derived from the PynamoDB models, in the two forms that need them:
CreateTable arguments (local stack, tests) and CloudFormation resources (the deploy template)."""
from __future__ import annotations

from typing import Any

from chalicelib.models.tables import ALL_MODELS, BaseModel


def _logical_id(model: type[BaseModel]) -> str:
    return "".join(part.capitalize() for part in model.base_name.split("-")) + "Table"


def create_table_args(model: type[BaseModel], table_name: str) -> dict[str, Any]:
    schema = model._get_schema()
    args: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": _hash_first(schema["key_schema"]),
        "AttributeDefinitions": _attribute_definitions(schema),
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = [
        {"IndexName": index["index_name"], "KeySchema": _hash_first(index["key_schema"]),
         "Projection": index["projection"]}
        for index in schema["global_secondary_indexes"]
    ]
    if indexes:
        args["GlobalSecondaryIndexes"] = sorted(indexes, key=lambda index: index["IndexName"])
    return args


def _hash_first(key_schema: list[dict[str, str]]) -> list[dict[str, str]]:
    # DynamoDB wants the HASH element first; PynamoDB does not promise an order.
    return sorted(key_schema, key=lambda element: element["KeyType"] != "HASH")


def _attribute_definitions(schema: dict[str, Any]) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for definition in schema["attribute_definitions"]:
        seen[definition["AttributeName"]] = definition["AttributeType"]
    for index in schema["global_secondary_indexes"]:
        for definition in index["attribute_definitions"]:
            seen[definition["AttributeName"]] = definition["AttributeType"]
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in sorted(seen.items())]


def all_create_table_args(prefix: str) -> list[dict[str, Any]]:
    return [create_table_args(model, prefix + model.base_name) for model in ALL_MODELS]


def cloudformation_tables() -> dict[str, Any]:
    """`AWS::DynamoDB::Table` resources named `<stack name>-<base name>`; point-in-time recovery on,
    since the tables are the system of record."""
    resources: dict[str, Any] = {}
    for model in ALL_MODELS:
        properties = create_table_args(model, "")
        properties["TableName"] = {"Fn::Sub": "${AWS::StackName}-" + model.base_name}
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        ttl = model._ttl_attribute()
        if ttl is not None:
            properties["TimeToLiveSpecification"] = {"AttributeName": ttl.attr_name, "Enabled": True}
        resources[_logical_id(model)] = {"Type": "AWS::DynamoDB::Table", "Properties": properties}
    return resources


def create_tables(client, prefix: str) -> list[str]:
    """Create every table that does not exist yet (idempotent); returns the names created."""
    existing = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    created = []
    for args in all_create_table_args(prefix):
        if args["TableName"] not in existing:
            client.create_table(**args)
            created.append(args["TableName"])
    return created
