"""`/v6/workspaces/` and `/v6/files/`: create workspaces (host folder or S3 bucket), upload or register
files in them, and read both back. The `aws` fixture yields the `default` workspace's folder."""
from __future__ import annotations

import base64
from pathlib import Path

import boto3
import pytest

from chalicelib.models.tables import File, Workspace
from tests.functional.assertions import assert_error

BUCKET = "jobs-test-bucket"



# --- helpers ------------------------------------------------------------------------------------------

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def upload(api, data: bytes = b"hello world\n", **fields):
    body = {"workspace": "default", "file_name": "a.txt", "media_type": "text/plain", "content_base64": b64(data)}
    body.update(fields)
    return api.post("/v6/files/", body)


def host_workspace(name: str, folder: Path) -> dict:
    return {"name": name, "title": f"{name} title", "description": "for tests",
            "configuration": {"broker": {"type": "host", "host_path": str(folder)}}}


def s3_workspace(name: str = "bucket-ws") -> dict:
    return {"name": name, "configuration": {"broker": {"type": "s3", "bucket_name": BUCKET}}}




def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def bucket(aws):
    """An S3 bucket in the `aws` fixture's moto account."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


# --- POST /v6/workspaces/ -----------------------------------------------------------------------------

def test_create_a_host_workspace(api, tmp_path):
    folder = tmp_path / "ws-one"
    folder.mkdir()

    response = api.as_role("operator").post("/v6/workspaces/", host_workspace("ws-one", folder))

    assert response.status_code == 201, response.body
    body = response.json_body
    assert response.headers["Location"] == f"http://testserver/v6/workspaces/{body['id']}/"
    assert body["name"] == "ws-one"
    assert body["title"] == "ws-one title"
    assert body["description"] == "for tests"
    assert body["is_active"] is True
    assert body["configuration"] == {"broker": {"type": "host", "host_path": str(folder)}}
    assert body["created"].endswith("Z") and body["deprecated"] is None
    assert api.get(f"/v6/workspaces/{body['id']}/").json_body == body


def test_create_an_s3_workspace(api, bucket):
    response = api.post("/v6/workspaces/", s3_workspace())

    assert response.status_code == 201, response.body
    assert response.json_body["configuration"] == {"broker": {"type": "s3", "bucket_name": BUCKET}}


def test_workspaces_list_and_details(api, aws, tmp_path):
    # Given a second workspace beside the fixture's `default`
    created = api.post("/v6/workspaces", host_workspace("second", tmp_path)).json_body

    # When listed
    body = api.get("/v6/workspaces/").json_body

    # Then both are there in id order, in the paging envelope
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 2
    assert [w["name"] for w in body["results"]] == ["default", "second"]
    default = body["results"][0]
    assert default["configuration"] == {"broker": {"type": "host", "host_path": str(aws)}}
    assert body["results"][1] == created
    for path in (f"/v6/workspaces/{default['id']}/", f"/v6/workspaces/{default['id']}"):
        response = api.get(path)
        assert response.status_code == 200, response.body
        assert response.json_body == default


def test_duplicate_workspace_is_409(api, tmp_path):
    assert api.post("/v6/workspaces/", host_workspace("twice", tmp_path)).status_code == 201

    response = api.post("/v6/workspaces/", host_workspace("twice", tmp_path / "other"))

    assert_error(response, 409, "twice")
    assert api.get("/v6/workspaces/").json_body["count"] == 2
    assert Workspace.get("twice").configuration["broker"]["host_path"] == str(tmp_path)


def test_default_workspace_cannot_be_recreated(api, tmp_path):
    response = api.post("/v6/workspaces/", host_workspace("default", tmp_path))

    assert_error(response, 409, "default")


@pytest.mark.parametrize("body, field", [
    ({"name": "Bad Name", "configuration": {"broker": {"type": "host", "host_path": "/data"}}}, '"name"'),
    ({"name": "x" * 51, "configuration": {"broker": {"type": "host", "host_path": "/data"}}}, '"name"'),
    ({"name": 5, "configuration": {"broker": {"type": "host", "host_path": "/data"}}}, '"name"'),
    ({"configuration": {"broker": {"type": "host", "host_path": "/data"}}}, '"name"'),
    ({"name": "ok"}, '"configuration"'),
    ({"name": "ok", "configuration": {}}, '"configuration"'),
    ({"name": "ok", "configuration": {"broker": {"type": "ftp"}}}, "configuration.broker.type"),
    ({"name": "ok", "configuration": {"broker": {"host_path": "/data"}}}, "configuration.broker.type"),
    ({"name": "ok", "configuration": {"broker": {"type": "host", "host_path": "relative/dir"}}},
     "configuration.broker.host_path"),
    ({"name": "ok", "configuration": {"broker": {"type": "host"}}}, "configuration.broker.host_path"),
    ({"name": "ok", "configuration": {"broker": {"type": "s3"}}}, "configuration.broker.bucket_name"),
    ({"name": "ok", "colour": "red", "configuration": {"broker": {"type": "host", "host_path": "/data"}}},
     "colour"),
    ({"name": "ok", "is_active": "yes", "configuration": {"broker": {"type": "host", "host_path": "/data"}}},
     '"is_active"'),
], ids=["name-upper-space", "name-too-long", "name-int", "name-missing", "configuration-missing",
        "configuration-without-broker", "broker-type-unknown", "broker-type-missing", "host_path-relative",
        "host_path-missing", "bucket_name-missing", "unknown-field", "is_active-string"])
def test_invalid_workspace_is_400_naming_the_field(api, body, field):
    response = api.post("/v6/workspaces/", body)

    assert_error(response, 400, field)
    assert api.get("/v6/workspaces/").json_body["count"] == 1


@pytest.mark.parametrize("path", ["/v6/workspaces/999/", "/v6/workspaces/abc/", "/v6/workspaces/-1/",
                                  "/v6/workspaces/1.0"])
def test_missing_or_non_integer_workspace_is_404_json(api, path):
    response = api.get(path)

    assert_error(response, 404)
    assert response.json_body == {"detail": "Not found."}


@pytest.mark.parametrize("role, status", [("viewer", 403), ("submitter", 403), ("operator", 201), ("admin", 201)])
def test_creating_a_workspace_needs_the_operator_role(api, tmp_path, role, status):
    response = api.as_role(role).post("/v6/workspaces/", host_workspace("by-role", tmp_path))

    assert response.status_code == status, response.body


# --- POST /v6/files/ ----------------------------------------------------------------------------------

def test_upload_stores_the_bytes_in_the_workspace(api, aws):
    # Given some bytes
    data = b"line one\nline two\n"

    # When an operator uploads them to the default workspace
    response = upload(api.as_role("operator"), data)

    # Then the file is created with its size and path, and the bytes are in the workspace's folder
    assert response.status_code == 201, response.body
    body = response.json_body
    assert response.headers["Location"] == f"http://testserver/v6/files/{body['id']}/"
    assert isinstance(body["id"], int)
    assert body["file_name"] == "a.txt"
    assert body["media_type"] == "text/plain"
    assert body["file_size"] == len(data)
    assert body["file_type"] == "SOURCE"
    assert body["is_deleted"] is False
    default_id = api.get("/v6/workspaces/").json_body["results"][0]["id"]
    assert body["workspace"] == {"id": default_id, "name": "default"}
    assert body["file_path"].endswith("/a.txt") and not body["file_path"].startswith("/")
    assert (aws / body["file_path"]).read_bytes() == data
    assert files_in(aws) == [body["file_path"]]
    stored = File.get(body["id"])
    assert (stored.owner, stored.project) == ("operator-user", "default")


def test_two_uploads_with_the_same_name_do_not_overwrite_each_other(api, aws):
    first = upload(api, b"first").json_body
    second = upload(api, b"second").json_body

    assert first["file_path"] != second["file_path"]
    assert (aws / first["file_path"]).read_bytes() == b"first"
    assert (aws / second["file_path"]).read_bytes() == b"second"


def test_upload_with_source_metadata(api):
    response = upload(api, source_started="2024-05-01T10:00:00-05:00", source_ended="2024-05-01T16:00:00Z",
                      source_sensor_class="radar", source_sensor="r1", source_collection="c", source_task="t",
                      data_type_tags=["raw", "radar"])

    assert response.status_code == 201, response.body
    body = response.json_body
    assert body["source_started"] == "2024-05-01T15:00:00.000Z"
    assert body["source_ended"] == "2024-05-01T16:00:00.000Z"
    assert (body["source_sensor_class"], body["source_sensor"], body["source_collection"], body["source_task"]) == (
        "radar", "r1", "c", "t")
    assert body["data_type_tags"] == ["raw", "radar"]


def test_upload_to_an_s3_workspace_puts_the_object(api, bucket):
    api.post("/v6/workspaces/", s3_workspace())

    response = upload(api, b"in the bucket", workspace="bucket-ws", file_name="s3.txt")

    assert response.status_code == 201, response.body
    body = response.json_body
    assert body["workspace"]["name"] == "bucket-ws" and body["file_size"] == 13
    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key=body["file_path"])
    assert stored["Body"].read() == b"in the bucket"
    assert stored["ContentType"] == "text/plain"


def test_register_a_file_already_in_the_workspace(api, aws):
    # Given a file put in the workspace folder by other means
    (aws / "incoming").mkdir()
    (aws / "incoming" / "scene.tif").write_bytes(b"\0" * 1234)

    # When registered by its path
    response = api.post("/v6/files/", {"workspace": "default", "file_path": "incoming/scene.tif"})

    # Then it gets its size from the file and its name from the path, and nothing is copied
    assert response.status_code == 201, response.body
    body = response.json_body
    assert (body["file_path"], body["file_name"], body["file_size"]) == ("incoming/scene.tif", "scene.tif", 1234)
    assert files_in(aws) == ["incoming/scene.tif"]


def test_register_with_an_explicit_file_name(api, aws):
    (aws / "x.bin").write_bytes(b"12345")

    body = api.post("/v6/files", {"workspace": "default", "file_path": "x.bin", "file_name": "nice.bin"}).json_body

    assert (body["file_name"], body["file_path"], body["file_size"]) == ("nice.bin", "x.bin", 5)


def test_register_an_object_already_in_the_bucket(api, bucket):
    api.post("/v6/workspaces/", s3_workspace())
    boto3.client("s3").put_object(Bucket=BUCKET, Key="raw/day1/obs.dat", Body=b"x" * 42)

    response = api.post("/v6/files/", {"workspace": "bucket-ws", "file_path": "raw/day1/obs.dat"})

    assert response.status_code == 201, response.body
    assert (response.json_body["file_size"], response.json_body["file_name"]) == (42, "obs.dat")


@pytest.mark.parametrize("body, fragment", [
    ({"workspace": "default", "file_path": "not/there.txt"}, "not/there.txt"),
    ({"workspace": "default", "file_path": "../x"}, '"file_path"'),
    ({"workspace": "default", "file_path": "/etc/passwd"}, '"file_path"'),
    ({"workspace": "default", "file_path": "a/../../x"}, '"file_path"'),
    ({"workspace": "default", "file_path": "a//b"}, '"file_path"'),
    ({"workspace": "default", "file_path": ""}, '"file_path"'),
    ({"workspace": "default", "file_path": "x.txt", "file_name": "x.txt", "content_base64": "aGk="},
     '"content_base64"'),
    ({"workspace": "default", "file_name": "x.txt"}, '"file_path"'),
    ({"workspace": "default", "file_name": "x.txt", "content_base64": "not base64!"}, '"content_base64"'),
    ({"workspace": "default", "file_name": "x.txt", "content_base64": "aGk"}, '"content_base64"'),
    ({"workspace": "nope", "file_name": "x.txt", "content_base64": "aGk="}, "workspace"),
    ({"file_name": "x.txt", "content_base64": "aGk="}, '"workspace"'),
    ({"workspace": "default", "file_name": "sub/x.txt", "content_base64": "aGk="}, '"file_name"'),
    ({"workspace": "default", "file_name": "..", "content_base64": "aGk="}, '"file_name"'),
    ({"workspace": "default", "content_base64": "aGk="}, '"file_name"'),
    ({"workspace": "default", "file_name": "x.txt", "content_base64": "aGk=", "source_started": "yesterday"},
     '"source_started"'),
    ({"workspace": "default", "file_name": "x.txt", "content_base64": "aGk=",
      "source_started": "2024-01-01T00:00:00"}, '"source_started"'),
    ({"workspace": "default", "file_name": "x.txt", "content_base64": "aGk=",
      "source_started": "2024-01-02T00:00:00Z", "source_ended": "2024-01-01T00:00:00Z"}, '"source_started"'),
    ({"workspace": "default", "file_name": "x.txt", "content_base64": "aGk=", "data_type_tags": "raw"},
     '"data_type_tags"'),
    ({"workspace": "default", "file_name": "x.txt", "content_base64": "aGk=", "size": 3}, "size"),
], ids=["missing-path", "traversal-dotdot", "absolute-path", "traversal-nested", "empty-segment", "empty-path",
        "both-path-and-content", "neither-path-nor-content", "invalid-base64", "unpadded-base64",
        "unknown-workspace", "no-workspace", "file_name-with-slash", "file_name-dotdot", "upload-without-name",
        "source_started-not-a-date", "source_started-naive", "source-range-reversed", "tags-not-a-list",
        "unknown-field"])
def test_refused_file_is_400_naming_the_parameter_and_writes_nothing(api, aws, body, fragment):
    # Given a workspace folder with one file in it (a target for registrations)
    (aws / "x.txt").write_bytes(b"hi")

    # When the request is refused
    response = api.post("/v6/files/", body)

    # Then it is a 400 naming what is wrong, and no file row or byte was written
    assert_error(response, 400, fragment)
    assert api.get("/v6/files/").json_body["count"] == 0
    assert len(list(File.scan())) == 0
    assert files_in(aws) == ["x.txt"]


def test_upload_over_4_mib_is_413(api, aws):
    # 4 MiB decoded is what one deployed request carries (Lambda's 6 MB payload, base64 adds a third)
    response = upload(api, b"\0" * (4 * 1024 * 1024 + 1))

    assert_error(response, 413, '"content_base64"', "file_path")
    assert files_in(aws) == []


def test_upload_of_exactly_4_mib_is_accepted(api, aws):
    response = upload(api, b"\0" * (4 * 1024 * 1024))

    assert response.status_code == 201, response.body[:200]
    assert (aws / response.json_body["file_path"]).stat().st_size == 4 * 1024 * 1024
def test_missing_file_message_names_the_parameter(api):
    response = api.post("/v6/files/", {"workspace": "default", "file_path": "not/there.txt"})

    assert_error(response, 400, "file_path")


def test_upload_to_an_inactive_workspace_is_400(api, tmp_path):
    api.post("/v6/workspaces/", {**host_workspace("off", tmp_path), "is_active": False})

    response = upload(api, workspace="off")

    assert_error(response, 400, "off")
    assert files_in(tmp_path) == []
@pytest.mark.parametrize("field", ["source_sensor", "source_sensor_class", "source_collection", "source_task"])
def test_upload_refused_for_a_bad_source_field_writes_no_bytes(api, aws, field):
    response = upload(api, **{field: 5})

    assert_error(response, 400, f'"{field}"')
    assert len(list(File.scan())) == 0
    assert files_in(aws) == []


@pytest.mark.parametrize("role, status", [("viewer", 403), ("submitter", 403), ("operator", 201), ("admin", 201)])
def test_adding_a_file_needs_the_operator_role(api, aws, role, status):
    response = upload(api.as_role(role))

    assert response.status_code == status, response.body
    assert len(files_in(aws)) == (1 if status == 201 else 0)


def test_text_plain_upload_is_415(api, aws):
    response = api.post("/v6/files/", raw='{"workspace": "default"}', headers={"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert files_in(aws) == []


# --- GET /v6/files/ and /v6/files/{id}/ ---------------------------------------------------------------

def test_file_details(api):
    created = upload(api).json_body

    for path in (f"/v6/files/{created['id']}/", f"/v6/files/{created['id']}"):
        response = api.get(path)
        assert response.status_code == 200, response.body
        assert response.json_body == created


def test_file_details_carry_every_scale_field(api):
    body = api.get(f"/v6/files/{upload(api).json_body['id']}/").json_body

    assert {"id", "file_name", "workspace", "media_type", "file_type", "file_size", "file_path", "is_deleted",
            "url", "created", "deleted", "data_started", "data_ended", "source_started", "source_ended",
            "source_sensor_class", "source_sensor", "source_collection", "source_task", "last_modified"} <= set(body)
    assert set(body["workspace"]) == {"id", "name"}


@pytest.mark.parametrize("path", ["/v6/files/999/", "/v6/files/abc/", "/v6/files/1e3/"])
def test_missing_file_is_404_json(api, path):
    response = api.get(path)

    assert_error(response, 404)
    assert response.json_body == {"detail": "Not found."}


def test_list_files_with_file_name_filter(api, aws):
    # Given three files, two of them named alike
    a1 = upload(api, b"1", file_name="a.txt").json_body
    b = upload(api, b"22", file_name="b.txt").json_body
    a2 = upload(api, b"333", file_name="a.txt").json_body

    # Then the list pages them in id order and `file_name` keeps exact matches (repeatable)
    everything = api.get("/v6/files/").json_body
    assert list(everything) == ["count", "next", "previous", "results"]
    assert [f["id"] for f in everything["results"]] == [a1["id"], b["id"], a2["id"]]
    assert everything["results"][1] == b
    assert [f["id"] for f in api.get("/v6/files/?file_name=a.txt").json_body["results"]] == [a1["id"], a2["id"]]
    assert [f["id"] for f in api.get("/v6/files?file_name=b.txt&file_name=a.txt").json_body["results"]] == [
        a1["id"], b["id"], a2["id"]]
    assert api.get("/v6/files/?file_name=a").json_body == {"count": 0, "next": None, "previous": None,
                                                           "results": []}
    paged = api.get("/v6/files/?page_size=2&page=2").json_body
    assert [f["id"] for f in paged["results"]] == [a2["id"]] and paged["next"] is None


def test_list_files_past_the_last_page_is_404(api):
    upload(api)

    assert_error(api.get("/v6/files/?page=2"), 404)
    assert api.get("/v6/files/?page=2").json_body == {"detail": "Invalid page."}


@pytest.mark.parametrize("query, fragment", [("job_id=abc", '"job_id"'), ("is_deleted=maybe", '"is_deleted"'),
                                             ("time_field=created", '"time_field"'), ("started=soon", '"started"')])
def test_list_files_invalid_filter_is_400(api, query, fragment):
    assert_error(api.get(f"/v6/files/?{query}"), 400, fragment)


def test_project_header_is_recorded_on_the_file(api):
    response = api.as_role("operator").post(
        "/v6/files/", {"workspace": "default", "file_name": "p.txt", "content_base64": b64(b"p")},
        headers={"X-Jobs-Project": "operator-project"})

    assert response.status_code == 201, response.body
    stored = File.get(response.json_body["id"])
    assert (stored.owner, stored.project) == ("operator-user", "operator-project")
