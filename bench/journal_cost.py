"""What the write-ahead journal costs: bench/run_jobs.py and bench/bulk.py run with the journal on and off
(JOBS_JOURNAL=1/0), each pair back to back (the machine is shared: noisy). Off is the former behaviour
(snapshots only; a crash loses what came after the last one).
Run: `.venv/bin/python -m bench.journal_cost` (BENCH_COST_BULK_JOBS=2000, BENCH_COST_PAIRS=2)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from bench.common import REPO, publish

BULK_JOBS = int(os.environ.get("BENCH_COST_BULK_JOBS", "2000"))
PAIRS = int(os.environ.get("BENCH_COST_PAIRS", "2"))


def run(module: str, journal: bool, extra: dict) -> str:
    env = {**os.environ, "BENCH_WRITE": "0", "JOBS_JOURNAL": "1" if journal else "0", **extra}
    done = subprocess.run([sys.executable, "-m", module], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def throughput(out: str) -> float:
    return float(re.search(r"throughput, first POST to last end \| ([\d.]+) jobs/s", out).group(1))


def bulk_seconds(out: str) -> tuple[float, float]:
    cancel = float(re.search(r"\| cancel \| ([\d.]+) s", out).group(1))
    requeue = float(re.search(r"\| requeue \| ([\d.]+) s", out).group(1))
    return cancel, requeue


def main() -> None:
    rows = []
    for pair in range(PAIRS):
        for journal in (True, False) if pair % 2 == 0 else (False, True):
            jobs = throughput(run("bench.run_jobs", journal, {}))
            cancel, requeue = bulk_seconds(run("bench.bulk", journal, {"BENCH_BULK_JOBS": str(BULK_JOBS)}))
            rows.append((pair + 1, journal, jobs, cancel, requeue))
            print(rows[-1], flush=True)
    lines = [f"bench/run_jobs.py (200 jobs running `true`) and bench/bulk.py ({BULK_JOBS:,} QUEUED jobs canceled, "
             f"{BULK_JOBS:,} FAILED requeued) with the journal on and off, each pair back to back, order alternated; "
             f"{os.cpu_count()} cores shared with other engineers' test runs.", "",
             "| pair | journal | running jobs | bulk cancel | bulk requeue |", "|---:|---|---:|---:|---:|"]
    for pair, journal, jobs, cancel, requeue in rows:
        state = "on" if journal else "off"
        lines.append(f"| {pair} | {state} | {jobs:.1f} jobs/s | {cancel:.1f} s | {requeue:.1f} s |")
    on = [r for r in rows if r[1]]
    off = [r for r in rows if not r[1]]

    def mean(values):
        return sum(values) / len(values)
    lines += ["", f"Mean, on vs off: running jobs {mean([r[2] for r in on]):.1f} vs {mean([r[2] for r in off]):.1f} "
              f"jobs/s ({100 * (1 - mean([r[2] for r in on]) / mean([r[2] for r in off])):+.0f}% slower with it); "
              f"bulk cancel {mean([r[3] for r in on]):.1f} vs {mean([r[3] for r in off]):.1f} s, requeue "
              f"{mean([r[4] for r in on]):.1f} vs {mean([r[4] for r in off]):.1f} s."]
    publish("\n".join(lines), "journal_cost")


if __name__ == "__main__":
    main()
