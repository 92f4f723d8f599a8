"""Cost of the spec's example history searches on 20,000 jobs: items read and round trips, from the
search's own `explain` figures. Run: `.venv/bin/python -m bench.history` (or `make bench`)."""
from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from bench.common import HEADERS, bench_store, publish
from bench.rsql_parser import SPEC_QUERIES
from local import seed_store

TOTAL = int(os.environ.get("BENCH_HISTORY_JOBS", "20000"))
T0 = datetime(2019, 6, 12, 0, 0, tzinfo=timezone.utc)
STATUSES = ("COMPLETED", "FAILED", "CANCELED", "QUEUED", "RUNNING")
# Every example query of the spec (the parser benchmark times the same list).
EXAMPLES = [q for q in SPEC_QUERIES if q != "algorithmName==Teste_Progresso"]


def seed() -> None:
    from local import sample_data as sd
    from tests.functional.test_history import yade_manifest
    types = [sd.register_job_type({"docker_image": "x:1", "manifest": yade_manifest(name, title, sleeps)},
                                  sd.ADMIN, "default").job_type
             for name, title, sleeps in [("yade", "Yade", True), ("teste-progresso", "Teste_Progresso", False)] +
             [(f"algo-{i}", f"Algo {i}", i % 2 == 0) for i in range(8)]]
    nodes = [seed_store.create_node(str(40100 + i), T0) for i in range(10)]
    owners = ["admin", "adm2", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"]
    ids = iter(sd.new_ids(TOTAL))
    built = []
    pick = random.Random(7)  # independent attributes, reproducible
    for i in range(TOTAL):
        jt = pick.choice(types)
        status = pick.choice(STATUSES)
        created = T0 + timedelta(seconds=86400 * i / TOTAL)
        if i == 777:
            created = datetime(2019, 6, 13, 0, 24, 25, 342000, tzinfo=timezone.utc)
        description = ("Teste Yade com batch" if i % 1000 == 0 else f"run {i} MS2" if i % 50 == 0
                       else f"job {i}")
        sleeps = {"Sleeps": i % 5} if "Sleeps" in str(jt.manifest) else {}
        built.append(sd.build_job(next(ids), jt, status, created + timedelta(minutes=3),
                                  node=pick.choice(nodes) if status != "QUEUED" else None,
                                  owner=pick.choice(owners), project=f"project-{pick.randrange(4)}",
                                  description=description, priority=pick.randrange(1, 6),
                                  created=created, json_inputs=sleeps,
                                  error="timeout" if status == "FAILED" else None))
        if len(built) == 1000:
            sd.store(built)
            built = []
    sd.store(built)


def main() -> None:
    with bench_store() as new_client:
        started = time.perf_counter()
        seed()
        print(f"seeded {TOTAL} jobs in {time.perf_counter() - started:.1f}s", flush=True)
        lines = ["| query | plan (index) | matches | items read | round trips | target |",
                 "|---|---|---:|---:|---:|---|"]
        with new_client() as client:
            for q in EXAMPLES:
                response = client.http.get(f"/v1/jobs/history?limit=20&explain=true&q={quote(q)}",
                                           headers=HEADERS)
                assert response.status_code == 200, response.body
                plan = response.json_body["plan"]
                indexed = plan["served_by_index"] != []
                target = 1.2 * plan["matches"] + 10
                verdict = "none (no index applies)"
                if indexed:
                    verdict = "met" if plan["items_read"] <= target else "missed"
                lines.append(f"| `{q}` | {plan['index']} | {plan['matches']:,} | {plan['items_read']:,} | "
                             f"{plan['round_trips']} | {verdict} |")
    publish(f"{TOTAL:,} jobs, 10 job types, 10 owners, 4 projects, 10 machines.\n\n" + "\n".join(lines), "history")


if __name__ == "__main__":
    main()
