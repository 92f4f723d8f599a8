"""The embedded stack as a newcomer runs it: a subprocess serving HTTP on loopback, stopped with
SIGTERM and started again on the same data folder."""
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

from local.stack import die_with_parent, free_port

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
TOKEN = "e2e-admin-token"


class Stack:
    def __init__(self, data_dir: Path, demo: bool = False, env: dict | None = None) -> None:
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JOBS_"))}
        environment.update({"PORT": str(self.port), "JOBS_DATA_DIR": str(data_dir), "JOBS_ADMIN_TOKEN": TOKEN,
                            "PYTHONUNBUFFERED": "1", **(env or {})})
        args = [sys.executable, "-m", "local.stack"] + (["--demo"] if demo else [])
        # The stack (and with it its moto and workers) dies with the test process, whatever happens.
        self.process = subprocess.Popen(args, cwd=REPO, env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_parent)
        self.output: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("token: "):
                assert line.strip() == f"token: {TOKEN}"
                return
        self.process.kill()
        raise AssertionError("stack did not start:\n" + "".join(self.output))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, token: str | None = TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url(path), headers=headers, timeout=30)

    def post(self, path: str, body: dict):
        return requests.post(self.url(path), json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def kill(self) -> None:
        """As a crash would: no shutdown, no last snapshot."""
        self.process.kill()
        self.process.communicate(timeout=30)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        rest, _ = self.process.communicate(timeout=90)
        assert self.process.returncode == 0, "".join(self.output) + rest
        return rest


def test_stack_serves_http_and_keeps_its_data_across_a_restart(tmp_path):
    # Given a stack started with the demo data
    stack = Stack(tmp_path, demo=True)
    try:
        assert any(line.startswith("Job service running at http://127.0.0.1:") for line in stack.output)
        assert stack.get("/v6/jobs/", token=None).status_code == 401
        demo_jobs = stack.get("/v6/jobs/?page_size=1000").json()
        assert demo_jobs["count"] == 14
        assert {row["status"] for row in demo_jobs["results"]} == {
            "PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED"}
        # When a client adds a file and a job type over HTTP
        upload = stack.post("/v6/files/", {"workspace": "default", "file_name": "hello.txt",
                                           "media_type": "text/plain",
                                           "content_base64": base64.b64encode(b"hello\n").decode()})
        assert upload.status_code == 201, upload.text
        from local.sample_data import manifest
        created = stack.post("/v6/job-types/", {"docker_image": "e2e:1", "manifest": manifest("e2e-type")})
        assert created.status_code == 201, created.text
        assert created.headers["Location"] == stack.url("/v6/job-types/e2e-type/1.0.0/")
        page = stack.get("/v6/jobs/?page_size=5&order=-last_modified").json()
        second = stack.get(page["next"].replace(f"http://127.0.0.1:{stack.port}", "")).json()
        assert len(second["results"]) == 5
        assert stack.get("/docs", token=None).status_code == 200
    finally:
        stack.stop()
    assert (tmp_path / "snapshot" / "manifest.json").exists()
    assert (tmp_path / "workspaces" / "default" / upload.json()["file_path"]).read_bytes() == b"hello\n"

    # Then a restart on the same folder finds everything again
    again = Stack(tmp_path)
    try:
        assert again.get("/v6/jobs/").json()["count"] == 14
        assert again.get(f"/v6/files/{upload.json()['id']}/").json()["file_name"] == "hello.txt"
        assert again.get("/v6/job-types/e2e-type/1.0.0/").status_code == 200
        assert again.get("/v6/job-types/").json()["count"] == 4
        # new ids continue after the restored ones
        more = again.post("/v6/files/", {"workspace": "default", "file_name": "b.txt",
                                         "content_base64": base64.b64encode(b"b").decode()})
        assert more.json()["id"] > upload.json()["id"]
    finally:
        again.stop()
