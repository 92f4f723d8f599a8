"""The emulator's HTTP handler (local/keep_alive.py) keeps a connection open between requests that say where
they end, answers exactly what the application answered, and closes the connection otherwise."""
from __future__ import annotations

import http.client
import threading

import pytest
from werkzeug.serving import make_server

from local.keep_alive import KeepAliveRequestHandler


def app(environ, start_response):
    stream = environ["wsgi.input"]
    terminated = environ.get("wsgi.input_terminated")
    body = stream.read() if terminated else stream.read(int(environ.get("CONTENT_LENGTH") or 0))
    if environ["PATH_INFO"] == "/empty":
        start_response("204 No Content", [])
        return [b""]
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    answer = b"echo:" + body
    length = len(answer) + (1000 if environ["PATH_INFO"] == "/object" else 0)  # a HEAD states the object's size
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(length)),
                              ("Connection", "close"), ("X-Path", environ["PATH_INFO"])])
    return [answer[:3], answer[3:]]


@pytest.fixture
def server():
    served = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAliveRequestHandler)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served.server_address[1]
    served.shutdown()


def test_requests_with_a_length_share_one_connection_and_get_the_applications_answer(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    for n in range(3):
        connection.request("POST", f"/p{n}", body=f"body {n}".encode())
        response = connection.getresponse()
        assert (response.status, response.read(), response.getheader("X-Path")) == (
            200, f"echo:body {n}".encode(), f"/p{n}")
        assert not response.will_close
    sock = connection.sock
    connection.request("GET", "/empty")
    response = connection.getresponse()
    assert (response.status, response.read()) == (204, b"")
    assert connection.sock is sock  # still the first connection


def test_head_keeps_the_applications_length_without_a_body(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    connection.request("HEAD", "/object")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b""
    assert response.getheader("Content-Length") == str(len("echo:") + 1000)
    connection.request("POST", "/after", body=b"x")
    assert connection.getresponse().read() == b"echo:x"


def test_a_chunked_request_is_answered_and_the_connection_closed(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    connection.request("POST", "/chunked", body=iter([b"ab", b"cd"]), encode_chunked=True)
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"echo:abcd")
    assert response.will_close


def test_an_application_error_is_a_500_and_the_connection_closed(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    connection.request("POST", "/boom", body=b"")
    response = connection.getresponse()
    assert response.status == 500 and response.will_close
    response.read()
