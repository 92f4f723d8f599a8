"""The local stand-in for Fargate (`JOBS_RUNNER=ecs make run`): runs the ECS tasks the runner starts in
moto's ECS as processes of this machine, and delivers their "ECS Task State Change" events, in their
EventBridge shape, to the same handler a deployment invokes.

It polls moto for the cluster's tasks whose desired status is RUNNING. For each new one it reads the task
definition and the task's overrides and runs the containers in their order, each with its own environment
(the task definition's, the overrides', the secrets read from SSM as the task execution role would) and
the task's volume as a folder `<work root>/<task id>/` in place of `/scale`:

- `pre`, then `main` only if `pre` exited 0 (`dependsOn SUCCESS`), then `post` once `main` exited
  (`dependsOn COMPLETE`). The images are ignored: `pre`/`post` run `python -m chalicelib.runners.ecs_task`
  with this interpreter, `main` runs its command with `/bin/sh -c` here, so a job type's command must work
  on this machine (as with the local runner).
- Each container's lines (stdout and stderr merged, as the awslogs driver does) go to the stream
  `scale/<container>/<task id>` of the executions' log group.
- An event is sent when a container starts or stops, and when the task stops (as ECS does; the task is
  marked STOPPED in moto first, StopTask, so it no longer counts against the runner's cap), and delivered
  when the rule's event pattern matches it (`local.event_pattern`, as EventBridge would).
- A task stopped by someone else (StopTask: a cancel, a timeout) has its running container killed
  (SIGTERM, then SIGKILL), and stops with `stopCode` UserInitiated.

Tasks left RUNNING in moto when this agent starts (the worker process died with them) are stopped with a
UserInitiated event, which ends their executions as lost (retried).
"""
from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from local.event_pattern import matches

log = logging.getLogger("jobs.task_agent")

PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "JOBS_WORKER_MARK")
# pre/post talk to moto like the real ones talk to AWS: the endpoint and the emulated account's keys.
RUNNER_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
ROOT = "/scale"
COUNT_CALLS = "JOBS_COUNT_CALLS_FILE"  # local.call_counter.VARIABLE
ORDER = ("pre", "main", "post")


def ecs_environment(prefix: str) -> dict[str, str]:
    """The JOBS_* settings of the ECS runner against this emulated account (`create_ecs` makes what they
    name, and gives the subnet and security group their ids). The runner image is never pulled locally:
    the task agent runs the containers as processes."""
    return {"JOBS_RUNNER": "ecs", "JOBS_ECS_CLUSTER": f"{prefix}jobs", "JOBS_ECS_RUNNER_IMAGE": "scale-runner:local",
            "JOBS_ECS_SUBNETS": "subnet-local", "JOBS_ECS_SECURITY_GROUPS": "sg-local",
            "JOBS_FILES_BUCKET": f"{prefix}files".replace("_", "-").lower()}


def _iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(timezone.utc)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _LogStream:
    """One container's awslogs stream: lines buffered, sent every half second and at close."""

    def __init__(self, client: Any, group: str, name: str) -> None:
        self.client, self.group, self.name = client, group, name
        self.lines: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        try:
            client.create_log_stream(logGroupName=group, logStreamName=name)
        except client.exceptions.ResourceAlreadyExistsException:
            pass
        threading.Thread(target=self._loop, daemon=True, name=f"awslogs-{name}").start()

    def write(self, stream: str, line: str) -> None:
        with self.lock:
            self.lines.append({"timestamp": int(time.time() * 1000), "message": line})

    def _send(self) -> None:
        with self.lock:
            batch, self.lines = self.lines, []
        if batch:
            try:
                self.client.put_log_events(logGroupName=self.group, logStreamName=self.name, logEvents=batch)
            except Exception:  # noqa: BLE001 - as the driver does, a failed batch is lost, the task goes on
                log.exception("awslogs: %d lines of %s lost", len(batch), self.name)

    def _loop(self) -> None:
        while not self.closed.wait(0.5):
            self._send()

    def close(self) -> None:
        self.closed.set()
        self._send()


class _Task:
    def __init__(self, arn: str, described: dict[str, Any]) -> None:
        self.arn = arn
        self.id = arn.rsplit("/", 1)[-1]
        self.described = described
        self.created = _iso()
        self.started: str | None = None
        self.stop_reason: str | None = None
        self.process: Any = None
        self.lock = threading.Lock()
        self.containers: dict[str, dict[str, Any]] = {name: {"name": name, "lastStatus": "PENDING"} for name in ORDER}


