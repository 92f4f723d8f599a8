"""One more process serving the API of the embedded stack: `python -m local.api_server FD`.

The stack binds the API's port and serves it itself; with JOBS_API_PROCESSES above 1 it also starts this
program that many times less one, each accepting on the same listening socket (inherited as file
descriptor FD), as a pre-fork server does. One Python process runs one request's Python at a time: with
20 clients the requests of a single process queue for its interpreter lock (and hand it over thousands of
times a second), so more processes serve more requests where the cores allow. The processes share
nothing but the socket: every request reads and writes the emulated AWS, as concurrent Lambda instances
do in AWS.

It ignores SIGINT (a Ctrl-C reaches the whole process group; the stack decides the order of a stop), stops
on SIGTERM, and dies with the stack (parent-death signal, set by the stack when it starts it)."""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalice.local import LocalDevServer


def serve_app(port: int, listening: socket.socket | None = None) -> LocalDevServer:
    """The Chalice app served on 127.0.0.1:`port` (on `listening` when the port is shared with other API
    processes) from a background thread, then warmed up in another one."""
    from chalice.config import Config

    from app import app
    from local.http_errors import create_server
    server = create_server(app, Config(chalice_stage="local"), "127.0.0.1", port, listening=listening)
    per_thread_requests(app)
    threading.Thread(target=server.server.serve_forever, name="http", daemon=True).start()
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    return server


def per_thread_requests(app: Any) -> None:
    """Chalice keeps the request being handled on the app object (`current_request`, `lambda_context`):
    safe in Lambda (one request per instance at a time), not in a threaded server, where concurrent
    requests would read each other's. Keep both per thread instead."""
    base = app.__class__
    local = threading.local()

    def slot(name: str) -> property:
        return property(lambda self: getattr(local, name, None), lambda self, value: setattr(local, name, value))

    app.__class__ = type("PerThreadChalice", (base,), {"current_request": slot("request"),
                                                       "lambda_context": slot("context")})


def warm_up() -> None:
    """What the first request of each kind would pay otherwise (~100-400 ms each, measured): every use case
    module imported and every table's client made. In the background: a start does not wait for it."""
    from chalicelib.lazy import import_all
    from chalicelib.models.tables import ALL_MODELS
    import_all()
    for model in ALL_MODELS:
        model._get_connection().connection.client  # noqa: B018, SLF001 - PynamoDB makes it on first use


def main(argv: list[str]) -> int:
    from chalicelib.wiring import install
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    listening = socket.socket(fileno=int(argv[0]))
    install()
    server = serve_app(listening.getsockname()[1], listening)
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already so from the start when the stack starts it
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("api process ready", flush=True)
    # With a timeout: the kernel may hand SIGTERM to any thread, and Python runs the handler only when the main
    # thread next runs Python code; an endless wait here would never see it (the process outlived its stack).
    while not stop.wait(1):
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    time.tzset()
    sys.exit(main(sys.argv[1:]))
