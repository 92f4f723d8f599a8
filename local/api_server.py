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


def main(argv: list[str]) -> int:
    from chalice.config import Config

    from app import app
    from chalicelib.wiring import install
    from local.http_errors import create_server
    from local.stack import per_thread_requests
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    listening = socket.socket(fileno=int(argv[0]))
    install()
    server = create_server(app, Config(chalice_stage="local"), "127.0.0.1", listening.getsockname()[1],
                           listening=listening)
    per_thread_requests(app)
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already so from the start when the stack starts it
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=server.server.serve_forever, name="http", daemon=True).start()
    print("api process ready", flush=True)
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    stop.wait()
    server.shutdown()
    return 0


def warm_up() -> None:
    """What the first request of each kind would pay otherwise (~100-400 ms each, measured): every use case
    module imported and every table's client made. After `ready`: a start does not wait for it."""
    from chalicelib.lazy import import_all
    from chalicelib.models.tables import ALL_MODELS
    import_all()
    for model in ALL_MODELS:
        model._get_connection().connection.client  # noqa: B018, SLF001 - PynamoDB makes it on first use


if __name__ == "__main__":
    time.tzset()
    sys.exit(main(sys.argv[1:]))
