"""The ECS runner against moto's ECS: task definitions found again by their digest, Fargate sizes, job
types Fargate cannot run refused at creation, secret settings only through SSM, StopTask, the cap of
running tasks, and the Fargate pseudo node that no heartbeat sweeps."""
from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from chalicelib import clock, wiring
from chalicelib.config import ConfigurationError, load_settings
from chalicelib.models import executions
from chalicelib.models import files as file_store
from chalicelib.models import jobs as job_store
from chalicelib.runners.ecs import FARGATE_NODE_ID, Unfit, fargate_size
from chalicelib.services.queue_job import queue_job
from chalicelib.services.sweeps import sweep
from local import sample_data as sd
from local.emulated_aws import ecs_environment
from tests.functional.ecs_world import configure_ecs, deliver, runner, submit, tasks


@pytest.fixture
def ecs(api, monkeypatch):
    yield from configure_ecs(api, monkeypatch)


def test_without_its_settings_an_ecs_process_refuses_to_start(monkeypatch):
    monkeypatch.setenv("JOBS_RUNNER", "ecs")
    for name in ("JOBS_ECS_CLUSTER", "JOBS_ECS_RUNNER_IMAGE", "JOBS_ECS_SUBNETS", "JOBS_FILES_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="JOBS_ECS_CLUSTER.*JOBS_ECS_SUBNETS"):
        load_settings()
    for name, value in ecs_environment("x-").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JOBS_ECS_MAX_TASKS", "0")
    with pytest.raises(ConfigurationError, match="JOBS_ECS_MAX_TASKS"):
        load_settings()
    monkeypatch.setenv("JOBS_RUNNER", "fargate")
    with pytest.raises(ConfigurationError, match="JOBS_RUNNER"):
        load_settings()


@pytest.mark.parametrize(("resources", "expected"), [
    ({"cpus": 0.25, "mem": 128, "disk": 0}, (256, 512, 21)),
    ({"cpus": 1.0, "mem": 256, "disk": 10}, (1024, 2048, 21)),
    ({"cpus": 0.5, "mem": 4096, "disk": 0}, (512, 4096, 21)),
    ({"cpus": 0.5, "mem": 4097, "disk": 0}, (1024, 5120, 21)),
    ({"cpus": 4.0, "mem": 9000, "disk": 30 * 1024 + 1}, (4096, 9216, 31)),
    ({"cpus": 5.0, "mem": 100, "disk": 0}, (8192, 16384, 21)),
    ({"cpus": 16.0, "mem": 122880, "disk": 200 * 1024, "gpus": 0.0}, (16384, 122880, 200)),
])
def test_resources_round_up_to_a_valid_fargate_size(resources, expected):
    size = fargate_size(resources)
    assert (size.cpu, size.memory, size.ephemeral_gib) == expected


@pytest.mark.parametrize(("resources", "resource"), [
    ({"cpus": 1, "gpus": 1}, "gpus"), ({"cpus": 17}, "cpus"), ({"mem": 122881}, "mem"),
    ({"disk": 200 * 1024 + 1}, "disk"), ({"sharedMem": 64}, "sharedMem")])
def test_what_no_fargate_size_holds_is_named(resources, resource):
    with pytest.raises(Unfit) as refused:
        fargate_size(resources)
    assert refused.value.resource == resource


def _job_type_body(name: str, scalar: list[dict] | None = None, mounts: list[dict] | None = None) -> dict:
    manifest = sd.manifest(name)
    if scalar is not None:
        manifest["job"]["resources"]["scalar"] = scalar
    if mounts is not None:
        manifest["job"]["interface"]["mounts"] = mounts
    return {"docker_image": f"{name}:1", "manifest": manifest}


@pytest.mark.parametrize(("scalar", "mounts", "field"), [
    ([{"name": "cpus", "value": 1.0}, {"name": "gpus", "value": 1.0}], None, "manifest.job.resources.scalar.gpus"),
    ([{"name": "cpus", "value": 32.0}], None, "manifest.job.resources.scalar.cpus"),
    ([{"name": "mem", "value": 200000.0}], None, "manifest.job.resources.scalar.mem"),
    (None, [{"name": "DATA", "path": "/data"}], "manifest.job.interface.mounts"),
])
def test_a_job_type_fargate_cannot_run_is_refused_naming_the_resource(ecs, scalar, mounts, field):
    response = ecs.post("/v6/job-types/", _job_type_body("too-big", scalar, mounts))
    body = json.loads(response.body)
    assert response.status_code == 400, body
    assert field in json.dumps(body) and "Fargate" in json.dumps(body)
    assert ecs.get("/v6/job-types/too-big/").status_code == 404


def test_with_the_local_runner_the_same_job_type_is_accepted(api):
    body = _job_type_body("gpu", [{"name": "cpus", "value": 1.0}, {"name": "gpus", "value": 1.0}])
    assert api.post("/v6/job-types/", body).status_code == 201


def test_a_dispatched_job_runs_as_a_fargate_task_of_three_containers(ecs):
    job_id = submit()
    assert deliver(ecs, job_id) == {"batchItemFailures": []}
    (task,) = tasks()
    execution = executions.get_execution(job_id, 1)
    assert task["startedBy"] == execution.cluster_id and task["launchType"] == "FARGATE"
    job = job_store.get_job(job_id)
    assert job.status == "RUNNING" and job.node_id == FARGATE_NODE_ID and job.node_hostname == "fargate"
    definition = boto3.client("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
        "taskDefinition"]
    assert definition["family"].startswith("test-work-1_0_0-")
    assert (definition["cpu"], definition["memory"]) == ("1024", "2048")
    containers = {c["name"]: c for c in definition["containerDefinitions"]}
    assert list(containers) == ["pre", "main", "post"]
    assert containers["main"]["image"] == "work:1.0.0" and containers["pre"]["image"] == "scale-runner:local"
    assert containers["main"]["dependsOn"] == [{"containerName": "pre", "condition": "SUCCESS"}]
    assert containers["post"]["dependsOn"] == [{"containerName": "main", "condition": "COMPLETE"}]
    assert [c["essential"] for c in containers.values()] == [False, False, True]
    assert all(c["mountPoints"][0]["containerPath"] == "/scale" for c in containers.values())
    logs = containers["main"]["logConfiguration"]
    assert logs["logDriver"] == "awslogs" and logs["options"]["awslogs-group"] == "test-job-executions"
    assert logs["options"]["awslogs-stream-prefix"] == "scale"
    main_env = {e["name"]: e["value"] for o in task["overrides"]["containerOverrides"] if o["name"] == "main"
                for e in o["environment"]}
    assert main_env["INPUT_FILE"] == "/scale/inputs/INPUT_FILE/in.txt" and main_env["MODE"] == "fast"
    assert main_env["OUTPUT_DIR"] == "/scale/outputs" and main_env["ALLOCATED_CPUS"] == "1"
    pre_env = {e["name"]: e["value"] for o in task["overrides"]["containerOverrides"] if o["name"] == "pre"
               for e in o["environment"]}
    spec = json.loads(pre_env["JOBS_EXECUTION_SPEC"])  # small: in the overrides, no S3 round trip
    assert spec["file_inputs"]["INPUT_FILE"][0]["file_path"] == "in/in.txt"
    assert spec["result"] == f"s3://test-files/test-executions/{execution.cluster_id}/result.json"
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="test-files", Prefix="test-executions/")


