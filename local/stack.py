"""The embedded stack behind `make run`: the whole service on this machine, AWS emulated by moto.

Start-up order: moto in its own process on a loopback port -> tables created from the models and queues
from `chalicelib.queues` (the same definitions as the deploy template) -> the stored state restored (the
last good snapshot, then the journal written after it: see local/engine.py) -> built-in errors and the
`default` workspace -> the admin token -> the Chalice app served on 127.0.0.1:PORT (by this process and
JOBS_API_PROCESSES - 1 more, local/api_server.py) -> the worker process.

Durability: the moto process journals every write before answering it (fsync, group commit) and takes
the snapshots itself (local/engine.py), so an acknowledged write survives Ctrl-C, SIGTERM, kill -9 of any
process and a power cut. It ignores SIGINT/SIGTERM: whichever process is signalled first, the stack stops
the API and the workers, asks for a last snapshot, then closes moto's standard input, which ends it; it
dies with the stack in any case (parent-death signal). JOBS_JOURNAL=0 turns the journal off (the former
behaviour: a snapshot every JOBS_SNAPSHOT_SECONDS taken over HTTP, and at stop; a crash loses what came
after the last one), for comparison.

Supervision: a child that dies is noticed within a second or two. The worker process is restarted (its
start ends the executions it left RUNNING as node-lost, which retries them, after killing whatever is
left of their processes), and so is an API process; the stack stops loudly when moto dies or a child
keeps dying (6 times within a minute).
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
from typing import Any, Callable, TypeVar

log = logging.getLogger("jobs.local")
C = TypeVar("C")


SNAPSHOT_PAUSE_RATIO = 9  # JOBS_SNAPSHOT_PAUSE_RATIO


def next_snapshot_pause(configured_seconds: float, last_took_seconds: float,
                        ratio: float = SNAPSHOT_PAUSE_RATIO) -> float:
    return max(configured_seconds, ratio * last_took_seconds)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStack:
    def __init__(self, data_dir: Path, port: int, admin_token: str | None, snapshot_seconds: float,
                 api_processes: int = 1) -> None:
        self.data_dir = data_dir
        self.api_processes = api_processes
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
        self.engine = ((os.environ.get("JOBS_MOTO") or "process") == "process"
                       and os.environ.get("JOBS_JOURNAL", "1") != "0")
        self._exit_code = 0
        self._restarts: dict[str, list[float]] = {}
        self._api_processes: list[_ApiProcess] = []

    # -- start ------------------------------------------------------------------------------------
    def configure_environment(self) -> None:
        from local.private_files import secure_data_folder
        secure_data_folder(self.data_dir)  # the store's files (journal, snapshots, tokens) owner-only
        os.environ.update({
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint, "MOTO_PORT": str(self.moto_port),
            "JOBS_TABLE_PREFIX": "local-", "JOBS_AUTH_MODE": "local",
            "JOBS_TOKENS_FILE": str(self.data_dir / "tokens.json"),
        })
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        # With JOBS_RUNNER=ecs: the cluster's settings, for every process (moto's, whose bulk chunks stop
        # canceled jobs' tasks, included); the subnet and security group are placeholders until `prepare`
        # has made them (only launching a task needs them: the worker process, started after).
        emulated_ecs_environment()

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
            self._moto = _MotoProcess(self.moto_port, self.data_dir if self.engine else None)
            print(f"emulator: moto pid {self._moto.process.pid} on {self.endpoint}"
                  + (f", journal in {self.data_dir / 'journal'}" if self.engine else ", no journal"), flush=True)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        requests.post(f"{self.endpoint}/moto-api/config", timeout=10, json={
            "stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})

    def prepare(self, demo: bool) -> None:
        import boto3

        from chalicelib.bootstrap import prepare_store
        from chalicelib.wiring import install
        from local.emulated_aws import create_queues, create_state_machine, create_tables, resume_bulk_operations
        from local.snapshot import restore_snapshot
        session = boto3.session.Session()
        if os.environ.get("JOBS_RUNNER") == "ecs":
            # The cloud path: the ECS runner against moto's ECS, its tasks run by the worker's task agent.
            from local.emulated_aws import create_ecs
            os.environ.update(create_ecs(*(session.client(name, endpoint_url=self.endpoint)
                                           for name in ("ecs", "s3", "ec2")), "local-"))
            print(f"runner: ECS (cluster {os.environ['JOBS_ECS_CLUSTER']} in the emulator; tasks run as "
                  "local processes, their images ignored)", flush=True)
        install()
        create_tables(session.client("dynamodb", endpoint_url=self.endpoint), "local-")
        create_queues(session.client("sqs", endpoint_url=self.endpoint), "local-")
        from chalicelib.execution_logs import create_log_group
        create_log_group(session.client("logs", endpoint_url=self.endpoint), "local-")
        create_state_machine(session.client("stepfunctions", endpoint_url=self.endpoint), "local-",
                             os.environ["AWS_DEFAULT_REGION"])
        if self.engine:
            self._restore_engine()
        else:
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

    def _restore_engine(self) -> None:
        import requests
        response = requests.post(f"{self.endpoint}/_local/restore", timeout=3600)
        answer = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"restoring the stored state failed: {answer.get('error')}\n{answer.get('trace', '')}")
        for rejected in answer["rejected"]:
            print(f"SNAPSHOT REJECTED: {rejected}; using the previous one", flush=True)
        for torn in answer["torn"]:
            print(f"journal: dropped a torn record (a write cut by a crash, never acknowledged): {torn}", flush=True)
        loaded = answer.get("loaded")
        if answer["snapshot"]:
            print(f"restored snapshot {answer['snapshot']}: {loaded['tables']} tables / {loaded['items']} items, "
                  f"{loaded['log_events']} log events, {loaded['objects']} objects", flush=True)
        if answer["snapshot"] or answer["replayed"]:
            errors = f" ({answer['replay_errors']} answered an error)" if answer["replay_errors"] else ""
            print(f"replayed {answer['replayed']} journal records from {answer['segments']} segments{errors}; "
                  f"restored in {answer['seconds']:.2f}s", flush=True)

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

    def serve(self, shared: bool = False) -> None:
        """The API on 127.0.0.1:PORT from this process; `shared`: on a listening socket the API processes
        accept on too (start_api_processes)."""
        from local.api_server import serve_app
        listening = socket.create_server(("127.0.0.1", self.port), backlog=128) if shared else None
        self._http = serve_app(self.port, listening)

    # -- snapshots --------------------------------------------------------------------------------
    def snapshot(self, force: bool = False) -> dict | None:
        import boto3

        from local.snapshot import save_snapshot
        if self.engine:
            import requests
            response = requests.post(f"{self.endpoint}/_local/snapshot" + ("?force=1" if force else ""), timeout=3600)
            if response.status_code != 200:
                raise RuntimeError(response.json().get("error"))
            return response.json()
        with self._snapshot_lock:
            save_snapshot(boto3.session.Session(), self.endpoint, self.data_dir)
        return None

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

    def start_api_processes(self) -> None:
        """`api_processes - 1` more processes serving the API on this process's listening socket
        (local/api_server.py): one interpreter lock per process instead of one for every request."""
        if self.api_processes <= 1 or self._http is None:
            return
        self._api_processes = [self._new_api_process() for _ in range(self.api_processes - 1)]
        print(f"API processes: {self.api_processes} (pids {os.getpid()}, "
              + ", ".join(str(p.process.pid) for p in self._api_processes) + ")", flush=True)

    def _new_api_process(self) -> _ApiProcess:
        assert self._http is not None
        return _ApiProcess(self._http.server.socket.fileno())

    def start_workers(self) -> None:
        """The worker side (node, runner, SQS poller, sweeps) in its own process, as worker nodes are
        apart from the API in a deployment: the two do not compete for one interpreter lock."""
        self._workers = _WorkerProcess(self.data_dir)

    # -- supervision ------------------------------------------------------------------------------
    def supervise(self) -> None:
        """Called every second from the main thread (children started here die with it)."""
        if self._moto is not None and not isinstance(self._moto, _MotoProcess):
            return
        if self._moto is not None and self._moto.process.poll() is not None:
            if self._stop.wait(1.5):
                return  # a stop is under way: the signal reached moto's group too
            code = self._moto.process.returncode
            print(f"STOPPING: the AWS emulator (moto, pid {self._moto.process.pid}) died (exit code {code}). "
                  + ("Every acknowledged write is in the journal: `make run` starts again from it."
                     if self.engine else "Changes since the last snapshot are lost (JOBS_JOURNAL=0)."),
                  file=sys.stderr, flush=True)
            self._moto = None
            self._exit_code = 3
            self._stop.set()
            return
        if self._workers is not None and self._workers.process.poll() is not None:
            if self._stop.wait(1.5):
                return
            code, pid = self._workers.process.returncode, self._workers.process.pid
            from local.workers import kill_marked
            killed = kill_marked(worker_mark(self.data_dir))
            if self._keeps_dying("worker", f"pid {pid}, exit code {code}"):
                self._workers = None
                return
            print(f"the worker process (pid {pid}) died (exit code {code}); {killed} leftover job processes "
                  "killed; restarting it: the executions it ran end node-lost and are retried", flush=True)
            self._workers = self._restart("worker", lambda: _WorkerProcess(self.data_dir))
        for index, api in enumerate(self._api_processes):
            if api.process.poll() is None:
                continue
            if self._stop.wait(1.5):
                return
            code, pid = api.process.returncode, api.process.pid
            if self._keeps_dying("API", f"pid {pid}, exit code {code}"):
                return
            print(f"an API process (pid {pid}) died (exit code {code}); restarting it: the requests it was "
                  "answering got no answer, the others are served by the remaining processes", flush=True)
            started = self._restart("API", self._new_api_process)
            if started is not None:
                self._api_processes[index] = started

    def _keeps_dying(self, kind: str, last: str) -> bool:
        """Counts a death of a `kind` process; after the 6th within a minute, stops the stack loudly."""
        now = time.monotonic()
        deaths = [t for t in self._restarts.get(kind, []) if now - t < 60] + [now]
        self._restarts[kind] = deaths
        if len(deaths) <= 5:
            return False
        self._stop_loudly(f"the {kind} process died 6 times within a minute (last: {last}); see the messages above.")
        return True

    def _restart(self, kind: str, start: Callable[[], C]) -> C | None:
        """`start()`'s new child, or None when it could not start (the stack then stops loudly)."""
        try:
            return start()
        except Exception as error:  # noqa: BLE001
            if not self._stop.is_set():  # a stop that came while it started (Ctrl-C reaches it too) is no failure
                self._stop_loudly(f"the {kind} process could not be restarted: {error}")
            return None

    def _stop_loudly(self, why: str) -> None:
        print(f"STOPPING: {why}", file=sys.stderr, flush=True)
        self._exit_code = 4
        self._stop.set()

    # -- run --------------------------------------------------------------------------------------
    def run(self, demo: bool) -> int:
        self.configure_environment()
        self.start_moto()
        self.prepare(demo)
        self.serve(shared=self.api_processes > 1)
        self.start_api_processes()
        self.start_workers()
        if not self.engine:  # with the journal, the moto process takes the snapshots itself
            threading.Thread(target=self._snapshot_loop, name="snapshots", daemon=True).start()
        # Before the start is announced: a Ctrl-C right after the `token:` line must stop the stack, not be lost.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stop.set())
        print(f"Job service running at http://127.0.0.1:{self.port}/  (docs: http://127.0.0.1:{self.port}/docs)",
              flush=True)
        print(f"data: {self.data_dir}", flush=True)
        print(f"token: {self.admin_token}", flush=True)
        while not self._stop.wait(1):
            self.supervise()
        return self.shutdown()

    def shutdown(self) -> int:
        print("stopping: taking a last snapshot", flush=True)
        if self._http is not None:
            self._http.shutdown()
        for api in self._api_processes:
            stop_process(api.process, grace_seconds=10)
        self._api_processes = []
        if self._workers is not None:
            self._workers.stop()
            self._workers = None
        code = self._exit_code
        if self._moto is not None:
            try:
                taken = self.snapshot()
                if taken:
                    print(f"last snapshot: {taken}", flush=True)
            except Exception:  # noqa: BLE001
                log.exception("final snapshot failed")
                if self.engine:
                    print("the last snapshot failed; nothing is lost: the journal holds every acknowledged write",
                          flush=True)
                code = code or 1
            self._moto.stop()
        print("stopped", flush=True)
        return code


