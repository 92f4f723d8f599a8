"""Keep-alive connections for the emulator's HTTP server.

moto serves over werkzeug's development server, which answers every request with `Connection: close`
(it cannot tell where a request body ends, so it never reads a second request from a connection). Every
AWS call of the API and the workers then opens a TCP connection, and the emulator starts a thread for
it: measured with 20 concurrent clients on the embedded stack, ~2.5 connections per API request, each
costing both processes a connect/accept, a thread and botocore's connection set-up.

This handler keeps the connection open when it can tell where the request ends: an HTTP/1.1 request
with a `Content-Length` (botocore sends one on every request) is read whole before the application
sees it, and the answer goes out with its own `Content-Length`. Anything else (a chunked upload, an
`Expect: 100-continue`, HTTP/1.0) takes werkzeug's way, which closes the connection after the answer.
The application is called exactly as before, and the answer is sent only once it has returned (the
journal's write is on disk by then, as before).
"""
from __future__ import annotations

import io
import logging
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

log = logging.getLogger("jobs.local.keep_alive")

_NO_BODY_STATUS = (204, 304)
_HOP_BY_HOP = ("connection", "content-length", "transfer-encoding", "keep-alive")


class KeepAliveRequestHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _can_keep_alive(self) -> bool:
        headers = self.headers
        return (self.request_version == "HTTP/1.1" and not self.close_connection
                and "Transfer-Encoding" not in headers and "Expect" not in headers
                and (headers.get("Content-Length") or "0").isdigit())

    def run_wsgi(self) -> None:
        if not self._can_keep_alive():
            super().run_wsgi()  # werkzeug's: answers with Connection: close
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) != length:  # the client went away mid-body
            self.close_connection = True
            return
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        self.environ = environ
        answer: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return written.append

        try:
            result = self.server.app(environ, start_response)  # type: ignore[attr-defined]
            try:
                for chunk in result:
                    written.append(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:  # noqa: BLE001 - answered as werkzeug does: a 500, and the connection closed
            log.exception("error on request %s %s", self.command, self.path)
            self.close_connection = True
            self._send(500, "INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"Internal Server Error")
            return
        code_text, _, reason = str(answer.get("status", "500")).partition(" ")
        self._send(int(code_text), reason, answer.get("headers", []), b"".join(written))

    def _send(self, code: int, reason: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(code, reason)
        no_body = self.command == "HEAD" or code in _NO_BODY_STATUS or code < 200
        for name, value in headers:
            # A HEAD answer keeps the application's Content-Length (the object's size, without the object).
            if name.lower() not in _HOP_BY_HOP or (no_body and name.lower() == "content-length"):
                self.send_header(name, value)
        if not no_body:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write: two small writes on a kept-open connection wait out the client's
        # delayed ACK (Nagle), ~40 ms an answer.
        self._headers_buffer.append(b"\r\n")
        if not no_body and payload:
            self._headers_buffer.append(payload)
        self.flush_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No line per request (werkzeug's logger is at WARNING here anyway; this skips formatting it)."""


def install() -> None:
    """moto's `main` serves with this handler."""
    import moto.server
    moto.server.MotoRequestHandler = KeepAliveRequestHandler  # type: ignore[misc]
