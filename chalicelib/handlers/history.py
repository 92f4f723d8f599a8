"""Routes of `/v1/jobs/history`: the RSQL-searchable history of jobs."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.handlers.common import api_route, json_response, principal_of, query_params
from chalicelib.lazy import lazy

rsql = lazy("chalicelib.rsql")
service = lazy("chalicelib.services.search_history")

blueprint = Blueprint(__name__)


@api_route(blueprint, "/v1/jobs/history", "viewer")
def get_history():
    request = blueprint.current_request
    params = query_params(request)
    locale = rsql.normalize_locale(params.first("locale"))
    try:
        query = service.parse_query(params)
        return json_response(service.search(query, principal_of(request)))
    except rsql.RsqlError as error:
        body = {"detail": rsql.render(error, locale), "field": "q"}
        if error.position is not None and error.position >= 0:
            body["position"] = error.position
        return json_response(body, 400)
    except service.HistoryParameterError as error:
        return json_response({"detail": error.localized(locale), "field": error.field}, 400)


@api_route(blueprint, "/v1/jobs/history/{job_id}", "submitter", methods=("DELETE",))
def delete_history_entry(job_id):
    service.delete_from_history(job_id, principal_of(blueprint.current_request))
    return Response(body="", status_code=204)
