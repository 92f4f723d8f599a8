"""What the original web console needs: CORS on every response, the shell's endpoints, anonymous reads,
and its request sequences replayed as it sends them."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib import clock, wiring
from chalicelib.config import reset_settings
from chalicelib.models import executions, nodes
from chalicelib.services.dispatch import fill_slots
from chalicelib.timeutil import iso
from local import sample_data as sd
from local import seed_store

ORIGIN = {"Origin": "http://console.example"}


def test_every_kind_of_response_carries_cors_headers(api):
    responses = {
        "200": api.get("/v6/jobs/", headers=ORIGIN),
        "401": api.as_role(None).get("/v6/jobs/", headers=ORIGIN),
        "404": api.get("/v6/jobs/999/", headers=ORIGIN),
        "400": api.get("/v6/jobs/?status=NOPE", headers=ORIGIN),
        "204": api.get("/v6/status/", headers=ORIGIN),
        "403": api.as_role("viewer").post("/v6/job-types/", {}, headers=ORIGIN),
        "405": api.client.http.request("PUT", "/v6/jobs/", headers={"Authorization": "Bearer admin-token",
                                                                    **ORIGIN}),
    }
    for expected, response in responses.items():
        assert str(response.status_code) == expected, (expected, response.body)
        assert response.headers["Access-Control-Allow-Origin"] == "*", expected
        assert "Location" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("path, method", [("/v6/jobs/", "POST"), ("/v6/scheduler/", "PATCH"),
                                          ("/v6/job-types/", "POST"), ("/v6/files/", "POST")])
def test_preflights_allow_the_method_and_content_type(api, path, method):
    # The test client cannot carry a preflight's empty body; the local gateway (what `make run` and
    # API Gateway answer with) is asked directly.
    from chalice.config import Config
    from chalice.local import LocalGateway

    from app import app
    response = LocalGateway(app, Config(chalice_stage="local")).handle_request(
        method="OPTIONS", path=path, body=b"",
        headers={**ORIGIN, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"})
    assert response["statusCode"] == 200
    assert method in response["headers"]["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["headers"]["Access-Control-Allow-Headers"]
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"


def test_configured_origins_are_echoed_and_others_get_none(api, monkeypatch):
    monkeypatch.setenv("JOBS_CORS_ORIGINS", "http://console.example,http://other.example")
    reset_settings()
    try:
        allowed = api.get("/v6/version/", headers=ORIGIN)
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://console.example"
        assert allowed.headers["Vary"] == "Origin"
        foreign = api.get("/v6/version/", headers={"Origin": "http://evil.example"})
        assert "Access-Control-Allow-Origin" not in foreign.headers
    finally:
        monkeypatch.delenv("JOBS_CORS_ORIGINS")
        reset_settings()


def test_shell_endpoints(api):
    assert "version" in api.get("/v6/version/").json_body
    assert api.get("/v6/scheduler/").json_body == {"is_paused": False, "num_message_handlers": 1,
                                                  "system_logging_level": "INFO"}
    assert api.get("/v6/status/").status_code == 204  # no node has registered yet


def test_pausing_the_scheduler_stops_dispatch_and_persists(api):
    class OneSlot:
        def free_slots(self):
            return 1

        def launch(self, spec):
            self.launched = spec

    node = nodes.register("w", {"cpus": 4.0, "mem": 4096.0, "disk": 1e5, "gpus": 0.0}, 1, clock.now())
    runner = OneSlot()
    wiring.set_runtime(wiring.Runtime(runner, node.id, "w", node.resources))
    try:
        jt = sd.job_type("pausable")
        (job,) = sd.store([sd.build_job(sd.new_ids(1)[0], jt, "QUEUED", clock.now())])
        paused = api.as_role("operator").patch("/v6/scheduler/", {"is_paused": True})
        assert paused.status_code == 200 and paused.json_body["is_paused"] is True
        assert api.get("/v6/scheduler/").json_body["is_paused"] is True
        assert fill_slots() == []
        api.as_role("operator").patch("/v6/scheduler/", {"is_paused": False})
        assert fill_slots() == [job.id]
    finally:
        wiring.set_runtime(None)
    assert api.as_role("viewer").patch("/v6/scheduler/", {"is_paused": True}).status_code == 403
    bad = api.as_role("operator").patch("/v6/scheduler/", {"is_paused": "yes"})
    assert bad.status_code == 400 and "is_paused" in bad.json_body["detail"]


def test_status_reports_node_resources_and_running_work(api):
    # Given an active node running two jobs, and an offline node
    now = clock.now()
    node = nodes.register("big", {"cpus": 8.0, "mem": 16384.0, "disk": 100000.0, "gpus": 1.0}, 4, now)
    nodes.register("gone", {"cpus": 2.0, "mem": 1024.0, "disk": 10.0, "gpus": 0.0}, 1, now)
    nodes.mark_stale_offline(now + timedelta(seconds=1), now)  # both stale ...
    nodes.heartbeat(node.id, now)                               # ... but "big" heartbeats again
    jt = sd.job_type("busy")
    sd.store([sd.build_job(i, jt, "RUNNING", now, node=node) for i in sd.new_ids(2)])
    # When the shell polls the status
    status = api.get("/v6/status/").json_body
    # Then totals are over every node, the offline node's share is unavailable and free is the active rest
    assert status["resources"]["cpus"] == {"offered": 0.0, "total": 10.0, "running": 2.0, "free": 6.0,
                                           "unavailable": 2.0}
    assert status["resources"]["mem"]["running"] == 512.0
    # (the console's bar: running / (total - unavailable) = the share of the active capacity in use)
    cpus = status["resources"]["cpus"]
    assert cpus["running"] / (cpus["total"] - cpus["unavailable"]) == 0.25
    assert {n["hostname"]: (n["is_active"], n["state"]["name"]) for n in status["nodes"]} == {
        "big": (True, "READY"), "gone": (False, "OFFLINE")}
    assert [jt_row["name"] for jt_row in status["job_types"]] == ["busy"]
    big = next(n for n in status["nodes"] if n["hostname"] == "big")
    assert big["job_executions"]["running"] == {"total": 2, "by_job_type": [{"job_type_id": jt.id, "count": 2}]}


def test_job_type_status_counts_jobs_in_the_window(api):
    now = clock.now()
    jt, other = sd.job_type("counted"), sd.job_type("other")
    sd.store([sd.build_job(i, jt, status, now) for i, status in zip(sd.new_ids(3), ("FAILED", "FAILED", "QUEUED"))]
             + [sd.build_job(sd.new_ids(1)[0], other, "COMPLETED", now - timedelta(hours=5))])
    rows = api.get("/v6/job-types/status/").json_body["results"]
    assert [r["job_type"]["name"] for r in rows] == ["counted"]
    assert {c["status"]: c["count"] for c in rows[0]["job_counts"]} == {"FAILED": 2, "QUEUED": 1}
    wider = api.get("/v6/job-types/status/?started=PT6H").json_body["results"]
    assert [r["job_type"]["name"] for r in wider] == ["counted", "other"]
    assert api.get("/v6/job-types/status/?started=nope").status_code == 400


def test_anonymous_reads_only_when_switched_on(api, monkeypatch):
    anonymous = api.as_role(None)
    assert anonymous.get("/v6/jobs/").status_code == 401
    monkeypatch.setenv("JOBS_ANONYMOUS_READS", "true")
    reset_settings()
    try:
        assert anonymous.get("/v6/jobs/").status_code == 200
        assert anonymous.post("/v6/workspaces/", {"name": "x"}).status_code == 401
        assert anonymous.get("/v6/jobs/", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        monkeypatch.delenv("JOBS_ANONYMOUS_READS")
        reset_settings()


def test_the_consoles_request_sequences(api):
    """Shell polling, the jobs list with its default window, a job's details with its parallel calls."""
    now = clock.now()
    jt = sd.job_type("console-algo")
    node = seed_store.create_node("n1", now)
    (job,) = sd.store([sd.build_job(sd.new_ids(1)[0], jt, "FAILED", now, node=node, error="timeout")])
    sd.execution(job, 1, "FAILED", now, node=node, error="timeout", exit_code=1)
    for path in ("/v6/version/", "/v6/scheduler/", "/v6/status/",
                 "/v6/job-types/?page=1&page_size=1000&is_active=true", "/v6/job-types/status/?started=PT3H&"):
        assert api.get(path, headers=ORIGIN).status_code in (200, 204), path
    listed = api.get("/v6/jobs/?page=1&page_size=25&started=PT24H&ended=PT0S&order=-last_modified"
                     "&job_type_version=&include_superseded=false&sortField=last_modified&sortOrder=-1&")
    assert [row["id"] for row in listed.json_body["results"]] == [job.id]
    for key in ("job_type", "recipe", "node", "duration", "error.category", "error.title"):
        assert api.get(f"/v6/jobs/?order=-{key}").status_code == 200, key
    details = api.get(f"/v6/jobs/{job.id}/").json_body
    assert details["event"] is not None and details["configuration"]["priority"] == 100
    executions = api.get(f"/v6/jobs/{job.id}/executions/").json_body["results"]
    assert executions[0]["job_exit_code"] == 1
    assert api.get(f"/v6/jobs/{job.id}/input_files/").status_code == 200
    assert api.get(f"/v6/files/?job_id={job.id}").json_body["count"] == 0


