"""The local stack's moto process: `python -m moto.server` with the bulk state machine's Lambda task routed
to our chunk handler (moto cannot run Lambda code without Docker; see local/lambdas.py).

The chunk handler, like the state machine's own tasks, runs in this process, so its AWS calls are served
in-process (moto's botocore stubber, as under `mock_aws`) instead of over loopback HTTP: a third of this
process's time under load went to serving its own HTTP requests. Everyone else reaches it over HTTP.
DynamoDB items are encoded by local/moto_speedups.py (same answers, a fraction of moto's cost). Connections
are kept open between requests (local/keep_alive.py), not one per AWS call.

With JOBS_ENGINE_DIR set (the local stack sets it to its data folder), local/engine.py journals every
write and takes the snapshots. This process then ignores SIGINT and SIGTERM: a Ctrl-C or a SIGTERM to the
stack's process group must not end it before the stack's last snapshot. It ends when the stack closes its
standard input (or dies: the pipe closes, and the stack also asks Linux for a SIGKILL at its death).
"""
from __future__ import annotations

import logging
import os
import sys

STATE_MACHINES_RUN = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def serve_own_calls_in_process() -> None:
    """This process's own boto3 clients (the chunk task's, the state machine's) call the backends directly.
    Started before the server: moto resets its (still empty) backends when the first mock starts."""
    from moto import mock_aws
    os.environ.pop("AWS_ENDPOINT_URL", None)
    mock_aws(config=STATE_MACHINES_RUN).start()


def _exit_now(signum, frame) -> None:
    """SIGTERM/SIGINT end this process at once: it keeps nothing to save (the stack takes the snapshots),
    and moto's own handler would wait for a running state machine execution to finish first."""
    os._exit(0)


def _exit_at_end_of_input(engine) -> None:
    """The stack closed our standard input (a stop, or its death): sync the journal and end."""
    import threading

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(1 << 12):
                pass
        except (OSError, ValueError):
            pass
        try:
            engine.close()
        finally:
            os._exit(0)
    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def main(argv: list[str]) -> None:
    import signal
    import threading

    import moto.server
    from moto.server import main as moto_main
    moto.server.signal_handler = _exit_now
    engine_dir = os.environ.get("JOBS_ENGINE_DIR")
    if engine_dir:
        from pathlib import Path

        from local.engine import Engine
        engine = Engine(Path(engine_dir), sync=os.environ.get("JOBS_JOURNAL_FSYNC", "1") != "0")
        engine.claim_folder()
        engine.install()
        moto.server.signal_handler = signal.SIG_IGN
        _exit_at_end_of_input(engine)
        threading.Thread(target=engine.compact_loop, args=(threading.Event(),), name="compactor",
                         daemon=True).start()
        threading.Thread(target=engine.flush_loop, args=(threading.Event(),), name="journal-flush",
                         daemon=True).start()

    from local.call_counter import count_aws_calls, counting_requested, write_counts
    from local.lambdas import route_bulk_chunk
    from local.moto_speedups import install, install_for_server
    install()
    install_for_server()
    if os.environ.get("JOBS_MOTO_INDEX", "1") != "0":  # 0: moto's own whole-table Query, for comparison
        from local.moto_index import install as install_index
        install_index()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request, to a discarded stderr
    if os.environ.get("JOBS_MOTO_KEEP_ALIVE", "1") != "0":  # 0: a connection per request, for comparison
        from local.keep_alive import install as keep_connections_open
        keep_connections_open()
    # The chunk task's updates are served by this very process, one at a time under its interpreter lock:
    # parallel writers would only take turns (measured: slower), unlike against DynamoDB.
    os.environ.setdefault("JOBS_BULK_WRITERS", "1")
    serve_own_calls_in_process()
    if counting_requested():  # for bench/bulk.py: what each chunk cost, by operation
        counts = count_aws_calls()
        route_bulk_chunk(after_each=lambda: write_counts(counts))
    else:
        route_bulk_chunk()
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
