"""The ECS runner: every execution is one ECS Fargate task.

Task definition. One per job type revision and content: family `<stack prefix><job type>-<version>-<digest>`
(the digest, 12 hex digits of SHA-256 over the container definitions, the size and the roles, changes
whenever any of them does, secrets' parameter names included), found again with
DescribeTaskDefinition (once per process, then remembered) and registered only when missing. Three
containers on one ephemeral volume mounted at `/scale`, as the original system's three tasks:

- `pre` (the runner image, `python -m chalicelib.runners.ecs_task pre`): stages the inputs from their
  workspaces into `/scale/inputs`; not essential;
- `main` (the job type's `docker_image`): the Seed command with `/bin/sh -c`, started once `pre`
  exited 0 (`dependsOn SUCCESS`), its exit code also written to `/scale/.main-exit`; not essential;
- `post` (the runner image, `... ecs_task post`): once `main` exited (`dependsOn COMPLETE`), collects
  the outputs by the manifest's patterns and `seed.outputs.json`, stores them in their workspaces and
  writes the result document; essential, so its end stops the task.

What differs between executions travels in RunTask's overrides: the Seed environment of `main`, and for
`pre`/`post` the execution's spec document (inputs, output workspaces, where to write the result) - itself
when it is small (`INLINE_SPEC_BYTES`), else its address in the stack's bucket, where `launch` writes it
under `<prefix>executions/<cluster id>/`, next to the result document `post` writes. Settings marked
secret never appear in a task definition or an override: each value is a SecureString parameter
`/<prefix>secrets/<job type>/<version>/<SETTING>/<digest of the value>` referenced by `secrets`
(`valueFrom`), which the task execution role reads when the task starts.

Size. The Seed resources are rounded up to a valid Fargate CPU/memory pair (`FARGATE_SIZES`) and `disk`
to ephemeral storage (21-200 GiB). GPUs, mounts, custom resources and anything above the largest size
cannot run on Fargate: `fit_problem` names the resource, and registering such a job type is refused.

Hearing back: ECS emits "ECS Task State Change" events to EventBridge; `chalicelib.services.ecs_events`
turns them into phases and the end. Capacity: at most `max_tasks` tasks at once in the cluster
(ListTasks), each job type's `max_scheduled` being checked by dispatch as for any runner. The executions
run on a pseudo node (`FARGATE_NODE_ID`) that no heartbeat can declare lost. The cap is checked once per
dispatch fill (one ListTasks), not again by `launch`: two fills at once (two dispatch Lambdas) may start
a few tasks past it, never a launch failure that would use up one of the job's tries.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from chalicelib.config import EcsSettings
from chalicelib.runners.base import ExecutionSpec, RunnerError
from chalicelib.runners.files import staged_names
from chalicelib.runners.seed_env import env_name, known_names, rewrite_command, seed_environment
from chalicelib.seed import Manifest, job_resources
from chalicelib.seed.manifest import reserved_names

logger = logging.getLogger("jobs.runners.ecs")

FARGATE_NODE_ID = 0
FARGATE_HOSTNAME = "fargate"
VOLUME = "scale"
ROOT = "/scale"
MAIN_EXIT_FILE = f"{ROOT}/.main-exit"
CONTAINERS = ("pre", "main", "post")
LOG_STREAM_PREFIX = "scale"        # awslogs streams: scale/<container>/<task id>
MAX_STARTED_BY = 128
RUNNER_MEMORY_MIB = 64             # the soft memory reservation of `pre` and of `post`
# A spec document up to this size travels in `pre`'s and `post`'s overrides (no S3 round trips); a larger
# one (many input files) is written to S3. RunTask's overrides hold 8 KiB with `main`'s environment.
INLINE_SPEC_BYTES = 2500


def _range(start: int, stop: int, step: int) -> tuple[int, ...]:
    return tuple(range(start, stop + 1, step))


# Fargate's CPU units -> the memory sizes (MiB) allowed with them (Linux, platform 1.4.0).
FARGATE_SIZES: tuple[tuple[int, tuple[int, ...]], ...] = (
    (256, (512, 1024, 2048)),
    (512, _range(1024, 4096, 1024)),
    (1024, _range(2048, 8192, 1024)),
    (2048, _range(4096, 16384, 1024)),
    (4096, _range(8192, 30720, 1024)),
    (8192, _range(16384, 61440, 4096)),
    (16384, _range(32768, 122880, 8192)),
)
MIN_EPHEMERAL_GIB = 21
MAX_EPHEMERAL_GIB = 200
# What the pseudo node offers to dispatch's resource check: the largest Fargate task.
FARGATE_RESOURCES = {"cpus": 16.0, "mem": 122880.0, "disk": float(MAX_EPHEMERAL_GIB * 1024), "gpus": 0.0}
KNOWN_RESOURCES = ("cpus", "mem", "disk", "gpus")


@dataclass(frozen=True)
class FargateSize:
    cpu: int            # CPU units (1024 = 1 vCPU)
    memory: int         # MiB
    ephemeral_gib: int  # 21 (the free default) .. 200


class Unfit(Exception):
    """No Fargate task can run this: `resource` names what does not fit."""

    def __init__(self, resource: str, detail: str) -> None:
        super().__init__(detail)
        self.resource = resource
        self.detail = detail


def fargate_size(resources: dict[str, float]) -> FargateSize:
    """The smallest valid Fargate size holding `resources` (cpus in vCPU, mem and disk in MiB);
    Unfit naming the first resource no size holds."""
    gpus = float(resources.get("gpus", 0) or 0)
    if gpus > 0:
        raise Unfit("gpus", "Fargate tasks have no GPUs (run GPU job types on a local node)")
    for name in resources:
        if name not in KNOWN_RESOURCES and float(resources[name] or 0) > 0:
            raise Unfit(name, f"Fargate cannot provide the custom resource {name!r}")
    cpus = float(resources.get("cpus", 0) or 0)
    mem = float(resources.get("mem", 0) or 0)
    disk = float(resources.get("disk", 0) or 0)
    if cpus > FARGATE_RESOURCES["cpus"]:
        raise Unfit("cpus", f"{cpus:g} CPUs is more than the largest Fargate task ({FARGATE_RESOURCES['cpus']:g})")
    if mem > FARGATE_RESOURCES["mem"]:
        raise Unfit("mem", f"{mem:g} MiB is more than the largest Fargate task ({FARGATE_RESOURCES['mem']:g} MiB)")
    if disk > FARGATE_RESOURCES["disk"]:
        raise Unfit("disk", f"{disk:g} MiB of disk is more than Fargate's largest ephemeral storage "
                            f"({MAX_EPHEMERAL_GIB} GiB)")
    units = math.ceil(cpus * 1024 - 1e-9)
    for cpu, memories in FARGATE_SIZES:
        if cpu < units:
            continue
        fitting = [memory for memory in memories if memory >= mem]
        if fitting:
            ephemeral = max(MIN_EPHEMERAL_GIB, math.ceil(disk / 1024 - 1e-9))
            return FargateSize(cpu, fitting[0], ephemeral)
    raise Unfit("mem", f"no Fargate size has {cpus:g} CPUs and {mem:g} MiB")  # not reached: the largest fits


def fit_problem(manifest: Manifest) -> Unfit | None:
    """Why a job type could never run as a Fargate task (None: it can, for inputs of size 0): mounts
    (Fargate has no host paths), GPUs, custom resources, or more than the largest size."""
    if manifest.mounts:
        return Unfit("mounts", f"mount {manifest.mounts[0].name!r}: Fargate tasks cannot mount host or shared "
                               "paths")
    try:
        fargate_size(job_resources(manifest, 0))
    except Unfit as unfit:
        return unfit
    return None


def family_name(prefix: str, job_type_name: str, version: str, digest: str) -> str:
    """`<prefix><name>-<version>-<digest>` with what ECS refuses in a family (not [A-Za-z0-9_-]) as `_`."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}{job_type_name}-{version}")
    return f"{base[:255 - len(digest) - 1]}-{digest}"


