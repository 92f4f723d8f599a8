"""The embedded stack as a local engine at 2,000 / 20,000 / 100,000 jobs: restart time, journal and snapshot
size, list and history latency (one client, then 20 concurrent clients), and running-jobs throughput.

For each size: a stack in this process (moto in its own process, journaling) is seeded with the jobs of
bench/list_jobs.py (a 1,200-job "core" - one job type, batch and recipe, half RUNNING - plus filler that
matches none of its filters), so the measured requests have the same matches at every size. Then:

- restart from the journal alone: moto is killed (no snapshot was taken: JOBS_JOURNAL_MAX_RECORDS and
  JOBS_SNAPSHOT_SECONDS set high), and `python -m local.stack` is started on the folder, timed from exec to
  its `token:` line (everything restored, API serving);
- that stack is stopped with SIGINT (last snapshot), and started again: restart from a snapshot;
- against it, over HTTP, after each request below sent 4 times not measured (with several API processes a
  connection goes to any of them, and each one's first request of a kind pays for what it has not yet
  loaded): filtered list pages (20 times) and an indexed history search (10 times), p50 / p95,
  then 20 client threads each sending 20 requests, list pages and the indexed `recent` search in turn
  (requests/s, errors), after 2 each not measured (the stack's API processes import what a request needs on
  their first one). The 1,200-match search is measured alone, not in that mix: the issue's baseline (14
  jobs, 97 requests/s) is listing and searching with bounded matches, and a search that reads 1,200 jobs
  costs what its matches cost at any table size;
- 100 jobs running `true` submitted at once (priority 1), throughput from the first POST to the last COMPLETED.

The seeded jobs are data, not work: their job types are paused and the stack runs no sweep (their RUNNING
jobs have no process and would end node-lost while being listed).

Run: `.venv/bin/python -m bench.local_engine` (BENCH_ENGINE_SIZES=2000,20000,100000). The machine is shared.
"""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import requests

from bench.common import REPO, noop_job_type, publish

TOKEN = "bench"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SIZES = [int(s) for s in os.environ.get("BENCH_ENGINE_SIZES", "2000,20000,100000").split(",")]
RUN_JOBS = int(os.environ.get("BENCH_ENGINE_RUN_JOBS", "100"))
LIST_REPEATS, SEARCH_REPEATS, PER_CLIENT, WARM_UP, WARM_UP_SEQUENTIAL = 20, 10, 20, 2, 4


def seed_in_process(data_dir: Path, total: int) -> tuple[dict, float]:
    from bench.list_jobs import seed
    from chalicelib.wiring import reset
    from local.stack import LocalStack, free_port
    reset()  # a previous size's store is gone: clients, caches and ids are built afresh
    os.environ.update({"JOBS_JOURNAL_MAX_RECORDS": "100000000", "JOBS_SNAPSHOT_SECONDS": "100000"})
    stack = LocalStack(data_dir=data_dir, port=free_port(), admin_token=TOKEN, snapshot_seconds=100000)
    stack.configure_environment()
    stack.start_moto()
    stack.prepare(demo=False)
    started = time.perf_counter()
    seeded_at = datetime.now(timezone.utc)
    keys = seed(total)
    keys["recent"] = recent_core_query(seeded_at)
    seconds = time.perf_counter() - started
    pause_seeded_job_types()
    stack._moto.process.kill()  # a crash: the journal holds everything, no snapshot exists
    stack._moto.process.wait()
    for name in ("JOBS_JOURNAL_MAX_RECORDS", "JOBS_SNAPSHOT_SECONDS"):
        os.environ.pop(name)
    return keys, seconds


