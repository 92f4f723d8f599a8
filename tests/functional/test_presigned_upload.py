"""Files larger than one API request: a presigned PUT straight to the workspace's bucket, then the file is
registered by its `file_path` once the object is there."""
from __future__ import annotations

import boto3
import pytest
import requests

from tests.functional.assertions import assert_error

BUCKET = "presigned-files"


@pytest.fixture
def bucket_workspace(api):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    response = api.post("/v6/workspaces/", {"name": "big", "configuration": {
        "broker": {"type": "s3", "bucket_name": BUCKET}}})
    assert response.status_code == 201, response.body
    return "big"


def test_a_large_file_goes_straight_to_the_bucket_and_is_registered_once_there(api, bucket_workspace):
    # Given an s3 workspace and a file above the API's 4 MiB limit
    content = b"x" * (5 * 1024 * 1024)
    # When an operator asks where to put it
    response = api.post("/v6/files/uploads/", {"workspace": bucket_workspace, "file_name": "big.bin",
                                                "media_type": "application/octet-stream"})
    # Then it gets a presigned PUT in the workspace, valid for a while, and nothing is recorded yet
    assert response.status_code == 201, response.body
    upload = response.json_body
    assert upload["method"] == "PUT" and upload["workspace"] == "big"
    assert upload["file_path"].startswith("uploads/") and upload["file_path"].endswith("/big.bin")
    assert upload["headers"] == {"Content-Type": "application/octet-stream"} and upload["expires"]
    assert api.get("/v6/files/").json_body["count"] == 0
    registered_too_early = api.post("/v6/files/", {"workspace": "big", "file_path": upload["file_path"]})
    assert_error(registered_too_early, 400, "no file at")
    # When the bytes are PUT to that URL and the file is then registered by its path
    put = requests.put(upload["upload_url"], data=content, headers=upload["headers"], timeout=30)
    assert put.status_code == 200
    created = api.post("/v6/files/", {"workspace": "big", "file_path": upload["file_path"]})
    # Then the record holds the object's real size
    assert created.status_code == 201, created.body
    assert created.json_body["file_size"] == len(content) and created.json_body["file_name"] == "big.bin"


@pytest.mark.parametrize("body, field", [
    ({"file_name": "a.bin"}, "workspace"),
    ({"workspace": "big"}, "file_name"),
    ({"workspace": "big", "file_name": "a/b.bin"}, "file_name"),
    ({"workspace": "big", "file_name": ".."}, "file_name"),
    ({"workspace": "nowhere", "file_name": "a.bin"}, "workspace"),
    ({"workspace": "big", "file_name": "a.bin", "size": 3}, "size"),
])
def test_bad_upload_requests_name_the_field(api, bucket_workspace, body, field):
    assert_error(api.post("/v6/files/uploads/", body), 400, field)


def test_a_host_workspace_takes_no_direct_upload(api):
    detail = assert_error(api.post("/v6/files/uploads/", {"workspace": "default", "file_name": "a.bin"}), 400)
    assert "host" in detail


def test_only_an_operator_asks_for_an_upload_url(api, bucket_workspace):
    response = api.as_role("submitter").post("/v6/files/uploads/", {"workspace": "big", "file_name": "a.bin"})
    assert response.status_code == 403
