from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.errors import InvalidInput, NotFound
from chalicelib.params import Body, QueryParams, check_range, page_request, parse_bool, parse_int
from chalicelib.timeutil import iso, parse_duration, parse_timestamp

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=timezone.utc)),
    ("2026-03-01T10:00:00-03:00", datetime(2026, 3, 1, 13, tzinfo=timezone.utc)),
    ("2026-03-01T10:00:00+05:30", datetime(2026, 3, 1, 4, 30, tzinfo=timezone.utc)),
    ("2026-03-01T10:00:00.123456+00:00", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)),
    ("PT3H", NOW - timedelta(hours=3)),
    ("pt3h0m0s", NOW - timedelta(hours=3)),
    ("P1DT2H", NOW - timedelta(days=1, hours=2)),
    ("P2D", NOW - timedelta(days=2)),
])
def test_timestamps_and_durations(text, expected):
    assert parse_timestamp("started", text, NOW) == expected


@pytest.mark.parametrize("text", ["2026-03-01T10:00:00", "2026-03-01", "yesterday", "P1M", "P1Y", "P1W", "PT",
                                  "P", "2026-02-30T00:00:00Z", "PT1H30X"])
def test_bad_timestamps_name_the_parameter(text):
    with pytest.raises(InvalidInput) as error:
        parse_timestamp("ended", text, NOW)
    assert '"ended"' in error.value.detail
    assert error.value.field == "ended"


def test_duration_with_months_in_the_time_part_is_minutes():
    assert parse_duration("d", "PT5M") == timedelta(minutes=5)


def test_iso_renders_utc_milliseconds_with_z():
    value = datetime(2015, 8, 28, 14, 57, 41, 5999, tzinfo=timezone(timedelta(hours=-3)))
    assert iso(value) == "2015-08-28T17:57:41.005Z"
    assert iso(datetime(999, 1, 2, 3, 4, 5, 999999, tzinfo=timezone.utc)) == "0999-01-02T03:04:05.999Z"
    assert iso(datetime(2026, 12, 31, 23, 59, 59, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-12-31T22:59:59.000Z"
    assert iso(None) is None


@pytest.mark.parametrize("word, value", [("true", True), ("T", True), ("1", True), ("FALSE", False), ("f", False),
                                         ("0", False)])
def test_booleans(word, value):
    assert parse_bool("b", word) is value


@pytest.mark.parametrize("word", ["yes", "no", "2", ""])
def test_bad_booleans(word):
    with pytest.raises(InvalidInput, match='"b"'):
        parse_bool("b", word)


def test_integers():
    assert parse_int("n", " 42 ") == 42
    with pytest.raises(InvalidInput, match='Parameter must be a valid integer: "n"'):
        parse_int("n", "4.2")


def test_ranges():
    a, b = NOW, NOW + timedelta(seconds=1)
    check_range("s", a, "e", b)
    check_range("s", None, "e", b)
    with pytest.raises(InvalidInput, match="must not be equal"):
        check_range("s", a, "e", a)
    with pytest.raises(InvalidInput, match='"s" must be before "e"'):
        check_range("s", b, "e", a)


@pytest.mark.parametrize("query, page, size", [
    ({}, 1, 100), ({"page": ["3"]}, 3, 100), ({"page_size": ["abc"]}, 1, 100), ({"page_size": ["0"]}, 1, 100),
    ({"page_size": ["-5"]}, 1, 100), ({"page_size": ["5000"]}, 1, 1000), ({"page_size": ["7"]}, 1, 7),
    ({"page": [""]}, 1, 100),
])
def test_page_requests(query, page, size):
    request = page_request(QueryParams(query))
    assert (request.page, request.page_size) == (page, size)
    assert request.offset == (page - 1) * size


@pytest.mark.parametrize("raw", ["0", "-1", "x", "1.5"])
def test_invalid_pages_are_404(raw):
    with pytest.raises(NotFound, match="Invalid page."):
        page_request(QueryParams({"page": [raw]}))


def test_query_params_drop_empty_values():
    params = QueryParams({"status": ["", "FAILED", ""], "x": [""]})
    assert params.values("status") == ["FAILED"]
    assert params.first("x") is None and not params.has("x")


def test_body_types_and_unknown_fields():
    body = Body({"a": "x", "n": 3, "flag": True, "obj": {}}, ("a", "n", "flag", "obj", "missing"))
    assert body.string("a") == "x" and body.integer("n", minimum=1) == 3 and body.boolean("flag") is True
    assert body.obj("obj") == {} and body.string("missing") is None
    with pytest.raises(InvalidInput, match='"n" must be a string'):
        body.string("n")
    with pytest.raises(InvalidInput, match='"flag" must be an integer'):
        body.integer("flag")
    with pytest.raises(InvalidInput, match='Missing required parameter: "missing"'):
        body.string("missing", required=True)
    with pytest.raises(InvalidInput, match="Unknown field\\(s\\): typo"):
        Body({"typo": 1}, ("a",))
