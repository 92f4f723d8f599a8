"""What every benchmark shares: an in-process moto store with the tables, an admin token, a Chalice
test client, and publishing a section of docs/performance.md."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Host": "bench"}



def noop_job_type(base: str, headers: dict[str, str]) -> tuple[int, int]:
    """Over HTTP on a running stack: a job type whose jobs run `true`, and an input file for them
    (job type id, file id)."""
    import base64

    import requests

    from local.sample_data import manifest
    created = requests.post(f"{base}/v6/job-types/", headers=headers, json={
        "docker_image": "true:1", "manifest": manifest("noop", command="true"),
        "configuration": {"output_workspaces": {"default": "default"}, "settings": {"API_KEY": "k", "MODE": "m"}}})
    assert created.status_code == 201, created.text
    upload = requests.post(f"{base}/v6/files/", headers=headers, json={
        "workspace": "default", "file_name": "in.txt", "content_base64": base64.b64encode(b"x").decode()})
    assert upload.status_code == 201, upload.text
    return int(created.json()["id"]), int(upload.json()["id"])


@contextlib.contextmanager
def bench_store():
    """Yields a function that returns a Chalice test client, inside a fresh moto account."""
    from moto import mock_aws
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "JOBS_TABLE_PREFIX": "bench-", "JOBS_AUTH_MODE": "local",
                       "JOBS_PUBLIC_URL": "http://bench"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        import boto3
        from chalice.test import Client

        from chalicelib.auth import write_tokens_file
        from chalicelib.bootstrap import prepare_store
        from chalicelib.wiring import install
        from local.emulated_aws import create_tables
        tokens = REPO / f".bench-tokens-{os.getpid()}.json"
        write_tokens_file(str(tokens), [{"token": TOKEN, "name": "bench", "role": "admin", "projects": []}])
        os.environ["JOBS_TOKENS_FILE"] = str(tokens)
        install()
        create_tables(boto3.client("dynamodb"), "bench-")
        prepare_store()

        def client() -> Client:
            from app import app
            return Client(app, stage_name="local")
        try:
            yield client
        finally:
            tokens.unlink(missing_ok=True)


def write_section(text: str, name: str) -> None:
    """Replace (or append) the `<!-- bench:NAME -->` section of docs/performance.md."""
    path = REPO / "docs" / "performance.md"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    content = path.read_text() if path.exists() else "# Performance\n"
    block = f"{start}\n{text}\n{end}"
    if start in content:
        before, rest = content.split(start, 1)
        content = before + block + rest.split(end, 1)[1]
    else:
        content = content.rstrip() + "\n\n" + block + "\n"
    path.write_text(content)


def publish(text: str, name: str) -> None:
    """Print the figures and, unless BENCH_WRITE=0, write them as the `name` section of docs/performance.md."""
    print(text)
    if os.environ.get("BENCH_WRITE", "1") != "0":
        write_section(text, name)


def serving_stack(prefix: str, token: str = "bench"):
    """The embedded stack in this process (`python -m local.stack` without its workers) in a new data folder,
    the API serving: a benchmark sets what the workers should count, then calls `stack.start_workers()`."""
    import tempfile

    from local.stack import LocalStack, free_port
    stack = LocalStack(data_dir=Path(tempfile.mkdtemp(prefix=prefix)), port=free_port(), admin_token=token,
                       snapshot_seconds=3600)
    stack.configure_environment()
    stack.start_moto()
    stack.prepare(demo=False)
    stack.serve()
    return stack