class _Child:
    """`python -m <module> ...` started from the main thread: it dies with this process (parent-death
    signal), prints one line starting with `ready` once it serves, then its output is relayed."""

    def __init__(self, args: list[str], ready: str, what: str, preexec_fn: Callable[[], None] | None = None,
                 **popen: Any) -> None:
        import subprocess
        self.process = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True,
                                        preexec_fn=preexec_fn or die_with_parent, **popen)
        self.ready_line = self.process.stdout.readline().strip()
        if not self.ready_line.startswith(ready):
            self.process.kill()
            raise RuntimeError(f"{what} did not start: {self.ready_line!r}")
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        for line in self.process.stdout:
            print(line, end="", flush=True)


class _ApiProcess(_Child):
    """`python -m local.api_server FD`: serves the API on the stack's listening socket; stops on SIGTERM."""

    def __init__(self, listening_fd: int) -> None:
        super().__init__(["local.api_server", str(listening_fd)], "api process ready", "an API process",
                         preexec_fn=_ignore_ctrl_c_and_die_with_parent, pass_fds=(listening_fd,))


def _ignore_ctrl_c_and_die_with_parent() -> None:
    """Before exec: SIGINT ignored from the first instruction (Python keeps an ignored SIGINT ignored), so a
    Ctrl-C that comes while the process is still starting does not end it; the stack decides the stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def default_api_processes() -> int:
    """Without JOBS_API_PROCESSES: one per CPU up to 4 (the emulator and the workers need CPU too)."""
    return max(1, min(os.cpu_count() or 1, 4))


class _WorkerProcess(_Child):
    """`python -m local.workers`, which stops its executions on SIGTERM."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(["local.workers"], "workers ready", "the worker process",
                         env={**os.environ, "JOBS_DATA_DIR": str(data_dir), "JOBS_WORKER_MARK": worker_mark(data_dir)})
        print(f"{self.ready_line} (worker process pid {self.process.pid})", flush=True)

    def stop(self) -> None:
        stop_process(self.process, grace_seconds=30)  # executions are stopped and reported first


