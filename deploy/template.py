"""Writes `deploy/resources.json`, the CloudFormation merge template `chalice package` combines with
the app. Everything is named from the stack (`${AWS::StackName}-...`), so one package deploys any stage.

What it adds to Chalice's functions and API:
- every table (generated from the PynamoDB models, as the local stack's are), retained on delete and
  replace, deletion-protected, with point-in-time recovery; every queue with its dead-letter queue
  (from `chalicelib.queues`); the executions' log group; the files bucket (encrypted, private, TLS only);
- one IAM role per function, reaching only its own tables, queues, bucket, log groups and state machine
  (Chalice's generated role is off: `manage_iam_role: false` in `.chalice/config.json`);
- each function's environment, a log group with retention, its name `<stack>-<function>`;
- the dispatch function's SQS trigger by ARN (`DispatchQueue`), with partial batch failures;
- the bulk cancel/requeue state machine; the `Bootstrap` custom resource loading the built-in data;
- an SNS topic (optional e-mail subscription) and alarms on the dead-letter queue, Lambda errors and
  throttles, failed bulk executions, API 5xx and the age of the oldest queued job.

A test checks the committed file is current: regenerate it with `python -m deploy.template`."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.execution_logs import LOG_GROUP_LOGICAL_ID, cloudformation_log_group
from chalicelib.handlers.common import EXPOSED_HEADERS
from chalicelib.models.tables import ALL_MODELS
from chalicelib.workflows import definition as bulk_definition
from deploy.schema import cloudformation_queues, cloudformation_tables, table_logical_id

TEMPLATE = Path(__file__).with_name("resources.json")
FUNCTION_LOG_RETENTION_DAYS = 30
API_STAGE = "api"  # `api_gateway_stage` in .chalice/config.json
TOKENS_TABLE = "api-tokens"

TABLE_READ_WRITE = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                    "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
                    "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
EXECUTION_LOGS_READ = ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"]


@dataclass(frozen=True)
class Function:
    """What one Chalice function may reach (its resource name in Chalice's template is `logical_id`)."""

    logical_id: str
    short_name: str                      # the function is named `<stack>-<short_name>`
    tables: tuple[str, ...]              # base names of the tables it reads and writes
    sends_dispatch: bool = False
    consumes_dispatch: bool = False
    execution_logs: tuple[str, ...] = ()
    bucket: bool = False
    starts_bulk: bool = False
    tables_read_only: bool = False
    environment: dict[str, Any] = field(default_factory=dict)


def _data_tables() -> tuple[str, ...]:
    return tuple(sorted(model.base_name for model in ALL_MODELS if model.base_name != TOKENS_TABLE))


def functions() -> tuple[Function, ...]:
    data = _data_tables()
    return (
        Function("APIHandler", "api", data, sends_dispatch=True, execution_logs=tuple(EXECUTION_LOGS_READ),
                 bucket=True, starts_bulk=True),
        # Execution logs are written by the runners (the cloud runner's containers), not by these functions.
        Function("Dispatch", "dispatch", data, sends_dispatch=True, consumes_dispatch=True),
        Function("Maintenance", "maintenance", data, sends_dispatch=True),
        # No state machine ARN here: the state machine names this function, so it must not name it back.
        Function("BulkChunk", "bulk-chunk", data, sends_dispatch=True),
        Function("JobsAuthorizer", "authorizer", (TOKENS_TABLE,), tables_read_only=True),
        Function("Bootstrap", "bootstrap", ("counters", "errors", "workspaces"), bucket=True),
    )


def _arn(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _statement(actions: list[str], resources: list) -> dict:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def _function_policy(function: Function) -> list[dict]:
    statements = []
    table_ids = [table_logical_id(name) for name in function.tables]
    table_arns = [_arn(logical_id) for logical_id in table_ids]
    index_arns = [{"Fn::Sub": ["${Arn}/index/*", {"Arn": arn}]} for arn in table_arns]
    actions = ["dynamodb:GetItem", "dynamodb:DescribeTable"] if function.tables_read_only else TABLE_READ_WRITE
    statements.append(_statement(actions, table_arns + ([] if function.tables_read_only else index_arns)))
    if function.sends_dispatch:
        statements.append(_statement(["sqs:SendMessage"], [_arn("DispatchQueue")]))
    if function.consumes_dispatch:
        statements.append(_statement(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                      "sqs:ChangeMessageVisibility"], [_arn("DispatchQueue")]))
    if function.execution_logs:
        log_group = _arn(LOG_GROUP_LOGICAL_ID)
        statements.append(_statement(list(function.execution_logs), [
            {"Fn::Sub": ["${Arn}", {"Arn": log_group}]},
            {"Fn::Sub": ["${Arn}:log-stream:*", {"Arn": log_group}]}]))
    if function.bucket and function.logical_id != "Bootstrap":
        statements.append(_statement(["s3:ListBucket"], [_arn("FilesBucket")]))
        statements.append(_statement(["s3:GetObject", "s3:PutObject"],
                                     [{"Fn::Sub": ["${Arn}/*", {"Arn": _arn("FilesBucket")}]}]))
    if function.starts_bulk:
        statements.append(_statement(["states:StartExecution"], [{"Ref": "BulkJobsStateMachine"}]))
    own_logs = _arn(f"{function.logical_id}LogGroup")
    statements.append(_statement(["logs:CreateLogStream", "logs:PutLogEvents"],
                                 [{"Fn::Sub": ["${Arn}", {"Arn": own_logs}]},
                                  {"Fn::Sub": ["${Arn}:log-stream:*", {"Arn": own_logs}]}]))
    return statements


def _function_resources(function: Function) -> dict[str, Any]:
    environment: dict[str, Any] = {
        "JOBS_TABLE_PREFIX": {"Fn::Sub": "${AWS::StackName}-"},
        "POWERTOOLS_SERVICE_NAME": {"Fn::Sub": "${AWS::StackName}-" + function.short_name},
    }
    if function.sends_dispatch:
        environment["JOBS_DISPATCH_QUEUE_URL"] = {"Ref": "DispatchQueue"}
    if function.execution_logs:
        environment["JOBS_LOG_GROUP"] = {"Ref": LOG_GROUP_LOGICAL_ID}
    if function.bucket:
        environment["JOBS_FILES_BUCKET"] = {"Ref": "FilesBucket"}
    if function.starts_bulk:
        environment["JOBS_BULK_STATE_MACHINE_ARN"] = {"Ref": "BulkJobsStateMachine"}
    name = {"Fn::Sub": "${AWS::StackName}-" + function.short_name}
    role = f"{function.logical_id}Role"
    return {
        function.logical_id: {"Properties": {
            "FunctionName": name,
            "Role": _arn(role),
            "Environment": {"Variables": environment},
            "LoggingConfig": {"LogGroup": {"Ref": f"{function.logical_id}LogGroup"}},
        }},
        f"{function.logical_id}LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}-" + function.short_name},
            "RetentionInDays": FUNCTION_LOG_RETENTION_DAYS}},
        role: {"Type": "AWS::IAM::Role", "Properties": {
            "Description": {"Fn::Sub": "${AWS::StackName}: the " + function.short_name + " function"},
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": function.short_name, "PolicyDocument": {
                "Version": "2012-10-17", "Statement": _function_policy(function)}}]}},
    }