def test_job_types_without_an_icon_show_the_consoles_default_icon(api):
    # Given a job type registered without an icon code, and one with its own
    sd.job_type("plain")
    sd.job_type("iconic", icon_code="f013")
    # When the console lists job types
    rows = api.get("/v6/job-types/?page=1&page_size=1000&is_active=true").json_body["results"]
    # Then none shows a null icon code ("&#xnull;" over the name): the default is the console's own fallback
    assert {row["name"]: row["icon_code"] for row in rows} == {"plain": "f1b2", "iconic": "f013"}


def test_job_details_carry_the_timeout_and_executions_their_last_change(api):
    # Given a failed job whose execution was last changed two hours ago
    now = clock.now()
    jt = sd.job_type("timed")
    node = seed_store.create_node("n-timed", now)
    (job,) = sd.store([sd.build_job(sd.new_ids(1)[0], jt, "FAILED", now, node=node, error="timeout")])
    sd.execution(job, 1, "FAILED", now - timedelta(hours=2), node=node, error="timeout", exit_code=1)
    # When the console reads the job and its executions
    details = api.get(f"/v6/jobs/{job.id}/").json_body
    listed = api.get(f"/v6/jobs/{job.id}/executions/").json_body["results"]
    # Then the overview has the manifest's timeout (seconds) and the execution says when it last changed
    assert details["timeout"] == 60
    stored = executions.get_execution(job.id, 1)
    assert details["execution"]["last_modified"] == iso(stored.last_modified)
    assert listed[0]["last_modified"] == iso(stored.last_modified)
    assert stored.last_modified < now - timedelta(minutes=90)


