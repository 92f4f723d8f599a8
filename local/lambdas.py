"""Route moto's Lambda invocations to in-process Python handlers.

moto cannot run a Lambda's code without Docker; its simple backend (`"lambda": {"use_docker": False}`)
echoes the payload instead. When moto runs in this process (tests, or the moto process of the local
stack, see `local/moto_server.py`), a state machine's Lambda task can call our handler directly: the
function's name (the last part of its ARN) selects the handler. An exception becomes a Lambda function
error (`Unhandled`, `{"errorType", "errorMessage"}`), which the state machine's Retry/Catch see.
"""
from __future__ import annotations

import json
import logging
from typing import Callable

log = logging.getLogger(__name__)

_handlers: dict[str, Callable[[dict], object]] = {}
_installed = False


def route(function_name_suffix: str, handler: Callable[[dict], object]) -> None:
    """Invocations of any function whose name ends with `function_name_suffix` call `handler(event)`."""
    global _installed
    _handlers[function_name_suffix] = handler
    if _installed:
        return
    from moto.awslambda_simple.models import LambdaSimpleBackend
    echo = LambdaSimpleBackend.invoke

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        name = str(function_name).rsplit(":", 1)[-1] if ":function:" not in str(function_name) else \
            str(function_name).split(":function:", 1)[1].split(":", 1)[0]
        handler = next((h for suffix, h in _handlers.items() if name.endswith(suffix)), None)
        if handler is None:
            return echo(self, function_name, qualifier, body, headers, response_headers)
        try:
            event = json.loads(body) if body else {}
            return json.dumps(handler(event)).encode()
        except Exception as error:  # noqa: BLE001 - reported as the function's error, as Lambda does
            log.exception("routed Lambda %s failed", name)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()

    LambdaSimpleBackend.invoke = invoke
    _installed = True


def route_bulk_chunk(after_each: Callable[[], None] | None = None) -> None:
    from chalicelib.services.bulk_jobs import handle_chunk_event
    from chalicelib.workflows import CHUNK_FUNCTION
    if after_each is None:
        route(CHUNK_FUNCTION, handle_chunk_event)
        return

    def handle_then_report(event: dict) -> object:
        try:
            return handle_chunk_event(event)
        finally:
            after_each()
    route(CHUNK_FUNCTION, handle_then_report)
