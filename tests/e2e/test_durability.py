"""The embedded stack loses no acknowledged write: kill -9 of the whole stack right after a 201, Ctrl-C
(SIGINT to the whole process group), a journal cut mid-record; and it supervises its children: a killed
worker is restarted and its job's processes do not outlive it, a killed emulator stops the stack loudly.

Each stack runs in its own process group (as a terminal's foreground job), so the tests can signal the
group as a terminal does; a fixture kills whatever is left, job processes included."""
from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from local.journal import segment_name, segments
from local.stack import die_with_parent, free_port, worker_mark
from local.workers import kill_marked

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
TOKEN = "e2e-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


class Stack:
    def __init__(self, data_dir: Path, env: dict | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JOBS_"))}
        environment.update({"PORT": str(self.port), "JOBS_DATA_DIR": str(data_dir), "JOBS_ADMIN_TOKEN": TOKEN,
                            "PYTHONUNBUFFERED": "1", "JOBS_SWEEP_SECONDS": "2", **(env or {})})
        self.process = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=REPO, env=environment,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True, preexec_fn=die_with_parent)
        self.group = self.process.pid
        self.output: list[str] = []
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("token: "):
                break
        else:
            raise AssertionError("stack did not start:\n" + "".join(self.output))
        self.moto_pid = int(next(line for line in self.output if line.startswith("emulator: moto pid")).split()[3])

    def children(self, module: str) -> list[int]:
        """The stack's child processes running `python -m <module>`."""
        found = []
        for pid in children_of(self.process.pid):
            try:
                arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if module.encode() in arguments and alive(pid):
                found.append(pid)
        return found

    def worker_pid(self) -> int:
        return wait_for(lambda: self.children("local.workers"), 10, "the worker process")[0]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str):
        return requests.get(self.url(path), headers=AUTH, timeout=30)

    def post(self, path: str, body: dict):
        return requests.post(self.url(path), json=body, headers=AUTH, timeout=30)

    def signal_group(self, sig: int) -> None:
        os.killpg(self.group, sig)

    def finish(self, seconds: float = 90) -> str:
        rest, _ = self.process.communicate(timeout=seconds)
        self.output.append(rest)
        return "".join(self.output)

    def kill_all(self) -> None:
        """What a test leaves behind: the group, and the job processes (in sessions of their own)."""
        try:
            self.signal_group(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.communicate(timeout=30)
        kill_marked(worker_mark(self.data_dir))
        wait_for(lambda: not alive(self.moto_pid), 10, "the emulator to be gone")


@pytest.fixture
def stacks():
    started: list[Stack] = []

    def start(data_dir: Path, **kwargs) -> Stack:
        stack = Stack(data_dir, **kwargs)
        started.append(stack)
        return stack
    yield start
    for stack in started:
        stack.kill_all()


def add_job_type(stack: Stack, name: str) -> None:
    from local.sample_data import manifest
    response = stack.post("/v6/job-types/", {"docker_image": f"{name}:1", "manifest": manifest(name)})
    assert response.status_code == 201, response.text


def add_file(stack: Stack, name: str) -> int:
    response = stack.post("/v6/files/", {"workspace": "default", "file_name": name,
                                         "content_base64": base64.b64encode(name.encode()).decode()})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_kill_9_of_the_whole_stack_right_after_a_201_loses_nothing(tmp_path, stacks):
    stack = stacks(tmp_path)
    add_job_type(stack, "before-crash")
    file_id = add_file(stack, "crash.txt")
    stack.signal_group(signal.SIGKILL)  # the instant the 201 arrived: no stop, no snapshot
    stack.finish()
    assert not (tmp_path / "snapshot").exists()  # only the journal can hold the writes

    again = stacks(tmp_path)
    assert again.get("/v6/job-types/before-crash/1.0.0/").status_code == 200
    assert again.get(f"/v6/files/{file_id}/").json()["file_name"] == "crash.txt"
    assert any(line.startswith("replayed ") for line in again.output)


def test_ctrl_c_to_the_whole_group_stops_cleanly_after_a_last_snapshot(tmp_path, stacks):
    stack = stacks(tmp_path)
    add_job_type(stack, "before-ctrl-c")
    file_id = add_file(stack, "ctrl-c.txt")
    stack.signal_group(signal.SIGINT)  # what Ctrl-C does: every process of the group gets it at once
    output = stack.finish()
    assert stack.process.returncode == 0, output
    assert "last snapshot: " in output and "failed" not in output, output
    assert (tmp_path / "snapshot" / "manifest.json").exists()

    again = stacks(tmp_path)
    assert again.get("/v6/job-types/before-ctrl-c/1.0.0/").status_code == 200
    assert again.get(f"/v6/files/{file_id}/").json()["file_name"] == "ctrl-c.txt"
    assert again.get("/v6/job-types/").json()["count"] == 1


def test_a_journal_cut_mid_record_still_starts_with_every_complete_record(tmp_path, stacks):
    stack = stacks(tmp_path)
    add_job_type(stack, "kept")
    add_job_type(stack, "also-kept")
    stack.signal_group(signal.SIGKILL)
    stack.finish()
    last = tmp_path / "journal" / segment_name(segments(tmp_path / "journal")[-1])
    os.truncate(last, last.stat().st_size - 5)  # as a crash in the middle of an append leaves it

    again = stacks(tmp_path)
    assert any("dropped a torn record" in line for line in again.output), "".join(again.output)
    assert again.get("/v6/job-types/kept/1.0.0/").status_code == 200
    add_job_type(again, "after-the-cut")  # and it goes on journaling


def test_a_killed_worker_is_restarted_and_its_job_processes_die_and_the_job_is_retried(tmp_path, stacks):
    from local.sample_data import manifest
    stack = stacks(tmp_path)
    created = stack.post("/v6/job-types/", {"docker_image": "sleep:1",
                                            "manifest": manifest("sleeper", command="sleep 600", timeout=900),
                                            "configuration": {"output_workspaces": {"default": "default"},
                                                              "settings": {"API_KEY": "k", "MODE": "m"}}})
    assert created.status_code == 201, created.text
    queued = stack.post("/v6/jobs/", {"job_type_id": created.json()["id"],
                                      "input": {"files": {"INPUT_FILE": [add_file(stack, "in.txt")]}}})
    assert queued.status_code == 201, queued.text
    job = queued.json()["id"]
    mark = f"JOBS_WORKER_MARK={worker_mark(tmp_path)}".encode()

    def sleeping() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                if mark in environ and Path(f"/proc/{pid}/comm").read_text().strip() == "sleep" and alive(int(pid)):
                    found.append(int(pid))
            except OSError:
                pass
        return found
    first = wait_for(sleeping, 60, "the job's command to run")
    old_worker = stack.worker_pid()
    os.kill(old_worker, signal.SIGKILL)

    wait_for(lambda: not any(alive(p) for p in first), 15, "the job's processes to die with the worker")
    wait_for(lambda: any(p != old_worker for p in stack.children("local.workers")), 30, "a new worker process")
    detail = wait_for(lambda: (lambda d: d if d["num_exes"] >= 2 else None)(stack.get(f"/v6/jobs/{job}/").json()),
                      60, "the job to be retried")
    assert detail["num_exes"] >= 2
    second = wait_for(sleeping, 60, "the retried job's command to run")
    assert not set(second) & set(first)
    assert len(second) == 1  # never twice at once
    assert stack.process.poll() is None


def test_a_killed_api_process_is_restarted_and_the_api_keeps_answering(tmp_path, stacks):
    # Given a stack serving its API from two processes
    stack = stacks(tmp_path, env={"JOBS_API_PROCESSES": "2"})
    [extra] = stack.children("local.api_server")
    add_job_type(stack, "before-the-kill")
    # (each answer closes its connection, so the next request goes to whichever process is free)
    assert stack.get("/v6/job-types/").headers.get("Connection") == "close"
    # When the extra API process is killed
    os.kill(extra, signal.SIGKILL)
    # Then every request meanwhile is answered (by the stack's own server), and a new API process starts
    deadline = time.monotonic() + 30
    replaced: list[int] = []
    while not replaced and time.monotonic() < deadline:
        fresh = requests.get(stack.url("/v6/job-types/before-the-kill/1.0.0/"), headers=AUTH, timeout=30)
        assert fresh.status_code == 200, fresh.text
        replaced = [p for p in stack.children("local.api_server") if p != extra]
    assert replaced, "no new API process within 30 s"
    add_job_type(stack, "after-the-kill")
    assert stack.get("/v6/job-types/").json()["count"] == 2
    # And Ctrl-C stops every process of the stack
    stack.signal_group(signal.SIGINT)
    output = stack.finish()
    assert stack.process.returncode == 0, output
    assert "an API process (pid" in output and "died" in output, output
    wait_for(lambda: not alive(replaced[0]), 10, "the API process to stop with the stack")


def test_a_sigterm_the_kernel_hands_to_a_side_thread_still_stops_an_api_process(tmp_path, stacks):
    # Given an API process with its serving thread
    stack = stacks(tmp_path, env={"JOBS_API_PROCESSES": "2"})
    [extra] = stack.children("local.api_server")
    side_thread = next(int(tid) for tid in os.listdir(f"/proc/{extra}/task") if int(tid) != extra)
    # When SIGTERM (as the parent-death signal sends it) is delivered to that thread, not the main one
    import ctypes
    assert ctypes.CDLL(None, use_errno=True).syscall(234, extra, side_thread, signal.SIGTERM) == 0  # tgkill
    # Then the process still stops
    wait_for(lambda: not alive(extra), 15, "the API process to stop")


def test_a_killed_emulator_stops_the_stack_loudly_and_nothing_acknowledged_is_lost(tmp_path, stacks):
    stack = stacks(tmp_path)
    add_job_type(stack, "before-moto-died")
    os.kill(stack.moto_pid, signal.SIGKILL)
    output = stack.finish(seconds=60)
    assert stack.process.returncode == 3, output
    assert "STOPPING: the AWS emulator" in output
    again = stacks(tmp_path)
    assert again.get("/v6/job-types/before-moto-died/1.0.0/").status_code == 200
