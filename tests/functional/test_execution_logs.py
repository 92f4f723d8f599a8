"""GET /v6/job-executions/{id}/logs/{log_id}/ over lines written through CloudWatchLogSink into moto's
CloudWatch Logs."""
from __future__ import annotations

import time

import boto3
import pytest

from chalicelib import clock, execution_logs
from chalicelib.execution_logs import CloudWatchLogSink, create_log_group, iso_ms
from chalicelib.models.executions import insert_execution
from local import sample_data as sd
from local import seed_store


@pytest.fixture
def logs_client(aws):
    client = boto3.client("logs")
    create_log_group(client, "test-")
    return client


@pytest.fixture
def execution(logs_client):
    now = clock.now()
    jt = sd.job_type("log-algo")
    node = seed_store.create_node("worker-logs", now)
    (job,) = sd.store([sd.build_job(sd.new_ids(1)[0], jt, "RUNNING", now, node=node)])
    return sd.execution(job, 1, "RUNNING", now, node=node)


@pytest.fixture
def base_ms():
    return int(time.time() * 1000) - 60_000


def write(execution, lines):
    """Given lines (stream, text, timestamp_ms) written by a runner through the sink."""
    with CloudWatchLogSink(execution.cluster_id, background=False, flush_interval=3600) as sink:
        for stream, text, timestamp in lines:
            sink.write(stream, text, timestamp)


def url(execution, log_id, query=""):
    return f"/v6/job-executions/{execution.id}/logs/{log_id}/" + (f"?{query}" if query else "")


def messages(response):
    return [hit["_source"]["message"] for hit in response.json_body["hits"]["hits"]]


def test_json_envelope_and_entry_fields(api, execution, base_ms):
    write(execution, [("stdout", "hello\n", base_ms), ("stderr", "warning: careful", base_ms + 5)])

    response = api.get(url(execution, "combined"))

    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json_body
    assert body["hits"]["total"] == 2
    assert body["hits"]["hits"][0] == {"_source": {
        "message": "hello", "@timestamp": iso_ms(base_ms), "scale_order_num": 1, "scale_task": execution.id,
        "scale_job_exe": execution.cluster_id, "scale_node": "worker-logs", "stream": "stdout"}}
    assert body["hits"]["hits"][1]["_source"]["stream"] == "stderr"
    assert body["hits"]["hits"][1]["_source"]["scale_order_num"] == 2


def test_streams_and_combined_order_lines_sharing_a_millisecond(api, execution, base_ms):
    write(execution, [("stdout", "out-1", base_ms), ("stderr", "err-1", base_ms), ("stdout", "out-2", base_ms),
                      ("stderr", "err-2", base_ms + 1), ("stdout", "out-3", base_ms + 1)])

    combined = api.get(url(execution, "combined"))
    stdout = api.get(url(execution, "stdout"))
    stderr = api.get(url(execution, "stderr"))

    assert messages(combined) == ["out-1", "err-1", "out-2", "err-2", "out-3"]
    assert [hit["_source"]["scale_order_num"] for hit in combined.json_body["hits"]["hits"]] == [1, 2, 3, 4, 5]
    assert messages(stdout) == ["out-1", "out-2", "out-3"]
    assert messages(stderr) == ["err-1", "err-2"]
    assert {hit["_source"]["stream"] for hit in stderr.json_body["hits"]["hits"]} == {"stderr"}


def test_the_sequence_prefix_never_shows(api, execution, base_ms):
    write(execution, [("stdout", "#0000000009 looks like a prefix", base_ms), ("stdout", "", base_ms)])

    assert messages(api.get(url(execution, "stdout"))) == ["#0000000009 looks like a prefix", ""]
    assert api.get(url(execution, "stdout", "format=txt")).body == b"#0000000009 looks like a prefix\n\n"


