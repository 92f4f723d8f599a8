"""`make deploy` / `make destroy` with boto3 only (no AWS CLI).

deploy: package (deploy.package), upload the bundle to the artifacts bucket under its SHA-256 (what
`aws cloudformation package` does), create or update the stack `jobs-service-<stage>` through a change
set, wait, and print the API URL and how to mint the first admin token. The `BootstrapRun` custom
resource loads the built-in data during the create/update (a new `PackageVersion` makes it run again).

The jobs run as ECS tasks in the subnets and security group given (`--subnets`, `--security-group`,
`--assign-public-ip`); the runner image (runner-image/Dockerfile) is tagged with a digest of what goes into
it, named in the stack (RunnerImageTag) and, once the stack has its ECR repository, built and pushed with
Docker (`--no-runner-image` skips it; tasks then fail to start until an image with that tag is pushed).
destroy: delete the stack. Tables and the files bucket are retained (DeletionPolicy Retain); with
`--delete-data` they are deleted afterwards (deletion protection turned off first, the bucket emptied).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from deploy.package import ROOT, expand, lint, package, with_code_uri

APP_NAME = "jobs-service"


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}"


def upload_bundle(s3: Any, bucket: str, bundle: Path, stage: str) -> tuple[str, str]:
    """Upload the bundle under its content hash (unchanged code: no new upload); returns (s3 URI, hash)."""
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    key = f"{stack_name(stage)}/{digest}.zip"
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError:
        s3.upload_file(str(bundle), bucket, key)
    return f"s3://{bucket}/{key}", digest


def deployable_template(sam_template: dict[str, Any], code_uri: str, region: str) -> dict[str, Any]:
    """The plain CloudFormation that is deployed: the SAM template with the uploaded code, expanded here
    (so CloudFormation needs no transform, and what was linted is what is deployed)."""
    expanded = expand(with_code_uri(sam_template, code_uri), region)
    for resource in expanded["Resources"].values():
        if resource.get("Type") == "AWS::Lambda::Function":
            bucket, _, key = code_uri.removeprefix("s3://").partition("/")
            resource["Properties"]["Code"] = {"S3Bucket": bucket, "S3Key": key}
    return expanded


def upload_template(s3: Any, bucket: str, stage: str, template: dict[str, Any]) -> str:
    """Templates over 51,200 bytes must be passed by URL."""
    body = json.dumps(template).encode()
    key = f"{stack_name(stage)}/template-{hashlib.sha256(body).hexdigest()}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"https://{bucket}.s3.{s3.meta.region_name}.amazonaws.com/{key}"


def stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except cloudformation.exceptions.ClientError:
        return False
    return bool(stacks) and stacks[0]["StackStatus"] != "REVIEW_IN_PROGRESS"


def create_or_update(cloudformation: Any, name: str, template_url: str, parameters: dict[str, str],
                     wait: bool = True) -> str:
    """Create or update the stack with a change set; returns the change set's type (or NOOP)."""
    kind = "UPDATE" if stack_exists(cloudformation, name) else "CREATE"
    change_set = f"deploy-{int(time.time())}"
    cloudformation.create_change_set(
        StackName=name, ChangeSetName=change_set, ChangeSetType=kind, TemplateURL=template_url,
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in sorted(parameters.items())],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        Tags=[{"Key": "app", "Value": APP_NAME}])
    if wait:
        try:
            cloudformation.get_waiter("change_set_create_complete").wait(
                StackName=name, ChangeSetName=change_set, WaiterConfig={"Delay": 5})
        except Exception:  # noqa: BLE001 - a change set with no changes "fails"; say so and stop
            described = cloudformation.describe_change_set(StackName=name, ChangeSetName=change_set)
            if "didn't contain changes" in described.get("StatusReason", ""):
                return "NOOP"
            raise
    cloudformation.execute_change_set(StackName=name, ChangeSetName=change_set)
    if wait:
        waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
        cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 180})
    return kind


