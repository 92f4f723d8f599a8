"""The console's requests over HTTP against the embedded stack: preflights, CORS on every answer, the
shell's polling, the jobs list and a job's details."""
from __future__ import annotations

import pytest
import requests

from tests.e2e.test_local_stack import TOKEN, Stack

pytestmark = pytest.mark.e2e
ORIGIN = "http://console.example"


def test_the_console_over_http(tmp_path):
    stack = Stack(tmp_path, demo=True, env={"JOBS_SWEEP_SECONDS": "1"})
    try:
        preflight = requests.options(stack.url("/v6/jobs/"), headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"}, timeout=30)
        assert preflight.status_code == 200
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
        headers = {"Authorization": f"Bearer {TOKEN}", "Origin": ORIGIN}
        shell = ("/v6/version/", "/v6/scheduler/", "/v6/status/", "/v6/job-types/?page=1&page_size=1000",
                 "/v6/job-types/status/?started=PT3H&", "/v6/jobs/?started=PT24H&order=-last_modified&page_size=25&")
        for path in shell:
            response = requests.get(stack.url(path), headers=headers, timeout=30)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["Access-Control-Allow-Origin"] == "*", path
        status = requests.get(stack.url("/v6/status/"), headers=headers, timeout=30).json()
        # the worker node is active (the demo data adds an offline one; scan order is not an order)
        assert status["resources"]["cpus"]["total"] > 0 and any(node["is_active"] for node in status["nodes"])
        jobs = requests.get(stack.url("/v6/jobs/?order=-last_modified"), headers=headers, timeout=30).json()
        job_id = jobs["results"][0]["id"]
        for path in (f"/v6/jobs/{job_id}/", f"/v6/jobs/{job_id}/executions/", f"/v6/jobs/{job_id}/input_files/",
                     f"/v6/files/?job_id={job_id}"):
            assert requests.get(stack.url(path), headers=headers, timeout=30).status_code == 200, path
        denied = requests.get(stack.url("/v6/jobs/"), headers={"Origin": ORIGIN}, timeout=30)
        assert denied.status_code == 401 and denied.headers["Access-Control-Allow-Origin"] == "*"
    finally:
        stack.stop()