def test_txt_is_one_message_per_line(api, execution, base_ms):
    write(execution, [("stdout", "first", base_ms), ("stderr", "oops", base_ms + 1),
                      ("stdout", "héllo — 日本語 🎉", base_ms + 2)])

    response = api.get(url(execution, "combined", "format=txt"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.body.decode("utf-8") == "first\noops\nhéllo — 日本語 🎉\n"


def test_html_escapes_everything_and_styles_stderr_apart(api, execution, base_ms):
    write(execution, [("stdout", "<script>alert('x')</script> & more", base_ms),
                      ("stderr", "bad <b>thing</b>", base_ms + 1), ("stdout", "日本語 🎉", base_ms + 2)])

    response = api.get(url(execution, "combined", "format=html"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.body.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert '<span class="line stderr">' in page and ".stderr{" in page
    assert page.count('class="line stdout"') == 2
    assert "日本語 🎉" in page


def test_unicode_in_json(api, execution, base_ms):
    write(execution, [("stderr", "héllo — 日本語 🎉 <script>", base_ms)])

    assert messages(api.get(url(execution, "stderr"))) == ["héllo — 日本語 🎉 <script>"]


def test_started_returns_only_lines_at_or_after_it(api, execution, base_ms):
    write(execution, [("stdout", "old", base_ms), ("stderr", "old-err", base_ms + 500),
                      ("stdout", "new", base_ms + 1000), ("stderr", "new-err", base_ms + 1500)])
    since = iso_ms(base_ms + 1000)

    tail = api.get(url(execution, "combined", f"started={since}"))

    assert messages(tail) == ["new", "new-err"]
    assert tail.json_body["hits"]["total"] == 2
    assert messages(api.get(url(execution, "stdout", f"started={since}"))) == ["new"]
    assert messages(api.get(url(execution, "combined", "started=PT1H"))) == ["old", "old-err", "new", "new-err"]
    assert api.get(url(execution, "combined", "started=" + iso_ms(base_ms + 2000))).status_code == 204


def test_bad_started_or_format_is_400_naming_it(api, execution):
    bad_started = api.get(url(execution, "combined", "started=yesterday"))
    naive = api.get(url(execution, "combined", "started=2024-01-01T00:00:00"))
    bad_format = api.get(url(execution, "combined", "format=xml"))

    assert bad_started.status_code == 400 and "started" in bad_started.json_body["detail"]
    assert naive.status_code == 400 and "started" in naive.json_body["detail"]
    assert bad_format.status_code == 400 and "format" in bad_format.json_body["detail"]


def test_no_entries_is_204_in_every_format(api, execution, base_ms):
    write(execution, [("stdout", "only stdout", base_ms)])

    for query in ("", "format=txt", "format=html"):
        response = api.get(url(execution, "stderr", query))
        assert response.status_code == 204, query
        assert response.body in (b"", None)
    assert api.get(url(execution, "stdout")).status_code == 200


def test_an_execution_that_never_started_is_204(api, execution, base_ms):
    write(execution, [("stdout", "stray line", base_ms)])
    execution.started = None
    insert_execution(execution)

    assert api.get(url(execution, "combined")).status_code == 204


def test_404s(api, execution):
    unknown_log = api.get(url(execution, "syslog"))
    missing = api.get("/v6/job-executions/999999/logs/combined/")
    not_an_id = api.get("/v6/job-executions/abc/logs/stdout/")

    for response in (unknown_log, missing, not_an_id):
        assert response.status_code == 404
        assert response.json_body == {"detail": "Not found."}


def test_the_route_needs_the_viewer_role(api, execution):
    assert api.as_role(None).get(url(execution, "combined")).status_code == 401


def test_a_log_longer_than_one_page_is_read_page_by_page(api, execution, base_ms, logs_client, monkeypatch):
    monkeypatch.setattr(execution_logs, "PAGE_SIZE", 7)
    calls = []
    from chalicelib import aws
    aws.client("logs").meta.events.register("before-call.logs.GetLogEvents", lambda **kw: calls.append(1))
    lines = []
    for i in range(40):
        lines.append(("stdout", f"out {i}", base_ms + i // 3))
        lines.append(("stderr", f"err {i}", base_ms + i // 3))
    write(execution, lines)

    combined = api.get(url(execution, "combined"))

    expected = [text for _, text, _ in lines]
    assert messages(combined) == expected
    assert [hit["_source"]["scale_order_num"] for hit in combined.json_body["hits"]["hits"]] == list(range(1, 81))
    # 40 events a stream in pages of 7: 6 pages, and one more that returns the same token.
    assert len(calls) == 2 * 7


def test_a_log_larger_than_a_response_can_hold_is_cut_and_says_where_to_continue(api, monkeypatch, execution,
                                                                                  base_ms):
    from chalicelib.handlers import logs as handler
    write(execution, [("stdout", f"line {i}", base_ms + i) for i in range(20)])
    monkeypatch.setattr(handler, "MAX_BODY_BYTES", 1200)
    response = api.get(url(execution, "combined"))
    assert response.status_code == 200
    body = response.json_body
    assert body["hits"]["total"] > len(body["hits"]["hits"]) > 0
    assert response.headers["X-Log-Truncated"] == "true"
    assert body["hits"]["total"] == 20
    shown = len(body["hits"]["hits"])
    resumed = api.get(url(execution, "combined", f"started={response.headers['X-Log-Next-Started']}"))
    assert messages(resumed)[0] == f"line {shown}"
