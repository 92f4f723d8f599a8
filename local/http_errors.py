"""The local stack's HTTP server answering its own errors as the API does: JSON `{"detail"}` with the CORS
headers, never the standard library's HTML pages.

- A request line up to 1 MiB is read (the standard library stops at 64 KiB with an HTML 414), so a long
  query reaches the application, which refuses an oversized parameter by name (a 100 KB `cursor`: 400).
  Longer still: a JSON 414.
- Any method reaches the application: a known path with a method it does not serve is a JSON 405 with
  `Allow` (handlers.common); an unknown path is a JSON 404 (handlers.fallback, or here when even the fallback
  does not match), where Chalice's gateway would answer API Gateway's 403 "Missing Authentication Token".
- Malformed requests, oversized headers and the like: the status the standard library picks, as JSON.

In AWS, API Gateway answers these itself before any function runs (docs/api.md, "Unknown routes and methods")."""
from __future__ import annotations

import json
import socket
from http import HTTPStatus
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGatewayException,
    ThreadedHTTPServer,
)

MAX_REQUEST_LINE = 1024 * 1024


def _cors_headers(origin: str | None) -> dict[str, str]:
    from chalicelib.config import get_settings
    from chalicelib.handlers.common import EXPOSED_HEADERS
    origins = get_settings().cors_origins
    if origins == ("*",):
        return {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSED_HEADERS}
    if origin in origins:
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS,
                "Vary": "Origin"}
    return {}


class JsonErrorsHandler(ChaliceRequestHandler):
    # Chalice writes an answer's headers and body apart: on a kept-open connection the body then waits out
    # the client's delayed ACK (Nagle), ~40 ms for every answer that fits in one packet.
    disable_nagle_algorithm = True

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with a longer request line and every method handed to the application."""
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG,
                                f"The request line is longer than {MAX_REQUEST_LINE} bytes.")
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            handler = getattr(self, f"do_{self.command}", None) if self.command.isalpha() else None
            (handler or self._generic_handle)()
            self.wfile.flush()
        except TimeoutError as error:
            self.log_error("Request timed out: %r", error)
            self.close_connection = True

    def end_headers(self) -> None:
        if isinstance(self.server, SharedListenerServer) and not self.close_connection:
            self.send_header("Connection", "close")  # sets close_connection: see SharedListenerServer
        super().end_headers()

    def _send_error_response(self, error: LocalGatewayException) -> None:
        # The gateway found no route at all (not even the fallback's, e.g. an unusual method on an unknown path).
        body = {"detail": f"No such endpoint: {self.command} {self.path.split('?', 1)[0]}"}
        self._send_json(HTTPStatus.NOT_FOUND, body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status = HTTPStatus(code)
        self.close_connection = True
        self._send_json(status, {"detail": message or status.phrase})

    def _send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        headers = getattr(self, "headers", None)
        origin = headers.get("origin") if headers is not None else None
        self.send_response(status.value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        for name, value in _cors_headers(origin).items():
            self.send_header(name, value)
        self.end_headers()
        if getattr(self, "command", "") != "HEAD":
            self.wfile.write(payload)


class SharedListenerServer(ThreadedHTTPServer):
    """Accepts on a listening socket that other processes accept on too (the stack's API processes). The
    socket is non-blocking: a process woken for a connection another one took goes back to waiting
    (socketserver takes the error for "no request") instead of blocking in accept, where it would not see a
    shutdown. Every answer closes its connection (JsonErrorsHandler.end_headers): a kept-alive connection
    would tie a client to the process that accepted it, however busy; a new connection goes to the first
    process free to accept it (over loopback a connection costs well under a millisecond; figures in
    docs/performance.md)."""

    def __init__(self, listening: socket.socket, handler: Any) -> None:
        super().__init__(listening.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        listening.setblocking(False)  # one open file description for every process: set once is set for all
        self.socket = listening
        self.server_name, self.server_port = listening.getsockname()[:2]


def create_server(app: Chalice, config: Config, host: str, port: int,
                  listening: socket.socket | None = None) -> LocalDevServer:
    """`chalice.local.create_local_server` with the JSON-error handler; on `listening` (already bound and
    listening, shared with other processes) instead of a socket of its own when given."""
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    if listening is None:
        return LocalDevServer(app, config, host, port, handler_cls=JsonErrorsHandler)
    return LocalDevServer(app, config, host, port, handler_cls=JsonErrorsHandler,
                          server_cls=lambda _address, handler: SharedListenerServer(listening, handler))
