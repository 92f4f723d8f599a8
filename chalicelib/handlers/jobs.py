"""Routes of `/v6/jobs/...`: parse, call one use case, render."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import api_inputs as inputs
from chalicelib.domain import JobRecord
from chalicelib.handlers.common import (
    absolute_url,
    api_route,
    caller,
    int_path,
    json_body,
    json_response,
    page_request,
    paged_body,
    paginate,
    query_params,
    scope_of,
)
from chalicelib.lazy import lazy

file_service = lazy("chalicelib.services.files")
job_details = lazy("chalicelib.services.job_details")
list_jobs = lazy("chalicelib.services.list_jobs")
queue_job = lazy("chalicelib.services.queue_job")
file_views = lazy("chalicelib.views.files")
job_views = lazy("chalicelib.views.jobs")

blueprint = Blueprint(__name__)


@api_route(blueprint, "/v6/jobs", "viewer", params=inputs.LIST_JOBS)
def get_jobs() -> Response:
    request = blueprint.current_request
    page = page_request(query_params(request))
    listed = list_jobs.list_jobs(query_params(request), page, scope_of(request))

    def render(job: JobRecord) -> dict[str, Any]:
        old = listed.superseded.get(job.superseded_job_id)
        summary = job_views.superseded_summary(old, listed.job_types.get(old.job_type_id)) if old else None
        return job_views.job_row(job, listed.job_types.get(job.job_type_id), summary)

    rows = [render(job) for job in listed.page.rows]
    return json_response(paged_body(request, page, listed.page.count, rows, listed.page.after,
                                    listed.page.before))


@api_route(blueprint, "/v6/jobs", "submitter", methods=("POST",))
def post_job() -> Response:
    request = blueprint.current_request
    principal, project = caller(request)
    submitted = queue_job.submit_job(json_body(request), principal, project, request.headers.get("idempotency-key"))
    stored = submitted.stored
    body = (job_details.new_job_details(stored.job, stored.data, stored.job_type, stored.revision) if stored
            else job_details.get_job_details(submitted.job_id, consistent=True))  # an idempotent repeat
    return json_response(body, 201, {"Location": absolute_url(request, f"/v6/jobs/{submitted.job_id}/")})


@api_route(blueprint, "/v6/jobs/{job_id}", "viewer", params=(inputs.path_id("job_id", "job"),))
def get_job(job_id: str) -> Response:
    return json_response(job_details.get_job_details(int_path(job_id), scope=scope_of(blueprint.current_request)))


@api_route(blueprint, "/v6/jobs/{job_id}/input_files", "viewer",
           params=(inputs.path_id("job_id", "job"), *inputs.JOB_INPUT_FILES))
def get_job_input_files(job_id: str) -> Response:
    request = blueprint.current_request
    job_details.visible_job(int_path(job_id), scope_of(request))
    files = file_service.job_input_files(int_path(job_id), query_params(request))
    return paginate(request, files, file_views.file_view)


@api_route(blueprint, "/v6/jobs/{job_id}/executions", "viewer",
           params=(inputs.path_id("job_id", "job"), *inputs.JOB_EXECUTIONS))
def get_job_executions(job_id: str) -> Response:
    request = blueprint.current_request
    rows = job_details.list_executions(int_path(job_id), query_params(request), scope_of(request))
    return paginate(request, rows, lambda row: row)


@api_route(blueprint, "/v6/jobs/{job_id}/executions/{exe_num}", "viewer",
           params=(inputs.path_id("job_id", "job"), inputs.path_id("exe_num", "execution number")))
def get_job_execution(job_id: str, exe_num: str) -> Response:
    return json_response(job_details.get_execution(int_path(job_id), int_path(exe_num),
                                                   scope_of(blueprint.current_request)))
