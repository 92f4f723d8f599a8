"""The packaged functions invoked as AWS invokes them (their real event shapes), against moto: the token
authorizer, the API with an authorizer context, the dispatch queue's SQS batch, the schedule event,
the state machine's chunk task input and the bootstrap custom resource."""
from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest

import app as application
from chalicelib import clock
from chalicelib.config import get_settings, reset_settings
from chalicelib.handlers import authorizer as authorizer_handler
from chalicelib.handlers import bulk, deployment, events
from chalicelib.models import files as file_store
from chalicelib.models import tokens
from deploy import tokens as token_command

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/v6/jobs"
CONTEXT = SimpleNamespace(function_name="test", aws_request_id="req-1", memory_limit_in_mb=512,
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:test",
                          get_remaining_time_in_millis=lambda: 30000)


@pytest.fixture
def gateway(aws, monkeypatch):
    monkeypatch.setenv("JOBS_AUTH_MODE", "gateway")
    reset_settings()
    assert get_settings().auth_mode == "gateway"
    yield aws
    reset_settings()


def authorize(token: str | None) -> dict:
    event = {"type": "TOKEN", "methodArn": METHOD_ARN,
             "authorizationToken": f"Bearer {token}" if token is not None else ""}
    return authorizer_handler.jobs_authorizer(event, CONTEXT)


def effect(answer: dict) -> str:
    (statement,) = answer["policyDocument"]["Statement"]
    return statement["Effect"]


# --- the authorizer ---------------------------------------------------------------------------------------

