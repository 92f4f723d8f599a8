"""A process configured as an ECS deployment (JOBS_RUNNER=ecs) against moto's ECS, and helpers."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import boto3

from chalicelib import clock, wiring
from chalicelib.models import files as file_store
from chalicelib.runners.ecs import EcsRunner
from chalicelib.services.queue_job import queue_job
from local import sample_data as sd
from local.emulated_aws import create_ecs


def configure_ecs(api, monkeypatch) -> Iterator:
    """This process configured as an ECS deployment (JOBS_RUNNER=ecs) against moto's ECS."""
    settings = create_ecs(boto3.client("ecs"), boto3.client("s3"), boto3.client("ec2"), "test-")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JOBS_ECS_MAX_TASKS", "2")
    wiring.install()
    yield api


def runner() -> EcsRunner:
    current = wiring.services().runtime
    assert current is not None and isinstance(current.runner, EcsRunner)
    return current.runner


def submit(settings: dict | None = None) -> int:
    job_type = sd.job_type("work", configuration={"output_workspaces": {"default": "default"}})
    workspace = file_store.get_workspace("default")
    (source,) = file_store.save_files([dict(workspace_id=workspace.id, workspace_name="default", file_name="in.txt",
                                            file_path="in/in.txt", file_size=10)], clock.now())
    body = {"job_type_id": job_type.id, "input": {"files": {"INPUT_FILE": [source.id]}},
            "configuration": {"settings": settings or {"API_KEY": "s3cr3t-value", "MODE": "fast"}}}
    return queue_job(body, sd.ADMIN, "default")


def deliver(api, *job_ids: int) -> dict:
    bodies = [json.dumps({"job_id": job_id, "exe_num": 1, "priority": 100}) for job_id in job_ids]
    event = api.client.events.generate_sqs_event(message_bodies=bodies, queue_name="test-dispatch")
    return api.client.lambda_.invoke("dispatch", event).payload


def tasks() -> list[dict]:
    client = boto3.client("ecs")
    arns = client.list_tasks(cluster="test-jobs")["taskArns"]
    return client.describe_tasks(cluster="test-jobs", tasks=arns)["tasks"] if arns else []




@contextlib.contextmanager
def aws_requests() -> Iterator[list[str]]:
    """The AWS requests this process sends inside the block, as `service:Operation`, in order."""
    import botocore.client
    sent: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        sent.append(f"{self.meta.service_model.service_name}:{operation_name}")
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = recording
    try:
        yield sent
    finally:
        botocore.client.BaseClient._make_api_call = original
