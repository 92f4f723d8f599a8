"""The embedded stack behind `make run`: the whole service in one process, AWS emulated by moto.

Start-up order: moto on a loopback port -> tables created from the models and queues from
`chalicelib.queues` (the same definitions as the deploy template) -> the last snapshot restored ->
built-in errors and the `default` workspace -> the admin token -> the Chalice app served on
127.0.0.1:PORT. The emulated state is snapshotted to the data folder every JOBS_SNAPSHOT_SECONDS
(default 60) and on shutdown, so a crash loses at most that much.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("jobs.local")


SNAPSHOT_PAUSE_RATIO = 9  # JOBS_SNAPSHOT_PAUSE_RATIO


def next_snapshot_pause(configured_seconds: float, last_took_seconds: float,
                        ratio: float = SNAPSHOT_PAUSE_RATIO) -> float:
    return max(configured_seconds, ratio * last_took_seconds)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStack:
    def __init__(self, data_dir: Path, port: int, admin_token: str | None, snapshot_seconds: float) -> None:
        self.data_dir = data_dir
        self.port = port
        self.admin_token = admin_token
        self.snapshot_seconds = snapshot_seconds
        self.moto_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.moto_port}"
        self._stop = threading.Event()
        self._snapshot_lock = threading.Lock()
        self._moto = None
        self._http = None
        self._workers = None

    # -- start ------------------------------------------------------------------------------------
    def configure_environment(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ.update({
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint, "MOTO_PORT": str(self.moto_port),
            "JOBS_TABLE_PREFIX": "local-", "JOBS_AUTH_MODE": "local",
            "JOBS_TOKENS_FILE": str(self.data_dir / "tokens.json"),
        })
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)

    def start_moto(self) -> None:
        """moto in its own process by default (JOBS_MOTO=process), so emulating AWS does not compete with
        the API and the workers for this process's GIL; JOBS_MOTO=thread keeps it in-process (needed
        to route a state machine's Lambda tasks to in-process handlers)."""
        import requests
        if (os.environ.get("JOBS_MOTO") or "process") == "thread":
            from moto.server import ThreadedMotoServer

            from local.lambdas import route_bulk_chunk
            from local.moto_speedups import install
            install()
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
            self._moto.start()
            route_bulk_chunk()
        else:
            self._moto = _MotoProcess(self.moto_port)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        requests.post(f"{self.endpoint}/moto-api/config", timeout=10, json={
            "stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})

    def prepare(self, demo: bool) -> None:
        import boto3

        from chalicelib.bootstrap import prepare_store
        from chalicelib.wiring import install
        from local.emulated_aws import create_queues, create_state_machine, create_tables, resume_bulk_operations
        from local.snapshot import restore_snapshot
        install()
        session = boto3.session.Session()
        create_tables(session.client("dynamodb", endpoint_url=self.endpoint), "local-")
        create_queues(session.client("sqs", endpoint_url=self.endpoint), "local-")
        from chalicelib.execution_logs import create_log_group
        create_log_group(session.client("logs", endpoint_url=self.endpoint), "local-")
        create_state_machine(session.client("stepfunctions", endpoint_url=self.endpoint), "local-",
                             os.environ["AWS_DEFAULT_REGION"])
        stats = restore_snapshot(session, self.endpoint, self.data_dir)
        if stats is not None:
            print(f"restored snapshot: {stats}", flush=True)
        workspace = self.data_dir / "workspaces" / "default"
        workspace.mkdir(parents=True, exist_ok=True)
        prepare_store(str(workspace.resolve()))
        resumed = resume_bulk_operations()
        if resumed:
            print(f"resumed bulk operations interrupted by the last stop: {resumed}", flush=True)
        if demo:
            from local.demo import load_demo
            print(load_demo(), flush=True)
        self.admin_token = self._write_admin_token()

    def _write_admin_token(self) -> str:
        import json

        from chalicelib.auth import new_token, token_digest, write_tokens_file
        path = self.data_dir / "tokens.json"
        token = self.admin_token or new_token()
        others = []
        if path.exists():
            others = [e for e in json.loads(path.read_text()).get("tokens", []) if e.get("name") != "admin"]
        write_tokens_file(str(path), [{"sha256": token_digest(token), "name": "admin", "role": "admin",
                                       "projects": ["default"]}] + others)
        return token

    def serve(self) -> None:
        from chalice.config import Config
        from chalice.local import create_local_server

        from app import app
        server = create_local_server(app, Config(chalice_stage="local"), "127.0.0.1", self.port)
        _per_thread_requests(app)
        self._http = server
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()

    # -- snapshots --------------------------------------------------------------------------------
    def snapshot(self) -> None:
        import boto3

        from local.snapshot import save_snapshot
        with self._snapshot_lock:
            save_snapshot(boto3.session.Session(), self.endpoint, self.data_dir)

    def _snapshot_loop(self) -> None:
        """Every JOBS_SNAPSHOT_SECONDS, or longer when the store is large: a snapshot reads every item through
        the emulator, so the pause after one is at least JOBS_SNAPSHOT_PAUSE_RATIO (9) times what it took,
        keeping snapshots under a tenth of moto's time (0: every JOBS_SNAPSHOT_SECONDS whatever they cost)."""
        ratio = float(os.environ.get("JOBS_SNAPSHOT_PAUSE_RATIO") or SNAPSHOT_PAUSE_RATIO)
        pause = self.snapshot_seconds
        while not self._stop.wait(pause):
            started = time.monotonic()
            try:
                self.snapshot()
            except Exception:  # noqa: BLE001 - keep serving; the next round tries again
                log.exception("periodic snapshot failed")
            pause = next_snapshot_pause(self.snapshot_seconds, time.monotonic() - started, ratio)

    def start_workers(self) -> None:
        """The worker side (node, runner, SQS poller, sweeps) in its own process, as worker nodes are
        apart from the API in a deployment: the two do not compete for one interpreter lock."""
        self._workers = _WorkerProcess(self.data_dir)

    # -- run --------------------------------------------------------------------------------------
    def run(self, demo: bool) -> int:
        self.configure_environment()
        self.start_moto()
        self.prepare(demo)
        self.serve()
        self.start_workers()
        threading.Thread(target=self._snapshot_loop, name="snapshots", daemon=True).start()
        print(f"Job service running at http://127.0.0.1:{self.port}/  (docs: http://127.0.0.1:{self.port}/docs)",
              flush=True)
        print(f"data: {self.data_dir}", flush=True)
        print(f"token: {self.admin_token}", flush=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stop.set())
        while not self._stop.is_set():
            self._stop.wait(1)
        return self.shutdown()

    def shutdown(self) -> int:
        print("stopping: taking a last snapshot", flush=True)
        if self._http is not None:
            self._http.shutdown()
        if self._workers is not None:
            self._workers.stop()
            self._workers = None
        code = 0
        try:
            self.snapshot()
        except Exception:  # noqa: BLE001
            log.exception("final snapshot failed")
            code = 1
        if self._moto is not None:
            self._moto.stop()
        print("stopped", flush=True)
        return code


class _WorkerProcess:
    """`python -m local.workers`, which dies with this process (Linux parent-death signal) and stops its
    executions on SIGTERM."""

    def __init__(self, data_dir: Path) -> None:
        import subprocess
        env = {**os.environ, "JOBS_DATA_DIR": str(data_dir)}
        self.process = subprocess.Popen([sys.executable, "-m", "local.workers"], env=env, stdout=subprocess.PIPE,
                                        text=True, preexec_fn=die_with_parent)
        line = self.process.stdout.readline()
        if not line.startswith("workers ready"):
            self.process.kill()
            raise RuntimeError(f"the worker process did not start: {line!r}")
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        for line in self.process.stdout:
            print(line, end="", flush=True)

    def stop(self) -> None:
        stop_process(self.process, grace_seconds=30)  # executions are stopped and reported first


def stop_process(process, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `grace_seconds`."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except Exception:  # noqa: BLE001
        process.kill()


def die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the parent dies (a kill -9 of the stack
    must not leave a worker running jobs against a moto that is gone)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class _MotoProcess:
    """`python -m local.moto_server` (moto's server, with the bulk chunk Lambda routed to our handler) on a
    loopback port, stopped with the stack."""

    def __init__(self, port: int) -> None:
        import subprocess

        import requests
        env = {**os.environ, "MOTO_PORT": str(port)}
        self.process = subprocess.Popen([sys.executable, "-m", "local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("moto server exited at start")
            try:
                requests.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.process.kill()
        raise RuntimeError("moto server did not start in 30 s")

    def stop(self) -> None:
        stop_process(self.process, grace_seconds=10)


def _per_thread_requests(app) -> None:
    """Chalice keeps the request being handled on the app object (`current_request`, `lambda_context`):
    safe in Lambda (one request per instance at a time), not in a threaded server, where concurrent
    requests would read each other's. Keep both per thread instead."""
    base = app.__class__
    local = threading.local()

    def slot(name: str) -> property:
        return property(lambda self: getattr(local, name, None), lambda self, value: setattr(local, name, value))

    app.__class__ = type("PerThreadChalice", (base,), {"current_request": slot("request"),
                                                       "lambda_context": slot("context")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the job service locally with AWS emulated by moto.")
    parser.add_argument("--demo", action="store_true", help="load demo job types, files and jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    data_dir = Path(os.environ.get("JOBS_DATA_DIR") or ".local-data").resolve()
    stack = LocalStack(
        data_dir=data_dir,
        port=int(os.environ.get("PORT") or 8000),
        admin_token=os.environ.get("JOBS_ADMIN_TOKEN") or None,
        snapshot_seconds=float(os.environ.get("JOBS_SNAPSHOT_SECONDS") or 60),
    )
    demo = args.demo or os.environ.get("DEMO", "") not in ("", "0")
    return stack.run(demo)


if __name__ == "__main__":
    time.tzset()
    sys.exit(main())
