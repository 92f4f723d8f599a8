"""Table and queue definitions derived from the models (`chalicelib.models.tables`) and `QUEUES`
(`chalicelib.queues`), in the two forms that need them: CreateTable arguments (local stack, tests:
`local/emulated_aws.py`) and CloudFormation resources (the deploy template). Not part of the bundle."""
from __future__ import annotations

from typing import Any

from chalicelib.models.tables import ALL_MODELS, BaseModel
from chalicelib.queues import QUEUES


def table_logical_id(base_name: str) -> str:
    """The table's resource name in the deploy template: `job-executions` -> `JobExecutionsTable`."""
    return "".join(part.capitalize() for part in base_name.split("-")) + "Table"


def _logical_id(model: type[BaseModel]) -> str:
    return table_logical_id(model.base_name)


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


def cloudformation_queues() -> dict[str, Any]:
    """`AWS::SQS::Queue` resources named `<stack name>-<base name>`."""
    logical_ids = {definition.base_name: definition.logical_id for definition in QUEUES}
    resources: dict[str, Any] = {}
    for definition in QUEUES:
        properties: dict[str, Any] = {"QueueName": {"Fn::Sub": "${AWS::StackName}-" + definition.base_name}}
        properties.update({name: int(value) for name, value in definition.attributes.items()})
        if definition.dead_letter:
            properties["RedrivePolicy"] = {
                "deadLetterTargetArn": {"Fn::GetAtt": [logical_ids[definition.dead_letter], "Arn"]},
                "maxReceiveCount": definition.max_receives}
        resources[definition.logical_id] = {"Type": "AWS::SQS::Queue", "Properties": properties}
    return resources
