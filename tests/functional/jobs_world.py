"""A small, varied set of jobs (every status, three job types, a batch, a recipe, errors, source
fields, ties on last_modified) and a reference implementation of the v6 filters to check against."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from local import sample_data as sd
from local import seed_store

BASE = datetime(2026, 1, 10, 12, 0, 0, tzinfo=timezone.utc)
STATUSES = ("PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED")
COUNT = 24


@dataclass
class World:
    jobs: list
    job_types: dict
    batch: object
    recipe: object
    node: object

    def ids(self, predicate=lambda job: True, key=None, reverse=False) -> list[int]:
        chosen = [job for job in self.jobs if predicate(job)]
        key = key or (lambda job: (job.last_modified, job.id))
        return [job.id for job in sorted(chosen, key=key, reverse=reverse)]


def build_world() -> World:
    now = BASE
    job_types = {"alpha1": sd.job_type("alpha"), "alpha2": sd.job_type("alpha", "2.0.0"),
                 "beta": sd.job_type("beta")}
    kinds = ["alpha1", "alpha2", "beta"]
    node = seed_store.create_node("node-a.example", now)
    batch = seed_store.create_batch("Batch one", "first batch", now)
    recipe_type = seed_store.create_recipe_type("pipeline", "Pipeline", "A pipeline", now)
    recipe = seed_store.create_recipe(recipe_type, None, batch.id, now)
    ids = list(sd.new_ids(COUNT))
    built = []
    for i, job_id in enumerate(ids):
        status = STATUSES[i % len(STATUSES)]
        error = ("node-lost" if i % 2 else "timeout") if status == "FAILED" else None
        modified = now + timedelta(minutes=i if i != 11 else 10)  # jobs 10 and 11 tie on last_modified
        job, data, links = sd.build_job(
            job_id, job_types[kinds[i % 3]], status, modified, node=node, error=error,
            batch=batch if i % 4 == 0 else None,
            recipe=recipe if i % 5 == 0 else None, recipe_type=recipe_type if i % 5 == 0 else None,
            created=now - timedelta(minutes=i * 7 % 13),
            source={"source_sensor_class": "classA" if i % 2 else "classB", "source_sensor": str(i % 3),
                    "source_collection": f"c{i % 2}", "source_task": f"t{i % 4}",
                    "source_started": now + timedelta(hours=i), "source_ended": now + timedelta(hours=i, minutes=30)},
            num_exes=i % 3 + (0 if status in ("PENDING", "BLOCKED") else 1))
        job.is_superseded = i % 6 == 0
        job.input_file_size = float(i % 5)
        built.append((job, data, links))
    jobs = sd.store(built)
    return World(jobs, job_types, batch, recipe, node)
