"""GET /v6/jobs/{id}/, its input files and its executions (written through the persistence layer)."""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.timeutil import iso
from local import sample_data as sd
from local import seed_store


@pytest.fixture
def upload(api):
    def send(name: str, content: bytes) -> dict:
        response = api.post("/v6/files/", {"workspace": "default", "file_name": name, "media_type": "text/plain",
                                           "content_base64": base64.b64encode(content).decode()})
        assert response.status_code == 201, response.body
        return response.json_body
    return send


@pytest.fixture
def finished_job(api, upload):
    from chalicelib.models.files import get_files
    now = clock.now()
    jt = sd.job_type("details-algo")
    node = seed_store.create_node("worker-7", now)
    first, second = upload("in-1.txt", b"x" * 2048), upload("in-2.txt", b"y" * 1024)
    files = get_files([first["id"], second["id"]])
    job_id = sd.new_ids(1)[0]
    (job,) = sd.store([sd.build_job(job_id, jt, "FAILED", now, node=node, error="node-lost", num_exes=2,
                                    input_files={"INPUT_FILE": [files[first["id"]], files[second["id"]]]})])
    old = sd.execution(job, 1, "FAILED", now - timedelta(minutes=30), node=node, error="node-lost", exit_code=None)
    new = sd.execution(job, 2, "FAILED", now, node=node, error="timeout", exit_code=137)
    return {"job": job, "type": jt, "node": node, "executions": (old, new), "files": (first, second)}


def test_details_carry_every_field_and_the_latest_execution(api, finished_job):
    job = finished_job["job"]
    body = api.get(f"/v6/jobs/{job.id}/").json_body
    assert body["id"] == job.id and body["status"] == "FAILED" and body["num_exes"] == 2
    assert body["job_type"]["name"] == "details-algo"
    assert body["job_type_rev"]["revision_num"] == 1
    assert body["job_type_rev"]["docker_image"] == "details-algo:1.0.0"
    assert body["job_type_rev"]["manifest"]["job"]["name"] == "details-algo"
    assert body["event"] == {"id": job.id, "type": "USER", "occurred": iso(job.created)}
    assert body["node"] == {"id": finished_job["node"].id, "hostname": "worker-7"}
    assert body["error"]["name"] == "node-lost" and body["error"]["category"] == "SYSTEM"
    assert body["execution"]["exe_num"] == 2
    assert body["execution"]["id"] == finished_job["executions"][1].id
    assert body["execution"]["error"]["name"] == "timeout"
    assert body["execution"]["job_exit_code"] == 137
    assert body["superseded_job"] is None and body["superseded_by_job"] is None
    assert body["input"] == {"files": {"INPUT_FILE": [f["id"] for f in finished_job["files"]]}, "json": {}}
    assert body["output"] == {"files": {}, "json": {}}
    assert body["input_files"] == {"INPUT_FILE": ["in-1.txt", "in-2.txt"]}
    assert body["max_tries"] == 3


def test_details_resources_follow_the_manifest_and_input_size(api, finished_job):
    job = finished_job["job"]
    resources = api.get(f"/v6/jobs/{job.id}/").json_body["resources"]["resources"]
    input_mib = 3072 / (1024 * 1024)
    assert resources["cpus"] == 1.0 and resources["mem"] == 256.0 and resources["gpus"] == 0.0
    assert resources["disk"] == pytest.approx(10.0 + 2.0 * input_mib)


def test_secret_settings_are_never_returned(api, finished_job):
    job = finished_job["job"]
    body = api.get(f"/v6/jobs/{job.id}/").json_body
    assert body["configuration"]["settings"] == {"MODE": "fast"}
    assert body["configuration"]["priority"] == 100
    assert b"s3cr3t" not in api.get(f"/v6/jobs/{job.id}/").body
    execution = api.get(f"/v6/jobs/{job.id}/executions/2/")
    assert execution.json_body["configuration"]["tasks"][0]["settings"] == {"MODE": "fast"}
    assert b"s3cr3t" not in execution.body