def test_a_spec_too_large_for_the_overrides_goes_to_s3(ecs):
    from chalicelib.runners.ecs import INLINE_SPEC_BYTES
    workspace = file_store.get_workspace("default")
    many = file_store.save_files([dict(workspace_id=workspace.id, workspace_name="default", file_name=f"in{i}.txt",
                                       file_path=f"in/{'x' * 60}/in{i}.txt", file_size=10) for i in range(40)],
                                 clock.now())
    from chalicelib.services.job_types import register_job_type
    manifest = sd.manifest("many")
    manifest["job"]["interface"]["inputs"]["files"][0]["multiple"] = True
    job_type = register_job_type({"docker_image": "many:1", "manifest": manifest, "configuration": {
        "output_workspaces": {"default": "default"}}}, sd.ADMIN, "default").job_type
    body = {"job_type_id": job_type.id, "input": {"files": {"INPUT_FILE": [f.id for f in many]}},
            "configuration": {"settings": {"API_KEY": "k", "MODE": "m"}}}
    job_id = queue_job(body, sd.ADMIN, "default")
    deliver(ecs, job_id)
    (task,) = tasks()
    overrides = json.dumps(task["overrides"])
    assert "JOBS_EXECUTION_SPEC" not in overrides and len(overrides) < 8192
    cluster_id = executions.get_execution(job_id, 1).cluster_id
    spec = json.loads(boto3.client("s3").get_object(
        Bucket="test-files", Key=f"test-executions/{cluster_id}/spec.json")["Body"].read())
    assert len(spec["file_inputs"]["INPUT_FILE"]) == 40 and len(json.dumps(spec)) > INLINE_SPEC_BYTES


