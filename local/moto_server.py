"""The local stack's moto process: `python -m moto.server` with the bulk state machine's Lambda task routed
to our chunk handler (moto cannot run Lambda code without Docker; see local/lambdas.py).

The chunk handler, like the state machine's own tasks, runs in this process, so its AWS calls are served
in-process (moto's botocore stubber, as under `mock_aws`) instead of over loopback HTTP: a third of this
process's time under load went to serving its own HTTP requests. Everyone else reaches it over HTTP.
DynamoDB items are encoded by local/moto_speedups.py (same answers, a fraction of moto's cost).
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


def main(argv: list[str]) -> None:
    import moto.server
    from moto.server import main as moto_main
    moto.server.signal_handler = _exit_now

    from local.call_counter import count_aws_calls, counting_requested, write_counts
    from local.lambdas import route_bulk_chunk
    from local.moto_speedups import install, install_for_server
    install()
    install_for_server()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request, to a discarded stderr
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
