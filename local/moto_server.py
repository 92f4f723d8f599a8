"""The local stack's moto process: `python -m moto.server` with the bulk state machine's Lambda task routed
to our chunk handler (moto cannot run Lambda code without Docker; see local/lambdas.py). The handler runs
in this process and reaches the emulated AWS over loopback like any client (AWS_ENDPOINT_URL)."""
from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from moto.server import main as moto_main

    from local.lambdas import route_bulk_chunk
    route_bulk_chunk()
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
