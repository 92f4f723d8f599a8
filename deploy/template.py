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
  throttles, failed bulk executions, API 5xx and the age of the oldest queued job;
- where jobs run (`chalicelib.runners.ecs`): the ECS cluster, the runner image's ECR repository, the task
  execution role (pulls images, writes the executions' log group, reads the stack's secret settings) and
  the task role (the stack's bucket), `iam:PassRole` for those two roles only, the network as stack
  parameters (Subnets, SecurityGroup, AssignPublicIp), and the EventBridge rule on "ECS Task State Change"
  of the cluster that invokes the task state-change function (SAM adds its Lambda permission).

A test checks the committed file is current: regenerate it with `python -m deploy.template`."""
from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.execution_logs import LOG_GROUP_LOGICAL_ID, cloudformation_log_group
from chalicelib.handlers import ecs_events
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
    # What it does with ECS tasks: "stop" (ListTasks, DescribeTasks, StopTask), "launch" (task definitions,
    # RunTask, the secret settings' parameters, the spec documents), "results" (reads the result documents).
    ecs: tuple[str, ...] = ()


def _data_tables() -> tuple[str, ...]:
    return tuple(sorted(model.base_name for model in ALL_MODELS if model.base_name != TOKENS_TABLE))


def functions() -> tuple[Function, ...]:
    data = _data_tables()
    return (
        # The API lists a running execution's task to find its log streams, and a cancel of a few jobs by id
        # (applied in the request) stops their tasks.
        Function("APIHandler", "api", data, sends_dispatch=True, execution_logs=tuple(EXECUTION_LOGS_READ),
                 bucket=True, starts_bulk=True, ecs=("stop",)),
        # Execution logs are written by the runners (the cloud runner's containers), not by these functions.
        Function("Dispatch", "dispatch", data, sends_dispatch=True, consumes_dispatch=True, ecs=("stop", "launch")),
        # The sweep stops tasks past their timeout.
        Function("Maintenance", "maintenance", data, sends_dispatch=True, ecs=("stop",)),
        # No state machine ARN here: the state machine names this function, so it must not name it back.
        Function("BulkChunk", "bulk-chunk", data, sends_dispatch=True, ecs=("stop",)),
        # A stopped task ends its execution, then dispatch fills the place it freed.
        Function("EcsTaskStateChange", "ecs-events", data, sends_dispatch=True,
                 ecs=("stop", "launch", "results")),
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
    statements.extend(_ecs_statements(function))
    own_logs = _arn(f"{function.logical_id}LogGroup")
    statements.append(_statement(["logs:CreateLogStream", "logs:PutLogEvents"],
                                 [{"Fn::Sub": ["${Arn}", {"Arn": own_logs}]},
                                  {"Fn::Sub": ["${Arn}:log-stream:*", {"Arn": own_logs}]}]))
    return statements


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


CLUSTER_ARN = _arn("JobsCluster")
TASKS_ARN = _sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${JobsCluster}/*")
TASK_DEFINITIONS_ARN = _sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/"
                            "${AWS::StackName}-*")
SECRETS_ARN = _sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}-secrets/*")
EXECUTION_DOCUMENTS_ARN = {"Fn::Sub": ["${Arn}/${AWS::StackName}-executions/*", {"Arn": _arn("FilesBucket")}]}


def _ecs_statements(function: Function) -> list[dict]:
    """Each ECS action on the narrowest resource it supports (task definitions of this stack's families, tasks
    of its cluster, its roles); only `DescribeTaskDefinition` and `RegisterTaskDefinition` support none."""
    statements = []
    if "stop" in function.ecs:
        statements.append(_statement(["ecs:ListTasks"], [CLUSTER_ARN]))
    if "stop" in function.ecs:
        statements.append(_statement(["ecs:DescribeTasks", "ecs:StopTask"], [TASKS_ARN]))
    if "launch" in function.ecs:
        statements.append(_statement(["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"], ["*"]))
        statements.append({**_statement(["ecs:RunTask"], [TASK_DEFINITIONS_ARN]),
                           "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER_ARN}}})
        statements.append(_statement(["ecs:TagResource"], [TASKS_ARN, TASK_DEFINITIONS_ARN]))
        statements.append(_statement(["iam:PassRole"], [_arn("TaskExecutionRole"), _arn("TaskRole")]))
        statements.append(_statement(["ssm:PutParameter"], [SECRETS_ARN]))
        statements.append(_statement(["s3:PutObject"], [EXECUTION_DOCUMENTS_ARN]))
    if "results" in function.ecs:
        statements.append(_statement(["s3:GetObject"], [EXECUTION_DOCUMENTS_ARN]))
        statements.append(_statement(["s3:ListBucket"], [_arn("FilesBucket")]))  # a missing object is a 404
    return statements


def _ecs_environment() -> dict[str, Any]:
    """The ECS runner's settings (chalicelib.config.EcsSettings) of every function that launches or stops tasks."""
    return {
        "JOBS_RUNNER": "ecs",
        "JOBS_ECS_CLUSTER": {"Ref": "JobsCluster"},
        "JOBS_ECS_RUNNER_IMAGE": _sub("${RunnerRepository.RepositoryUri}:${RunnerImageTag}"),
        "JOBS_ECS_SUBNETS": {"Fn::Join": [",", {"Ref": "Subnets"}]},
        "JOBS_ECS_SECURITY_GROUPS": {"Ref": "SecurityGroup"},
        "JOBS_ECS_ASSIGN_PUBLIC_IP": {"Ref": "AssignPublicIp"},
        "JOBS_ECS_EXECUTION_ROLE_ARN": _arn("TaskExecutionRole"),
        "JOBS_ECS_TASK_ROLE_ARN": _arn("TaskRole"),
        "JOBS_ECS_MAX_TASKS": {"Ref": "MaxTasks"},
        "JOBS_FILES_BUCKET": {"Ref": "FilesBucket"},
        "JOBS_LOG_GROUP": {"Ref": LOG_GROUP_LOGICAL_ID},
    }


def _ecs_resources() -> dict[str, Any]:
    """The cluster, the runner image's repository and the two task roles."""
    log_group = _arn(LOG_GROUP_LOGICAL_ID)
    bucket_objects = {"Fn::Sub": ["${Arn}/*", {"Arn": _arn("FilesBucket")}]}

    def task_role(description: str, statements: list[dict]) -> dict[str, Any]:
        return {"Type": "AWS::IAM::Role", "Properties": {
            "Description": _sub("${AWS::StackName}: " + description),
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]},
            "Policies": [{"PolicyName": "tasks", "PolicyDocument": {"Version": "2012-10-17",
                                                                   "Statement": statements}}]}}
    return {
        "JobsCluster": {"Type": "AWS::ECS::Cluster", "Properties": {
            "ClusterName": _sub("${AWS::StackName}-jobs"),
            "CapacityProviders": ["FARGATE"],
            "DefaultCapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Weight": 1}]}},
        "RunnerRepository": {"Type": "AWS::ECR::Repository", "Properties": {
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "EncryptionConfiguration": {"EncryptionType": "AES256"},
            "LifecyclePolicy": {"LifecyclePolicyText": json.dumps({"rules": [{
                "rulePriority": 1, "description": "keep the last 10 runner images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
                "action": {"type": "expire"}}]})}}},
        # Used by ECS to start a task: pull the images (the runner's, and job images in this account's ECR),
        # write the containers' logs, read the secret settings' parameters.
        "TaskExecutionRole": task_role("starts the job tasks", [
            _statement(["ecr:GetAuthorizationToken"], ["*"]),
            _statement(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                       [_sub("arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*")]),
            _statement(["logs:CreateLogStream", "logs:PutLogEvents"], [
                {"Fn::Sub": ["${Arn}", {"Arn": log_group}]},
                {"Fn::Sub": ["${Arn}:log-stream:*", {"Arn": log_group}]}]),
            _statement(["ssm:GetParameters"], [SECRETS_ARN])]),
        # What the containers may do: stage inputs from and store outputs in the stack's bucket, and read
        # and write the executions' documents (`main` shares it: see docs/running-jobs.md).
        "TaskRole": task_role("the job tasks' containers", [
            _statement(["s3:ListBucket"], [_arn("FilesBucket")]),
            _statement(["s3:GetObject", "s3:PutObject"], [bucket_objects])]),
    }


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
    if function.ecs:
        environment.update(_ecs_environment())
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
                            "VersioningConfiguration": {"Status": "Enabled"},
                            # ECS executions' spec and result documents are only read while the task runs
                            # and right after it stops.
                            "LifecycleConfiguration": {"Rules": [{
                                "Id": "execution-documents", "Status": "Enabled",
                                "Prefix": {"Fn::Sub": "${AWS::StackName}-executions/"},
                                "ExpirationInDays": 14, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]}}},
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
    resources.update(_ecs_resources())
    for function in all_functions:
        resources.update(_function_resources(function))
    resources.update(_operations(all_functions))
    # The dispatch handler reports partial batch failures (Powertools); Chalice cannot say so itself. Chalice
    # wrote a placeholder ARN (a string); this replaces it with the queue the stack creates.
    resources["Dispatch"]["Properties"]["Events"] = {"DispatchSqsEventSource": {"Properties": {
        "Queue": _arn("DispatchQueue"), "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}
    # The task state-change rule: only this stack's cluster (Chalice's pattern names no cluster).
    pattern = copy.deepcopy(ecs_events.EVENT_PATTERN)
    pattern["detail"]["clusterArn"] = [CLUSTER_ARN]
    resources["EcsTaskStateChange"]["Properties"]["Events"] = {"EcsTaskStateChangeEvent": {
        "Type": "CloudWatchEvent", "Properties": {"Pattern": pattern}}}
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
            "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>",
                        "Description": "Subnets of the job tasks (private with a NAT, or public with AssignPublicIp)"},
            "SecurityGroup": {"Type": "AWS::EC2::SecurityGroup::Id",
                              "Description": "Security group of the job tasks (outbound HTTPS is all they need)"},
            "AssignPublicIp": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"],
                               "Description": "Give each task a public IP (public subnets without a NAT)"},
            "RunnerImageTag": {"Type": "String", "Default": "latest",
                               "Description": "The runner image's tag in RunnerRepository (make deploy pushes it)"},
            "MaxTasks": {"Type": "Number", "Default": 20, "MinValue": 1,
                         "Description": "Job tasks running at once in the cluster"},
        },
        "Conditions": {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}},
        "Resources": resources,
        "Outputs": {
            "FilesBucketName": {"Value": {"Ref": "FilesBucket"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
            "TokensTableName": {"Value": {"Ref": table_logical_id(TOKENS_TABLE)}},
            "JobsClusterName": {"Value": {"Ref": "JobsCluster"}},
            "RunnerRepositoryUri": {"Value": {"Fn::GetAtt": ["RunnerRepository", "RepositoryUri"]}},
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