def test_a_minted_token_is_allowed_on_the_whole_api_with_the_principal_as_context(gateway):
    token = token_command.mint("alice", "operator", ["p1", "p2"])

    answer = authorize(token)

    assert effect(answer) == "Allow"
    assert answer["principalId"] == "alice"
    assert answer["context"] == {"principalId": "alice", "role": "operator", "projects": "p1,p2"}
    # Cached by the gateway for any route: the policy covers the whole API, not the route asked about
    assert answer["policyDocument"]["Statement"][0]["Resource"] == [
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/*/*"]


@pytest.mark.parametrize("token", ["not-a-minted-token", "", None], ids=["unknown", "empty", "no-header"])
def test_an_unknown_or_missing_token_is_denied(gateway, token):
    token_command.mint("alice", "admin", [])
    answer = authorize(token)
    assert effect(answer) == "Deny"
    assert answer["context"] == {}


def test_a_revoked_token_is_denied(gateway):
    token = token_command.mint("bob", "viewer", [])
    assert effect(authorize(token)) == "Allow"

    assert tokens.revoke_tokens_of("bob", clock.now()) == 1

    assert effect(authorize(token)) == "Deny"


def test_the_authorizer_context_is_what_the_api_reads_as_the_principal(gateway):
    token = token_command.mint("carol", "admin", ["team"])
    context = authorize(token)["context"]
    from chalicelib import auth
    assert auth.authenticate({}, {"authorizer": context}) == auth.Principal("carol", "admin", ("team",))


def test_only_the_docs_are_left_open_when_routes_are_protected():
    from chalice import Chalice
    app = Chalice(app_name="protected")
    for path in ("/docs", "/openapi.json", "/v6/jobs", "/v6/jobs/{job_id}"):
        app.route(path, methods=["GET", "POST"] if path == "/v6/jobs" else ["GET"])(lambda **kwargs: {})
    assert authorizer_handler.protect_routes(app) == 3
    open_paths = {path for path, methods in app.routes.items() for entry in methods.values()
                  if entry.authorizer is None}
    assert open_paths == {"/docs", "/openapi.json"}


# --- the API function with an authorizer context -------------------------------------------------------

def proxy_event(method: str, path: str, authorizer: dict | None) -> dict:
    request_context = {"resourcePath": path, "httpMethod": method, "path": f"/api{path}", "stage": "api",
                       "requestId": "r-1", "identity": {"sourceIp": "203.0.113.9"}}
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    return {"resource": path, "path": path, "httpMethod": method,
            "headers": {"Host": "abcdef1234.execute-api.us-east-1.amazonaws.com", "Accept": "application/json"},
            "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": None, "stageVariables": None, "requestContext": request_context, "body": None,
            "isBase64Encoded": False}


def test_the_api_answers_the_authorizer_principal(gateway):
    answer = application.app(proxy_event("GET", "/v6/jobs",
                                         {"principalId": "alice", "role": "viewer", "projects": "p1"}), CONTEXT)
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["count"] == 0


def test_the_api_without_an_authorizer_context_is_401(gateway):
    answer = application.app(proxy_event("GET", "/v6/jobs", None), CONTEXT)
    assert answer["statusCode"] == 401, answer


# --- the event functions -------------------------------------------------------------------------------------

def sqs_event(bodies: list[str]) -> dict:
    return {"Records": [{
        "messageId": f"m-{i}", "receiptHandle": f"h-{i}", "body": body, "attributes": {
            "ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000", "SenderId": "x",
            "ApproximateFirstReceiveTimestamp": "1700000000000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs-service-prod-dispatch", "awsRegion": "us-east-1"}
        for i, body in enumerate(bodies)]}


def test_the_dispatch_function_reports_a_poison_message_as_a_batch_item_failure(gateway, monkeypatch):
    monkeypatch.setattr("chalicelib.services.dispatch.fill_slots", lambda: [])
    answer = events.dispatch(sqs_event(["not json", json.dumps({"job_id": 1, "exe_num": 1, "priority": 1})]),
                             CONTEXT)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}


def test_a_deployed_dispatch_with_no_runner_fails_the_invocation(gateway):
    # No cloud runner yet (docs/running-jobs.md): the whole batch is retried, then lands in the dead-letter queue
    from chalicelib.services.dispatch import NoRunner
    with pytest.raises(NoRunner):
        events.dispatch(sqs_event([json.dumps({"job_id": 1, "exe_num": 1, "priority": 1})]), CONTEXT)


def test_the_schedule_function_sweeps(gateway):
    event = {"version": "0", "id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2026-12-02T00:00:00Z", "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/jobs-service-prod-maintenance"], "detail": {}}
    summary = events.maintenance(event, CONTEXT)
    assert summary == {"nodes_offline": 0, "lost": 0, "timed_out": 0, "redispatched": 0, "counter_drift_fixed": 0}


def test_the_chunk_function_takes_the_state_machine_task_input(gateway):
    from chalicelib.services import bulk_jobs
    started = bulk_jobs.start("cancel", {"status": "QUEUED"}, "alice", None)
    # The ProcessChunk task's Payload: {"operation_id.$": "$.operation_id", "cursor.$": "$.cursor"}
    answer = bulk.bulk_chunk({"operation_id": str(started["id"]), "cursor": None}, CONTEXT)
    assert answer["done"] is True and str(answer["operation_id"]) == str(started["id"])


# --- the bootstrap custom resource ---------------------------------------------------------------------------

def custom_resource_event(kind: str) -> dict:
    return {"RequestType": kind, "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/jobs-service-prod/1",
            "RequestId": "r-1", "LogicalResourceId": "BootstrapRun",
            "ResourceType": "AWS::CloudFormation::CustomResource",
            "ResourceProperties": {"ServiceToken": "arn", "PackageVersion": "abc"}}


def test_the_bootstrap_puts_the_default_workspace_on_the_stack_bucket(gateway, monkeypatch):
    boto3.client("s3").create_bucket(Bucket="jobs-service-prod-files")
    monkeypatch.setenv("JOBS_FILES_BUCKET", "jobs-service-prod-files")
    from chalicelib.models.tables import Workspace
    Workspace.get("default").delete()  # a fresh stack: no workspace yet (the fixture made a local one)
    sent = []

    answer = deployment.handle_custom_resource(custom_resource_event("Create"), CONTEXT,
                                               send=lambda url, body: sent.append((url, body)))

    assert answer["Status"] == "SUCCESS" and sent and sent[0][1]["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"].endswith("-bootstrap")
    workspace = file_store.get_workspace("default", fresh=True)
    assert workspace.configuration == {"broker": {"type": "s3", "bucket_name": "jobs-service-prod-files"}}


def test_a_failing_bootstrap_reports_failed_to_cloudformation(gateway, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no table")
    monkeypatch.setattr("chalicelib.bootstrap.prepare_store", broken)
    sent = []
    answer = deployment.handle_custom_resource(custom_resource_event("Update"), CONTEXT,
                                               send=lambda url, body: sent.append(body))
    assert answer["Status"] == "FAILED" and "no table" in answer["Reason"]
    assert sent == [answer]


def test_deleting_the_bootstrap_resource_touches_nothing(gateway, monkeypatch):
    monkeypatch.setattr("chalicelib.bootstrap.prepare_store", lambda *a, **k: pytest.fail("ran on delete"))
    answer = deployment.handle_custom_resource(custom_resource_event("Delete"), CONTEXT, send=lambda *a: None)
    assert answer["Status"] == "SUCCESS"


def test_the_sweep_in_lambda_emits_the_age_of_the_oldest_queued_job(gateway, monkeypatch, capsys):
    from datetime import timedelta

    from chalicelib.services.sweeps import sweep
    from tests.functional.jobs_world import build_world
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "jobs-service-prod-maintenance")
    build_world()
    capsys.readouterr()

    sweep(clock.now() + timedelta(hours=2))

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "OldestQueuedJobAgeSeconds" in line]
    assert len(lines) == 1
    (metric,) = lines
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "JobService"
    assert metric["service"] == "sweeps" and metric["stack"] == "test"
    value = metric["OldestQueuedJobAgeSeconds"]
    assert (value[0] if isinstance(value, list) else value) >= 7200  # the world's jobs were queued before
