"""The embedded stack's worker side: this machine as a node with N slots, the SQS poller that plays
Lambda's event-source mapping for the dispatch queue (honouring partial batch failures), the timer
that fires the scheduled sweep, and heartbeats.

Executions left RUNNING by a previous run of this node (a crash or kill) cannot still be running:
at start, whatever is left of their processes is killed (`kill_marked`: every process carrying this data
folder's JOBS_WORKER_MARK, which the runner passes on to the commands it starts, and its whole session),
then they end with `node-lost`, which retries them when they have tries left. So a command never runs
twice at once.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import threading
from pathlib import Path

log = logging.getLogger("jobs.workers")
POLL_WAIT_SECONDS = 20


class _Events:
    """Runner reports -> the service's use cases. Silenced at shutdown, so killing the processes of a
    stopping stack is not recorded as a cancel (the next start ends them as node-lost)."""

    def __init__(self) -> None:
        self.enabled = True

    def phase(self, spec, phase, at) -> None:
        # Only EXECUTING is written as it happens (it is what a running job shows); staging and output
        # capture are short, and the end records them from the task results - two writes fewer a job.
        if self.enabled and phase == "EXECUTING":
            from chalicelib.services.execution_events import on_phase
            on_phase(spec.job_id, spec.exe_num, phase, at)

    def finished(self, spec, result) -> None:
        if not self.enabled:
            return
        from chalicelib.services.dispatch import fill_slots
        from chalicelib.services.execution_events import on_finished
        try:
            on_finished(spec.job_id, spec.exe_num, result)
        finally:
            fill_slots()  # a slot is free again


def _resources(work_root: Path) -> dict:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0
    return {"cpus": float(os.cpu_count() or 1), "mem": float(pages // (1024 * 1024)),
            "disk": float(shutil.disk_usage(work_root).free // (1024 * 1024)), "gpus": 0.0}


def kill_marked(mark: str | None, spare: tuple[int, ...] = ()) -> int:
    """SIGKILL every process of this user whose environment holds JOBS_WORKER_MARK=`mark` (the commands a
    worker of this data folder started, and their descendants), with every process of their sessions (a
    command runs as its own session). `spare` (and this process) are left alone. Returns how many died."""
    import signal
    if not mark or not os.path.isdir("/proc"):
        return 0
    needle = f"JOBS_WORKER_MARK={mark}".encode()
    spared = {os.getpid(), *spare}
    uid = os.getuid()
    marked, sessions = set(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in spared:
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle not in environ.read().split(b"\0"):
                    continue
            marked.add(int(entry))
            sessions.add(os.getsid(int(entry)))
        except OSError:
            continue
    killed = 0
    for session in sessions - spared - {os.getsid(0)}:
        try:
            os.killpg(session, signal.SIGKILL)  # a command's session leader is its group leader too
        except OSError:
            pass
    for pid in marked:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed


class LocalWorkers:
    def __init__(self, data_dir: Path, endpoint: str, stop: threading.Event, slots: int | None = None,
                 sweep_seconds: float = 15.0, heartbeat_seconds: float = 10.0) -> None:
        self.work_root = data_dir / "work"
        self.endpoint = endpoint
        self.stop_event = stop
        from chalicelib.config import load_local_settings
        self.slots = slots or load_local_settings().worker_slots or os.cpu_count() or 1
        self.sweep_seconds = sweep_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.events = _Events()
        self.runner = None
        self.node = None
        self.agent = None

    def start(self) -> None:
        from chalicelib.wiring import services
        if services().settings.runner == "ecs":
            self._start_ecs()
            return
        from chalicelib import clock
        from chalicelib.execution_logs import CloudWatchLogSink
        from chalicelib.models import nodes
        from chalicelib.runners import local as local_runner
        from chalicelib.runners.local import LocalRunner
        from chalicelib.wiring import Runtime, set_runtime
        self.work_root.mkdir(parents=True, exist_ok=True)
        mark = os.environ.get("JOBS_WORKER_MARK")
        if mark:
            killed = kill_marked(mark)
            if killed:
                print(f"killed {killed} processes left by the last run's jobs", file=sys.stderr, flush=True)
            if "JOBS_WORKER_MARK" not in local_runner.PASSED_ENV:  # the commands carry the mark
                local_runner.PASSED_ENV = (*local_runner.PASSED_ENV, "JOBS_WORKER_MARK")
        resources = _resources(self.work_root)
        self.node = nodes.register(socket.gethostname(), resources, self.slots, clock.now())
        self._end_orphans()
        self.runner = LocalRunner(slots=self.slots, work_root=self.work_root, events=self.events,
                                  log_sink_factory=lambda spec: CloudWatchLogSink(spec.cluster_id))
        set_runtime(Runtime(self.runner, self.node.id, self.node.hostname, resources))
        for target, name in ((self._poll_dispatch, "dispatch-poller"), (self._sweep_loop, "sweeps"),
                             (self._heartbeat_loop, "heartbeat"), (self._cancel_watch_loop, "cancel-watch")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _start_ecs(self) -> None:
        """JOBS_RUNNER=ecs: the ECS runner (built by the composition root) launches tasks in moto's ECS, and
        the local task agent plays Fargate; no node, no heartbeat, no cancel watch (as deployed, whatever
        cancels a job stops its task: the API, or the bulk chunk in the moto process). The poller and the
        sweep are as for the local runner."""
        from chalicelib.execution_logs import log_group_name
        from chalicelib.handlers.ecs_events import EVENT_PATTERN, handle_task_state_change
        from chalicelib.wiring import services
        from local.task_agent import TaskAgent
        current = services()
        assert current.runtime is not None and current.settings.ecs is not None
        mark = os.environ.get("JOBS_WORKER_MARK")
        if mark and kill_marked(mark):  # what is left of the last run's containers
            print("killed the processes left by the last run's tasks", file=sys.stderr, flush=True)
        self.runner = current.runtime.runner
        self.agent = TaskAgent(self.work_root, current.settings.ecs.cluster,
                               current.settings.log_group or log_group_name(), handle_task_state_change,
                               self.stop_event, pattern=EVENT_PATTERN)
        self.agent.start()
        self._end_lost_tasks()
        for target, name in ((self._poll_dispatch, "dispatch-poller"), (self._sweep_loop, "sweeps")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def _end_lost_tasks(self) -> None:
        """Executions RUNNING on the Fargate pseudo node whose task the emulator no longer has (the emulator
        keeps no ECS state across a restart) end `node-lost`, and are retried."""
        from chalicelib.models import executions
        from chalicelib.models import jobs as job_store
        from chalicelib.runners.ecs import FARGATE_NODE_ID
        from chalicelib.services.execution_events import fail_lost
        running = [job for job in job_store.jobs_in_status("RUNNING") if job.node_id == FARGATE_NODE_ID]
        found = executions.get_executions((job.id, job.num_exes) for job in running)
        for job in running:
            execution = found.get((job.id, job.num_exes))
            if execution is None or not self.runner.has_task(execution.cluster_id):
                fail_lost(job.id, job.num_exes, "the local stack restarted and its ECS task is gone")

    def _end_orphans(self) -> None:
        from chalicelib.models import jobs as job_store
        from chalicelib.services.execution_events import fail_lost
        for job in list(job_store.jobs_in_status("RUNNING")):
            if job.node_id == self.node.id:
                fail_lost(job.id, job.num_exes, "the node restarted while the execution ran")

    def _poll_dispatch(self) -> None:
        from chalicelib import aws
        from chalicelib.handlers.events import handle_dispatch_batch
        from chalicelib.queues import DISPATCH, queue_url
        sqs = aws.client("sqs")
        url = queue_url(DISPATCH)
        while not self.stop_event.is_set():
            try:
                # Long polling at SQS's longest wait, as Lambda's event source mapping polls: a receive returns
                # as soon as a message is there, and an idle queue costs one empty receive per 20 s, not per 1 s.
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_WAIT_SECONDS,
                                               AttributeNames=["All"]).get("Messages", [])
                if not messages:
                    continue
                event = {"Records": [_sqs_record(m, url) for m in messages]}
                result = handle_dispatch_batch(event, None)
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages) if m["MessageId"] not in failed]
                if done:
                    sqs.delete_message_batch(QueueUrl=url, Entries=done)
            except Exception:  # noqa: BLE001 - keep polling; SQS redelivers what was not deleted
                log.exception("dispatch poll failed")
                self.stop_event.wait(1)

    def _sweep_loop(self) -> None:
        from chalicelib.services.dispatch import fill_slots
        from chalicelib.services.sweeps import sweep
        while not self.stop_event.wait(self.sweep_seconds):
            try:
                sweep()
                fill_slots()
            except Exception:  # noqa: BLE001
                log.exception("sweep failed")

    def _heartbeat_loop(self) -> None:
        from chalicelib import clock
        from chalicelib.models import nodes
        while not self.stop_event.wait(self.heartbeat_seconds):
            try:
                nodes.heartbeat(self.node.id, clock.now())
            except Exception:  # noqa: BLE001
                log.exception("heartbeat failed")

    def _cancel_watch_loop(self) -> None:
        """Executions canceled by a bulk cancel (which runs elsewhere) are stopped within a few seconds."""
        from local.cancel_watch import stop_canceled
        seconds = float(os.environ.get("JOBS_CANCEL_WATCH_SECONDS") or 2)
        while not self.stop_event.wait(seconds):
            try:
                stop_canceled(self.runner)
            except Exception:  # noqa: BLE001
                log.exception("cancel watch failed")

    def stop(self) -> None:
        from chalicelib.wiring import set_runtime
        if self.agent is not None:
            self.agent.shutdown(timeout=10)  # kills its tasks' processes; the next start ends them as lost
            return
        self.events.enabled = False
        set_runtime(None)
        if self.runner is not None:
            self.runner.shutdown(timeout=10)  # kill every process tree and wait for them


def _sqs_record(message: dict, url: str) -> dict:
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs", "eventSourceARN": url, "awsRegion": "us-east-1"}


def main() -> int:
    """The worker process the local stack starts: its environment points at the stack's moto."""
    import faulthandler
    import signal

    from chalicelib.wiring import install
    faulthandler.register(signal.SIGUSR1)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    install()
    stop = threading.Event()
    workers = LocalWorkers(Path(os.environ["JOBS_DATA_DIR"]), os.environ.get("AWS_ENDPOINT_URL", ""), stop,
                           sweep_seconds=float(os.environ.get("JOBS_SWEEP_SECONDS") or 15))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    from local.call_counter import count_aws_calls, counting_requested, write_counts
    counts = count_aws_calls() if counting_requested() else None
    workers.start()
    if workers.node is None:
        print("workers ready: ECS tasks run by the local task agent", flush=True)
    else:
        print(f"workers ready: node {workers.node.hostname} with {workers.slots} slots", flush=True)
    # With a timeout: the kernel may hand SIGTERM to any thread, and Python runs the handler only when the main
    # thread next runs Python code; an endless wait here would never see it (the process outlived its stack).
    while not stop.wait(1):
        pass
    workers.stop()
    if counts is not None:  # for bench/run_jobs.py: what the worker side cost, by operation
        if workers.agent is not None:  # each event is one invocation of the state-change function
            counts["events:ECS Task State Change"] = workers.agent.delivered
            counts.traces.update({f"events:{why}": n for why, n in workers.agent.delivered_by.items()})
        write_counts(counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
