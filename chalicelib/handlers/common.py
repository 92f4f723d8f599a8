"""What every HTTP route shares: role registry, the authenticating middleware, the mapping of
domain errors to HTTP, JSON bodies, and absolute URLs for `Location` and page links."""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

from chalice import Blueprint, CORSConfig, Response
from chalice.app import Request

from chalicelib import auth
from chalicelib.config import get_settings
from chalicelib.domain import EVERYTHING, Scope
from chalicelib.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unauthenticated,
    UnsupportedMediaType,
)
from chalicelib.params import PageRequest, Param, QueryParams, check_query

logger = logging.getLogger("jobs.http")

# (method, route path) -> role needed; None marks a public route.
ROUTE_ROLES: dict[tuple[str, str], str | None] = {}
# (method, route path) -> the query and path parameters it declares (and checks at the door).
ROUTE_PARAMS: dict[tuple[str, str], tuple[Param, ...]] = {}

# The one mapping of domain errors to HTTP status codes (first match wins: subclasses before bases).
HTTP_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
)


@dataclass(frozen=True)
class ErrorFace:
    """How a face of the API writes an error body. v6 answers `{"detail"}` as the original did; the history
    also names the `field` (and `position` in `q`) and speaks the caller's `locale`."""

    with_context: bool = False


V6_ERRORS = ErrorFace()
HISTORY_ERRORS = ErrorFace(with_context=True)


def status_of(error: ServiceError) -> int:
    return next((status for kind, status in HTTP_STATUS if isinstance(error, kind)), 500)


def error_to_response(error: ServiceError, face: ErrorFace = V6_ERRORS, locale: str | None = None) -> Response:
    if not face.with_context:
        return error_response(status_of(error), error.detail)
    body: dict[str, Any] = {"detail": error.localized(locale)}
    field = getattr(error, "field", None)
    if field:
        body["field"] = field
    body.update(error.context())
    return json_response(body, status_of(error))


