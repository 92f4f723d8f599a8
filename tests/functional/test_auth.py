"""Who may call what: every non-public route needs a valid bearer token (locally) or the gateway
authorizer's principal (deployed); roles form a ladder viewer < submitter < operator < admin; the
creator and project of what is created are recorded."""
from __future__ import annotations

import re

import pytest

import app as application
from chalicelib import auth
from chalicelib.config import get_settings, reset_settings
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.handlers import fallback
from chalicelib.handlers.common import ROUTE_ROLES
from chalicelib.models import catalog
from local.sample_data import manifest

PROTECTED = sorted(route for route, role in ROUTE_ROLES.items() if role is not None)
# The catch-all routes of unknown paths (a 404 for anyone) are tested in test_console.
PUBLIC = sorted(route for route, role in ROUTE_ROLES.items() if role is None and route[1] not in fallback.PATHS)
SAMPLE_PATH_VALUES = {"job_id": "1", "exe_num": "1", "file_id": "1", "workspace_id": "1", "name": "some-job",
                      "execution_id": "1", "log_id": "combined", "operation_id": "1",
                      "version": "1.0.0"}
ROLES = ("viewer", "submitter", "operator", "admin")


def concrete(path: str) -> str:
    """`/v6/jobs/{job_id}` -> `/v6/jobs/1/`."""
    filled = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], path)
    return filled + "/" if filled.startswith("/v6/") else filled


def call(api, method: str, path: str, headers: dict):
    all_headers = {"Host": "testserver", "Content-Type": "application/json", **headers}
    body = "{}" if method == "POST" else None
    return api.client.http.request(method, path, headers=all_headers, body=body)


def assert_401(response) -> None:
    assert response.status_code == 401, response.body
    assert response.headers.get("Content-Type", "").startswith("application/json")
    body = response.json_body
    assert list(body) == ["detail"] and body["detail"], body


def job_type_body(name: str = "owned") -> dict:
    return {"docker_image": f"{name}:1", "manifest": manifest(name)}


def workspace_body(name: str, folder) -> dict:
    return {"name": name, "configuration": {"broker": {"type": "host", "host_path": str(folder)}}}


@pytest.fixture
def gateway_mode(monkeypatch):
    """The deployed mode: API Gateway's authorizer has authenticated the caller."""
    monkeypatch.setenv("JOBS_AUTH_MODE", "gateway")
    reset_settings()
    # Read (and cache) the settings now: the Chalice test client swaps in the `local` stage's environment
    # (JOBS_AUTH_MODE=local, from .chalice/config.json) while it serves a request.
    assert get_settings().auth_mode == "gateway"
    yield
    reset_settings()


# --- the route table ------------------------------------------------------------------------------------

def test_every_registered_route_declares_its_role():
    registered = {(method, path) for path, methods in application.app.routes.items() for method in methods
                  if method != "OPTIONS"}

    assert registered == set(ROUTE_ROLES)
    assert set(ROUTE_ROLES.values()) <= set(ROLES) | {None}
    assert PUBLIC == [("GET", "/docs"), ("GET", "/openapi.json")]
    assert all(role == "operator" for (method, path), role in ROUTE_ROLES.items()
               if method == "POST" and path != "/v6/jobs" and path not in fallback.PATHS)
    assert ROUTE_ROLES[("POST", "/v6/jobs")] == "submitter"


# --- 401 on every protected route -----------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer nope"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"Authorization": "admin-token"},
    {"Authorization": "Token admin-token"},
], ids=["no-token", "unknown-token", "empty-bearer", "basic", "bare-token", "other-scheme"])
@pytest.mark.parametrize("method, path", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_protected_route_without_valid_credentials_is_401_json(api, method, path, headers):
    response = call(api, method, concrete(path), headers)

    assert_401(response)


def test_bearer_scheme_is_case_insensitive_and_token_is_trimmed(api):
    response = call(api, "GET", "/v6/job-types/", {"Authorization": "bearer   viewer-token  "})

    assert response.status_code == 200, response.body


def test_a_refused_post_writes_nothing(api):
    response = call(api, "POST", "/v6/job-types/", {"Authorization": "Bearer nope"})

    assert_401(response)
    assert catalog.all_job_types() == []


@pytest.mark.parametrize("method, path", PUBLIC, ids=[f"{m} {p}" for m, p in PUBLIC])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}], ids=["no-token", "bad-token"])
def test_public_routes_need_no_token(api, method, path, headers):
    response = call(api, method, path, headers)

    assert response.status_code == 200, response.body


# --- the role ladder ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, status", [("viewer", 403), ("submitter", 403), ("operator", 201), ("admin", 201)])
def test_role_ladder_on_job_type_creation(api, role, status):
    response = api.as_role(role).post("/v6/job-types/", job_type_body())

    assert response.status_code == status, response.body
    if status == 403:
        assert response.json_body == {"detail": "This action needs the operator role."}
        assert catalog.find_job_type("owned", "1.0.0") is None