class TaskAgent:
    """`deliver(event)` hands an EventBridge event to the handler (`handle_task_state_change`)."""

    def __init__(self, work_root: Path, cluster: str, log_group: str, deliver: Callable[[dict[str, Any]], Any],
                 stop: threading.Event, client: Callable[[str], Any] | None = None, poll_seconds: float = 0.25,
                 kill_grace: float = 2.0, pattern: dict[str, Any] | None = None) -> None:
        self.work_root = Path(work_root)
        self.cluster = cluster
        self.log_group = log_group
        self.deliver = deliver
        self.stop_event = stop
        self.client = client or self._own_client
        self._clients: dict[str, Any] = {}
        # The rule's event pattern: an event it does not match is not delivered, as EventBridge would not.
        self.pattern = pattern
        self.delivered = 0  # events, for the benchmark's count of what a job costs
        # every event sent, by what changed (`<container> <status>`, `task STOPPED`), and whether delivered
        self.delivered_by: dict[str, int] = {}
        self.poll_seconds = poll_seconds
        self.kill_grace = kill_grace
        self.tasks: dict[str, _Task] = {}
        # Tasks this agent ran to their end whose STOPPED moto may still list as RUNNING to a poll that read the
        # list before it was marked: never started again (only those still listed are kept).
        self.finished: set[str] = set()
        self.definitions: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.ready = threading.Event()

    def _own_client(self, service: str) -> Any:
        """The agent's clients (it plays ECS and the awslogs driver): not counted as the service's calls."""
        if service not in self._clients:
            import boto3

            from local.call_counter import uncounted
            self._clients[service] = uncounted(boto3.session.Session().client(
                service, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1")))
        return self._clients[service]

    # --- watching moto ---------------------------------------------------------------------------

    def start(self) -> None:
        self.work_root.mkdir(parents=True, exist_ok=True)
        self._stop_leftovers()
        threading.Thread(target=self._watch, name="task-agent", daemon=True).start()

    def _running_arns(self) -> list[str]:
        arns: list[str] = []
        for page in self.client("ecs").get_paginator("list_tasks").paginate(cluster=self.cluster,
                                                                             desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", ()))
        return arns

    def _describe(self, arns: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(arns), 100):
            found.extend(self.client("ecs").describe_tasks(cluster=self.cluster,
                                                           tasks=arns[start:start + 100]).get("tasks", ()))
        return found

    def _stop_leftovers(self) -> None:
        arns = self._running_arns()
        for described in self._describe(arns) if arns else []:
            task = _Task(described["taskArn"], described)
            reason = "the local task agent restarted: the task's processes are gone"
            self.client("ecs").stop_task(cluster=self.cluster, task=task.arn, reason=reason)
            task.stop_reason = reason
            self._emit(task, "STOPPED", stop_code="UserInitiated", reason=reason)

    def _watch(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._poll()
            except Exception:  # noqa: BLE001 - keep watching; moto may be restarting
                log.exception("task agent poll failed")
            self.ready.set()
            self.stop_event.wait(self.poll_seconds)
        with self.lock:
            tasks = list(self.tasks.values())
        for task in tasks:
            self._kill(task, "the local stack stopped")

    def _poll(self) -> None:
        running = set(self._running_arns())
        with self.lock:
            known = set(self.tasks)
            self.finished &= running
            new = sorted(running - known - self.finished)
        for described in self._describe(new) if new else []:
            task = _Task(described["taskArn"], described)
            with self.lock:
                self.tasks[task.arn] = task
            threading.Thread(target=self._run, args=(task,), daemon=True, name=f"task-{task.id}").start()
        gone = known - running
        if gone:
            for described in self._describe(sorted(gone)):
                with self.lock:
                    task = self.tasks.get(described["taskArn"])
                if task is not None and task.stop_reason is None:
                    self._kill(task, described.get("stoppedReason") or "Task stopped by user")

    def shutdown(self, timeout: float) -> None:
        """Stop watching, kill every task's running container and wait (at most `timeout` s) for them."""
        self.stop_event.set()
        with self.lock:
            tasks = list(self.tasks.values())
        for task in tasks:
            self._kill(task, "the local stack stopped")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.tasks:
                    return
            time.sleep(0.1)

    def _kill(self, task: _Task, reason: str) -> None:
        with task.lock:
            if task.stop_reason is not None:
                return
            task.stop_reason = reason
            process = task.process
        if process is not None:
            process.terminate("stopped")

    # --- one task ------------------------------------------------------------------------------------

    def _definition(self, arn: str) -> dict[str, Any]:
        if arn not in self.definitions:
            self.definitions[arn] = self.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return self.definitions[arn]

    def _environment(self, task: _Task, container: dict[str, Any], volume: Path) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        for entry in container.get("environment") or ():
            env[entry["name"]] = entry["value"]
        for override in task.described.get("overrides", {}).get("containerOverrides", ()):
            if override.get("name") == container["name"]:
                for entry in override.get("environment") or ():
                    env[entry["name"]] = entry["value"]
        for secret in container.get("secrets") or ():  # what the task execution role reads at start
            env[secret["name"]] = self.client("ssm").get_parameter(Name=secret["valueFrom"],
                                                                   WithDecryption=True)["Parameter"]["Value"]
        env = {name: value.replace(ROOT, str(volume)) if value.startswith(ROOT) else value
               for name, value in env.items()}
        if container["name"] != "main":
            env.update({name: os.environ[name] for name in RUNNER_ENV if name in os.environ})
            if os.environ.get(COUNT_CALLS):  # the benchmark counts the containers' AWS calls too
                env[COUNT_CALLS] = f"{os.environ[COUNT_CALLS]}.{task.id}.{container['name']}"
            env["JOBS_TASK_ROOT"] = str(volume)
            env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        return env

    def _command(self, container: dict[str, Any], volume: Path) -> str:
        if container["name"] == "main":
            return str(container["command"][0]).replace(ROOT, str(volume))
        command = list(container["command"])
        if command and command[0] == "python":
            command[0] = sys.executable
        if os.environ.get(COUNT_CALLS) and command[1:3] == ["-m", "chalicelib.runners.ecs_task"]:
            command[2] = "local.counted_task"
        return shlex.join(command)

    def _run(self, task: _Task) -> None:
        from chalicelib.runners.process import ProcessGroup
        volume = self.work_root / task.id
        try:
            definition = self._definition(task.described["taskDefinitionArn"])
            containers = {c["name"]: c for c in definition["containerDefinitions"]}
            volume.mkdir(parents=True, exist_ok=True)
            task.started = _iso()
            for name in ORDER:
                container = containers[name]
                if not self._dependencies_met(task, container):
                    continue
                with task.lock:
                    if task.stop_reason is not None:
                        break
                env = self._environment(task, container, volume)
                stream = _LogStream(self.client("logs"), self.log_group, f"scale/{name}/{task.id}")
                process = ProcessGroup(self._command(container, volume), str(volume), env, stream.write,
                                       kill_grace=self.kill_grace)
                process.start()
                with task.lock:
                    task.process = process
                    stopping = task.stop_reason is not None
                if stopping:
                    process.terminate("stopped")
                task.containers[name]["lastStatus"] = "RUNNING"
                self._emit(task, "RUNNING", why=f"{name} RUNNING")
                outcome = process.wait(None)
                stream.close()
                with task.lock:
                    task.process = None
                task.containers[name].update(lastStatus="STOPPED", exitCode=outcome.exit_code)
                if name != "post":
                    self._emit(task, "RUNNING", why=f"{name} STOPPED")
        except Exception as error:  # noqa: BLE001 - the task fails to start, as on Fargate
            log.exception("task %s could not run", task.id)
            task.stop_reason = task.stop_reason or f"CannotStartContainerError: {error}"
            self._finish(task, "TaskFailedToStart")
            return
        finally:
            shutil.rmtree(volume, ignore_errors=True)
        if task.stop_reason is not None:
            self._finish(task, "UserInitiated")
        else:
            self._finish(task, "EssentialContainerExited")

    @staticmethod
    def _dependencies_met(task: _Task, container: dict[str, Any]) -> bool:
        for dependency in container.get("dependsOn") or ():
            state = task.containers[dependency["containerName"]]
            if state.get("lastStatus") != "STOPPED":
                return False
            if dependency["condition"] == "SUCCESS" and state.get("exitCode") != 0:
                return False
        return True

    def _finish(self, task: _Task, stop_code: str) -> None:
        reason = task.stop_reason or "Essential container in task exited"
        for state in task.containers.values():
            if state["lastStatus"] != "STOPPED":
                state["lastStatus"] = "STOPPED"
        with self.lock:
            self.tasks.pop(task.arn, None)
            self.finished.add(task.arn)
        try:
            self.client("ecs").stop_task(cluster=self.cluster, task=task.arn, reason=reason)
        except Exception:  # noqa: BLE001 - the event still tells the service
            log.exception("marking task %s stopped failed", task.id)
        self._emit(task, "STOPPED", stop_code=stop_code, reason=reason)

    def _emit(self, task: _Task, status: str, stop_code: str | None = None, reason: str | None = None,
              why: str = "task STOPPED") -> None:
        detail: dict[str, Any] = {
            "clusterArn": task.described.get("clusterArn"), "taskArn": task.arn,
            "taskDefinitionArn": task.described.get("taskDefinitionArn"), "startedBy": task.described.get("startedBy"),
            "group": task.described.get("group"), "launchType": "FARGATE", "lastStatus": status,
            "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
            "containers": [dict(state, taskArn=task.arn) for state in task.containers.values()],
            "createdAt": task.created, "updatedAt": _iso()}
        if task.started:
            detail["startedAt"] = task.started
        if status == "STOPPED":
            detail.update(stopCode=stop_code, stoppedReason=reason, stoppedAt=_iso())
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "ECS Task State Change",
                 "source": "aws.ecs", "account": "123456789012", "time": _iso(),
                 "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), "resources": [task.arn],
                 "detail": detail}
        if self.pattern is not None and not matches(self.pattern, event):
            why = f"{why} (not delivered: the rule's pattern)"
            self.delivered_by[why] = self.delivered_by.get(why, 0) + 1
            return
        self.delivered += 1
        self.delivered_by[why] = self.delivered_by.get(why, 0) + 1
        try:
            self.deliver(event)
        except Exception:  # noqa: BLE001 - EventBridge would retry; the sweep catches what is lost
            log.exception("delivering the %s event of task %s failed", status, task.id)
