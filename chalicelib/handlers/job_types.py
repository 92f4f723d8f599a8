"""Routes of `/v6/job-types/...`."""
from __future__ import annotations

from urllib.parse import quote, unquote

from chalice import Blueprint, Response

from chalicelib import api_inputs as inputs
from chalicelib.handlers.common import (
    absolute_url,
    api_route,
    caller,
    json_body,
    json_response,
    paginate,
    query_params,
)
from chalicelib.lazy import lazy

service = lazy("chalicelib.services.job_types")
views = lazy("chalicelib.views.job_types")

blueprint = Blueprint(__name__)


@api_route(blueprint, "/v6/job-types", "operator", methods=("POST",))
def post_job_type() -> Response:
    request = blueprint.current_request
    principal, project = caller(request)
    registered = service.register_job_type(json_body(request), principal, project)
    job_type = registered.job_type
    location = absolute_url(request, f"/v6/job-types/{quote(job_type.name)}/{quote(job_type.version)}/")
    return json_response(views.job_type_details(job_type),
                         201 if registered.created else 200, {"Location": location})


@api_route(blueprint, "/v6/job-types", "viewer", params=inputs.LIST_JOB_TYPES)
def get_job_types() -> Response:
    request = blueprint.current_request
    return paginate(request, service.list_job_types(query_params(request)), views.job_type_list_item)


@api_route(blueprint, "/v6/job-types/{name}", "viewer", params=inputs.PAGING)
def get_job_type_versions(name: str) -> Response:
    request = blueprint.current_request
    return paginate(request, service.versions_of(unquote(name)), views.job_type_list_item)


@api_route(blueprint, "/v6/job-types/{name}/{version}", "viewer")
def get_job_type(name: str, version: str) -> Response:
    job_type = service.get_job_type(unquote(name), unquote(version))
    return json_response(views.job_type_details(job_type))
