"""`make deploy` / `make destroy`'s AWS calls against moto. moto's CloudFormation cannot create the whole
stack (it does not import an API from a Swagger body, nor run custom resources or alarms), so the
create/update/destroy steps run here on a small stack of the same kinds of retained resources; the full
template is checked by cfn-lint (test_deploy_package.py)."""
from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from deploy import cli

REGION = "us-east-1"
SMALL_STACK = {"Resources": {
    "JobsTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                  "Properties": {"TableName": {"Fn::Sub": "${AWS::StackName}-jobs"}, "BillingMode": "PAY_PER_REQUEST",
                                 "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                                 "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}]}},
    "FilesBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "Properties": {}},
    "DispatchQueue": {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": {"Fn::Sub": "${AWS::StackName}-dispatch"}}},
}, "Parameters": {"AlarmEmail": {"Type": "String", "Default": ""},
                  "PackageVersion": {"Type": "String", "Default": "0"}}}


@pytest.fixture
def session():
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket="artifacts")
        yield session


def bundle(tmp_path, content: str = "x = 1"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", content)
    path = tmp_path / "deployment.zip"
    path.write_bytes(buffer.getvalue())
    return path


def test_the_bundle_is_uploaded_once_under_its_hash(session, tmp_path):
    s3 = session.client("s3")
    uri, digest = cli.upload_bundle(s3, "artifacts", bundle(tmp_path), "prod")
    assert uri == f"s3://artifacts/jobs-service-prod/{digest}.zip"
    again, same = cli.upload_bundle(s3, "artifacts", bundle(tmp_path), "prod")
    assert (again, same) == (uri, digest)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="artifacts")["Contents"]] == [
        f"jobs-service-prod/{digest}.zip"]
    changed, other = cli.upload_bundle(s3, "artifacts", bundle(tmp_path, "x = 2"), "prod")
    assert other != digest and changed != uri


def test_the_deployed_template_is_plain_cloudformation_with_the_uploaded_code():
    sam = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": {
        "Type": "AWS::Serverless::Function", "Properties": {
            "Runtime": "python3.11", "Handler": "app.app", "CodeUri": "./deployment.zip"}}}}
    template = cli.deployable_template(sam, "s3://artifacts/jobs-service-dev/abc.zip", REGION)
    assert "Transform" not in template
    assert template["Resources"]["Fn"]["Properties"]["Code"] == {"S3Bucket": "artifacts",
                                                                 "S3Key": "jobs-service-dev/abc.zip"}


def test_create_then_update_then_destroy_keeps_the_data(session):
    s3, cloudformation = session.client("s3"), session.client("cloudformation")
    url = cli.upload_template(s3, "artifacts", "prod", SMALL_STACK)
    assert cli.create_or_update(cloudformation, "jobs-service-prod", url, {"PackageVersion": "1"},
                                wait=False) == "CREATE"
    assert cli.stack_exists(cloudformation, "jobs-service-prod")
    assert cli.create_or_update(cloudformation, "jobs-service-prod", url, {"PackageVersion": "2"},
                                wait=False) == "UPDATE"

    retained = cli.destroy("prod", REGION, session=session, wait=False)

    assert {r["type"] for r in retained} == {"AWS::DynamoDB::Table", "AWS::S3::Bucket"}
    assert "jobs-service-prod-jobs" in session.client("dynamodb").list_tables()["TableNames"]
    assert session.client("sqs").list_queues().get("QueueUrls", []) == []  # what is not retained goes


def test_destroy_with_delete_data_removes_the_retained_tables_and_bucket(session):
    s3, cloudformation = session.client("s3"), session.client("cloudformation")
    url = cli.upload_template(s3, "artifacts", "dev", SMALL_STACK)
    cli.create_or_update(cloudformation, "jobs-service-dev", url, {}, wait=False)
    bucket = next(r["id"] for r in cli.retained_resources(cloudformation, "jobs-service-dev")
                  if r["type"] == "AWS::S3::Bucket")
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=b"a")

    cli.destroy("dev", REGION, remove_data=True, session=session, wait=False)

    assert "jobs-service-dev-jobs" not in session.client("dynamodb").list_tables()["TableNames"]
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_the_stack_is_named_after_the_stage():
    assert cli.stack_name("prod") == "jobs-service-prod"
    json.dumps(SMALL_STACK)


def test_the_runner_image_tag_changes_exactly_when_the_image_would(tmp_path):
    (tmp_path / "runner-image").mkdir()
    (tmp_path / "runner-image" / "Dockerfile").write_text("FROM python:3.11.11-slim-bookworm\n")
    (tmp_path / "chalicelib" / "runners").mkdir(parents=True)
    (tmp_path / "chalicelib" / "runners" / "ecs_task.py").write_text("x = 1\n")
    first = cli.runner_image_tag(tmp_path)
    (tmp_path / "chalicelib" / "__pycache__").mkdir()
    (tmp_path / "chalicelib" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert cli.runner_image_tag(tmp_path) == first and len(first) == 16
    (tmp_path / "chalicelib" / "runners" / "ecs_task.py").write_text("x = 2\n")
    assert cli.runner_image_tag(tmp_path) != first


def test_the_runner_image_is_pushed_to_the_stack_s_repository_after_a_registry_login(session):
    uri = session.client("ecr").create_repository(repositoryName="jobs-runner")["repository"]["repositoryUri"]
    commands = []

    def run(command, **kwargs):
        commands.append((command, kwargs.get("input")))

    image = cli.push_runner_image(session, uri, "abc123", run=run)
    assert image == f"{uri}:abc123"
    (login, secret), (build, _), (push, _) = commands
    assert login[:2] == ["docker", "login"] and login[-1] == uri.split("/")[0] and secret
    assert build == ["docker", "build", "-f", "runner-image/Dockerfile", "-t", image, "."]
    assert push == ["docker", "push", image]
