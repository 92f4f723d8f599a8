"""The composition root: settings validated when a function starts, and a dispatch that has no runner
fails loudly instead of deleting its message."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import clock, wiring
from chalicelib.models import files as file_store
from chalicelib.models import jobs as job_store
from chalicelib.services.dispatch import NoRunner
from chalicelib.services.queue_job import queue_job
from local import sample_data as sd

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, value", [
    ("JOBS_AUTH_MODE", "gatewy"), ("JOBS_BULK_WRITERS", "eight"), ("JOBS_ANONYMOUS_READS", "maybe"),
    ("JOBS_RETRY_BASE_SECONDS", "-1"), ("JOBS_COUNT_REPAIR_SECONDS", "10"),
])
def test_a_bad_setting_refuses_to_start_naming_it(name, value):
    # Given a function environment with one setting mistyped
    env = {**os.environ, name: value}
    # When the app is imported, as every Lambda does at a cold start
    run = subprocess.run([sys.executable, "-c", "import app"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=60)
    # Then it does not start, and says which setting is wrong
    assert run.returncode != 0
    assert "ConfigurationError" in run.stderr and name in run.stderr


def test_the_gateway_mode_starts(monkeypatch):
    monkeypatch.setenv("JOBS_AUTH_MODE", "gateway")
    assert wiring.install().settings.auth_mode == "gateway"
    monkeypatch.setenv("JOBS_AUTH_MODE", "local")
    wiring.install()


def test_a_dispatch_with_no_runner_keeps_its_message_and_says_so(api, capsys):
    # Given a queued job and a process with no runner (a deployment whose runner is not configured)
    job_type = sd.job_type("unrun", configuration={"output_workspaces": {"default": "default"}})
    (source,) = file_store.save_files([{"workspace_id": 1, "workspace_name": "default", "file_name": "in.txt",
                                        "file_path": "in/in.txt", "file_size": 1}], clock.now())
    job_id = queue_job({"job_type_id": job_type.id, "input": {"files": {"INPUT_FILE": [source.id]}}}, sd.ADMIN,
                       "default")
    assert wiring.services().runtime is None
    event = api.client.events.generate_sqs_event(
        message_bodies=[json.dumps({"job_id": job_id, "exe_num": 1, "priority": 100})], queue_name="test-dispatch")
    # When the dispatch function receives its message
    with pytest.raises(NoRunner):
        api.client.lambda_.invoke("dispatch", event)
    # Then the invocation fails (SQS keeps the message for a retry, then the dead-letter queue), the job still
    # waits, and a metric counts it
    assert job_store.get_job(job_id).status == "QUEUED"
    assert "DispatchWithoutRunner" in capsys.readouterr().out


def test_a_new_install_follows_a_moved_endpoint(api, monkeypatch):
    # Given a process that has read the store (its table connections are made and kept)
    job_type = sd.job_type("followed")
    assert job_store.get_job(10**9) is None
    # When it is installed afresh against another endpoint (an emulator restarted on another port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    wiring.install()
    # Then its reads go there, not through the connection kept from before
    with pytest.raises(Exception, match="127.0.0.1:9"):
        job_store.get_job(10**9)
    # And back at the first endpoint, the store is found as it was
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    wiring.install()
    from chalicelib.models import catalog
    assert catalog.get_job_type(job_type.id) is not None