def recent_core_query(seeded_at: datetime) -> str:
    """The core jobs modified in the minute before seeding (bench/list_jobs.py spaces them 2 s apart from the
    seed's clock, read just after `seeded_at`): about 30 of them, found by the by-type index's time range."""
    def rsql_time(moment: datetime) -> str:
        return moment.strftime("%Y/%m/%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
    return (f'algorithmName=="Core";lastModifiedTime=ge="{rsql_time(seeded_at - timedelta(seconds=60))}";'
            f'lastModifiedTime=le="{rsql_time(seeded_at)}"')


def pause_seeded_job_types() -> None:
    """The seeded jobs are data to list and search, not work: their job types are paused so none of them
    runs while the throughput is measured (the measured jobs are queued at priority 1, ahead of them)."""
    from chalicelib import clock
    from chalicelib.models import catalog
    for job_type in catalog.all_job_types():
        catalog.add_revision(job_type, {"is_paused": True, "paused": clock.now()}, clock.now())


class Subprocess:
    def __init__(self, data_dir: Path) -> None:
        from local.stack import free_port
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JOBS_"))}
        env.update({"PORT": str(self.port), "JOBS_DATA_DIR": str(data_dir), "JOBS_ADMIN_TOKEN": TOKEN,
                    "PYTHONUNBUFFERED": "1",
                    # No sweep: the seeded RUNNING jobs have no process and would end node-lost mid-measure.
                    "JOBS_SWEEP_SECONDS": "100000"})
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=REPO, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.output = []
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("token: "):
                break
        else:
            raise RuntimeError("stack did not start:\n" + "".join(self.output))
        self.start_seconds = time.perf_counter() - started
        self.base = f"http://127.0.0.1:{self.port}"
        self.api_processes = next((int(line.split()[2]) for line in self.output
                                   if line.startswith("API processes:")), 1)
        # The rest of its output (a line per request) read as it comes: a full pipe would stop the stack.
        self._rest: list[str] = []
        self._reader = threading.Thread(target=lambda: self._rest.extend(self.process.stdout), daemon=True)
        self._reader.start()

    def stop(self) -> str:
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C
        self.process.wait(timeout=1800)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # the emulator outlives the stack until its last snapshot is on disk
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        self._reader.join(timeout=10)
        return "".join(self._rest)


def timed(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    response = session.get(url, headers=AUTH, timeout=120)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return elapsed * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def query_figures(base: str, keys: dict) -> dict:
    lists = [f"/v6/jobs/?page_size=100&status=RUNNING&job_type_id={keys['type']}&order=-last_modified",
             f"/v6/jobs/?page_size=100&batch_id={keys['batch']}",
             "/v6/jobs/?page_size=100&status=RUNNING"]
    search = "/v1/jobs/history?limit=20&q=" + quote('algorithmName=="Core"')
    recent = "/v1/jobs/history?limit=20&q=" + quote(keys["recent"])
    session = requests.Session()
    for _ in range(WARM_UP_SEQUENTIAL):  # each API process's first requests of a kind: imports, index structures
        for url in [*lists, search, recent]:
            timed(session, base + url)
    list_ms = [timed(session, base + lists[i % len(lists)]) for i in range(LIST_REPEATS)]
    search_ms = [timed(session, base + search) for _ in range(SEARCH_REPEATS)]
    recent_total = session.get(base + recent, headers=AUTH, timeout=120).json()["total"]
    recent_ms = [timed(session, base + recent) for _ in range(LIST_REPEATS)]
    errors, latencies = [], []

    def client(n: int, requests_sent: int, measured: bool) -> None:
        own = requests.Session()
        for i in range(requests_sent):
            url = base + (recent if (n + i) % 2 else lists[(n + i) % len(lists)])
            try:
                elapsed = timed(own, url)
                if measured:
                    latencies.append(elapsed)
            except Exception as error:  # noqa: BLE001 - counted
                errors.append(repr(error)[:200])
    with ThreadPoolExecutor(max_workers=20) as pool:  # every API process warmed up (its first request imports)
        list(pool.map(lambda n: client(n, WARM_UP, False), range(20)))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda n: client(n, PER_CLIENT, True), range(20)))
    wall = time.perf_counter() - started
    return {"list_p50": statistics.median(list_ms), "list_p95": percentile(list_ms, 0.95),
            "search_p50": statistics.median(search_ms), "search_p95": percentile(search_ms, 0.95),
            "recent_p50": statistics.median(recent_ms), "recent_p95": percentile(recent_ms, 0.95),
            "recent_total": recent_total,
            "rps": (len(latencies) + len(errors)) / wall, "errors": len(errors), "load": os.getloadavg()[0],
            "concurrent_p50": statistics.median(latencies) if latencies else 0.0}


