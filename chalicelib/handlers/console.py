"""The console shell's endpoints: `/v6/version/`, `/v6/scheduler/`, `/v6/status/`, `/v6/job-types/status/`,
and its Running Jobs and Queued Jobs pages: `/v6/job-types/running/`, `/v6/queue/status/`.

`/v6/job-types/running` and `/v6/job-types/status` are literal paths beside `/v6/job-types/{name}`: API Gateway
matches a literal segment before a variable one, and so does Chalice locally (it tries routes sorted, and
letters sort before `{`); `test_console` checks that neither reads as a job type name."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import api_inputs as inputs
from chalicelib.handlers.common import api_route, json_body, json_response, paginate, query_params, scope_of
from chalicelib.lazy import lazy

blueprint = Blueprint(__name__)
service = lazy("chalicelib.services.console")


@api_route(blueprint, "/v6/version", "viewer")
def get_version() -> Response:
    return json_response(service.version())


@api_route(blueprint, "/v6/scheduler", "viewer")
def get_scheduler() -> Response:
    return json_response(service.scheduler())


@api_route(blueprint, "/v6/scheduler", "operator", methods=("PATCH",))
def patch_scheduler() -> Response:
    return json_response(service.update_scheduler(json_body(blueprint.current_request)))


@api_route(blueprint, "/v6/status", "viewer")
def get_status() -> Response:
    status = service.status()
    return json_response(status) if status is not None else Response(body="", status_code=204)


@api_route(blueprint, "/v6/job-types/status", "viewer", params=inputs.STATUS_WINDOW)
def get_job_type_status() -> Response:
    request = blueprint.current_request
    return paginate(request, service.job_type_status(query_params(request), scope_of(request)), lambda row: row)


@api_route(blueprint, "/v6/job-types/running", "viewer", params=inputs.PAGING)
def get_running_job_types() -> Response:
    request = blueprint.current_request
    return paginate(request, service.running_job_types(scope_of(request)), lambda row: row)


@api_route(blueprint, "/v6/queue/status", "viewer", params=inputs.PAGING)
def get_queue_status() -> Response:
    request = blueprint.current_request
    return paginate(request, service.queue_status(scope_of(request)), lambda row: row)