def secret_parameter(prefix: str, spec: ExecutionSpec, setting: str) -> str:
    """The SSM parameter holding one secret setting's value: named by a digest of the value, so a task
    definition (which names it) changes exactly when the value does."""
    value = spec.settings.get(setting, "")
    digest = hashlib.sha256(f"{spec.job_type_name}\0{spec.job_type_version}\0{setting}\0{value}".encode()
                            ).hexdigest()[:24]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{spec.job_type_name}/{spec.job_type_version}")
    return f"/{prefix}secrets/{safe.replace('_', '-')}/{env_name(setting)}/{digest}"


def documents_prefix(prefix: str, cluster_id: str) -> str:
    return f"{prefix}executions/{cluster_id}/"


def main_command(manifest: Manifest, resources: dict[str, float]) -> str:
    """The Seed command as `main` runs it: references rewritten as the local runner does, run in a subshell
    so that its exit code is also written where `post` reads it."""
    names = known_names([*(i.name for i in manifest.file_inputs), *(i.name for i in manifest.json_inputs),
                         *(s.name for s in manifest.settings), *(m.name for m in manifest.mounts)], resources)
    command = rewrite_command(manifest.command or "", names)
    return f"(\n{command}\n)\ncode=$?\necho $code > {MAIN_EXIT_FILE}\nexit $code"


