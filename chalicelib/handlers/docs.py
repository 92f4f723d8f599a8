"""The API's own description: `/openapi.json` and a readable page at `/docs`."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.handlers.common import api_route, json_response
from chalicelib.lazy import lazy

openapi = lazy("chalicelib.openapi")

blueprint = Blueprint(__name__)


@api_route(blueprint, "/openapi.json", None)
def get_openapi() -> Response:
    return json_response(openapi.openapi_document())


@api_route(blueprint, "/docs", None)
def get_docs() -> Response:
    return Response(body=openapi.render_html(openapi.openapi_document()), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8"})
