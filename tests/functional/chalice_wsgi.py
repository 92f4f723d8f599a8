"""The Chalice app as a WSGI application (for schemathesis' WSGI transport): each request goes through
Chalice's local gateway, as the test client's do, so the middleware, CORS and error mapping all run."""
from __future__ import annotations

from typing import Any, Callable, Iterable
from urllib.parse import quote

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import LocalGateway

REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
           414: "URI Too Long", 415: "Unsupported Media Type", 500: "Internal Server Error"}


class ChaliceWSGI:
    def __init__(self, app: Chalice) -> None:
        self.gateway = LocalGateway(app, Config(chalice_stage="local"))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = quote(environ.get("PATH_INFO", "/"), safe="/%:@!$&'()*+,;=-._~")
        query = environ.get("QUERY_STRING", "")
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        from chalice.local import LocalGatewayException
        try:
            response = self.gateway.handle_request(environ["REQUEST_METHOD"], path + (f"?{query}" if query else ""),
                                                   headers, body)
        except LocalGatewayException as error:  # no route: what the local server answers
            response = {"statusCode": error.CODE, "headers": dict(error.headers), "body": error.body}
        status = int(response["statusCode"])
        out_headers = [(k, v) for k, v in response["headers"].items() if isinstance(v, str)]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers += [(name, v) for v in values]
        start_response(f"{status} {REASONS.get(status, 'Status')}", out_headers)
        payload = response["body"]
        return [payload if isinstance(payload, bytes) else (payload or "").encode()]
