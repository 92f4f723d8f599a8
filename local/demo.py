"""`make demo`: a few job types, files and jobs in every state, so a newcomer sees a populated API."""
from __future__ import annotations

from datetime import timedelta

from chalicelib import clock
from chalicelib.models import catalog, files
from local import sample_data as sd
from local import seed_store

STATES = ("PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED")


def load_demo() -> str:
    if catalog.find_job_type("demo-word-count", "1.0.0") is not None:
        return "demo data already loaded"
    now = clock.now()
    word_count = sd.job_type("demo-word-count", title="Word count")
    thumbnails = sd.job_type("demo-thumbnails", title="Thumbnails")
    sd.job_type("demo-thumbnails", "2.0.0", title="Thumbnails")
    workspace = files.get_workspace("default")
    broker_root = workspace.configuration["broker"]["host_path"]
    inputs = []
    for index in range(3):
        name = f"sample-{index}.txt"
        path = f"demo/{name}"
        content = ("the quick brown fox jumps over the lazy dog\n" * (index + 1)).encode()
        from chalicelib.storage import HostBroker
        HostBroker(broker_root).write(path, content, "text/plain")
        inputs.append({"workspace_id": workspace.id, "workspace_name": "default", "file_name": name,
                       "file_path": path, "media_type": "text/plain", "file_size": len(content), "owner": "admin",
                       "project": "default"})
    inputs = files.save_files(inputs, now)
    node = seed_store.create_node("demo-node-1", now, resources={"cpus": 2, "mem": 4096, "disk": 10000}, slots=2)
    batch = seed_store.create_batch("Demo batch", "Jobs submitted together for the demo", now)
    recipe_type = seed_store.create_recipe_type("demo-pipeline", "Demo pipeline", "Word count then thumbnails", now)
    event = seed_store.create_event("USER", now)
    recipe = seed_store.create_recipe(recipe_type, event.id, batch.id, now)
    ids = iter(sd.new_ids(len(STATES) * 2))
    built = []
    for offset, status in enumerate(STATES):
        at = now - timedelta(minutes=len(STATES) - offset)
        error = "node-lost" if status == "FAILED" else None
        built.append(sd.build_job(next(ids), word_count, status, at, node=node, error=error,
                                  input_files={"INPUT_FILE": [inputs[offset % 3]]}))
        built.append(sd.build_job(next(ids), thumbnails, status, at, node=node, batch=batch, recipe=recipe,
                                  recipe_type=recipe_type, error="timeout" if status == "FAILED" else None,
                                  input_files={"INPUT_FILE": [inputs[(offset + 1) % 3]]},
                                  source={"source_sensor_class": "classA", "source_sensor": "1",
                                          "source_collection": "12345", "source_task": "demo-task"}))
    jobs = sd.store(built)
    for job in jobs:
        if job.status in ("RUNNING", "FAILED", "COMPLETED"):
            exit_code = {"RUNNING": None, "FAILED": 1, "COMPLETED": 0}[job.status]
            sd.execution(job, 1, job.status, job.last_modified, node=node, exit_code=exit_code,
                         error=job.error["name"] if job.error else None)
    return f"demo data loaded: 3 job types, {len(inputs)} files, {len(jobs)} jobs"