def test_running_jobs_page_counts_running_jobs_per_job_type(api):
    # Given two job types with running jobs started at different times, and jobs in other statuses
    now = clock.now()
    busy, idle = sd.job_type("busy-type"), sd.job_type("idle-type")
    node = seed_store.create_node("n-run", now)
    first, second, third = sd.new_ids(3)
    rows = [sd.build_job(first, busy, "RUNNING", now, node=node), sd.build_job(second, busy, "RUNNING", now, node=node),
            sd.build_job(third, idle, "RUNNING", now, node=node)]
    rows[0][0].started = now - timedelta(hours=2)
    sd.store(rows + [sd.build_job(i, idle, "QUEUED", now) for i in sd.new_ids(2)])
    # When the Running Jobs page asks, as it does (page from its table, page_size possibly "null")
    response = api.get("/v6/job-types/running/?page=1&page_size=null", headers=ORIGIN)
    # Then it is a page of job types (not the versions of a job type named "running"), most jobs first
    assert response.status_code == 200, response.body
    body = response.json_body
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    assert [(r["job_type"]["name"], r["count"]) for r in body["results"]] == [("busy-type", 2), ("idle-type", 1)]
    assert body["results"][0]["longest_running"] == iso(rows[0][0].started)
    assert body["results"][0]["job_type"]["icon_code"] == "f1b2"
    # And it pages like every list
    paged = api.get("/v6/job-types/running/?page=2&page_size=1").json_body
    assert paged["count"] == 2 and [r["job_type"]["name"] for r in paged["results"]] == ["idle-type"]
    assert api.get("/v6/job-types/running/?page=3&page_size=1").status_code == 404