def _retained(resources: dict[str, Any]) -> None:
    """The tables are the system of record: kept when the stack is deleted or a change replaces them."""
    for resource in resources.values():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            resource["DeletionPolicy"] = resource["UpdateReplacePolicy"] = "Retain"
            resource["Properties"]["DeletionProtectionEnabled"] = True


def _bucket() -> dict[str, Any]:
    return {
        "FilesBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                        "Properties": {
                            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                            "PublicAccessBlockConfiguration": {
                                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                            "VersioningConfiguration": {"Status": "Enabled"}}},
        "FilesBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "FilesBucket"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [_arn("FilesBucket"), {"Fn::Sub": ["${Arn}/*", {"Arn": _arn("FilesBucket")}]}],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
    }


def _alarm(description: str, namespace: str, metric: str, dimensions: list[dict], statistic: str = "Sum",
           threshold: float = 0, period: int = 300) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": {"Fn::Sub": "${AWS::StackName}-" + description.split(":")[0]},
        "AlarmDescription": description,
        "Namespace": namespace, "MetricName": metric, "Dimensions": dimensions,
        "Statistic": statistic, "Period": period, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "AlarmTopic"}], "OKActions": [{"Ref": "AlarmTopic"}]}}


OLDEST_QUEUED_ALARM_SECONDS = 3600


def _operations(all_functions: tuple[Function, ...]) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": {"Fn::Sub": "${AWS::StackName}-alarms"}}},
        "AlarmEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
            "TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}},
        # Poison dispatch messages end in the dead-letter queue; operators hear of it from this alarm.
        "DispatchDeadLetterAlarm": _alarm(
            "dispatch-dead-letters: dispatch messages failed 5 times and wait in the dead-letter queue",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DispatchDeadLetterQueue", "QueueName"]}}],
            statistic="Maximum"),
        "BulkExecutionsFailedAlarm": _alarm(
            "bulk-failed: a bulk cancel/requeue execution failed", "AWS/States", "ExecutionsFailed",
            [{"Name": "StateMachineArn", "Value": {"Ref": "BulkJobsStateMachine"}}]),
        "Api5xxAlarm": _alarm(
            "api-5xx: the API answered 5xx", "AWS/ApiGateway", "5XXError",
            [{"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}}, {"Name": "Stage", "Value": API_STAGE}]),
        "OldestQueuedJobAlarm": _alarm(
            f"oldest-queued: a job has been QUEUED for over {OLDEST_QUEUED_ALARM_SECONDS} s (sweep metric)",
            "JobService", "OldestQueuedJobAgeSeconds",
            [{"Name": "service", "Value": "sweeps"}, {"Name": "stack", "Value": {"Ref": "AWS::StackName"}}],
            statistic="Maximum", threshold=OLDEST_QUEUED_ALARM_SECONDS),
    }
    for function in all_functions:
        dimensions = [{"Name": "FunctionName", "Value": {"Ref": function.logical_id}}]
        resources[f"{function.logical_id}ErrorsAlarm"] = _alarm(
            f"{function.short_name}-errors: the {function.short_name} function failed", "AWS/Lambda", "Errors",
            dimensions)
        resources[f"{function.logical_id}ThrottlesAlarm"] = _alarm(
            f"{function.short_name}-throttles: the {function.short_name} function was throttled", "AWS/Lambda",
            "Throttles", dimensions)
    return resources


def build() -> dict:
    all_functions = functions()
    resources = cloudformation_tables()
    _retained(resources)
    resources.update(cloudformation_queues())
    resources.update(cloudformation_log_group())
    resources.update(_bucket())
    resources.update(_bulk_state_machine())
    for function in all_functions:
        resources.update(_function_resources(function))
    resources.update(_operations(all_functions))
    # The dispatch handler reports partial batch failures (Powertools); Chalice cannot say so itself. Chalice
    # wrote a placeholder ARN (a string); this replaces it with the queue the stack creates.
    resources["Dispatch"]["Properties"]["Events"] = {"DispatchSqsEventSource": {"Properties": {
        "Queue": _arn("DispatchQueue"), "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}
    # The API's name is the stack's (alarms find it by name), whatever the stage.
    resources["RestAPI"] = {"Properties": {"Name": {"Ref": "AWS::StackName"}, "DefinitionBody": {
        "x-amazon-apigateway-gateway-responses": _gateway_responses()}}}
    # Built-in errors and the `default` workspace, at every create and update of the stack.
    resources["BootstrapRun"] = {"Type": "AWS::CloudFormation::CustomResource", "Properties": {
        "ServiceToken": _arn("Bootstrap"), "PackageVersion": {"Ref": "PackageVersion"}}}
    return {
        "Parameters": {
            "AlarmEmail": {"Type": "String", "Default": "",
                           "Description": "An e-mail address subscribed to the alarms (empty: none)"},
            "PackageVersion": {"Type": "String", "Default": "0",
                               "Description": "Changes at every deployment, so the bootstrap runs again"},
        },
        "Conditions": {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}},
        "Resources": resources,
        "Outputs": {
            "FilesBucketName": {"Value": {"Ref": "FilesBucket"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
            "TokensTableName": {"Value": {"Ref": table_logical_id(TOKENS_TABLE)}},
        },
    }


def _gateway_responses() -> dict[str, Any]:
    """What API Gateway answers by itself (an unknown path, the authorizer's refusals, throttling) in the
    service's error shape, with the CORS headers a browser needs to read it: an unknown path is a JSON 404,
    not `403 Missing Authentication Token`. Part of the API's own definition (a separate GatewayResponse
    resource would drift from it at the next deployment)."""
    headers = {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
               "gatewayresponse.header.Access-Control-Expose-Headers": f"'{EXPOSED_HEADERS}'",
               "gatewayresponse.header.Content-Type": "'application/json'"}

    def response(template: str, status: int | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {"responseParameters": headers, "responseTemplates": {"application/json": template}}
        if status:
            answer["statusCode"] = status
        return answer

    message = '{"detail": $context.error.messageString}'
    return {
        "MISSING_AUTHENTICATION_TOKEN": response(
            '{"detail": "No such endpoint: $context.httpMethod $context.path"}', 404),
        "DEFAULT_4XX": response(message),
        "DEFAULT_5XX": response(message),
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
            "DefinitionSubstitutions": {"BulkChunkFunctionArn": _arn("BulkChunk"),
                                        "BulkOperationsTable": {"Ref": "BulkOperationsTable"}},
            "RoleArn": _arn("BulkJobsStateMachineRole")}},
        "BulkJobsStateMachineRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "bulk-jobs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [_arn("BulkChunk")]},
                {"Effect": "Allow", "Action": ["dynamodb:UpdateItem"],
                 "Resource": [_arn("BulkOperationsTable")]}]}}]}},
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TEMPLATE.write_text(render())
    sys.stdout.write(f"wrote {TEMPLATE}\n")
