"""Assertions shared by the functional tests."""


def assert_error(response, status: int, *fragments: str) -> str:
    """A JSON error with exactly `{"detail": ...}`, whose message holds every fragment."""
    assert response.status_code == status, response.body
    assert response.headers.get("Content-Type", "").startswith("application/json")
    body = response.json_body
    assert list(body) == ["detail"], body
    for fragment in fragments:
        assert fragment in body["detail"], body
    return body["detail"]
