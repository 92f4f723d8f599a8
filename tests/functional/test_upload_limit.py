"""Uploads through the API stay under what API Gateway and Lambda accept in one request (6 MB of
payload): 4 MiB decoded at most, and a clear 413 above it."""
from __future__ import annotations

import base64

from chalicelib.services.files import MAX_UPLOAD_BASE64, MAX_UPLOAD_BYTES

LAMBDA_REQUEST_PAYLOAD = 6 * 1024 * 1024


def upload(api, data: bytes):
    return api.post("/v6/files/", {"workspace": "default", "file_name": "big.bin",
                                   "content_base64": base64.b64encode(data).decode()})


def test_the_cap_fits_in_one_lambda_request_with_room_for_the_rest():
    assert MAX_UPLOAD_BASE64 == len(base64.b64encode(b"x" * MAX_UPLOAD_BYTES))
    assert MAX_UPLOAD_BASE64 + 64 * 1024 < LAMBDA_REQUEST_PAYLOAD


def test_an_upload_at_the_cap_is_stored(api):
    response = upload(api, b"\0" * MAX_UPLOAD_BYTES)
    assert response.status_code in (200, 201), response.body


def test_an_upload_over_the_cap_is_413_and_says_what_to_do(api):
    response = upload(api, b"\0" * (MAX_UPLOAD_BYTES + 1))
    assert response.status_code == 413, response.body
    assert "file_path" in response.json_body["detail"]
