"""Writes `deploy/resources.json`, the CloudFormation merge template `chalice package` combines with
the app: every table (generated from the PynamoDB models, as the local stack's tables are), every
queue with its dead-letter queue (from `chalicelib.queues`, as the local stack's are) and the
environment each function needs to find them. A test checks the committed file is current:
regenerate it with `python -m deploy.template`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from chalicelib.execution_logs import LOG_GROUP_LOGICAL_ID, cloudformation_log_group
from chalicelib.queues import QUEUES
from chalicelib.workflows import definition as bulk_definition
from deploy.schema import cloudformation_queues, cloudformation_tables

TEMPLATE = Path(__file__).with_name("resources.json")


def build() -> dict:
    resources = cloudformation_tables()
    table_arns = [{"Fn::GetAtt": [logical_id, "Arn"]} for logical_id in sorted(resources)]
    index_arns = [{"Fn::Sub": ["${Arn}/index/*", {"Arn": arn}]} for arn in table_arns]
    resources["JobsDataAccessPolicy"] = _policy(
        "Read and write the job service's tables",
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
         "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
         "dynamodb:DescribeTable"],
        table_arns + index_arns)
    resources.update(cloudformation_queues())
    # Only SQS moves messages to a dead-letter queue; the functions send to the work queues.
    dead_letters = {queue.dead_letter for queue in QUEUES if queue.dead_letter}
    work_queues = [queue.logical_id for queue in QUEUES if queue.base_name not in dead_letters]
    resources["JobsQueueSendPolicy"] = _policy(
        "Send to the job service's queues", ["sqs:SendMessage"],
        [{"Fn::GetAtt": [logical_id, "Arn"]} for logical_id in sorted(work_queues)])
    resources.update(cloudformation_log_group())
    log_group_arn = {"Fn::GetAtt": [LOG_GROUP_LOGICAL_ID, "Arn"]}
    resources["JobsLogsPolicy"] = _policy(
        "Write and read the executions' log streams",
        ["logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents", "logs:DescribeLogStreams"],
        [{"Fn::Sub": ["${Arn}", {"Arn": log_group_arn}]},
         {"Fn::Sub": ["${Arn}:log-stream:*", {"Arn": log_group_arn}]}])
    resources.update(_bulk_state_machine())
    resources["JobsBulkStartPolicy"] = _policy(
        "Start bulk cancel/requeue executions", ["states:StartExecution"], [{"Ref": "BulkJobsStateMachine"}])
    # Chalice names the role its functions share "DefaultRole"; the merge adds our policies to it.
    resources["DefaultRole"] = {"Properties": {"ManagedPolicyArns": [{"Ref": "JobsDataAccessPolicy"},
                                                                     {"Ref": "JobsQueueSendPolicy"},
                                                                     {"Ref": "JobsLogsPolicy"},
                                                                     {"Ref": "JobsBulkStartPolicy"}]}}
    # Poison dispatch messages end in the dead-letter queue; operators hear of it from this alarm.
    resources["DispatchDeadLetterAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": "Dispatch messages failed 5 times and wait in the dead-letter queue",
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DispatchDeadLetterQueue", "QueueName"]}}],
            "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        },
    }
    # The dispatch handler reports partial batch failures (Powertools); Chalice cannot say so itself.
    # Chalice wires the handler to the queue named `jobs-service-<stage>-dispatch`, which is what
    # `${AWS::StackName}-dispatch` is when the stack is named `jobs-service-<stage>` (see docs/deploy.md).
    resources["Dispatch"] = {"Properties": {"Events": {"DispatchSqsEventSource": {"Properties": {
        "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}}}
    return {
        "Globals": {"Function": {"Environment": {"Variables": {
            "JOBS_TABLE_PREFIX": {"Fn::Sub": "${AWS::StackName}-"},
            "JOBS_DISPATCH_QUEUE_URL": {"Ref": "DispatchQueue"},
            "JOBS_BULK_STATE_MACHINE_ARN": {"Ref": "BulkJobsStateMachine"}}}}},
        "Resources": resources,
    }


def _bulk_state_machine() -> dict:
    """The bulk cancel/requeue workflow: `statemachines/bulk_jobs.asl.json` verbatim as `Definition` (so
    cfn-lint checks the ASL), its placeholders filled by `DefinitionSubstitutions`. Chalice names the
    `bulk_chunk` function's resource `BulkChunk`."""
    return {
        "BulkJobsStateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": {"Fn::Sub": "${AWS::StackName}-bulk-jobs"},
            "StateMachineType": "STANDARD",
            "Definition": bulk_definition(),
            "DefinitionSubstitutions": {"BulkChunkFunctionArn": {"Fn::GetAtt": ["BulkChunk", "Arn"]},
                                        "BulkOperationsTable": {"Ref": "BulkOperationsTable"}},
            "RoleArn": {"Fn::GetAtt": ["BulkJobsStateMachineRole", "Arn"]}}},
        "BulkJobsStateMachineRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "bulk-jobs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                 "Resource": [{"Fn::GetAtt": ["BulkChunk", "Arn"]}]},
                {"Effect": "Allow", "Action": ["dynamodb:UpdateItem"],
                 "Resource": [{"Fn::GetAtt": ["BulkOperationsTable", "Arn"]}]}]}}]}},
    }


def _policy(description: str, actions: list[str], resources: list) -> dict:
    return {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
        "Description": description,
        "PolicyDocument": {"Version": "2012-10-17",
                           "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}}}


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TEMPLATE.write_text(render())
    sys.stdout.write(f"wrote {TEMPLATE}\n")