def stop_process(process, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `grace_seconds`."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except Exception:  # noqa: BLE001
        process.kill()


def worker_mark(data_dir: Path) -> str:
    """Marks the worker's environment, which its job processes inherit (see local/workers.py): what is
    left of them after a crash is found by it and killed."""
    import hashlib
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In the child, before exec: ask Linux for `sig` when the parent dies (a kill -9 of the stack
    must not leave a worker running jobs against a moto that is gone). The signal comes when the
    thread that started the child ends: the stack starts its children from its main thread."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def die_with_parent_killed() -> None:
    die_with_parent(signal.SIGKILL)


class _MotoProcess:
    """`python -m local.moto_server` (moto's server, with the bulk chunk Lambda routed to our handler) on a
    loopback port, stopped with the stack. With a data folder, it journals and snapshots (local/engine.py),
    ignores SIGINT/SIGTERM and ends when its standard input closes."""

    def __init__(self, port: int, data_dir: Path | None = None) -> None:
        import subprocess

        import requests
        env = {**os.environ, "MOTO_PORT": str(port)}
        env.pop("JOBS_ENGINE_DIR", None)

        if data_dir is not None:
            env["JOBS_ENGINE_DIR"] = str(data_dir)
        self.process = subprocess.Popen([sys.executable, "-m", "local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
                                        env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=None if data_dir is not None else subprocess.DEVNULL,
                                        preexec_fn=die_with_parent_killed if data_dir is not None else die_with_parent)
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
        """Close its standard input (it syncs the journal and exits), SIGTERM for a moto without journal,
        SIGKILL after 10 s."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        stop_process(self.process, grace_seconds=10)


def emulated_ecs_environment() -> None:
    """JOBS_RUNNER=ecs: the emulated cluster's settings (completed by `prepare` once the cluster exists)."""
    if os.environ.get("JOBS_RUNNER") == "ecs":
        from local.task_agent import ecs_environment
        os.environ.update(ecs_environment("local-"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the job service locally with AWS emulated by moto.")
    parser.add_argument("--demo", action="store_true", help="load demo job types, files and jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    from chalicelib.config import ConfigurationError, load_local_settings
    emulated_ecs_environment()  # validated as the stack will run it, not as the shell left it
    try:
        settings = load_local_settings()
    except ConfigurationError as error:
        print(f"cannot start: {error}", file=sys.stderr, flush=True)
        return 2
    stack = LocalStack(
        data_dir=Path(settings.data_dir).resolve(),
        port=settings.port,
        admin_token=settings.admin_token,
        snapshot_seconds=settings.snapshot_seconds,
        api_processes=settings.api_processes or default_api_processes(),
    )
    demo = args.demo or os.environ.get("DEMO", "") not in ("", "0")
    return stack.run(demo)


if __name__ == "__main__":
    time.tzset()
    sys.exit(main())