def api_route(blueprint: Blueprint, path: str, role: str | None, methods: tuple[str, ...] = ("GET",),
              errors: ErrorFace = V6_ERRORS, params: Sequence[Param] = ()
              ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """`blueprint.route` that also records which role the route needs, checks the query against the declared
    `params` (chalicelib.api_inputs: the same definitions the OpenAPI document is written from) and answers
    domain errors in the route's face."""
    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        for method in methods:
            ROUTE_ROLES[(method, path)] = role
            ROUTE_PARAMS[(method, path)] = tuple(params)

        @functools.wraps(view)
        def handle(*args: Any, **kwargs: Any) -> Response:
            # Chalice turns any exception a view raises into its own 500 before middleware sees it.
            try:
                if params:
                    check_query(query_params(blueprint.current_request), params)
                return view(*args, **kwargs)
            except ServiceError as error:
                return error_to_response(error, errors, query_params(blueprint.current_request).first("locale"))
        blueprint.route(path, methods=list(methods), cors=cors_config())(handle)
        return handle
    return register


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    all_headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return Response(body=json.dumps(body), status_code=status, headers=all_headers)


def error_response(status: int, detail: str) -> Response:
    return json_response({"detail": detail}, status)


def http_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Authenticate, check the route's role, turn domain errors into JSON responses, and put the CORS
    headers on every response, errors included (a browser hides an error without them)."""
    return _with_cors(event, _handle(event, get_response))


def _handle(event: Request, get_response: Callable[[Request], Response]) -> Response:
    try:
        route = (event.method, event.context.get("resourcePath", ""))
        role = ROUTE_ROLES.get(route, "viewer")
        if role is not None:
            event.context["principal"] = _principal(event, role)
        response = get_response(event)
    except ServiceError as error:  # authentication and roles, before the route runs
        return error_to_response(error)
    except Exception:  # noqa: BLE001 - the one place that turns a bug into a JSON 500
        logger.exception("unhandled error on %s %s", event.method, event.path)
        return error_response(500, "Internal server error.")
    return _framework_error(event, response)


ANONYMOUS = auth.Principal("anonymous", "viewer", ())


def _principal(event: Request, role: str) -> auth.Principal:
    """Who calls; with JOBS_ANONYMOUS_READS on, a request without credentials may read as `anonymous`
    (the original's public-read switch; off by default)."""
    if (role == "viewer" and get_settings().anonymous_reads and event.method == "GET"
            and not event.headers.get("authorization")):
        return ANONYMOUS
    principal = auth.authenticate(event.headers, event.context)
    auth.require(principal, role)
    return principal


EXPOSED_HEADERS = "Location,X-Log-Truncated,X-Log-Next-Started"


def _with_cors(event: Request, response: Response) -> Response:
    origins = get_settings().cors_origins
    origin = event.headers.get("origin")
    if origins == ("*",):
        allowed = "*"
    elif origin in origins:
        allowed = origin
    else:  # not an allowed origin: no CORS headers at all, whatever the route's preflight config said
        for name in [h for h in response.headers if h.lower().startswith("access-control-")]:
            del response.headers[name]
        return response
    response.headers["Access-Control-Allow-Origin"] = allowed
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if allowed != "*":
        response.headers["Vary"] = "Origin"
    return response


def cors_config() -> CORSConfig:
    """Preflights (OPTIONS) are answered by API Gateway (and Chalice's local server) from this: the
    first configured origin, or any."""
    origins = get_settings().cors_origins
    return CORSConfig(allow_origin=origins[0], allow_headers=["Authorization", "Content-Type", "Idempotency-Key",
                                                             "X-Jobs-Project"],
                      expose_headers=EXPOSED_HEADERS.split(","), max_age=600)


def _framework_error(event: Request, response: Response) -> Response:
    """Chalice answers some requests itself (405, 415, its own 500s) with `{"Code", "Message"}`; give
    them our error shape."""
    if not (isinstance(response.body, dict) and "Code" in response.body):
        return response
    if response.status_code == 405 and event.context.get("resourcePath", "").startswith("/{p1}"):
        # only the catch-all routes of unknown paths (handlers.fallback) matched: the path is unknown
        return error_response(404, f"No such endpoint: {event.method} {event.path}")
    if response.status_code == 405:
        allowed = allowed_methods(event.context.get("resourcePath", ""))
        refused = error_response(405, f'Method "{event.method}" not allowed.')
        if allowed:
            refused.headers["Allow"] = ", ".join(allowed)
        return refused
    if response.status_code >= 500:
        logger.error("framework error on %s %s: %s", event.method, event.path, response.body)
        return error_response(500, "Internal server error.")
    return error_response(response.status_code, str(response.body.get("Message") or response.body["Code"]))


def allowed_methods(resource_path: str) -> list[str]:
    """The methods a route path answers (its own, and OPTIONS: the CORS preflight)."""
    methods = sorted({method for method, path in ROUTE_ROLES if path == resource_path})
    return methods + ["OPTIONS"] if methods else []


def principal_of(request: Request) -> auth.Principal:
    return request.context["principal"]


def scope_of(request: Request) -> Scope:
    """Whose jobs the caller may see: an admin every project's, anyone else their own projects'."""
    principal = principal_of(request)
    return EVERYTHING if principal.is_admin else Scope(tuple(principal.projects))


def caller(request: Request) -> tuple[auth.Principal, str | None]:
    """The principal and the project its creations are recorded under (`X-Jobs-Project` picks one)."""
    principal = principal_of(request)
    return principal, auth.choose_project(principal, request.headers.get("x-jobs-project"))


def query_params(request: Request) -> QueryParams:
    return QueryParams.from_chalice(request.query_params)


def json_body(request: Request) -> dict[str, Any]:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f'Unsupported media type "{content_type}" in request.')
    raw = request.raw_body or b""
    if not raw.strip():
        raise InvalidInput("Request body is empty; a JSON object is required.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"JSON parse error - {error}") from None
    except RecursionError:
        raise InvalidInput(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.") from None
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object.")
    if _depth(body) > MAX_JSON_DEPTH:
        raise InvalidInput(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
    return body


MAX_JSON_DEPTH = 64


def _depth(value: Any) -> int:
    """How deeply objects and arrays nest in `value` (iteratively: a deep body must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def int_path(value: str) -> int:
    """Ids in paths are 64-bit integers written in ASCII digits; anything else is simply not found."""
    from chalicelib.errors import NotFound
    from chalicelib.params import MAX_ID, ascii_int
    number = ascii_int(value)
    if number is None or not 0 <= number <= MAX_ID:
        raise NotFound()
    return number


def base_url(request: Request) -> str:
    configured = get_settings().public_url
    if configured:
        return configured.rstrip("/")
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    scheme = headers.get("x-forwarded-proto") or ("https" if host.endswith("amazonaws.com") else "http")
    stage = request.context.get("stage")
    prefix = f"/{stage}" if stage and host.endswith("amazonaws.com") else ""
    return f"{scheme}://{host}{prefix}"


def absolute_url(request: Request, path: str) -> str:
    return base_url(request) + path


def page_links(request: Request, page: PageRequest, count: int, after: str | None = None,
               before: str | None = None) -> tuple[str | None, str | None]:
    """`next`/`previous` URLs that keep every other parameter; with a cursor when there is one."""
    kept = [(k, v) for k, vs in query_params(request).items() if k not in ("page", "cursor") for v in vs]
    path = request.path if request.path.endswith("/") else request.path + "/"

    def link(number: int, cursor: str | None) -> str:
        extra = [("page", str(number))] + ([("cursor", cursor)] if cursor else [])
        return absolute_url(request, path) + "?" + urlencode(kept + extra)

    has_next = page.offset + page.page_size < count
    next_url = link(page.page + 1, after) if has_next else None
    previous_url = link(page.page - 1, before) if page.page > 1 else None
    return next_url, previous_url


def paged_body(request: Request, page: PageRequest, count: int, results: list[Any], after: str | None = None,
               before: str | None = None) -> dict[str, Any]:
    next_url, previous_url = page_links(request, page, count, after, before)
    return {"count": count, "next": next_url, "previous": previous_url, "results": results}


def paginate(request: Request, items: list[Any], render: Callable[[Any], dict[str, Any]]) -> Response:
    """Page a list that is already in memory (small collections: executions, workspaces...)."""
    from chalicelib.errors import NotFound
    page = page_request(query_params(request))
    if page.page > 1 and page.offset >= len(items):
        raise NotFound("Invalid page.")
    window = items[page.offset:page.offset + page.page_size]
    return json_response(paged_body(request, page, len(items), [render(item) for item in window]))


def page_request(params: QueryParams) -> PageRequest:
    from chalicelib.params import page_request as parse
    settings = get_settings()
    return parse(params, settings.default_page_size, settings.max_page_size)
