"""Unknown paths: a JSON 404 `{"detail"}` with the CORS headers, like every other answer, instead of the
gateway's `403 {"message": "Missing Authentication Token"}` (which the console shows as an AWS signature error).

A request reaches the application only through a registered route, so catch-all routes `/{p1}` ...
`/{p1}/.../{p8}` (every method) are registered. Chalice matches the routes sorted, and a literal segment sorts
before `{`, so every real route is tried first. They are registered only where the application serves HTTP
itself (the local stack's Chalice server, the test client): not in Lambda nor under the Chalice CLI (so
`chalice package` deploys none of them). In AWS, API Gateway answers unknown paths before any function runs;
the template's gateway responses give those the same body and CORS headers (docs/console.md).
"""
from __future__ import annotations

import os
from typing import Callable

from chalice import Blueprint, Response

from chalicelib.errors import NotFound
from chalicelib.handlers.common import api_route

MAX_DEPTH = 8
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PATHS = tuple("/" + "/".join(f"{{p{level}}}" for level in range(1, depth + 1)) for depth in range(1, MAX_DEPTH + 1))

blueprint = Blueprint(__name__)


def wanted() -> bool:
    """Only where the application itself answers HTTP for unknown paths (not in Lambda, not `chalice package`)."""
    return not (os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("AWS_CHALICE_CLI_MODE"))


def _view(depth: int) -> Callable[..., Response]:
    def not_found(**segments: str) -> Response:
        path = "/" + "/".join(segments[f"p{level}"] for level in range(1, depth + 1)) + "/"
        raise NotFound(f"No such endpoint: {blueprint.current_request.method} {path}")
    not_found.__name__ = f"not_found_{depth}"  # Chalice names each view after its function
    return not_found


for _depth, _path in enumerate(PATHS, start=1):
    api_route(blueprint, _path, None, methods=METHODS)(_view(_depth))