def throughput(base: str) -> float:
    job_type, input_file = noop_job_type(base, AUTH)
    started = time.perf_counter()
    session = requests.Session()
    for _ in range(RUN_JOBS):
        response = session.post(f"{base}/v6/jobs/", headers=AUTH, json={
            "job_type_id": job_type, "configuration": {"priority": 1},
            "input": {"files": {"INPUT_FILE": [input_file]}}})
        assert response.status_code == 201, response.text
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        done = session.get(f"{base}/v6/jobs/?job_type_id={job_type}&status=COMPLETED&status=FAILED&page_size=1",
                           headers=AUTH).json()["count"]
        if done >= RUN_JOBS:
            break
        time.sleep(0.25)
    return RUN_JOBS / (time.perf_counter() - started)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def run_size(total: int) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-engine-{total}-"))
    keys, seed_seconds = seed_in_process(data_dir, total)
    print(f"{total}: seeded in {seed_seconds:.1f}s", flush=True)
    journal_bytes = folder_bytes(data_dir / "journal")
    from_journal = Subprocess(data_dir)
    replayed = next((line.strip() for line in from_journal.output if line.startswith("replayed")), "")
    print(f"{total}: restart from the journal alone {from_journal.start_seconds:.1f}s ({replayed})", flush=True)
    from_journal.stop()
    snapshot_bytes = folder_bytes(data_dir / "snapshot")
    stack = Subprocess(data_dir)
    print(f"{total}: restart from the snapshot {stack.start_seconds:.1f}s", flush=True)
    try:
        figures = query_figures(stack.base, keys)
        print(f"{total}: {figures}", flush=True)
        figures["jobs_per_second"] = throughput(stack.base)
        print(f"{total}: {figures['jobs_per_second']:.1f} jobs/s", flush=True)
    finally:
        stack.stop()
    return {"size": total, "seed_seconds": seed_seconds, "journal_bytes": journal_bytes,
            "journal_restart": from_journal.start_seconds, "replayed": replayed,
            "snapshot_bytes": snapshot_bytes, "snapshot_restart": stack.start_seconds,
            "api_processes": stack.api_processes, **figures}


def report(rows: list[dict]) -> str:
    mb = 1024 * 1024
    lines = [
        f"The embedded stack (`python -m local.stack`, journal on, {os.cpu_count()} cores shared with other "
        "engineers' test runs: figures are noisy). Jobs as in bench/list_jobs.py (1,200 core jobs + filler).",
        "",
        "| jobs | restart, journal only | journal on disk | restart, snapshot | snapshot on disk | list page p50 / p95 "
        "| history search, 1,200 matches, p50 / p95 | history search, recent, p50 / p95 "
        "| 20 clients (lists + recent search): req/s, errors, p50 (load average) | running jobs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['journal_restart']:.1f} s | {r['journal_bytes'] / mb:.1f} MB | "
            f"{r['snapshot_restart']:.1f} s | {r['snapshot_bytes'] / mb:.1f} MB | {r['list_p50']:.0f} / "
            f"{r['list_p95']:.0f} ms | {r['search_p50']:.0f} / {r['search_p95']:.0f} ms | {r['recent_p50']:.0f} / "
            f"{r['recent_p95']:.0f} ms ({r['recent_total']} matches) | {r['rps']:.1f}, "
            f"{r['errors']}, {r['concurrent_p50']:.0f} ms (load {r['load']:.1f}) | {r['jobs_per_second']:.1f} jobs/s |")
    lines += ["", "Restart is from exec of `python -m local.stack` to its `token:` line (state restored, API and "
              "workers up). *Journal only*: moto was killed after seeding, before any snapshot, so every write "
              "is replayed (" + "; ".join(f"{r['size']:,}: {r['replayed']}" for r in rows) + "). List pages: "
              "`status=RUNNING&job_type_id=core&order=-last_modified`, `batch_id=core`, `status=RUNNING` "
              "(page_size=100, the count included); searches (limit 20): `algorithmName==\"Core\"`, and the same "
              "with `lastModifiedTime` in the minute before seeding (`recent`). The 20 clients mix the list pages "
              "and the `recent` search (bounded matches, as the issue's 14-job baseline was measured), "
              f"{PER_CLIENT} requests each after {WARM_UP} not measured, served by "
              + ", ".join(sorted({str(r['api_processes']) for r in rows})) + " API processes (the default, "
              "`JOBS_API_PROCESSES`); the 1,200-match search is measured alone (its own column). Running jobs: "
              f"{RUN_JOBS} jobs running `true`, first POST to last end."]
    return "\n".join(lines)


def main() -> None:
    sys.path.insert(0, str(REPO))
    rows = [run_size(total) for total in SIZES]
    publish(report(rows), "local_engine")


if __name__ == "__main__":
    main()
