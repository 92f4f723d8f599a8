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


def assert_counts_exact() -> None:
    """Every job counter (chalicelib.models.counters) holds what the jobs themselves add up to, recomputed
    from a scan of them: a state change and its counter ADDs went together or not at all."""
    from chalicelib.models import counters
    from chalicelib.models import jobs as job_store
    drift = counters.drift(job_store.scan_all(job_store.ReadMeter()))
    assert drift == {}, counters.describe(drift)
