"""An emulated account's resources, created from the same definitions the deploy template uses (the
models' tables, `QUEUES`, the state machine's ASL): the local stack and the tests call these; in AWS
the template creates them. Never deployed."""
from __future__ import annotations

import json
from typing import Any

from chalicelib import workflows
from chalicelib.queues import QUEUES
from deploy.schema import all_create_table_args
from local.task_agent import ecs_environment

EMULATED_ACCOUNT = "123456789012"


def create_tables(client: Any, prefix: str) -> list[str]:
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


def create_queues(client: Any, prefix: str) -> dict[str, str]:
    """Create every queue (idempotent: CreateQueue with the same attributes returns the existing one);
    returns base name -> queue URL."""
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for definition in QUEUES:
        attributes = dict(definition.attributes)
        if definition.dead_letter:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arns[definition.dead_letter],
                                                      "maxReceiveCount": str(definition.max_receives)})
        url = client.create_queue(QueueName=prefix + definition.base_name, Attributes=attributes)["QueueUrl"]
        urls[definition.base_name] = url
        arns[definition.base_name] = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return urls


def chunk_function_arn(prefix: str, region: str) -> str:
    """The chunk function's ARN in an emulated account; moto routes its invocations (see local/lambdas.py)."""
    return f"arn:aws:lambda:{region}:{EMULATED_ACCOUNT}:function:{prefix}{workflows.CHUNK_FUNCTION}"


def create_state_machine(client: Any, prefix: str, region: str) -> str:
    """Create (or update) the bulk state machine in an emulated account."""
    text = workflows.substituted({"BulkChunkFunctionArn": chunk_function_arn(prefix, region),
                                  "BulkOperationsTable": prefix + "bulk-operations"})
    name = workflows.state_machine_name(prefix)
    for machine in client.list_state_machines().get("stateMachines", []):
        if machine["name"] == name:
            client.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=text)
            return str(machine["stateMachineArn"])
    return str(client.create_state_machine(name=name, definition=text, type="STANDARD",
                                           roleArn=f"arn:aws:iam::{EMULATED_ACCOUNT}:role/{name}")["stateMachineArn"])


def resume_bulk_operations() -> list[int]:
    """Start again every operation still RUNNING without an execution doing it: the emulator keeps no state
    machine executions across a restart. The new execution goes on at the chunk the operation records as next
    (its `position` and `cursor`), so no chunk is read or counted twice."""
    from chalicelib.models import bulk as bulk_store
    resumed = []
    for operation in bulk_store.running_operations():
        execution_arn = workflows.start_bulk_execution(operation.id)
        if execution_arn:
            bulk_store.set_execution(operation.id, execution_arn)
            resumed.append(operation.id)
    return resumed


def create_ecs(ecs: Any, s3: Any, ec2: Any, prefix: str, region: str = "us-east-1") -> dict[str, str]:
    """The ECS cluster the runner starts tasks in, a subnet and security group for its tasks (the stack's
    parameters in AWS), and the stack's bucket (the executions' spec and result documents). Idempotent;
    returns the settings naming them."""
    settings = ecs_environment(prefix)
    name = settings["JOBS_ECS_CLUSTER"]
    found = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [name]}])["Subnets"]
    if found:
        subnet, vpc = found[0]["SubnetId"], found[0]["VpcId"]
        group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])[
            "SecurityGroups"][0]["GroupId"]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as a default VPC has it
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.0.0/24", TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": name}]}])["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName=name, Description="job tasks", VpcId=vpc)["GroupId"]
    settings.update(JOBS_ECS_SUBNETS=subnet, JOBS_ECS_SECURITY_GROUPS=group)
    ecs.create_cluster(clusterName=settings["JOBS_ECS_CLUSTER"])
    bucket = settings["JOBS_FILES_BUCKET"]
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return settings
