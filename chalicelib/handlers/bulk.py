"""Routes of bulk cancel/requeue and their bulk operations, and the state machine's chunk function."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import api_inputs as inputs
from chalicelib.handlers.common import (
    absolute_url,
    api_route,
    caller,
    int_path,
    json_body,
    json_response,
    page_request,
    paged_body,
    query_params,
    scope_of,
)
from chalicelib.lazy import lazy

bulk_jobs = lazy("chalicelib.services.bulk_jobs")

blueprint = Blueprint(__name__)


def _start(kind: str) -> Response:
    request = blueprint.current_request
    principal, project = caller(request)
    result = bulk_jobs.start(kind, json_body(request), principal.name, project, scope_of(request))
    if result.get("dry_run"):
        return json_response(result)
    location = absolute_url(request, f"/v6/jobs/bulk-operations/{result['id']}/")
    return json_response(result, 202, {"Location": location})


@api_route(blueprint, "/v6/jobs/cancel", "operator", methods=("POST",))
def cancel_jobs() -> Response:
    return _start("cancel")


@api_route(blueprint, "/v6/jobs/requeue", "operator", methods=("POST",))
def requeue_jobs() -> Response:
    return _start("requeue")


@api_route(blueprint, "/v6/jobs/bulk-operations", "viewer", params=inputs.PAGING)
def list_bulk_operations() -> Response:
    request = blueprint.current_request
    page = page_request(query_params(request))
    count, rows = bulk_jobs.list_operations(page.offset, page.page_size, scope_of(request))
    return json_response(paged_body(request, page, count, rows))


@api_route(blueprint, "/v6/jobs/bulk-operations/{operation_id}", "viewer",
           params=(inputs.path_id("operation_id", "bulk operation"),))
def get_bulk_operation(operation_id: str) -> Response:
    return json_response(bulk_jobs.get_operation(int_path(operation_id), scope_of(blueprint.current_request)))


@blueprint.lambda_function(name="bulk_chunk")
def bulk_chunk(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The state machine's ProcessChunk task: one chunk of one bulk operation."""
    return bulk_jobs.handle_chunk_event(event)