def staged_paths(spec: ExecutionSpec, manifest: Manifest) -> dict[str, str]:
    """Input name -> the path `pre` stages it to (a file, or the input's folder for a `multiple` input)."""
    paths = {}
    for declared in manifest.file_inputs:
        given = spec.file_inputs.get(declared.name, ())
        if not given:
            continue
        folder = f"{ROOT}/inputs/{declared.name}"
        paths[declared.name] = folder if declared.multiple else f"{folder}/{staged_names(given)[0]}"
    return paths


class EcsRunner:
    """The runner contract on ECS. `client(service)` gives boto3 clients (the composition root's)."""

    def __init__(self, settings: EcsSettings, *, prefix: str, region: str, bucket: str, log_group: str,
                 client: Callable[[str], Any], known: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.prefix = prefix
        self.region = region
        self.bucket = bucket
        self.log_group = log_group
        self._client = client
        # family -> task definition ARN (task definitions never change once registered)
        self._known = known if known is not None else {}

    # --- Runner -------------------------------------------------------------------------------

    def launch(self, spec: ExecutionSpec) -> None:
        manifest = Manifest.from_validated(spec.manifest)
        reserved = reserved_names(manifest)
        if reserved:
            raise RunnerError(f"the job type declares {reserved[0]!r}, which names a reserved environment variable")
        if not manifest.command:
            raise RunnerError("the job type's interface has no command to run")
        missing = [s.name for s in manifest.settings if not isinstance(spec.settings.get(s.name), str)]
        if missing:
            raise RunnerError(f"setting {missing[0]!r} has no value")
        if len(spec.cluster_id) > MAX_STARTED_BY:
            raise RunnerError(f"cluster id {spec.cluster_id!r} is too long for startedBy")
        try:
            size = fargate_size(dict(spec.resources))
        except Unfit as unfit:
            raise RunnerError(unfit.detail) from None
        if manifest.mounts:
            raise RunnerError("Fargate tasks cannot mount host or shared paths")
        arn = self.task_definition_arn(spec, manifest, size)
        documents = documents_prefix(self.prefix, spec.cluster_id)
        inline = json.dumps(spec_document(spec, self.bucket, documents), separators=(",", ":"))
        if len(inline.encode()) > INLINE_SPEC_BYTES:  # RunTask's overrides hold 8 KiB in all
            self._client("s3").put_object(Bucket=self.bucket, Key=documents + "spec.json", Body=inline.encode(),
                                          ContentType="application/json")
            inline = ""
        response = self._client("ecs").run_task(
            cluster=self.settings.cluster, taskDefinition=arn, launchType="FARGATE", count=1,
            startedBy=spec.cluster_id, networkConfiguration=self._network(),
            overrides={"containerOverrides": self._overrides(spec, manifest, documents, inline)},
            tags=[{"key": "scale:cluster_id", "value": spec.cluster_id},
                  {"key": "scale:job_id", "value": str(spec.job_id)}])
        failures = response.get("failures") or []
        if failures or not response.get("tasks"):
            reason = failures[0].get("reason", "unknown") if failures else "no task was started"
            raise RunnerError(f"RunTask refused: {reason}")

    def stop(self, cluster_id: str, reason: str = "canceled") -> bool:
        arns = self._task_arns(cluster_id)
        for arn in arns:
            self._client("ecs").stop_task(cluster=self.settings.cluster, task=arn, reason=f"scale: {reason}")
        return bool(arns)

    def has_task(self, cluster_id: str) -> bool:
        """Whether the execution's task is still running (or starting) in the cluster."""
        return bool(self._task_arns(cluster_id))

    def free_slots(self) -> int:
        return self.settings.max_tasks - len(self._running_arns())

    def running(self) -> list[str]:
        arns = self._running_arns()
        started_by: list[str] = []
        for start in range(0, len(arns), 100):
            tasks = self._client("ecs").describe_tasks(cluster=self.settings.cluster, tasks=arns[start:start + 100])
            started_by.extend(task.get("startedBy", "") for task in tasks.get("tasks", ()))
        return [name for name in started_by if name.startswith("scale_job_")]

    # --- task definitions ------------------------------------------------------------------------

    def task_definition(self, spec: ExecutionSpec, manifest: Manifest, size: FargateSize) -> dict[str, Any]:
        """The RegisterTaskDefinition request for this execution's job type revision (family included)."""
        def logs(container: str) -> dict[str, Any]:
            return {"logDriver": "awslogs", "options": {
                "awslogs-group": self.log_group, "awslogs-region": self.region,
                "awslogs-stream-prefix": LOG_STREAM_PREFIX}}

        mount = [{"sourceVolume": VOLUME, "containerPath": ROOT, "readOnly": False}]
        secrets = sorted(({"name": env_name(s.name), "valueFrom": secret_parameter(self.prefix, spec, s.name)}
                          for s in manifest.settings if s.secret), key=lambda entry: entry["name"])
        # Soft reservations inside the task's memory: the staging containers are small, `main` gets the rest.
        runner = {"image": self.settings.runner_image, "essential": False, "mountPoints": mount,
                  "user": "10001", "workingDirectory": ROOT, "memoryReservation": RUNNER_MEMORY_MIB}
        containers = [
            {**runner, "name": "pre", "command": ["python", "-m", "chalicelib.runners.ecs_task", "pre"],
             "logConfiguration": logs("pre")},
            {"name": "main", "image": spec.docker_image, "essential": False, "mountPoints": mount,
             "workingDirectory": ROOT, "entryPoint": ["/bin/sh", "-c"],
             "memoryReservation": size.memory - 2 * RUNNER_MEMORY_MIB,
             "command": [main_command(manifest, dict(spec.resources))],
             "dependsOn": [{"containerName": "pre", "condition": "SUCCESS"}],
             "secrets": secrets, "logConfiguration": logs("main")},
            {**runner, "name": "post", "essential": True,
             "command": ["python", "-m", "chalicelib.runners.ecs_task", "post"],
             "dependsOn": [{"containerName": "main", "condition": "COMPLETE"}], "logConfiguration": logs("post")},
        ]
        body: dict[str, Any] = {
            "containerDefinitions": containers, "volumes": [{"name": VOLUME}], "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"], "cpu": str(size.cpu), "memory": str(size.memory)}
        if size.ephemeral_gib > MIN_EPHEMERAL_GIB:
            body["ephemeralStorage"] = {"sizeInGiB": size.ephemeral_gib}
        if self.settings.execution_role_arn:
            body["executionRoleArn"] = self.settings.execution_role_arn
        if self.settings.task_role_arn:
            body["taskRoleArn"] = self.settings.task_role_arn
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
        body["family"] = family_name(self.prefix, spec.job_type_name, spec.job_type_version, digest)
        return body

    def task_definition_arn(self, spec: ExecutionSpec, manifest: Manifest, size: FargateSize) -> str:
        """The task definition for this execution: remembered, else found by its family, else registered
        (with its secret settings' parameters written first)."""
        body = self.task_definition(spec, manifest, size)
        family = body["family"]
        if family in self._known:
            return self._known[family]
        ecs = self._client("ecs")
        from botocore.exceptions import ClientError
        try:
            found = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
            if found.get("status") == "ACTIVE":
                self._known[family] = found["taskDefinitionArn"]
                return self._known[family]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("ClientException", "InvalidParameterException"):
                raise
        for setting in manifest.settings:
            if setting.secret:
                self._client("ssm").put_parameter(
                    Name=secret_parameter(self.prefix, spec, setting.name), Value=spec.settings[setting.name],
                    Type="SecureString", Overwrite=True)
        registered = ecs.register_task_definition(
            **body, tags=[{"key": "scale:job_type", "value": f"{spec.job_type_name}:{spec.job_type_version}"}])
        self._known[family] = registered["taskDefinition"]["taskDefinitionArn"]
        return self._known[family]

    # --- a task's request ------------------------------------------------------------------------

    def _network(self) -> dict[str, Any]:
        config: dict[str, Any] = {"subnets": list(self.settings.subnets),
                                  "assignPublicIp": "ENABLED" if self.settings.assign_public_ip else "DISABLED"}
        if self.settings.security_groups:
            config["securityGroups"] = list(self.settings.security_groups)
        return {"awsvpcConfiguration": config}

    def _overrides(self, spec: ExecutionSpec, manifest: Manifest, documents: str,
                   inline: str) -> list[dict[str, Any]]:
        secret = manifest.secret_setting_names
        env = seed_environment(file_inputs=staged_paths(spec, manifest), json_inputs=spec.json_inputs,
                               settings={k: v for k, v in spec.settings.items() if k not in secret},
                               mounts={}, resources=dict(spec.resources), output_dir=f"{ROOT}/outputs")
        env.update({"HOME": f"{ROOT}/home", "TMPDIR": f"{ROOT}/tmp"})
        task_env = [{"name": "JOBS_EXECUTION_DOCUMENTS", "value": f"s3://{self.bucket}/{documents}"},
                    {"name": "AWS_DEFAULT_REGION", "value": self.region}]
        if inline:
            task_env.append({"name": "JOBS_EXECUTION_SPEC", "value": inline})
        return [{"name": "pre", "environment": task_env},
                {"name": "main", "environment": [{"name": k, "value": v} for k, v in sorted(env.items())]},
                {"name": "post", "environment": task_env}]

    def _running_arns(self) -> list[str]:
        arns: list[str] = []
        paginator = self._client("ecs").get_paginator("list_tasks")
        for page in paginator.paginate(cluster=self.settings.cluster, desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", ()))
        return arns

    def _task_arns(self, cluster_id: str) -> list[str]:
        page = self._client("ecs").list_tasks(cluster=self.settings.cluster, startedBy=cluster_id,
                                              desiredStatus="RUNNING")
        return list(page.get("taskArns", ()))


def spec_document(spec: ExecutionSpec, bucket: str, documents: str) -> dict[str, Any]:
    """What `pre` and `post` read: the manifest, the inputs with their workspaces, the output workspaces.
    Never the settings (secrets travel only through SSM)."""
    return {
        "cluster_id": spec.cluster_id, "job_id": spec.job_id, "exe_num": spec.exe_num, "manifest": spec.manifest,
        "file_inputs": {name: [{"file_id": f.file_id, "file_name": f.file_name, "file_path": f.file_path,
                                "workspace": f.workspace, "broker": f.broker} for f in given]
                        for name, given in spec.file_inputs.items()},
        "output_workspaces": {name: {"name": w.name, "broker": w.broker}
                              for name, w in spec.output_workspaces.items()},
        "result": f"s3://{bucket}/{documents}result.json"}


def build_runner(settings: Any, client: Callable[[str], Any]) -> EcsRunner:
    """The runner of a JOBS_RUNNER=ecs process (the composition root calls it)."""
    from chalicelib.execution_logs import log_group_name
    ecs_settings: EcsSettings = settings.ecs
    return EcsRunner(ecs_settings, prefix=settings.table_prefix, region=settings.region,
                     bucket=settings.files_bucket or "",
                     log_group=settings.log_group or log_group_name(settings.table_prefix),
                     client=client)