def test_queued_jobs_page_shows_count_longest_queued_and_highest_priority(api):
    # Given queued jobs of two job types with different priorities and queue times
    now = clock.now()
    urgent, routine = sd.job_type("urgent-type"), sd.job_type("routine-type")
    ids = sd.new_ids(4)
    old = sd.build_job(ids[0], routine, "QUEUED", now, created=now - timedelta(hours=3), priority=200)
    sd.store([old, sd.build_job(ids[1], routine, "QUEUED", now, priority=50),
              sd.build_job(ids[2], urgent, "QUEUED", now, priority=5),
              sd.build_job(ids[3], urgent, "RUNNING", now, priority=1)])
    # When the Queued Jobs page asks
    response = api.get("/v6/queue/status/", headers=ORIGIN)
    # Then each job type with queued jobs shows its count, longest queued and highest priority, in dispatch order
    assert response.status_code == 200, response.body
    rows = response.json_body["results"]
    assert [(r["job_type"]["name"], r["count"], r["highest_priority"]) for r in rows] == [
        ("urgent-type", 1, 5), ("routine-type", 2, 50)]
    assert rows[1]["longest_queued"] == iso(old[0].queued)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_queue_and_running_summaries_read_only_that_status_index_entries(api):
    # Given 3 queued jobs among 5 others
    from chalicelib.models import jobs as job_store
    now = clock.now()
    jt = sd.job_type("metered")
    statuses = ["QUEUED"] * 3 + ["COMPLETED"] * 3 + ["FAILED"] * 2
    sd.store([sd.build_job(i, jt, status, now) for i, status in zip(sd.new_ids(len(statuses)), statuses)])
    # When the queue is summarized
    meter = job_store.ReadMeter()
    (group,) = job_store.summarize_status("QUEUED", meter)
    # Then one round trip read the 3 queued jobs' index entries, nothing else
    assert group.count == 3 and (meter.round_trips, meter.items_read) == (1, 3)


