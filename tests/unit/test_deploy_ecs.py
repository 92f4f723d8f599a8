"""The packaged template's ECS part (issue #12): the cluster, the runner image's repository, the two task
roles scoped to the stack's bucket and log group, `iam:PassRole` only for them, the network parameters,
the EventBridge rule on the cluster's task state changes and its permission, the runner settings."""
from __future__ import annotations

import json

import pytest

from deploy.package import package

REGION = "us-east-1"


@pytest.fixture(scope="module")
def cfn(tmp_path_factory):
    return json.loads(package("prod", tmp_path_factory.mktemp("out"), REGION).read_text())


def _of_type(template: dict, kind: str) -> dict:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _statements(role: dict) -> list[dict]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_the_cluster_repository_and_network_parameters_exist(cfn):
    assert _of_type(cfn, "AWS::ECS::Cluster")["JobsCluster"]["Properties"]["CapacityProviders"] == ["FARGATE"]
    assert "RunnerRepository" in _of_type(cfn, "AWS::ECR::Repository")
    assert {"Subnets", "SecurityGroup", "AssignPublicIp", "RunnerImageTag", "MaxTasks"} <= set(cfn["Parameters"])
    assert cfn["Parameters"]["Subnets"]["Type"] == "List<AWS::EC2::Subnet::Id>"


def test_pass_role_names_only_the_two_task_roles(cfn):
    passed = [s["Resource"] for role in _of_type(cfn, "AWS::IAM::Role").values() for s in _statements(role)
              if "iam:PassRole" in s["Action"]]
    assert passed and all(resources == [{"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
                                        {"Fn::GetAtt": ["TaskRole", "Arn"]}] for resources in passed)
    assert all(s["Action"] == ["iam:PassRole"] for role in _of_type(cfn, "AWS::IAM::Role").values()
               for s in _statements(role) if "iam:PassRole" in s["Action"])


def test_the_task_roles_reach_only_the_stack_s_bucket_log_group_and_secrets(cfn):
    roles = _of_type(cfn, "AWS::IAM::Role")
    task = json.dumps(_statements(roles["TaskRole"]))
    assert "FilesBucket" in task and "dynamodb" not in task and "sqs" not in task
    execution = _statements(roles["TaskExecutionRole"])
    logs = next(s for s in execution if "logs:PutLogEvents" in s["Action"])
    assert "JobExecutionLogGroup" in json.dumps(logs["Resource"])
    secrets = next(s for s in execution if "ssm:GetParameters" in s["Action"])
    assert "${AWS::StackName}-secrets/*" in json.dumps(secrets["Resource"])
    for role in ("TaskRole", "TaskExecutionRole"):
        trust = roles[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}


def test_the_rule_sends_the_cluster_s_task_state_changes_to_the_handler(cfn):
    rules = _of_type(cfn, "AWS::Events::Rule")
    (rule,) = [r for r in rules.values() if r["Properties"].get("EventPattern", {}).get("source") == ["aws.ecs"]]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["ECS Task State Change"]
    assert pattern["detail"]["clusterArn"] == [{"Fn::GetAtt": ["JobsCluster", "Arn"]}]
    # only the STOPPED task and (at least) the RUNNING one showing `main` running: the others change nothing
    assert pattern["detail"]["$or"] == [
        {"lastStatus": ["STOPPED"]},
        {"lastStatus": ["RUNNING"], "containers": {"name": ["main"], "lastStatus": ["RUNNING"]}}]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["EcsTaskStateChange", "Arn"]}
    permissions = [p["Properties"] for p in _of_type(cfn, "AWS::Lambda::Permission").values()
                   if p["Properties"]["Principal"] == "events.amazonaws.com"]
    assert any(p["FunctionName"] == {"Ref": "EcsTaskStateChange"} for p in permissions)


def test_the_functions_that_launch_or_stop_tasks_run_the_ecs_runner(cfn):
    lambdas = _of_type(cfn, "AWS::Lambda::Function")
    for name in ("APIHandler", "Dispatch", "Maintenance", "BulkChunk", "EcsTaskStateChange"):
        variables = lambdas[name]["Properties"]["Environment"]["Variables"]
        assert variables["JOBS_RUNNER"] == "ecs", name
        assert variables["JOBS_ECS_TASK_ROLE_ARN"] == {"Fn::GetAtt": ["TaskRole", "Arn"]}
    for name in ("JobsAuthorizer", "Bootstrap"):
        assert "JOBS_RUNNER" not in lambdas[name]["Properties"]["Environment"]["Variables"]
    dispatch = json.dumps(_statements(_of_type(cfn, "AWS::IAM::Role")["DispatchRole"]))
    assert "ecs:RunTask" in dispatch and "ssm:PutParameter" in dispatch
    for name in ("MaintenanceRole", "BulkChunkRole", "APIHandlerRole"):  # timeouts, bulk and small cancels
        stops = json.dumps(_statements(_of_type(cfn, "AWS::IAM::Role")[name]))
        assert "ecs:StopTask" in stops and "ecs:RunTask" not in stops and "iam:PassRole" not in stops, name