def test_executions_are_listed_newest_first_with_filters(api, finished_job):
    job = finished_job["job"]
    listed = api.get(f"/v6/jobs/{job.id}/executions/").json_body
    assert [row["exe_num"] for row in listed["results"]] == [2, 1]
    assert listed["count"] == 2 and listed["next"] is None
    row = listed["results"][0]
    assert set(row) >= {"id", "status", "exe_num", "cluster_id", "created", "queued", "started", "ended", "job",
                        "node", "error", "job_type", "timeout", "input_file_size", "job_exit_code"}
    assert row["job"] == {"id": job.id}
    only_timeout = api.get(f"/v6/jobs/{job.id}/executions/?error_category=ALGORITHM").json_body
    assert [r["exe_num"] for r in only_timeout["results"]] == [2]
    assert api.get(f"/v6/jobs/{job.id}/executions/?status=COMPLETED").json_body["count"] == 0
    assert api.get(f"/v6/jobs/{job.id}/executions/?node_id={finished_job['node'].id}").json_body["count"] == 2
    assert api.get(f"/v6/jobs/{job.id}/executions/?page_size=1&page=2").json_body["results"][0]["exe_num"] == 1
    assert api.get(f"/v6/jobs/{job.id}/executions/?status=DONE").status_code == 400
    assert api.get(f"/v6/jobs/{job.id}/executions/?node_id=x").status_code == 400


def test_execution_details(api, finished_job):
    job = finished_job["job"]
    body = api.get(f"/v6/jobs/{job.id}/executions/1/").json_body
    assert body["exe_num"] == 1 and body["status"] == "FAILED"
    assert body["resources"] == {"resources": {"cpus": 1.0, "mem": 256.0, "disk": 10.0}}
    assert body["task_results"] == {"tasks": [{"type": "main", "exit_code": None}]}
    assert body["output"] == {"output_data": []}


def test_a_job_with_no_executions_lists_an_empty_page(api):
    jt = sd.job_type("idle")
    (job,) = sd.store([sd.build_job(sd.new_ids(1)[0], jt, "QUEUED", clock.now())])
    assert api.get(f"/v6/jobs/{job.id}/executions/").json_body == {
        "count": 0, "next": None, "previous": None, "results": []}
    assert api.get("/v6/jobs/999999/executions/").status_code == 404  # as for a job of another project
    details = api.get(f"/v6/jobs/{job.id}/").json_body
    assert details["execution"] is None
    assert details["event"] is not None and details["configuration"]["priority"] == 100


def test_input_files_with_filters(api, finished_job):
    job = finished_job["job"]
    first, second = finished_job["files"]
    listed = api.get(f"/v6/jobs/{job.id}/input_files/").json_body
    assert [f["id"] for f in listed["results"]] == [first["id"], second["id"]]
    assert listed["results"][0]["workspace"]["name"] == "default"
    assert api.get(f"/v6/jobs/{job.id}/input_files/?file_name=in-2.txt").json_body["count"] == 1
    assert api.get(f"/v6/jobs/{job.id}/input_files/?job_input=INPUT_FILE").json_body["count"] == 2
    assert api.get(f"/v6/jobs/{job.id}/input_files/?job_input=OTHER").json_body["count"] == 0
    later = iso(clock.now() + timedelta(hours=1))
    assert api.get(f"/v6/jobs/{job.id}/input_files/?started={later}").json_body["count"] == 0
    assert api.get(f"/v6/jobs/{job.id}/input_files/?time_field=source&started=PT1H").json_body["count"] == 0
    assert api.get(f"/v6/jobs/{job.id}/input_files/?time_field=bogus").status_code == 400
    assert api.get(f"/v6/jobs/{job.id}/input_files/?page=2").status_code == 404


@pytest.mark.parametrize("path", ["/v6/jobs/424242/", "/v6/jobs/abc/", "/v6/jobs/424242/input_files/",
                                  "/v6/jobs/1.5/", "/v6/jobs/424242/executions/1/", "/v6/jobs/abc/executions/"])
def test_missing_or_non_integer_ids_are_404_json(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json_body == {"detail": "Not found."}


def test_missing_execution_of_an_existing_job_is_404(api, finished_job):
    assert api.get(f"/v6/jobs/{finished_job['job'].id}/executions/3/").status_code == 404
    assert api.get(f"/v6/jobs/{finished_job['job'].id}/executions/x/").status_code == 404


def test_wrong_method_is_405_json(api):
    response = api.client.http.request("PUT", "/v6/jobs/", headers={"Authorization": "Bearer admin-token"})
    assert response.status_code == 405
    assert "detail" in __import__("json").loads(response.body)