def test_status_has_every_field_the_consoles_shell_nodes_and_system_pages_read(api):
    # Given an active node where jobs completed and failed (one of each category) in the last hours, an
    # offline node, and a job that failed on the node long ago
    now = clock.now()
    node = seed_store.create_node("worker-1", now)
    nodes.register("worker-2", {"cpus": 1.0, "mem": 512.0, "disk": 10.0, "gpus": 0.0}, 1, now - timedelta(hours=1))
    nodes.mark_stale_offline(now - timedelta(minutes=30), now)
    nodes.heartbeat(node.id, now)
    jt = sd.job_type("finisher")
    ids = sd.new_ids(6)
    sd.store([sd.build_job(ids[0], jt, "COMPLETED", now, node=node),
              sd.build_job(ids[1], jt, "COMPLETED", now, node=node),
              sd.build_job(ids[2], jt, "FAILED", now, node=node, error="timeout"),
              sd.build_job(ids[3], jt, "FAILED", now, node=node, error="node-lost"),
              sd.build_job(ids[4], jt, "RUNNING", now, node=node),
              sd.build_job(ids[5], jt, "FAILED", now - timedelta(hours=5), node=node, error="timeout")])
    # When the shell polls the status, as it does every 30 s
    response = api.get("/v6/status/", headers=ORIGIN)
    # Then every node has the fields the console reads (a missing one was the red toast every 30 s)
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    status = response.json_body
    for row in status["nodes"]:
        assert isinstance(row["errors"], list) and isinstance(row["warnings"], list), row
        assert {"name", "title", "description"} <= set(row["state"])
        for kind in ("running", "completed"):
            assert {"total", "by_job_type"} <= set(row["job_executions"][kind])
        for kind in ("system", "algorithm", "data"):
            assert {"total", "by_job_type"} <= set(row["job_executions"]["failed"][kind])
        for name in ("cpus", "mem", "disk", "gpus"):
            assert set(row["resources"][name]) == {"offered", "total", "running", "free", "unavailable"}
    worker = next(n for n in status["nodes"] if n["hostname"] == "worker-1")
    executions_there = worker["job_executions"]
    assert executions_there["completed"]["total"] == 2 and executions_there["running"]["total"] == 1
    failed = executions_there["failed"]
    assert failed["total"] == 2  # the one five hours ago is outside the window
    # (timeout is an ALGORITHM error, node-lost a SYSTEM one)
    assert (failed["system"]["total"], failed["algorithm"]["total"], failed["data"]["total"]) == (1, 1, 0)
    assert failed["system"]["by_job_type"] == [{"job_type_id": jt.id, "count": 1}]
    offline = next(n for n in status["nodes"] if n["hostname"] == "worker-2")
    assert offline["state"]["name"] == "OFFLINE" and offline["errors"][0]["title"] == "Node offline"
    # And the status names the job types the nodes' counts refer to, the scheduler's state and the dependencies
    assert {row["id"] for row in status["job_types"]} == {jt.id}
    assert status["scheduler"]["state"]["name"] == "READY"
    for dependency in status["dependencies"].values():
        assert {"OK", "detail", "errors", "warnings"} <= set(dependency) and "msg" in dependency["detail"]
    assert status["dependencies"]["nodes"]["OK"] is False
    assert "worker-2" in status["dependencies"]["nodes"]["errors"][0]["NODES_OFFLINE"]


@pytest.mark.parametrize("method, path", [("GET", "/v6/nodes/"), ("GET", "/v6/recipes/3/"), ("POST", "/v6/batches/"),
                                          ("GET", "/v7/jobs/"), ("DELETE", "/v6/jobs/1/executions/1/x/y/z/")])
def test_unknown_routes_answer_a_json_404_with_cors(api, method, path):
    # Given a route the service does not have (the console calls some), with or without credentials
    for headers in ({"Authorization": "Bearer admin-token"}, {}):
        # When it is called
        response = api.client.http.request(method, path, headers={**headers, **ORIGIN},
                                           body=b"{}" if method == "POST" else b"")
        # Then it is a JSON 404 the browser may read, not the gateway's 403 about signatures
        assert response.status_code == 404, response.body
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.body)["detail"] == f"No such endpoint: {method} {path}"
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_known_routes_are_still_matched_before_the_catch_all(api):
    # Given a job type named like a job type, and the literal routes beside /v6/job-types/{name}/
    sd.job_type("running-man")
    # Then each answers as itself
    assert api.get("/v6/job-types/running-man/").json_body["results"][0]["name"] == "running-man"
    assert api.get("/v6/job-types/running/").json_body["count"] == 0
    assert api.get("/v6/jobs/999/").json_body == {"detail": "Not found."}
    assert api.get("/openapi.json").status_code == 200
