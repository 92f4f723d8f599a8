"""Shared fixtures: fake AWS credentials, moto, the tables (from the same definitions the deploy
template uses), tokens for each role, and a Chalice test client."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import pytest

_TOKENS_DIR = tempfile.mkdtemp(prefix="jobs-tokens-")
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "JOBS_TABLE_PREFIX": "test-",
    "JOBS_AUTH_MODE": "local", "JOBS_TOKENS_FILE": os.path.join(_TOKENS_DIR, "tokens.json"),
    "JOBS_PUBLIC_URL": "",
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

TOKENS = {role: f"{role}-token" for role in ("viewer", "submitter", "operator", "admin")}


def _write_tokens() -> None:
    from chalicelib.auth import write_tokens_file
    write_tokens_file(os.environ["JOBS_TOKENS_FILE"], [
        {"token": token, "name": f"{role}-user", "role": role, "projects": ["default", f"{role}-project"]}
        for role, token in TOKENS.items()])


_write_tokens()


@pytest.fixture
def only_fake_aws_credentials(monkeypatch):
    """No AWS_* setting of the developer's but fake credentials: an AWS_ENDPOINT_URL or AWS_PROFILE would send
    the calls past mock_aws (for tests that build their own emulator rather than use `fresh_aws`)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@contextlib.contextmanager
def fresh_aws(workspace: Path):
    """A fresh moto account with every table created and the store prepared."""
    from moto import mock_aws

    from chalicelib import wiring

    # Step Functions executions really run (in a background thread), their Lambda tasks routed to our
    # handlers in this process (local/lambdas.py). DynamoDB answers as the local stack's moto does
    # (local/moto_speedups.py, local/moto_index.py).
    from local.moto_index import install as install_index
    from local.moto_speedups import install
    install()
    install_index()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        import boto3

        from chalicelib.bootstrap import prepare_store
        from local.emulated_aws import create_queues, create_state_machine, create_tables
        from local.lambdas import route_bulk_chunk
        wiring.install()  # every test starts from a fresh composition root: no cache survives it
        create_tables(boto3.client("dynamodb"), "test-")
        create_queues(boto3.client("sqs"), "test-")
        create_state_machine(boto3.client("stepfunctions"), "test-", "us-east-1")
        route_bulk_chunk()
        workspace.mkdir(parents=True, exist_ok=True)
        prepare_store(str(workspace))
        yield workspace
    wiring.reset()


@pytest.fixture
def aws(tmp_path):
    with fresh_aws(tmp_path / "default-workspace") as workspace:
        yield workspace


@pytest.fixture(scope="module")
def aws_module(tmp_path_factory):
    """Like `aws`, shared by a module's read-only tests (building data once per module)."""
    with fresh_aws(tmp_path_factory.mktemp("ws") / "default-workspace") as workspace:
        yield workspace


class Api:
    """The Chalice test client with a role's token and JSON helpers."""

    def __init__(self, client, role: str | None = "admin") -> None:
        self.client = client
        self.role = role

    def as_role(self, role: str | None) -> "Api":
        return Api(self.client, role)

    def _headers(self, extra: dict | None) -> dict:
        headers = {"Host": "testserver"}
        if self.role:
            headers["Authorization"] = f"Bearer {TOKENS[self.role]}"
        headers.update(extra or {})
        return headers

    def get(self, path: str, headers: dict | None = None):
        return self.client.http.get(path, headers=self._headers(headers))

    def post(self, path: str, body=None, raw: str | bytes | None = None, headers: dict | None = None):
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        payload = raw if raw is not None else json.dumps(body)
        return self.client.http.post(path, body=payload, headers=self._headers(all_headers))

    def patch(self, path: str, body=None, headers: dict | None = None):
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        return self.client.http.patch(path, body=json.dumps(body), headers=self._headers(all_headers))

    def delete(self, path: str):
        return self.client.http.delete(path, headers=self._headers(None))


def _client():
    from chalice.test import Client

    from app import app
    return Client(app, stage_name="local")


@pytest.fixture
def api(aws):
    with _client() as client:
        yield Api(client)


@pytest.fixture(scope="module")
def api_module(aws_module):
    with _client() as client:
        yield Api(client)
