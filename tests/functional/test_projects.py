"""Projects isolate every route: a caller sees, lists, counts, cancels, requeues and reads the executions,
logs and input files of its own projects' jobs only (an admin: all); another project's job is a 404, never a
403; bulk filters, dry runs, counts and `explain` figures only ever cover visible jobs; submitting needs a
project.

Every role's token holds the projects `default` and `<role>-project` (tests/conftest.py)."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from chalicelib import clock
from chalicelib.auth import write_tokens_file
from chalicelib.domain import ExecutionRecord
from chalicelib.models import files as file_store
from chalicelib.models.executions import insert_execution
from local import sample_data as sd
from tests.conftest import TOKENS, _write_tokens


@pytest.fixture
def two_projects(api):
    """A job in `default` (every role's project) and one in `admin-project` (the admin's alone)."""
    job_type = sd.job_type("isolated", configuration={"output_workspaces": {"default": "default"}})
    (source,) = file_store.save_files([{"workspace_id": 1, "workspace_name": "default", "file_name": "in.txt",
                                        "file_path": "in/in.txt", "file_size": 1, "project": "default"}],
                                      clock.now())
    body = {"job_type_id": job_type.id, "input": {"files": {"INPUT_FILE": [source.id]}}}
    shared = api.post("/v6/jobs/", body, headers={"X-Jobs-Project": "default"})
    hidden = api.post("/v6/jobs/", body, headers={"X-Jobs-Project": "admin-project"})
    assert shared.status_code == hidden.status_code == 201
    hidden_id = hidden.json_body["id"]
    now = datetime.now(timezone.utc)
    execution = insert_execution(ExecutionRecord(
        job_id=hidden_id, exe_num=1, id=90_001, status="RUNNING", cluster_id="c-hidden", job_type_id=job_type.id,
        created=now, last_modified=now))
    return {"shared": shared.json_body["id"], "hidden": hidden_id, "execution": execution.id, "type": job_type}


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_another_projects_job_does_not_exist_for_the_caller(api, two_projects, role):
    caller, hidden = api.as_role(role), two_projects["hidden"]
    # Then every read of it is a 404, as for an id nobody has
    for path in (f"/v6/jobs/{hidden}/", f"/v6/jobs/{hidden}/executions/", f"/v6/jobs/{hidden}/executions/1/",
                 f"/v6/jobs/{hidden}/input_files/",
                 f"/v6/job-executions/{two_projects['execution']}/logs/combined/"):
        assert caller.get(path).status_code == 404, path
    # While its own project's job reads as usual, and the admin reads both
    assert caller.get(f"/v6/jobs/{two_projects['shared']}/").status_code == 200
    assert api.get(f"/v6/jobs/{hidden}/").status_code == 200
    assert api.get(f"/v6/jobs/{hidden}/executions/").json_body["count"] == 1


def test_lists_and_counts_cover_visible_jobs_only(api, two_projects):
    viewer = api.as_role("viewer")
    for query in ("", "?status=QUEUED", f"?job_type_id={two_projects['type'].id}", "?order=-last_modified",
                  "?order=status", f"?job_id={two_projects['hidden']}&job_id={two_projects['shared']}"):
        body = viewer.get(f"/v6/jobs/{query}").json_body
        assert [row["id"] for row in body["results"]] == [two_projects["shared"]] and body["count"] == 1, query
    assert api.get("/v6/jobs/").json_body["count"] == 2
    queued = viewer.get("/v6/queue/status/").json_body["results"]
    assert [row["count"] for row in queued] == [1]
    assert [row["count"] for row in api.get("/v6/queue/status/").json_body["results"]] == [2]
    per_type = viewer.get("/v6/job-types/status/").json_body["results"]
    assert sum(c["count"] for row in per_type for c in row["job_counts"]) == 1


def test_a_bulk_cancel_counts_and_changes_visible_jobs_only(api, two_projects):
    operator = api.as_role("operator")
    ids = [two_projects["shared"], two_projects["hidden"]]
    dry = operator.post("/v6/jobs/cancel/", {"job_ids": ids, "dry_run": True}).json_body
    assert dry["count"] == 1 and dry["job_ids"] == [two_projects["shared"]]
    everything = operator.post("/v6/jobs/cancel/", {"all": True, "dry_run": True}).json_body
    assert everything["count"] == 1
    response = operator.post("/v6/jobs/cancel/", {"job_ids": ids})
    assert response.status_code == 202
    operation = operator.get(response.headers["Location"].replace("http://testserver", "")).json_body
    assert operation["state"] == "SUCCEEDED" and (operation["matched"], operation["changed"]) == (1, 1)
    assert api.get(f"/v6/jobs/{two_projects['hidden']}/").json_body["status"] == "QUEUED"
    assert api.get(f"/v6/jobs/{two_projects['shared']}/").json_body["status"] == "CANCELED"


def test_bulk_operations_of_other_projects_are_not_listed(api, two_projects):
    admins = api.post("/v6/jobs/cancel/", {"job_ids": [two_projects["hidden"]]},
                      headers={"X-Jobs-Project": "admin-project"})
    operation_id = admins.json_body["id"]
    operator = api.as_role("operator")
    assert operator.get(f"/v6/jobs/bulk-operations/{operation_id}/").status_code == 404
    assert operation_id not in [row["id"] for row in operator.get("/v6/jobs/bulk-operations/").json_body["results"]]
    assert api.get(f"/v6/jobs/bulk-operations/{operation_id}/").status_code == 200


def test_explain_shows_no_figures_of_jobs_the_caller_cannot_see(api, two_projects):
    plan = api.as_role("viewer").get("/v1/jobs/history?explain=true&q=jobOwner==admin-user").json_body["plan"]
    assert plan["matches"] == 1
    assert plan["items_read"] is None and plan["candidates"] is None and plan["round_trips"] is None
    admin_plan = api.get("/v1/jobs/history?explain=true&q=jobOwner==admin-user").json_body["plan"]
    assert admin_plan["matches"] == 2 and admin_plan["candidates"] == 2


def test_files_of_other_projects_are_not_listed_or_shown(api, two_projects):
    # Given a file the admin uploaded under its own project
    hidden = api.post("/v6/files/", {"workspace": "default", "file_name": "secret.txt", "content_base64": "c2VjcmV0"},
                      headers={"X-Jobs-Project": "admin-project"}).json_body["id"]
    viewer = api.as_role("viewer")
    # Then another project's caller neither lists nor reads it, while the admin does
    assert hidden not in [row["id"] for row in viewer.get("/v6/files/?page_size=1000").json_body["results"]]
    assert viewer.get(f"/v6/files/{hidden}/").status_code == 404
    assert api.get(f"/v6/files/{hidden}/").status_code == 200
    assert hidden in [row["id"] for row in api.get("/v6/files/?page_size=1000").json_body["results"]]


def test_submitting_needs_a_project(api, two_projects):
    write_tokens_file(os.environ["JOBS_TOKENS_FILE"], [
        {"token": "lonely-token", "name": "lonely", "role": "submitter", "projects": []},
        {"token": TOKENS["admin"], "name": "admin-user", "role": "admin", "projects": ["default"]}])
    try:
        response = api.client.http.post("/v6/jobs/", body='{"job_type_id": 1, "input": {}}', headers={
            "Authorization": "Bearer lonely-token", "Content-Type": "application/json", "Host": "testserver"})
        assert response.status_code == 403 and b"project" in response.body
    finally:
        _write_tokens()
