"""`GET /v6/job-executions/{id}/logs/{stdout|stderr|combined}/`: parse, read through
`chalicelib.execution_logs`, render as the original's JSON envelope, plain text or a small HTML page.

The renderers consume the entries as they come (one page of CloudWatch events at a time) and build
the body in one pass; the body itself is whole because a Lambda proxy response cannot stream."""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterable

from chalice import Blueprint, Response

from chalicelib import api_inputs as inputs
from chalicelib import clock
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.handlers.common import api_route, int_path, query_params, scope_of
from chalicelib.lazy import lazy
from chalicelib.params import QueryParams, optional_time

if TYPE_CHECKING:
    from chalicelib.execution_logs import LogEntry

execution_logs = lazy("chalicelib.execution_logs")
job_details = lazy("chalicelib.services.job_details")
LOG_IDS = ("stdout", "stderr", "combined")  # execution_logs.LOG_IDS, without importing it at cold start
blueprint = Blueprint(__name__)

FORMATS = ("json", "txt", "html")


@dataclass(frozen=True)
class LogQuery:
    format: str
    started: datetime | None


def log_query(params: QueryParams) -> LogQuery:
    output = params.first("format") or "json"
    if output not in FORMATS:
        raise InvalidInput(f'Invalid value for "format": {output!r}. Choices: {", ".join(FORMATS)}', field="format")
    return LogQuery(output, optional_time(params, "started", clock.now()))


@api_route(blueprint, "/v6/job-executions/{execution_id}/logs/{log_id}", "viewer",
           params=inputs.EXECUTION_LOG)
def get_execution_log(execution_id: str, log_id: str) -> Response:
    if log_id not in LOG_IDS:
        raise NotFound()
    execution = int_path(execution_id)
    job_details.visible_execution_job(execution, scope_of(blueprint.current_request))
    query = log_query(query_params(blueprint.current_request))
    entries = execution_logs.read_execution_log(execution, log_id, query.started)
    return RENDERERS[query.format](entries, f"{log_id} of job execution {execution}")


# A Lambda proxy response holds at most 6 MB: past this budget the body stops, and two headers say
# so and where to continue (`started`), while `hits.total` still counts every entry.
MAX_BODY_BYTES = 5_000_000


@dataclass
class _Window:
    parts: list[str]
    total: int
    next_started: str | None


def _window(entries: Iterable[LogEntry], render: Callable[[LogEntry], str]) -> _Window:
    parts: list[str] = []
    size, total, next_started = 0, 0, None
    for entry in entries:
        total += 1
        if next_started is not None:
            continue
        part = render(entry)
        size += len(part.encode("utf-8")) + 2
        if size > MAX_BODY_BYTES:
            next_started = entry["@timestamp"]
            continue
        parts.append(part)
    return _Window(parts, total, next_started)


def _response(body: str, content_type: str, window: _Window) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": content_type}
    if window.next_started is not None:
        headers.update({"X-Log-Truncated": "true", "X-Log-Next-Started": window.next_started})
    return Response(body=body, status_code=200, headers=headers)


def _no_content() -> Response:
    return Response(body="", status_code=204)


def render_json(entries: Iterable[LogEntry], title: str) -> Response:
    window = _window(entries, lambda entry: json.dumps({"_source": entry}, ensure_ascii=False))
    if not window.total:
        return _no_content()
    body = '{"hits": {"total": %d, "hits": [%s]}}' % (window.total, ", ".join(window.parts))
    return _response(body, "application/json; charset=utf-8", window)


def render_txt(entries: Iterable[LogEntry], title: str) -> Response:
    window = _window(entries, lambda entry: entry["message"] + "\n")
    if not window.total:
        return _no_content()
    return _response("".join(window.parts), "text/plain; charset=utf-8", window)


_PAGE_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{margin:0;background:#1e1e1e;color:#d4d4d4;font:13px/1.4 monospace}
pre{margin:0;padding:8px;white-space:pre-wrap;word-break:break-all}
.line{display:block}.ts{color:#808080;user-select:none}.stderr{color:#f48771;background:#3a1d1d}
</style></head><body><pre>
"""


def _html_line(entry: LogEntry) -> str:
    stream = "stderr" if entry["stream"] == "stderr" else "stdout"
    return (f'<span class="line {stream}"><span class="ts">{html.escape(entry["@timestamp"])} </span>'
            f'{html.escape(entry["message"])}</span>\n')


def render_html(entries: Iterable[LogEntry], title: str) -> Response:
    window = _window(entries, _html_line)
    if not window.total:
        return _no_content()
    body = _PAGE_HEAD % html.escape(title) + "".join(window.parts) + "</pre></body></html>\n"
    return _response(body, "text/html; charset=utf-8", window)


RENDERERS = {"json": render_json, "txt": render_txt, "html": render_html}
