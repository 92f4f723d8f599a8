"""The local HTTP server's own answers: unknown routes and methods, an oversized query, a malformed request,
all JSON `{"detail"}` with the CORS headers (never the standard library's HTML, nor API Gateway's 403
"Missing Authentication Token")."""
from __future__ import annotations

import threading

import pytest
import requests
from chalice.config import Config
from chalice.local import LocalDevServer

from local.http_errors import JsonErrorsHandler
from local.stack import free_port
from tests.conftest import TOKENS

AUTH = {"Authorization": f"Bearer {TOKENS['admin']}", "Origin": "http://console.example"}


@pytest.fixture
def server(aws):
    from app import app
    port = free_port()
    served = LocalDevServer(app, Config(chalice_stage="local"), "127.0.0.1", port, handler_cls=JsonErrorsHandler)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    served.shutdown()
    thread.join(timeout=10)


def assert_json_error(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert list(response.json()) == ["detail"] and fragment in response.json()["detail"], response.text


def test_an_unknown_path_is_a_json_404_with_cors(server):
    assert_json_error(requests.get(f"{server}/v6/nothing/here/", headers=AUTH, timeout=10), 404, "No such endpoint")
    assert_json_error(requests.request("TRACE", f"{server}/v7/", headers=AUTH, timeout=10), 404, "No such endpoint")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/v6/jobs/", "GET, POST, OPTIONS"),
    ("DELETE", "/v6/jobs/7/", "GET, OPTIONS"),
    ("TRACE", "/v6/scheduler/", "GET, PATCH, OPTIONS"),
])
def test_a_method_a_known_path_does_not_serve_is_a_json_405_naming_the_allowed_ones(server, method, path, allow):
    response = requests.request(method, f"{server}{path}", headers=AUTH, timeout=10)
    assert_json_error(response, 405, f'Method "{method}" not allowed')
    assert response.headers["Allow"] == allow


def test_a_100_kb_cursor_is_a_400_naming_cursor(server):
    response = requests.get(f"{server}/v6/jobs/", params={"cursor": "x" * 100_000}, headers=AUTH, timeout=10)
    assert_json_error(response, 400, '"cursor"')


def test_a_request_line_over_1_mib_is_a_json_414(server):
    response = requests.get(f"{server}/v6/jobs/", params={"cursor": "x" * (1024 * 1024 + 10)}, headers=AUTH,
                            timeout=10)
    assert_json_error(response, 414, "longer than")


def test_an_oversized_header_is_a_json_431(server):
    response = requests.get(f"{server}/v6/jobs/", headers={**AUTH, "X-Big": "x" * 70_000}, timeout=10)
    assert_json_error(response, 431, "Line too long")
