"""Routes of `/v1/jobs/history`: the RSQL-searchable history of jobs."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import api_inputs as inputs
from chalicelib.handlers.common import HISTORY_ERRORS, api_route, json_response, principal_of, query_params
from chalicelib.lazy import lazy

service = lazy("chalicelib.services.search_history")

blueprint = Blueprint(__name__)


@api_route(blueprint, "/v1/jobs/history", "viewer", errors=HISTORY_ERRORS, params=inputs.HISTORY)
def get_history() -> Response:
    request = blueprint.current_request
    query = service.parse_query(query_params(request))
    return json_response(service.search(query, principal_of(request)))


@api_route(blueprint, "/v1/jobs/history/{job_id}", "submitter", methods=("DELETE",), errors=HISTORY_ERRORS)
def delete_history_entry(job_id: str) -> Response:
    service.delete_from_history(job_id, principal_of(blueprint.current_request))
    return Response(body="", status_code=204)