def test_secret_settings_reach_the_task_only_through_ssm(ecs):
    job_id = submit({"API_KEY": "s3cr3t-value", "MODE": "fast"})
    deliver(ecs, job_id)
    (task,) = tasks()
    definition = boto3.client("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
        "taskDefinition"]
    (secret,) = next(c for c in definition["containerDefinitions"] if c["name"] == "main")["secrets"]
    assert secret["name"] == "API_KEY"
    parameter = boto3.client("ssm").get_parameter(Name=secret["valueFrom"], WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString" and parameter["Value"] == "s3cr3t-value"
    for text in (json.dumps(definition, default=str), json.dumps(task, default=str)):  # the spec is in the task
        assert "s3cr3t-value" not in text


def definitions() -> list[str]:
    return [arn for arn in boto3.client("ecs").list_task_definitions()["taskDefinitionArns"] if "/test-work-" in arn]


def test_a_task_definition_is_registered_once_and_found_again_by_its_digest(ecs, monkeypatch):
    monkeypatch.setenv("JOBS_ECS_MAX_TASKS", "10")
    wiring.install()
    first, second = submit(), submit()
    deliver(ecs, first, second)
    (registered,) = definitions()
    # a new process (a cold Lambda) finds it again instead of registering another
    wiring.install()
    deliver(ecs, submit())
    assert definitions() == [registered] and len(tasks()) == 3
    # another secret value is another parameter, hence another task definition
    deliver(ecs, submit({"API_KEY": "another", "MODE": "fast"}))
    assert len(definitions()) == 2 and len(tasks()) == 4


def test_no_more_tasks_than_the_cap_run_at_once(ecs):
    job_ids = [submit() for _ in range(3)]
    deliver(ecs, *job_ids)
    assert len(tasks()) == 2  # JOBS_ECS_MAX_TASKS=2
    assert sorted(job_store.get_job(job_id).status for job_id in job_ids) == ["QUEUED", "RUNNING", "RUNNING"]
    assert runner().free_slots() == 0


def test_stop_is_stop_task_and_an_overdue_task_is_stopped_by_the_sweep(ecs):
    job_id = submit()
    deliver(ecs, job_id)
    cluster_id = executions.get_execution(job_id, 1).cluster_id
    assert runner().running() == [cluster_id]
    later = clock.now() + timedelta(seconds=60 + 61)  # the job type's timeout, then the grace minute
    summary = sweep(later)
    assert summary["timed_out"] == 1 and summary["lost"] == 0
    (task,) = tasks()
    assert task["desiredStatus"] == "STOPPED" and "scale" in task["stoppedReason"]
    job = job_store.get_job(job_id)
    assert job.error["name"] == "timeout"
    assert runner().stop(cluster_id) is False  # no task of it is running any more


def test_no_heartbeat_sweeps_a_fargate_execution_as_lost(ecs):
    job_id = submit()
    deliver(ecs, job_id)
    summary = sweep(clock.now() + timedelta(seconds=30))  # no node has ever heartbeated
    assert summary["lost"] == 0
    assert job_store.get_job(job_id).status == "RUNNING"
