"""GET /v6/jobs/: every filter, every order key, paging edges and bad input, checked against a
reference evaluation of the same data."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.models.jobs import SORT_KEYS
from chalicelib.timeutil import iso
from tests.functional.jobs_world import BASE, build_world


@pytest.fixture(scope="module")
def world(api_module):
    return build_world()


@pytest.fixture
def api(api_module, world):
    return api_module


def ids_of(response) -> list[int]:
    assert response.status_code == 200, response.body
    return [row["id"] for row in response.json_body["results"]]


def test_default_order_is_last_modified_ascending_with_ties_broken_by_id(api, world):
    # When
    listed = ids_of(api.get("/v6/jobs/"))
    # Then
    assert listed == world.ids()
    assert api.get("/v6/jobs/").json_body["count"] == len(world.jobs)


def test_descending_last_modified_is_the_exact_reverse(api, world):
    assert ids_of(api.get("/v6/jobs/?order=-last_modified")) == world.ids(reverse=True)


def test_list_row_has_exactly_the_v6_fields(api, world):
    row = api.get("/v6/jobs/?batch_id=%d" % world.batch.id).json_body["results"][0]
    assert list(row) == [
        "id", "job_type", "job_type_rev", "event", "recipe", "batch", "is_superseded", "superseded_job", "status",
        "node", "error", "num_exes", "max_tries", "input_file_size", "input_files", "source_started",
        "source_ended", "source_sensor_class", "source_sensor", "source_collection", "source_task", "created",
        "queued", "started", "ended", "last_status_change", "superseded", "last_modified"]
    assert set(row["job_type"]) == {"id", "name", "version", "title", "description", "is_active", "is_system",
                                    "is_paused", "is_published", "icon_code", "unmet_resources"}
    assert row["batch"] == {"id": world.batch.id, "title": "Batch one", "description": "first batch",
                            "created": iso(world.batch.created)}
    assert row["job_type_rev"]["job_type"] == {"id": row["job_type"]["id"]}


@pytest.mark.parametrize("query, predicate", [
    ("status=FAILED", lambda j: j.status == "FAILED"),
    ("status=FAILED&status=CANCELED", lambda j: j.status in ("FAILED", "CANCELED")),
    ("source_sensor_class=classA", lambda j: j.source_sensor_class == "classA"),
    ("source_sensor=1&source_sensor=2", lambda j: j.source_sensor in ("1", "2")),
    ("source_collection=c0", lambda j: j.source_collection == "c0"),
    ("source_task=t3", lambda j: j.source_task == "t3"),
    ("source_tasks=t1", lambda j: j.source_task == "t1"),
    ("error_category=SYSTEM", lambda j: j.error_category == "SYSTEM"),
    ("error_category=ALGORITHM&error_category=DATA", lambda j: j.error_category in ("ALGORITHM", "DATA")),
    ("is_superseded=true", lambda j: j.is_superseded),
    ("is_superseded=F", lambda j: not j.is_superseded),
    ("status=QUEUED&source_sensor_class=classB", lambda j: j.status == "QUEUED" and j.source_sensor_class == "classB"),
])
def test_value_filters(api, world, query, predicate):
    expected = world.ids(predicate)
    assert 0 < len(expected) < len(world.jobs)
    response = api.get(f"/v6/jobs/?{query}")
    assert ids_of(response) == expected
    assert response.json_body["count"] == len(expected)


def test_id_filters(api, world):
    alpha1, beta = world.job_types["alpha1"], world.job_types["beta"]
    chosen = [world.jobs[1].id, world.jobs[5].id, world.jobs[20].id]
    cases = {
        "&".join(f"job_id={i}" for i in chosen): lambda j: j.id in chosen,
        f"job_type_id={alpha1.id}": lambda j: j.job_type_id == alpha1.id,
        f"job_type_id={alpha1.id}&job_type_id={beta.id}": lambda j: j.job_type_id in (alpha1.id, beta.id),
        "job_type_name=alpha": lambda j: j.job_type_name == "alpha",
        "job_type_name=beta": lambda j: j.job_type_name == "beta",
        f"job_type_name=alpha&job_type_id={beta.id}": lambda j: False,
        f"batch_id={world.batch.id}": lambda j: j.batch_id == world.batch.id,
        f"recipe_id={world.recipe.id}": lambda j: j.recipe_id == world.recipe.id,
        "error_id=5": lambda j: j.error_id == 5,
        f"job_type_id={alpha1.id}&status=FAILED": lambda j: j.job_type_id == alpha1.id and j.status == "FAILED",
        f"job_id={chosen[0]}&job_id={chosen[1]}&status=BLOCKED": lambda j: j.id in chosen[:2] and j.status == "BLOCKED",
        f"batch_id={world.batch.id}&status=PENDING": lambda j: j.batch_id == world.batch.id and j.status == "PENDING",
    }
    for query, predicate in cases.items():
        expected = world.ids(predicate)
        response = api.get(f"/v6/jobs/?{query}")
        assert ids_of(response) == expected, query
        assert response.json_body["count"] == len(expected), query


def test_unknown_job_type_name_matches_nothing(api, world):
    assert api.get("/v6/jobs/?job_type_name=nope").json_body == {
        "count": 0, "next": None, "previous": None, "results": []}


def test_started_and_ended_filter_last_modified_inclusively(api, world):
    start, end = BASE + timedelta(minutes=5), BASE + timedelta(minutes=12)
    expected = world.ids(lambda j: start <= j.last_modified <= end)
    url = f"/v6/jobs/?started={iso(start)}&ended={iso(end)}"
    assert ids_of(api.get(url)) == expected
    assert len(expected) == 8  # minutes 5..12, with 10 twice and 11 absent
    assert ids_of(api.get(f"/v6/jobs/?started={iso(start)}&status=RUNNING")) == world.ids(
        lambda j: j.last_modified >= start and j.status == "RUNNING")


def test_timestamps_accept_any_explicit_offset(api, world):
    # 09:05-03:00 is 12:05Z
    expected = world.ids(lambda j: j.last_modified >= BASE + timedelta(minutes=5))
    assert ids_of(api.get("/v6/jobs/?started=2026-01-10T09:05:00-03:00")) == expected
    assert ids_of(api.get("/v6/jobs/?started=2026-01-10T17:35:00%2B05:30")) == expected


def test_duration_means_now_minus_it(api, world):
    from chalicelib import clock
    clock.set_clock(lambda: BASE + timedelta(minutes=20))
    try:
        expected = world.ids(lambda j: j.last_modified >= BASE + timedelta(minutes=17))
        assert ids_of(api.get("/v6/jobs/?started=PT3M")) == expected
        assert ids_of(api.get("/v6/jobs/?started=PT0H3M0S")) == expected
        assert ids_of(api.get("/v6/jobs/?ended=P0DT0H10M")) == world.ids(
            lambda j: j.last_modified <= BASE + timedelta(minutes=10))
    finally:
        clock.set_clock(None)


def test_source_time_filters(api, world):
    start, end = BASE + timedelta(hours=3), BASE + timedelta(hours=9)
    expected = world.ids(lambda j: j.source_started >= start and j.source_ended <= end)
    assert ids_of(api.get(f"/v6/jobs/?source_started={iso(start)}&source_ended={iso(end)}")) == expected
    assert len(expected) == 6  # hours 3..8 (hour 9 ends at 9:30)


@pytest.mark.parametrize("field", sorted(SORT_KEYS))
@pytest.mark.parametrize("descending", [False, True])
def test_every_order_key_sorts_both_ways_with_id_tie_break(api, world, field, descending):
    accessor = SORT_KEYS[field]
    listed = ids_of(api.get(f"/v6/jobs/?order={'-' if descending else ''}{field}"))
    assert sorted(listed) == sorted(job.id for job in world.jobs)
    rows = {job.id: job for job in world.jobs}
    values = [accessor(rows[i]) for i in listed]
    non_null = [v for v in values if v is not None]
    assert non_null == sorted(non_null, reverse=descending), field
    nulls_at = [i for i, v in enumerate(values) if v is None]
    if nulls_at:  # NULLs last ascending, first descending (PostgreSQL's rule, as the original had)
        expected_positions = list(range(len(values) - len(nulls_at), len(values))) if not descending else list(
            range(len(nulls_at)))
        assert nulls_at == expected_positions, field
    for a, b in zip(listed, listed[1:]):
        if accessor(rows[a]) == accessor(rows[b]) and field != "last_modified":
            assert a < b, f"tie on {field} not broken by ascending id"


def test_multiple_order_keys(api, world):
    listed = ids_of(api.get("/v6/jobs/?order=status&order=-id"))
    expected = [j.id for j in sorted(world.jobs, key=lambda j: (j.status, -j.id))]
    assert listed == expected


def test_console_sort_keys_are_accepted(api, world):
    for key in ("job_type", "recipe", "created", "last_modified", "node", "duration", "status", "error.category",
                "error.title"):
        for prefix in ("", "-"):
            assert api.get(f"/v6/jobs/?order={prefix}{key}").status_code == 200, key


def test_unknown_order_key_is_400_naming_it(api, world):
    response = api.get("/v6/jobs/?order=-nope")
    assert response.status_code == 400
    assert response.json_body == {"detail": 'Invalid order field: "-nope"'}


def walk(api, url):
    pages = []
    while url:
        response = api.get(url.replace("http://testserver", ""))
        assert response.status_code == 200, response.body
        pages.append(response.json_body)
        url = response.json_body["next"]
    return pages


@pytest.mark.parametrize("query", ["", "order=-last_modified", "status=FAILED&status=COMPLETED&status=QUEUED",
                                   "order=created", "job_type_name=alpha&order=-last_modified"])
def test_following_next_visits_every_match_once_in_order(api, world, query):
    full = ids_of(api.get(f"/v6/jobs/?{query}"))
    pages = walk(api, f"/v6/jobs/?page_size=5&{query}")
    walked = [row["id"] for page in pages for row in page["results"]]
    assert walked == full
    assert all(page["count"] == len(full) for page in pages)
    assert len(pages) == -(-len(full) // 5)


def test_next_and_previous_links_keep_filters_and_agree_with_page_numbers(api, world):
    first = api.get("/v6/jobs/?page_size=4&order=-last_modified&source_collection=c1").json_body
    next_url = urlparse(first["next"])
    assert next_url.path == "/v6/jobs/"
    query = parse_qs(next_url.query)
    assert query["page"] == ["2"] and query["order"] == ["-last_modified"] and query["source_collection"] == ["c1"]
    second = api.get(first["next"].replace("http://testserver", "")).json_body
    by_number = api.get("/v6/jobs/?page_size=4&order=-last_modified&source_collection=c1&page=2").json_body
    assert second["results"] == by_number["results"]
    back = api.get(second["previous"].replace("http://testserver", "")).json_body
    assert back["results"] == first["results"]
    assert first["previous"] is None


def test_page_edges(api, world):
    assert api.get("/v6/jobs/?page=0").json_body == {"detail": "Invalid page."}
    assert api.get("/v6/jobs/?page=0").status_code == 404
    assert api.get("/v6/jobs/?page=-1").status_code == 404
    assert api.get("/v6/jobs/?page=abc").status_code == 404
    assert api.get("/v6/jobs/?page_size=10&page=3").status_code == 200
    past = api.get("/v6/jobs/?page_size=10&page=4")
    assert past.status_code == 404 and past.json_body == {"detail": "Invalid page."}
    assert len(ids_of(api.get("/v6/jobs/?page_size=abc"))) == len(world.jobs)  # falls back to 100
    assert len(ids_of(api.get("/v6/jobs/?page_size=0"))) == len(world.jobs)
    assert len(ids_of(api.get("/v6/jobs/?page_size=5000"))) == len(world.jobs)  # clamped to 1000
    assert len(ids_of(api.get("/v6/jobs/?page_size=3"))) == 3


def test_page_one_of_an_empty_result_is_a_normal_page(api, world):
    response = api.get("/v6/jobs/?status=FAILED&source_task=none")
    assert response.status_code == 200
    assert response.json_body == {"count": 0, "next": None, "previous": None, "results": []}


def test_tampered_cursor_is_400(api, world):
    assert api.get("/v6/jobs/?cursor=garbage").status_code == 400
    assert api.get("/v6/jobs/?cursor=eyJkIjoieCIsImsiOiIxIn0").json_body == {"detail": 'Invalid cursor: "cursor"'}


@pytest.mark.parametrize("query, name", [
    ("job_id=abc", "job_id"), ("job_type_id=1.5", "job_type_id"), ("batch_id=x", "batch_id"),
    ("recipe_id=", None), ("error_id=one", "error_id"),
    ("is_superseded=maybe", "is_superseded"), ("status=DONE", "status"), ("error_category=USER", "error_category"),
    ("started=yesterday", "started"), ("ended=2026-01-10T12:00:00", "ended"), ("source_started=2026-13-01T00:00:00Z",
                                                                               "source_started"),
    ("started=P1M", "started"), ("started=P1Y", "started"), ("started=P2W", "started"), ("ended=PXYZ", "ended"),
])
def test_bad_parameters_are_400_naming_the_parameter(api, world, query, name):
    response = api.get(f"/v6/jobs/?{query}")
    if name is None:  # an empty value is no value (the console sends empty segments)
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.body
    assert f'"{name}"' in response.json_body["detail"]


@pytest.mark.parametrize("start, end", [("started", "ended"), ("source_started", "source_ended")])
def test_equal_and_reversed_ranges_are_400(api, world, start, end):
    t1, t2 = "2026-01-10T12:00:00Z", "2026-01-10T13:00:00Z"
    assert api.get(f"/v6/jobs/?{start}={t1}&{end}={t1}").status_code == 400
    reversed_range = api.get(f"/v6/jobs/?{start}={t2}&{end}={t1}")
    assert reversed_range.status_code == 400
    assert start in reversed_range.json_body["detail"]


def test_unknown_parameters_and_empty_segments_are_ignored(api, world):
    response = api.get("/v6/jobs/?sortField=x&include_superseded=true&job_type_version=1&&status=&")
    assert ids_of(response) == world.ids()


def test_without_trailing_slash_is_served_the_same(api, world):
    assert ids_of(api.get("/v6/jobs?status=RUNNING")) == ids_of(api.get("/v6/jobs/?status=RUNNING"))