def outputs(cloudformation: Any, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


RUNNER_IMAGE_DIR = "runner-image"


def runner_image_tag(root: Path = ROOT) -> str:
    """16 hex digits of SHA-256 over the Dockerfile and every file copied into the image: a new tag exactly
    when the image would change (task definitions name it, so running tasks keep their own)."""
    digest = hashlib.sha256()
    files = [root / RUNNER_IMAGE_DIR / "Dockerfile"] + sorted(
        path for path in (root / "chalicelib").rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def push_runner_image(session: Any, repository_uri: str, tag: str, run: Any = None) -> str:
    """docker login to the stack's ECR registry (a token from GetAuthorizationToken), build, push; returns
    the image pushed. Needs a Docker engine."""
    import base64
    import subprocess
    run = run or subprocess.run
    token = session.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    registry = repository_uri.split("/", 1)[0]
    image = f"{repository_uri}:{tag}"
    run(["docker", "login", "--username", user, "--password-stdin", registry], input=password, text=True,
        check=True)
    run(["docker", "build", "-f", f"{RUNNER_IMAGE_DIR}/Dockerfile", "-t", image, "."], cwd=ROOT, check=True)
    run(["docker", "push", image], check=True)
    return image


def deploy(stage: str, region: str, artifacts_bucket: str, alarm_email: str = "",
           session: Any = None, outdir: Path | None = None, wait: bool = True, subnets: str = "",
           security_group: str = "", assign_public_ip: bool = False, push_image: bool = True) -> dict[str, str]:
    import boto3
    session = session or boto3.session.Session(region_name=region)
    outdir = outdir or ROOT / "out"
    expanded_path = package(stage, outdir, region)
    result = lint(expanded_path, region)
    if result.returncode not in (0, 4, 8, 12):  # warnings/informational only pass; errors (2) stop
        raise SystemExit(f"cfn-lint found errors:\n{result.stdout}")
    s3 = session.client("s3")
    code_uri, digest = upload_bundle(s3, artifacts_bucket, outdir / "deployment.zip", stage)
    template = deployable_template(json.loads((outdir / "sam.json").read_text()), code_uri, region)
    template_url = upload_template(s3, artifacts_bucket, stage, template)
    cloudformation = session.client("cloudformation")
    name = stack_name(stage)
    tag = runner_image_tag()
    create_or_update(cloudformation, name, template_url,
                     {"AlarmEmail": alarm_email, "PackageVersion": digest[:16], "Subnets": subnets,
                      "SecurityGroup": security_group, "AssignPublicIp": "true" if assign_public_ip else "false",
                      "RunnerImageTag": tag}, wait=wait)
    found = outputs(cloudformation, name)
    if push_image and found.get("RunnerRepositoryUri"):
        sys.stdout.write(f"runner image: {push_runner_image(session, found['RunnerRepositoryUri'], tag)}\n")
    sys.stdout.write(
        f"stack {name}: {found.get('EndpointURL', '(no URL yet)')}\n"
        f"first admin token (printed once, keep it):\n"
        f"  .venv/bin/python -m deploy.tokens mint --stage {stage} --region {region} --name admin --role admin\n")
    return found


def retained_resources(cloudformation: Any, name: str) -> list[dict[str, str]]:
    """The stack's tables and bucket (physical ids), read before it is deleted."""
    kinds = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")
    paginator = cloudformation.get_paginator("list_stack_resources")
    return [{"type": summary["ResourceType"], "id": summary["PhysicalResourceId"]}
            for page in paginator.paginate(StackName=name) for summary in page["StackResourceSummaries"]
            if summary["ResourceType"] in kinds and summary.get("PhysicalResourceId")]


def delete_data(session: Any, retained: list[dict[str, str]]) -> None:
    dynamodb, s3 = session.client("dynamodb"), session.resource("s3")
    for resource in retained:
        if resource["type"] == "AWS::DynamoDB::Table":
            dynamodb.update_table(TableName=resource["id"], DeletionProtectionEnabled=False)
            dynamodb.delete_table(TableName=resource["id"])
        else:
            bucket = s3.Bucket(resource["id"])
            bucket.object_versions.delete()
            bucket.objects.all().delete()
            bucket.delete()


def destroy(stage: str, region: str, remove_data: bool = False, session: Any = None, wait: bool = True) -> list:
    import boto3
    session = session or boto3.session.Session(region_name=region)
    cloudformation = session.client("cloudformation")
    name = stack_name(stage)
    retained = retained_resources(cloudformation, name)
    cloudformation.delete_stack(StackName=name)
    if wait:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 10})
    if remove_data:
        delete_data(session, retained)
        sys.stdout.write(f"deleted {name} and its data ({len(retained)} tables and buckets)\n")
    else:
        sys.stdout.write(f"deleted {name}; kept {len(retained)} tables and buckets: "
                         + ", ".join(r["id"] for r in retained) + "\n")
    return retained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deploy or destroy the job service's stack")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("deploy", "destroy"):
        sub = commands.add_parser(command)
        sub.add_argument("--stage", default="dev")
        sub.add_argument("--region", default="us-east-1")
        if command == "deploy":
            sub.add_argument("--artifacts-bucket", required=True)
            sub.add_argument("--alarm-email", default="")
            sub.add_argument("--subnets", required=True, help="the job tasks' subnet ids, comma-separated")
            sub.add_argument("--security-group", required=True, help="the job tasks' security group id")
            sub.add_argument("--assign-public-ip", action="store_true",
                             help="public subnets without a NAT: give each task a public IP")
            sub.add_argument("--no-runner-image", action="store_true", help="do not build and push the image")
        else:
            sub.add_argument("--delete-data", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        deploy(args.stage, args.region, args.artifacts_bucket, args.alarm_email, subnets=args.subnets,
               security_group=args.security_group, assign_public_ip=args.assign_public_ip,
               push_image=not args.no_runner_image)
    else:
        destroy(args.stage, args.region, args.delete_data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
