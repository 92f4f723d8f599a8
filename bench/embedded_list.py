"""The embedded stack's list pages over HTTP, count included, at 2,000 and 20,000 jobs (issue #16's
target: the unfiltered list at 20,000 jobs in <= 200 ms; it took 8.2 s when the count read every index
entry).

The stack is seeded as bench/local_engine.py seeds it (the jobs of bench/list_jobs.py, written in this
process, then the stack restarted from its journal as `python -m local.stack`), and each request is timed
20 times after one warm-up: the unfiltered page, the console's last 24 hours (`started=PT24H`), and a
filtered page (`status=RUNNING`).

Run: `.venv/bin/python -m bench.embedded_list` (BENCH_EMBEDDED_SIZES=2000,20000).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import requests

from bench.common import REPO, publish
from bench.local_engine import Subprocess, percentile, seed_in_process, timed

SIZES = [int(s) for s in os.environ.get("BENCH_EMBEDDED_SIZES", "2000,20000").split(",")]
REPEATS = 20
REQUESTS = [("no filter", "/v6/jobs/"), ("the console's last 24 hours", "/v6/jobs/?started=PT24H"),
            ("status=RUNNING", "/v6/jobs/?status=RUNNING"),
            ("no filter, -last_modified", "/v6/jobs/?order=-last_modified")]


def run_size(total: int) -> list[dict]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-embedded-list-{total}-"))
    seed_in_process(data_dir, total)
    stack = Subprocess(data_dir)
    rows = []
    try:
        session = requests.Session()
        for label, path in REQUESTS:
            timed(session, stack.base + path)  # warm-up: imports, first use of the index structures
            times = [timed(session, stack.base + path) for _ in range(REPEATS)]
            count = session.get(stack.base + path, headers={"Authorization": "Bearer bench"}).json()["count"]
            rows.append({"size": total, "label": label, "count": count, "p50": statistics.median(times),
                         "p95": percentile(times, 0.95)})
            print(rows[-1], flush=True)
    finally:
        stack.stop()
    return rows


def report(rows: list[dict]) -> str:
    lines = [f"The embedded stack over HTTP (`python -m local.stack`, {os.cpu_count()} shared cores), page_size 100 "
             f"with its count, {REPEATS} requests after a warm-up (`bench/embedded_list.py`):", "",
             "| jobs | request | count | p50 | p95 |", "|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['size']:,} | {r['label']} | {r['count']:,} | {r['p50']:.0f} ms | {r['p95']:.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    sys.path.insert(0, str(REPO))
    rows = [row for total in SIZES for row in run_size(total)]
    publish(report(rows), "embedded_list")


if __name__ == "__main__":
    main()
