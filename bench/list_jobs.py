"""Cost of `GET /v6/jobs/` in DynamoDB round trips and items read, at 2,000 and 20,000 jobs.

Each store holds the same 1,200-job "core" (job type `core`, batch 1, recipe 1, modified within the last
hour, half RUNNING) plus filler jobs that match none of the core's filters, so a request that selects
the core has the same matches at both sizes and its cost must not grow with the table.
Run: `make bench` (writes the tables into docs/performance.md).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from bench.common import HEADERS, REPO, bench_store, publish
from local import seed_store

CORE = 1200
PAGE = 100
FILLER_STATUSES = ("QUEUED", "FAILED", "COMPLETED", "CANCELED", "PENDING")


def seed(total: int) -> dict:
    from chalicelib import clock
    from local import sample_data as sd
    now = clock.now()
    core_type = sd.job_type("core")
    filler_types = [sd.job_type(f"filler-{i}") for i in range(5)]
    core_batch = seed_store.create_batch("core", None, now)
    filler_batches = [seed_store.create_batch(f"filler-{i}", None, now) for i in range(5)]
    recipe_type = seed_store.create_recipe_type("bench-recipe", "Bench recipe", None, now)
    core_recipe = seed_store.create_recipe(recipe_type, None, core_batch.id, now)
    filler_recipes = [seed_store.create_recipe(recipe_type, None, None, now) for _ in range(5)]
    ids = iter(sd.new_ids(total))
    built = []
    for i in range(total):
        job_id = next(ids)
        if i < CORE:
            modified = now - timedelta(seconds=2 * (i + 1))  # within the last hour
            built.append(sd.build_job(job_id, core_type, "RUNNING" if i % 2 else "QUEUED", modified,
                                      batch=core_batch, recipe=core_recipe, recipe_type=recipe_type))
        else:
            modified = now - timedelta(hours=2, seconds=i)
            built.append(sd.build_job(job_id, filler_types[i % 5], FILLER_STATUSES[i % 5], modified,
                                      batch=filler_batches[i % 5] if i % 3 == 0 else None,
                                      recipe=filler_recipes[i % 5] if i % 7 == 0 else None, recipe_type=recipe_type))
        if len(built) == 1000:
            sd.store(built)
            built = []
    sd.store(built)
    return {"type": core_type.id, "batch": core_batch.id, "recipe": core_recipe.id}


def requests_for(keys: dict) -> list[tuple[str, str, bool]]:
    """(label, query, same matches at both sizes?)"""
    single = [
        ("no filter", "", False),
        ("status=RUNNING", "status=RUNNING", True),
        ("status=FAILED", "status=FAILED", False),
        ("job_type_id", f"job_type_id={keys['type']}", True),
        ("job_type_name", "job_type_name=core", True),
        ("batch_id", f"batch_id={keys['batch']}", True),
        ("recipe_id", f"recipe_id={keys['recipe']}", True),
        ("status + job_type_id", f"status=RUNNING&job_type_id={keys['type']}", True),
        ("started/ended: last hour", "started=PT1H&ended=PT0S", True),
        ("started: last 24 hours (the console's view)", "started=PT24H", False),
    ]
    out = []
    for label, query, fixed in single:
        out.append((label, query, fixed))
        out.append((label + ", -last_modified", (query + "&" if query else "") + "order=-last_modified", fixed))
    return out


def measure(client, url: str):
    from bench.dynamo_meter import metered
    with metered() as meter:
        started = time.perf_counter()
        response = client.http.get(url, headers=HEADERS)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.body
    return meter, response.json_body, elapsed


def run_size(total: int) -> list[dict]:
    with bench_store() as new_client:
        started = time.perf_counter()
        keys = seed(total)
        print(f"seeded {total} jobs in {time.perf_counter() - started:.1f}s", flush=True)
        rows = []
        with new_client() as client:
            for label, query, fixed in requests_for(keys):
                base = f"/v6/jobs/?page_size={PAGE}" + (f"&{query}" if query else "")
                first, body, t1 = measure(client, base)
                fifth_next = fifth_direct = None
                if body["count"] > 4 * PAGE:
                    url = body["next"]
                    for _ in range(3):  # follow next to page 5
                        url = client.http.get(url.replace("http://bench", ""), headers=HEADERS).json_body["next"]
                    fifth_next, body5, _ = measure(client, url.replace("http://bench", ""))
                    fifth_direct, body5d, _ = measure(client, base + "&page=5")
                    assert [r["id"] for r in body5["results"]] == [r["id"] for r in body5d["results"]], label
                rows.append({"size": total, "label": label, "fixed": fixed, "matches": body["count"],
                             "p1": first, "p5next": fifth_next, "p5": fifth_direct, "t1": t1,
                             "counters": counter_items(query)})
        return rows


def counter_items(query: str) -> int | None:
    """The counter items the count of `query` reads (its plan: independent of how many jobs there are), or
    None when the counters cannot answer it."""
    from urllib.parse import parse_qsl

    from chalicelib.models import counters
    from chalicelib.params import QueryParams
    from chalicelib.services import list_jobs
    pairs: dict[str, list[str]] = {}
    for name, value in parse_qsl(query):
        pairs.setdefault(name, []).append(value)
    f, names = list_jobs.parse_filter(QueryParams(pairs))
    plan = counters.plan_count(list_jobs.resolve_job_type_names(f, names))
    return None if plan is None else plan.items


def model_check(rows: list[dict]) -> list[str]:
    """The million-job figures, by a model the seeded sizes check: page 1 reads the same whatever the table
    holds (its index range starts at the page), and the count reads its plan's counter items (fixed by the
    filter, not the table) plus the index entries of a window's partial second at each edge (at most the
    jobs modified within one second). Checked here on every measured row; the 1,000,000 row then takes the
    20,000 row's page and the plan's counters, with an edge bound of EDGE_AT_1M entries (a million jobs
    modified over 30 days is 0.4 a second)."""
    lines = []
    for r in rows:
        m = r["p1"]
        if r["counters"] is None:
            continue
        edges = m.count_items_read - r["counters"]
        assert 0 <= edges <= EDGE_BOUND, (r["label"], r["size"], m.count_items_read, r["counters"])
        assert m.count_round_trips <= 2, (r["label"], r["size"], m.count_round_trips)
    for r in rows:
        if r["size"] != 20000 or r["counters"] is None or "," in r["label"] and "-last_modified" in r["label"]:
            continue
        m = r["p1"]
        window = "started" in r["label"]
        items = m.page_items_read + m.related_items_read + r["counters"] + (EDGE_AT_1M if window else 0)
        trips = m.page_round_trips + 1 + (1 if window else 0)
        lines.append(f"| 1,000,000 (model) | {r['label']} | {items} | {trips} |")
    return lines


EDGE_BOUND = 5      # the seeded jobs are 1 to 2 seconds apart: an edge second holds at most a few
EDGE_AT_1M = 2


def cold_start() -> dict:
    def timed(code: str) -> float:
        runs = []
        for _ in range(7):
            out = subprocess.run([sys.executable, "-c", f"import time;t=time.perf_counter();{code};"
                                  "print(time.perf_counter()-t)"], cwd=REPO, capture_output=True, text=True,
                                 check=True)
            runs.append(float(out.stdout.strip()))
        return statistics.median(runs) * 1000
    app_ms = timed("import app")
    base_ms = timed("import chalice, boto3")
    # What the first GET /v6/jobs/ of a fresh function imports beyond `app`: its use case, views and the
    # store (the lazy modules its route names), timed after `import app` in the same interpreter.
    first_ms = timed("import app;t=time.perf_counter();import chalicelib.services.list_jobs, chalicelib.views.jobs")
    return {"app_ms": app_ms, "base_ms": base_ms, "ratio": app_ms / base_ms, "first_ms": first_ms}


def cost(m) -> str:
    if m is None:
        return "(fewer than 5 pages)"
    return f"{m.page_round_trips} / {m.page_items_read} (+{m.related_items_read})"


def report(rows: list[dict], cold: dict) -> str:
    lines = [
        "| jobs | request | matches | page 1: trips / items (+related) | page 5 via next | page=5 direct | "
        "count: trips / entries |",
        "|---:|---|---:|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['size']:,} | {r['label']} | {r['matches']:,} | {cost(r['p1'])} | {cost(r['p5next'])} | "
                     f"{cost(r['p5'])} | {r['p1'].count_round_trips} / {r['p1'].count_items_read:,} |")
    by_key = {(r["size"], r["label"]): r for r in rows}
    ratios = []
    for r in rows:
        if r["size"] == 20000 and r["fixed"]:
            small = by_key[(2000, r["label"])]
            big_cost = r["p1"].page_items_read + r["p1"].count_items_read
            small_cost = small["p1"].page_items_read + small["p1"].count_items_read
            ratios.append(f"| {r['label']} | {small_cost:,} | {big_cost:,} | {big_cost / small_cost:.2f} |")
    lines += ["", "Page 1 plus its count against the target (<= 150 items in <= 4 round trips, related job types "
              "included):", "", "| jobs | request | items | round trips |", "|---:|---|---:|---:|"]
    for r in rows:
        if "-last_modified" in r["label"]:
            continue
        m = r["p1"]
        lines.append(f"| {r['size']:,} | {r['label']} | "
                     f"{m.page_items_read + m.related_items_read + m.count_items_read} | "
                     f"{m.page_round_trips + m.count_round_trips} |")
    lines += model_check(rows)
    lines += ["", "Same request, same matches, 2,000 vs 20,000 jobs (page 1 items + count entries):", "",
              "| request | 2,000 | 20,000 | ratio |", "|---|---:|---:|---:|"] + ratios
    lines += ["", f"Cold start (median of 7 fresh interpreters): `import app` {cold['app_ms']:.0f} ms, "
              f"`import chalice, boto3` {cold['base_ms']:.0f} ms, ratio {cold['ratio']:.2f} (target <= 1.5); the first "
              f"`GET /v6/jobs/` then imports its use case, views and store in {cold['first_ms']:.0f} ms."]
    return "\n".join(lines)


def main() -> None:
    sys.path.insert(0, str(REPO))
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "2000,20000").split(",")]
    rows = []
    for size in sizes:
        rows += run_size(size)
    cold = cold_start()
    publish(report(rows, cold), "list_jobs")


if __name__ == "__main__":
    main()
