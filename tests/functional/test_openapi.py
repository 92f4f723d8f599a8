"""`/openapi.json` and `/docs` describe exactly the routes the application registers, so the document
cannot drift from the code."""
from __future__ import annotations

import html
import re

import pytest

import app as application
from chalicelib.handlers import fallback
from chalicelib.handlers.common import ROUTE_ROLES

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def registered_routes() -> set[tuple[str, str]]:
    """Minus the catch-all routes answering unknown paths with a 404 (not part of the API; not deployed)."""
    return {(path, method) for path, methods in application.app.routes.items() for method in methods
            if method != "OPTIONS" and path not in fallback.PATHS}


def operations(document: dict):
    """(path, METHOD, operation) of every operation in the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method.upper(), operation


@pytest.fixture
def document(api) -> dict:
    response = api.as_role(None).get("/openapi.json")
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json_body


def test_document_is_openapi_3(document):
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"]


def test_document_describes_exactly_the_registered_routes(document):
    documented = {(path.rstrip("/") or "/", method) for path, method, _ in operations(document)}

    assert documented == registered_routes()


def test_api_paths_are_documented_with_their_trailing_slash(document):
    for path in document["paths"]:
        if path.startswith("/v6/"):
            assert path.endswith("/"), path


def test_every_operation_documents_400_and_protected_ones_401_and_403(document):
    for path, method, operation in operations(document):
        role = ROUTE_ROLES[(method, path.rstrip("/"))]
        codes = set(operation["responses"])
        assert "400" in codes, (path, method)
        assert any(code.startswith("2") for code in codes), (path, method)
        if role is None:
            assert operation.get("security") == [], (path, method)
            assert "401" not in codes, (path, method)
        else:
            assert {"401", "403"} <= codes, (path, method)
            assert operation.get("security") != [], (path, method)
            assert f"Needs the **{role}** role." in operation["description"], (path, method)


def test_posts_document_their_body_and_415(document):
    for path, method, operation in operations(document):
        if method == "POST":
            assert operation["requestBody"]["required"] is True, path
            assert "application/json" in operation["requestBody"]["content"], path
            assert "415" in operation["responses"], path


def test_job_type_creation_documents_201_and_200(document):
    responses = document["paths"]["/v6/job-types/"]["post"]["responses"]

    assert {"200", "201", "409"} <= set(responses)


def test_every_path_parameter_is_documented(document):
    for path, method, operation in operations(document):
        in_path = set(re.findall(r"\{(\w+)\}", path))
        documented = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert documented == in_path, (path, method)
        for parameter in operation["parameters"]:
            if parameter["in"] == "path":
                assert parameter["required"] is True, (path, parameter)


def test_documented_path_parameters_match_the_route_names(document):
    routes = {path: set(re.findall(r"\{(\w+)\}", path)) for path, _ in registered_routes()}

    for path, _, _ in operations(document):
        assert set(re.findall(r"\{(\w+)\}", path)) == routes[path.rstrip("/")], path


SINGLETONS = {"/v6/version/", "/v6/scheduler/", "/v6/status/"}


def test_list_operations_document_paging(document):
    for path, method, operation in operations(document):
        names = {p["name"] for p in operation["parameters"]}
        if (method == "GET" and path.startswith("/v6/") and not re.search(r"\{\w+\}/$", path)
                and path not in SINGLETONS):
            assert {"page", "page_size"} <= names, path


def test_document_is_a_valid_openapi_document(document):
    validator = pytest.importorskip("openapi_spec_validator")

    validator.validate(document)


def test_served_document_is_public_and_stable(api, document):
    again = api.as_role("viewer").get("/openapi.json")

    assert again.json_body == document


def test_docs_page_is_public_html_mentioning_every_operation(api, document):
    response = api.as_role(None).get("/docs")

    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "/openapi.json" in page
    for path, method, operation in operations(document):
        assert f"{method} {path}" in page, (method, path)
        assert html.escape(operation["summary"]) in page, (method, path)
    assert "<script" not in page.lower()
