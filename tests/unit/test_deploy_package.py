"""The packaged template keeps the deploy promises (issue #11): it is packaged for a `prod` stage with the
real `chalice package` (~10-15 s), expanded from SAM to plain CloudFormation offline and linted; then
each promise is read off the result."""
from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import pytest

from deploy.package import expand, lint, package
from deploy.template import FUNCTION_LOG_RETENTION_DAYS, functions

REGION = "us-east-1"
SCOPED_SERVICES = ("dynamodb:", "sqs:", "s3:", "states:")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    started = time.monotonic()
    expanded_path = package("prod", out, REGION)
    return SimpleNamespace(path=expanded_path, seconds=time.monotonic() - started,
                           sam=json.loads((out / "sam.json").read_text()),
                           cfn=json.loads(expanded_path.read_text()))


def _of_type(template: dict, kind: str) -> dict:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_the_expanded_template_lints_clean(packaged):
    result = lint(packaged.path, REGION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Transform" not in packaged.cfn  # plain CloudFormation: what was linted is what deploys


def test_linting_the_expanded_form_catches_a_cycle_sam_would_hide(packaged, tmp_path):
    # Given the old wiring: every function's environment names the state machine, which names BulkChunk
    sam = json.loads(json.dumps(packaged.sam))
    sam["Resources"]["BulkChunk"]["Properties"]["Environment"]["Variables"]["JOBS_BULK_STATE_MACHINE_ARN"] = {
        "Ref": "BulkJobsStateMachine"}
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps(expand(sam, REGION)))
    result = lint(path, REGION)
    assert "E3004" in result.stdout


def test_a_prod_package_names_nothing_of_another_stage(packaged):
    text = json.dumps(packaged.sam)
    assert not re.search(r"jobs-service-dev|replaced-by-the-merge-template|000000000000", text)
    event = packaged.sam["Resources"]["Dispatch"]["Properties"]["Events"]["DispatchSqsEventSource"]["Properties"]
    assert event["Queue"] == {"Fn::GetAtt": ["DispatchQueue", "Arn"]}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    name_properties = {"AWS::Serverless::Function": "FunctionName", "AWS::DynamoDB::Table": "TableName",
                       "AWS::SQS::Queue": "QueueName", "AWS::Logs::LogGroup": "LogGroupName",
                       "AWS::StepFunctions::StateMachine": "StateMachineName", "AWS::SNS::Topic": "TopicName"}
    for name, resource in packaged.sam["Resources"].items():
        if resource["Type"] in name_properties:
            assert "${AWS::StackName}" in resource["Properties"][name_properties[resource["Type"]]]["Fn::Sub"], name


def test_every_route_but_the_docs_has_the_token_authorizer_with_a_cache(packaged):
    body = packaged.sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["jobs_authorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "token" and authorizer["authorizerResultTtlInSeconds"] == 300
    open_routes = {(path, method) for path, methods in body["paths"].items() for method, op in methods.items()
                   if method != "options" and not op.get("security")}
    assert open_routes == {("/docs", "get"), ("/openapi.json", "get")}


def test_each_function_has_its_own_role_and_no_wildcards(packaged):
    lambdas = _of_type(packaged.cfn, "AWS::Lambda::Function")
    roles = [fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in lambdas.values()]
    assert len(set(roles)) == len(lambdas) == len(functions())
    for name, role in _of_type(packaged.cfn, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                resources = statement["Resource"] if isinstance(statement["Resource"], list) \
                    else [statement["Resource"]]
                assert not any("*" in action for action in actions), (name, actions)
                if any(action.startswith(SCOPED_SERVICES) for action in actions):
                    assert "*" not in resources, (name, actions)
    assert _of_type(packaged.cfn, "AWS::IAM::ManagedPolicy") == {}


def test_the_authorizer_reads_only_the_tokens_table_and_nothing_else_does(packaged):
    roles = _of_type(packaged.cfn, "AWS::IAM::Role")

    def statements(role):
        return [s for p in roles[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    authorizer = statements("JobsAuthorizerRole")
    assert [s["Resource"] for s in authorizer if s["Action"][0].startswith("dynamodb:")] == [
        [{"Fn::GetAtt": ["ApiTokensTable", "Arn"]}]]
    assert all(not a.endswith(("PutItem", "UpdateItem", "DeleteItem")) for s in authorizer for a in s["Action"])
    for role in roles:
        if role != "JobsAuthorizerRole":
            assert "ApiTokensTable" not in json.dumps(roles[role]), role


def test_tables_are_retained_protected_and_recoverable(packaged):
    tables = _of_type(packaged.cfn, "AWS::DynamoDB::Table")
    assert "ApiTokensTable" in tables
    for name, table in tables.items():
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", name
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_bucket_is_encrypted_private_and_retained(packaged):
    bucket = _of_type(packaged.cfn, "AWS::S3::Bucket")["FilesBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]


def test_every_function_logs_to_a_group_that_expires(packaged):
    groups = _of_type(packaged.cfn, "AWS::Logs::LogGroup")
    for name, fn in _of_type(packaged.cfn, "AWS::Lambda::Function").items():
        group = groups[fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == FUNCTION_LOG_RETENTION_DAYS, name


def test_functions_are_sized_and_the_queue_outlasts_six_dispatch_timeouts(packaged):
    lambdas = _of_type(packaged.cfn, "AWS::Lambda::Function")
    assert lambdas["APIHandler"]["Properties"]["MemorySize"] >= 512
    assert all(fn["Properties"]["MemorySize"] > 128 for fn in lambdas.values())
    queue = packaged.cfn["Resources"]["DispatchQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * lambdas["Dispatch"]["Properties"]["Timeout"]


def test_alarms_cover_the_failure_signals_and_notify_the_topic(packaged):
    alarms = _of_type(packaged.cfn, "AWS::CloudWatch::Alarm")
    assert all(alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for alarm in alarms.values())
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()}
    assert {("AWS/SQS", "ApproximateNumberOfMessagesVisible"), ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"),
            ("AWS/States", "ExecutionsFailed"), ("AWS/ApiGateway", "5XXError"),
            ("JobService", "OldestQueuedJobAgeSeconds")} <= metrics
    lambda_alarmed = {a["Properties"]["Dimensions"][0]["Value"]["Ref"] for a in alarms.values()
                      if a["Properties"]["Namespace"] == "AWS/Lambda"}
    assert lambda_alarmed == set(_of_type(packaged.cfn, "AWS::Lambda::Function"))
    assert packaged.cfn["Resources"]["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_the_bootstrap_runs_at_every_deployment(packaged):
    run = packaged.cfn["Resources"]["BootstrapRun"]
    assert run["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["Bootstrap", "Arn"]}
    assert run["Properties"]["PackageVersion"] == {"Ref": "PackageVersion"}


def test_the_gateway_answers_unknown_paths_and_its_own_errors_as_json_with_cors(packaged):
    (api,) = _of_type(packaged.cfn, "AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"}
    unknown = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown["statusCode"] == 404 and "No such endpoint" in unknown["responseTemplates"]["application/json"]
    for answer in responses.values():
        assert answer["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