@pytest.mark.parametrize("role, status", [("viewer", 403), ("submitter", 403), ("operator", 201), ("admin", 201)])
def test_role_ladder_on_workspace_creation(api, tmp_path, role, status):
    response = api.as_role(role).post("/v6/workspaces/", workspace_body("laddered", tmp_path))

    assert response.status_code == status, response.body
    if status == 403:
        assert list(response.json_body) == ["detail"]
        assert api.get("/v6/workspaces/").json_body["count"] == 1


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/v6/job-types/", "/v6/workspaces/", "/v6/files/", "/v6/jobs/"])
def test_every_role_can_read(api, role, path):
    assert api.as_role(role).get(path).status_code == 200


def test_principal_role_ladder():
    for i, role in enumerate(ROLES):
        principal = auth.Principal("p", role, ())
        assert [principal.has_role(needed) for needed in ROLES] == [j <= i for j in range(len(ROLES))]
        if role != "admin":
            with pytest.raises(Forbidden):
                auth.require(principal, ROLES[i + 1])


# --- the creator is recorded ------------------------------------------------------------------------------

def test_creator_and_default_project_are_recorded(api):
    response = api.as_role("operator").post("/v6/job-types/", job_type_body())
    assert response.status_code == 201, response.body

    stored = catalog.find_job_type("owned", "1.0.0")

    assert (stored.owner, stored.project) == ("operator-user", "default")


def test_project_header_chooses_one_of_the_callers_projects(api):
    response = api.as_role("operator").post("/v6/job-types/", job_type_body(),
                                            headers={"X-Jobs-Project": "operator-project"})
    assert response.status_code == 201, response.body

    stored = catalog.find_job_type("owned", "1.0.0")

    assert (stored.owner, stored.project) == ("operator-user", "operator-project")


def test_project_the_caller_is_not_a_member_of_is_403(api):
    response = api.as_role("operator").post("/v6/job-types/", job_type_body(),
                                            headers={"X-Jobs-Project": "admin-project"})

    assert response.status_code == 403, response.body
    assert response.json_body == {"detail": "Not a member of project: admin-project"}
    assert catalog.find_job_type("owned", "1.0.0") is None


def test_project_not_a_member_of_is_403_for_files_too(api, aws):
    response = api.as_role("operator").post(
        "/v6/files/", {"workspace": "default", "file_name": "a.txt", "content_base64": "aGk="},
        headers={"X-Jobs-Project": "viewer-project"})

    assert response.status_code == 403, response.body
    assert list(aws.rglob("*.txt")) == []


def test_admin_may_record_any_project(api):
    response = api.as_role("admin").post("/v6/job-types/", job_type_body(), headers={"X-Jobs-Project": "elsewhere"})
    assert response.status_code == 201, response.body

    stored = catalog.find_job_type("owned", "1.0.0")

    assert (stored.owner, stored.project) == ("admin-user", "elsewhere")


def test_a_new_revision_keeps_the_original_creator(api):
    api.as_role("operator").post("/v6/job-types/", job_type_body())

    response = api.as_role("admin").post("/v6/job-types/", job_type_body(), headers={"X-Jobs-Project": "other"})

    assert response.status_code == 200, response.body
    stored = catalog.find_job_type("owned", "1.0.0")
    assert (stored.revision_num, stored.owner, stored.project) == (2, "operator-user", "default")


# --- gateway mode -------------------------------------------------------------------------------------------

def test_gateway_mode_reads_the_authorizer_principal(gateway_mode):
    context = {"authorizer": {"principalId": "alice", "role": "operator", "projects": "p1,p2"}}

    principal = auth.authenticate({}, context)

    assert principal == auth.Principal("alice", "operator", ("p1", "p2"))
    assert principal.default_project == "p1"


def test_gateway_mode_reads_jwt_claims(gateway_mode):
    context = {"authorizer": {"claims": {"sub": "bob", "custom:role": "admin", "custom:projects": "team"}}}

    assert auth.authenticate({}, context) == auth.Principal("bob", "admin", ("team",))


def test_gateway_mode_defaults_to_viewer_with_no_projects(gateway_mode):
    assert auth.authenticate({}, {"authorizer": {"principalId": "carol"}}) == auth.Principal("carol", "viewer", ())


@pytest.mark.parametrize("context", [{}, {"authorizer": {}}, {"authorizer": {"role": "admin"}}],
                         ids=["no-authorizer", "empty-authorizer", "no-principal"])
def test_gateway_mode_without_a_principal_is_unauthenticated(gateway_mode, context):
    with pytest.raises(Unauthenticated):
        auth.authenticate({}, context)


def test_gateway_mode_with_an_unknown_role_is_forbidden(gateway_mode):
    with pytest.raises(Forbidden):
        auth.authenticate({}, {"authorizer": {"principalId": "eve", "role": "root"}})


def test_gateway_mode_ignores_local_bearer_tokens(api, gateway_mode):
    # The test client's request context has no authorizer: a local token must not stand in for one.
    response = api.as_role("admin").get("/v6/job-types/")

    assert_401(response)


def test_local_mode_is_back_after_gateway_mode(api):
    assert api.as_role("viewer").get("/v6/job-types/").status_code == 200

