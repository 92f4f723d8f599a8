"""GET /v1/jobs/history: every example query of the spec selects exactly the right jobs; paging,
ordering, visibility, locales, explain and DELETE."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from chalicelib.views.history import SORTABLE
from local import sample_data as sd
from local import seed_store

T0 = datetime(2019, 6, 12, 17, 40, tzinfo=timezone.utc)  # ends fall between 18:00Z and 19:00Z


def yade_manifest(name: str, title: str, sleeps: bool = True) -> dict:
    manifest = sd.manifest(name, title=title)
    manifest["job"]["interface"]["inputs"]["json"] = (
        [{"name": "Sleeps", "type": "integer", "required": False}] if sleeps else []
    ) + [{"name": "LEVEL", "type": "integer", "required": False}]
    return manifest


@pytest.fixture(scope="module")
def world(api_module):
    yade = sd.register_job_type({"docker_image": "yade:1", "manifest": yade_manifest("yade", "Yade")},
                                sd.ADMIN, "default").job_type
    progress = sd.register_job_type({"docker_image": "tp:1", "manifest": yade_manifest("teste-progresso",
                                                                                       "Teste_Progresso", False)},
                                    sd.ADMIN, "default").job_type
    node = seed_store.create_node("40100", T0)
    other_node = seed_store.create_node("40200", T0)
    batch = seed_store.create_batch("b", None, T0)
    specs = [
        # (type, status, owner, project, description, priority, node, sleeps, created, batch)
        (yade, "COMPLETED", "admin", "admin/testeYade", "Teste Yade com batch", 1, node, 3, T0, batch),
        (yade, "CANCELED", "admin", "admin/testeYade", "test yade pela web", 5, node, 1, T0 + timedelta(minutes=1),
         None),
        (yade, "FAILED", "adm2", "admin/testeYade", "run MS2", 1, other_node, 5, T0 + timedelta(minutes=2), None),
        (progress, "COMPLETED", "bob", "science", "progress MS2", 2, node, None, T0 + timedelta(minutes=3), None),
        (progress, "QUEUED", "bob", "science", "MS2 queued", 1, None, None, T0 + timedelta(minutes=4), None),
        (progress, "RUNNING", "admin", "science", "running", 9, node, None, T0 + timedelta(minutes=5), batch),
        (yade, "CANCELED", "carol", "other", "other project", 1, None, 3,
         datetime(2019, 6, 13, 0, 24, 25, 342000, tzinfo=timezone.utc), None),
    ]
    ids = list(sd.new_ids(len(specs)))
    built = []
    for job_id, (jt, status, owner, project, description, priority, n, sleeps, created, b) in zip(ids, specs):
        json_inputs = {"Sleeps": sleeps} if sleeps is not None else {}
        built.append(sd.build_job(job_id, jt, status, created + timedelta(minutes=30), node=n, owner=owner,
                                  project=project, description=description, priority=priority,
                                  created=created, json_inputs=json_inputs, batch=b,
                                  error="timeout" if status == "FAILED" else None))
    jobs = sd.store(built)
    return {"ids": ids, "jobs": jobs}


@pytest.fixture
def api(api_module, world):
    return api_module


def search(api, query: str, role: str = "admin", expect: int = 200) -> dict:
    response = api.as_role(role).get(f"/v1/jobs/history?{query}")
    assert response.status_code == expect, response.body
    return response.json_body


def ids(body) -> list[int]:
    return sorted(int(job["jobId"]) for job in body["jobs"])


def pick(world, *positions) -> list[int]:
    return sorted(world["ids"][p] for p in positions)


@pytest.mark.parametrize("q, positions", [
    ('description=="Teste Yade com batch"', [0]),
    ('jobOwner=="adm*"', [0, 1, 2, 5]),
    ("priority==1", [0, 2, 4, 6]),
    ('algorithmName=="Teste_Progresso"', [3, 4, 5]),
    ("algorithmName==Teste_Progresso", [3, 4, 5]),
    ('executionMachine==40100;jobOwner=="admin"', [0, 1, 5]),
    ('priority==1,jobOwner=="admin"', [0, 1, 2, 4, 5, 6]),
    ("(isDeleted==false);(description==*MS2)", [2, 3]),
    ("description==*MS2", [2, 3]),
    ('algorithmName=="Yade";exitStatus=="KILLED"', [1, 6]),
    ('paramLabel=="Sleeps"', [0, 1, 2, 6]),
    ("(paramLabel=='Sleeps');(paramValue=='3')", [0, 6]),
    ("(paramLabel=='Sleeps');(paramValue=in=('3','1'))", [0, 1, 6]),
    ("paramLabel=='LEVEL';paramValue=='3'", []),
    ("submissionTime=='2019/06/12 21:24:25.342-0300'", [6]),
    ("endTime=gt='2019/06/12 21:00+03';endTime=lt='2019/06/12 22:00+03'", [0, 2, 3]),
    ("endTime=gt='2019/06/12 21:10+03';endTime=lt='2019/06/12 22:00+03'", [2, 3]),
])
def test_every_example_query_of_the_spec(api, world, q, positions):
    body = search(api, f"q={quote(q)}&offset=0&limit=20&locale=pt_BR")
    assert ids(body) == pick(world, *positions)
    assert body["total"] == len(positions)


def test_sorted_by_submission_time_both_ways(api, world):
    ascending = search(api, "offset=0&limit=20&attr=submissionTime&asc=true&locale=pt_BR")
    assert [int(j["jobId"]) for j in ascending["jobs"]] == world["ids"]
    descending = search(api, "offset=0&limit=20&attr=submissionTime&asc=false&locale=pt_BR")
    assert [int(j["jobId"]) for j in descending["jobs"]] == world["ids"][::-1]


@pytest.mark.parametrize("attr", SORTABLE)
@pytest.mark.parametrize("asc", ["true", "false"])
def test_every_scalar_field_sorts_both_ways_with_a_stable_tie_break(api, world, attr, asc):
    jobs = search(api, f"attr={attr}&asc={asc}")["jobs"]
    assert len(jobs) == 7
    values = [j[attr] for j in jobs]
    key_values = [int(v) if attr in ("jobId", "groupId") else v for v in values if v is not None]
    assert key_values == sorted(key_values, reverse=asc == "false")
    nulls = [i for i, v in enumerate(values) if v is None]
    if nulls:
        assert nulls == (list(range(7 - len(nulls), 7)) if asc == "true" else list(range(len(nulls))))
    for a, b in zip(jobs, jobs[1:]):
        if a[attr] == b[attr]:
            assert int(a["jobId"]) < int(b["jobId"])


def test_offset_and_limit_page_without_overlap_or_gap(api, world):
    seen = []
    for offset in range(0, 7, 3):
        body = search(api, f"attr=priority&asc=true&offset={offset}&limit=3")
        assert body["offset"] == offset and body["limit"] == 3 and body["total"] == 7
        seen += [j["jobId"] for j in body["jobs"]]
    everything = [j["jobId"] for j in search(api, "attr=priority&asc=true")["jobs"]]
    assert seen == everything and len(set(seen)) == 7
    assert search(api, "offset=100")["jobs"] == []


def test_default_limit_is_1000_and_above_is_refused(api, world):
    assert search(api, "")["limit"] == 1000
    assert search(api, "limit=1000")["limit"] == 1000
    for bad in ("limit=1001", "limit=0", "limit=x", "offset=-1", "offset=a", "attr=nope", "asc=maybe",
                "showParam=yes"):
        body = search(api, bad, expect=400)
        assert body["field"] == bad.split("=")[0]


def test_history_shape(api, world):
    body = search(api, f"q=jobId=={world['ids'][0]}")
    (job,) = body["jobs"]
    assert job["jobId"] == str(world["ids"][0]) and job["groupId"] == str(world["jobs"][0].batch_id)
    assert job["projectId"] == "admin/testeYade" and job["jobOwner"] == "admin"
    assert job["exitStatus"] == "SUCCESS" and job["jobStatus"] == "FINISHED" and job["exitCode"] == 0
    assert job["multipleExecution"] is True and job["jobType"] == "ALGORITHM"
    assert job["executionMachine"] == "40100" and job["priority"] == 1
    assert job["submissionTime"] == "2019-06-12T17:40:00.000Z"
    assert [s["status"] for s in job["statusHistory"]] == [
        "SCHEDULED", "QUEUED", "INIT", "UPLOADING", "EXECUTING", "DOWNLOADING", "FINISHED"]
    (algorithm,) = job["algorithms"]
    assert algorithm["algorithmId"] == "yade" and algorithm["algorithmName"] == "Yade"
    sleeps = next(p for p in algorithm["parameters"] if p["label"] == "Sleeps")
    assert sleeps == {"id": 2, "parameterId": "Sleeps", "label": "Sleeps", "type": "INTEGER", "value": ["3"]}
    assert job["isDeleted"] is False
    queued = search(api, f"q=jobId=={world['ids'][4]}")["jobs"][0]
    assert queued["exitStatus"] == "UNKNOWN" and queued["jobStatus"] == "QUEUED" and queued["endTime"] is None
    running = search(api, f"q=jobId=={world['ids'][5]}")["jobs"][0]
    assert running["jobStatus"] == "EXECUTING" and running["jobType"] == "ALGORITHM"
    failed = search(api, f"q=jobId=={world['ids'][2]}")["jobs"][0]
    assert failed["exitStatus"] == "EXECUTION_ERROR"


def test_show_param_false_hides_parameters_but_they_stay_searchable(api, world):
    body = search(api, "q=paramValue==5&showParam=false")
    assert ids(body) == pick(world, 2)
    assert "parameters" not in body["jobs"][0]["algorithms"][0]


@pytest.mark.parametrize("q", ["projectId==other", "projectId=in=(other,science)", "jobId==1,projectId==other",
                               "projectId!=default", "(jobOwner==carol)", "projectId==*"])
def test_visibility_rule_cannot_be_escaped(api, world, q):
    # viewer-user belongs to projects "default" and "viewer-project" only: none of the world's jobs
    body = search(api, f"q={quote(q)}", role="viewer")
    assert body["jobs"] == [] and body["total"] == 0


def test_admin_sees_every_project(api, world):
    assert search(api, "q=" + quote("projectId==other"))["total"] == 1


def test_bad_rsql_is_400_with_position_in_the_chosen_locale(api, world):
    english = search(api, "q=" + quote("priority==1;(jobOwner==x"), expect=400)
    portuguese = search(api, "q=" + quote("priority==1;(jobOwner==x") + "&locale=pt_BR", expect=400)
    assert english["position"] == portuguese["position"] and english["field"] == "q"
    assert english["detail"] != portuguese["detail"]
    for q in ("nope==1", "priority==abc", "exitStatus==killed", "submissionTime=='2019/06/12'",
              "submissionTime=='2020/02/30-0300'", "description==a*b", "priority=gt=", "(" * 40 + "a==1" + ")" * 40):
        body = search(api, "q=" + quote(q), expect=400)
        assert body["detail"]


def test_explain_names_the_index(api, world):
    by_owner = search(api, "explain=true&q=" + quote('executionMachine==40100;jobOwner=="admin"'))["plan"]
    assert by_owner["index"] == "by-owner" and by_owner["served_by_index"] == ["jobOwner"]
    assert by_owner["items_read"] == 3 and by_owner["matches"] == 3
    by_type = search(api, "explain=true&q=" + quote('algorithmName=="Yade";exitStatus=="KILLED"'))["plan"]
    assert by_type["index"] == "by-type-status" and by_type["matches"] == 2
    scan = search(api, "explain=true&q=" + quote("description==*MS2"))["plan"]
    assert scan["index"] == "table (parallel Scan)" and scan["items_read"] == 7
    viewer = search(api, "explain=true&q=priority==1", role="viewer")["plan"]
    assert viewer["index"] == "by-project" and viewer["items_read"] is None  # not told: other projects


def test_a_last_modified_range_reads_the_by_modified_index(api, world):
    # Given the world's jobs, all last modified after 2000
    # When the history is searched by lastModifiedTime alone
    plan = search(api, "explain=true&q=" + quote('lastModifiedTime=ge="2000/01/01 00:00-00"'))["plan"]
    # Then the by-modified index serves it with a key range (not a job type scan plus a query per type)
    assert plan["index"] == "by-modified" and plan["served_by_index"] == ["lastModifiedTime"]
    assert plan["key_condition"].startswith("modified_key >= 2000-01-01T00:00:00.000Z#")
    assert plan["round_trips"] == 1 and plan["items_read"] == plan["candidates"] == plan["matches"] == 7


def test_delete_marks_the_job_deleted_for_the_history_only(api, world):
    job_id = world["ids"][3]
    assert api.as_role("viewer").delete(f"/v1/jobs/history/{job_id}").status_code == 403
    response = api.delete(f"/v1/jobs/history/{job_id}")
    assert response.status_code == 204
    assert ids(search(api, "q=isDeleted==true")) == [job_id]
    assert api.get(f"/v6/jobs/{job_id}/").status_code == 200
    assert api.delete("/v1/jobs/history/999999").status_code == 404
    assert api.delete("/v1/jobs/history/abc").status_code == 404
    assert api.as_role("submitter").delete(f"/v1/jobs/history/{job_id}").status_code == 404  # not its project


def test_a_member_sees_exactly_its_projects_jobs(api, world):
    from chalicelib.auth import Principal
    from chalicelib.params import QueryParams
    from chalicelib.services.search_history import parse_query
    from chalicelib.services.search_history import search as run
    member = Principal("someone", "viewer", ("science", "other"))
    body = run(parse_query(QueryParams({"q": ["priority==1,priority==9"]})), member)
    assert ids(body) == pick(world, 4, 5, 6)
    everything = run(parse_query(QueryParams({})), member)
    assert ids(everything) == pick(world, 3, 4, 5, 6)
