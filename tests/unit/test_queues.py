"""The queues of the deploy template and of the local/test stacks come from one definition."""
from __future__ import annotations

import json

import boto3
from moto import mock_aws

from chalicelib.queues import DISPATCH, DISPATCH_DEAD_LETTER, QUEUES
from deploy.schema import cloudformation_queues
from deploy.template import build, functions
from local.emulated_aws import create_queues


def test_created_queues_redrive_to_their_dead_letter_queue_after_five_receives():
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")

        urls = create_queues(client, "unit-")
        again = create_queues(client, "unit-")  # idempotent

        assert urls == again
        assert set(urls) == {DISPATCH, DISPATCH_DEAD_LETTER}
        attributes = client.get_queue_attributes(QueueUrl=urls[DISPATCH], AttributeNames=["All"])["Attributes"]
        dead_letter_arn = client.get_queue_attributes(
            QueueUrl=urls[DISPATCH_DEAD_LETTER], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dead_letter_arn
        assert int(redrive["maxReceiveCount"]) == 5
        assert attributes["VisibilityTimeout"] == "120"


def test_template_queues_match_the_definitions():
    resources = build()["Resources"]
    queues = {r["Properties"]["QueueName"]["Fn::Sub"].split("}-", 1)[1]: r["Properties"]
              for r in resources.values() if r.get("Type") == "AWS::SQS::Queue"}

    assert set(queues) == {definition.base_name for definition in QUEUES}
    assert queues[DISPATCH]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DispatchDeadLetterQueue", "Arn"]}, "maxReceiveCount": 5}
    for definition in QUEUES:
        for name, value in definition.attributes.items():
            assert queues[definition.base_name][name] == int(value)
    assert cloudformation_queues().keys() <= resources.keys()


def test_functions_find_the_dispatch_queue_and_may_send_only_to_it():
    resources = build()["Resources"]

    senders = [function for function in functions() if function.sends_dispatch]
    assert {function.logical_id for function in senders} >= {"APIHandler", "Dispatch", "Maintenance", "BulkChunk"}
    for function in functions():
        variables = resources[function.logical_id]["Properties"]["Environment"]["Variables"]
        statements = [statement for policy in resources[f"{function.logical_id}Role"]["Properties"]["Policies"]
                      for statement in policy["PolicyDocument"]["Statement"]]
        sends = [statement for statement in statements if "sqs:SendMessage" in statement["Action"]]
        if function in senders:
            assert variables["JOBS_DISPATCH_QUEUE_URL"] == {"Ref": "DispatchQueue"}
            assert sends == [{"Effect": "Allow", "Action": ["sqs:SendMessage"],
                              "Resource": [{"Fn::GetAtt": ["DispatchQueue", "Arn"]}]}]
        else:
            assert "JOBS_DISPATCH_QUEUE_URL" not in variables and sends == []


def test_idempotency_table_expires_its_records():
    resources = build()["Resources"]

    assert resources["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiration", "Enabled": True}
    assert resources["IdempotencyTable"]["Properties"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
