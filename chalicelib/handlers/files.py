"""Routes of `/v6/workspaces/...` and `/v6/files/...`."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import api_inputs as inputs
from chalicelib.handlers.common import (
    absolute_url,
    api_route,
    caller,
    int_path,
    json_body,
    json_response,
    paginate,
    query_params,
    scope_of,
)
from chalicelib.lazy import lazy

file_store = lazy("chalicelib.models.files")
service = lazy("chalicelib.services.files")
views = lazy("chalicelib.views.files")

blueprint = Blueprint(__name__)


@api_route(blueprint, "/v6/workspaces", "operator", methods=("POST",))
def post_workspace() -> Response:
    request = blueprint.current_request
    workspace = service.create_workspace(json_body(request))
    return json_response(views.workspace_view(workspace), 201,
                         {"Location": absolute_url(request, f"/v6/workspaces/{workspace.id}/")})


@api_route(blueprint, "/v6/workspaces", "viewer", params=inputs.PAGING)
def get_workspaces() -> Response:
    request = blueprint.current_request
    return paginate(request, file_store.all_workspaces(), views.workspace_view)


@api_route(blueprint, "/v6/files", "operator", methods=("POST",))
def post_file() -> Response:
    request = blueprint.current_request
    principal, project = caller(request)
    file = service.add_file(json_body(request), principal, project)
    return json_response(views.file_view(file), 201, {"Location": absolute_url(request, f"/v6/files/{file.id}/")})


@api_route(blueprint, "/v6/files/uploads", "operator", methods=("POST",))
def post_upload() -> Response:
    """A presigned URL for a file too large to send through the API."""
    return json_response(service.upload_url(json_body(blueprint.current_request)), 201)


@api_route(blueprint, "/v6/files", "viewer", params=inputs.LIST_FILES)
def get_files() -> Response:
    request = blueprint.current_request
    return paginate(request, service.list_files(query_params(request), scope_of(request)), views.file_view)


@api_route(blueprint, "/v6/files/{file_id}", "viewer", params=(inputs.path_id("file_id", "file"),))
def get_file(file_id: str) -> Response:
    file, base_url = service.get_file(int_path(file_id), scope_of(blueprint.current_request))
    return json_response(views.file_view(file, base_url))


@api_route(blueprint, "/v6/workspaces/{workspace_id}", "viewer",
           params=(inputs.path_id("workspace_id", "workspace"),))
def get_workspace(workspace_id: str) -> Response:
    workspace = file_store.get_workspace_by_id(int_path(workspace_id))
    if workspace is None:
        from chalicelib.errors import NotFound
        raise NotFound()
    return json_response(views.workspace_view(workspace))
