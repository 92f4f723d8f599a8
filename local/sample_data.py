"""Builders for realistic jobs in every state, written through the persistence layer. Used by the
tests, `make demo` and the benchmarks (never by the deployed service)."""
from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.auth import Principal
from chalicelib.domain import ExecutionRecord, InputLinkRecord, JobDataRecord, JobRecord, JobTypeRecord
from chalicelib.models import jobs as job_store
from chalicelib.models.executions import insert_execution
from chalicelib.seed import BUILTIN_ERRORS, Manifest
from chalicelib.services.job_types import register_job_type
from chalicelib.timeutil import iso
from chalicelib.views.history import input_parameters
from local import seed_store

ADMIN = Principal("admin", "admin", ("default",))
BUILTIN_BY_NAME = {e.name: e for e in BUILTIN_ERRORS}


def manifest(name: str, version: str = "1.0.0", *, title: str | None = None, command: str = "cat ${INPUT_FILE}",
             timeout: int = 60) -> dict:
    return {
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": version, "packageVersion": "1.0.0",
            "title": title or name.replace("-", " ").title(), "description": f"Sample job type {name}",
            "maintainer": {"name": "Jane Doe", "email": "jdoe@example.com"},
            "timeout": timeout,
            "interface": {
                "command": command,
                "inputs": {"files": [{"name": "INPUT_FILE"}], "json": [{"name": "LEVEL", "type": "integer",
                                                                         "required": False}]},
                "outputs": {"files": [{"name": "OUTPUT_FILE", "pattern": "*.out", "required": False}]},
                "settings": [{"name": "API_KEY", "secret": True}, {"name": "MODE"}],
            },
            "resources": {"scalar": [{"name": "cpus", "value": 1.0}, {"name": "mem", "value": 256.0},
                                     {"name": "disk", "value": 10.0, "inputMultiplier": 2.0}]},
            "errors": [{"code": 3, "name": "bad-input", "title": "Bad input", "category": "data"}],
        },
    }


def job_type(name: str, version: str = "1.0.0", *, title: str | None = None, **fields) -> JobTypeRecord:
    body = {"docker_image": f"{name}:{version}", "manifest": manifest(name, version, title=title)}
    body.update(fields)
    return register_job_type(body, ADMIN, "default").job_type


def error_base(name: str) -> dict:
    e = BUILTIN_BY_NAME[name]
    return {"id": e.id, "name": e.name, "title": e.title, "description": e.description, "job_type_name": None,
            "category": e.category, "is_builtin": True, "should_be_retried": e.should_be_retried}


def build_job(job_id: int, jt: JobTypeRecord, status: str, now: datetime, *, batch=None, recipe=None,
              recipe_type=None, node=None, error: str | None = None, event_id: int | None = None,
              input_files: dict[str, list] | None = None, source: dict | None = None, priority: int = 100,
              num_exes: int | None = None, created: datetime | None = None, owner: str = "admin",
              project: str = "default", description: str | None = None, json_inputs: dict | None = None,
              exit_code: int | None = None) -> tuple[JobRecord, JobDataRecord, list[InputLinkRecord]]:
    created = created or now - timedelta(minutes=10)
    executed = status in ("RUNNING", "FAILED", "COMPLETED") or (status == "CANCELED" and node is not None)
    started = now - timedelta(minutes=5) if executed else None
    ended = now - timedelta(minutes=1) if status in ("FAILED", "COMPLETED") else None
    files = input_files or {}
    job = JobRecord(
        id=job_id, status=status, job_type_id=jt.id, job_type_name=jt.name, job_type_version=jt.version,
        job_type_rev_id=jt.revision_id, job_type_revision_num=jt.revision_num,
        event={"id": event_id or job_id, "type": "USER", "occurred": iso(created)},
        batch_id=batch.id if batch else None,
        batch={"id": batch.id, "title": batch.title, "description": batch.description,
               "created": iso(batch.created)} if batch else None,
        recipe_id=recipe.id if recipe else None,
        recipe={"id": recipe.id, "recipe_type": {"id": recipe_type.id, "name": recipe_type.name,
                                                 "title": recipe_type.title,
                                                 "description": recipe_type.description,
                                                 "revision_num": recipe_type.revision_num},
                "recipe_type_rev": {"id": recipe.recipe_type_rev_id}, "event": {"id": recipe.event_id}}
        if recipe else None,
        node_id=node.id if node and executed else None, node_hostname=node.hostname if node and executed else None,
        error_id=BUILTIN_BY_NAME[error].id if error else None,
        error_category=BUILTIN_BY_NAME[error].category if error else None,
        error=error_base(error) if error else None,
        num_exes=num_exes if num_exes is not None else (0 if status in ("PENDING", "BLOCKED") else 1),
        max_tries=jt.max_tries, priority=priority,
        input_file_size=float(sum(f.file_size for fs in files.values() for f in fs)) / (1024 * 1024),
        input_files={name: [f.file_name for f in fs] for name, fs in files.items()},
        created=created, queued=created if status not in ("PENDING", "BLOCKED") else None,
        started=started, ended=ended, last_status_change=now, last_modified=now,
        owner=owner, project=project, description=description, job_type_title=jt.title,
        **(source or {}),
    )
    job.timeline = _timeline(job)
    if ended is not None:
        job.exit_code = exit_code if exit_code is not None else (0 if status == "COMPLETED" else 1)
        job.cpu_seconds, job.wall_seconds, job.peak_memory_mib = 12.5, 240.0, 64.0
    input_data = {"files": {n: [f.id for f in fs] for n, fs in files.items()}, "json": dict(json_inputs or {})}
    job.parameters = input_parameters(Manifest.from_validated(jt.manifest), input_data,
                                      {f.id: f for fs in files.values() for f in fs})
    data = JobDataRecord(job_id=job_id, input=input_data,
                   configuration={"priority": priority, "output_workspaces": {"default": "default", "outputs": {}},
                                  "mounts": {}, "settings": {"API_KEY": "s3cr3t", "MODE": "fast"}})
    links = [job_store.input_link(job_id, name, f.id) for name, fs in files.items() for f in fs]
    return job, data, links


def _timeline(job: JobRecord) -> list[dict]:
    """The transitions a job in this state went through (one execution)."""
    entries = []
    if job.queued:
        entries.append({"status": "QUEUED", "at": iso(job.queued), "exe_num": 1})
    if job.started:
        entries.append({"status": "RUNNING", "at": iso(job.started), "exe_num": 1})
        for phase in ("UPLOADING", "EXECUTING") + (("DOWNLOADING",) if job.ended else ()):
            entries.append({"status": phase, "at": iso(job.started), "exe_num": 1})
    if job.status in ("FAILED", "COMPLETED", "CANCELED"):
        entries.append({"status": job.status, "at": iso(job.ended or job.last_status_change), "exe_num": 1})
    return entries


def store(jobs: list[tuple[JobRecord, JobDataRecord, list[InputLinkRecord]]]) -> list[JobRecord]:
    job_store.insert_jobs([job_store.NewJob(job, data, links) for job, data, links in jobs])
    return [job for job, _, _ in jobs]


def new_ids(count: int) -> range:
    return seed_store.allocate("job", count)


def execution(job: JobRecord, exe_num: int, status: str, now: datetime, *, node=None, error: str | None = None,
              exit_code: int | None = None) -> ExecutionRecord:
    execution_id = seed_store.allocate("job_exe", 1)[0]
    return insert_execution(ExecutionRecord(
        job_id=job.id, exe_num=exe_num, id=execution_id, status=status,
        cluster_id=f"scale_job_{job.id}_{exe_num}x{execution_id}", job_type_id=job.job_type_id,
        node_id=node.id if node else None, node_hostname=node.hostname if node else None,
        error_id=BUILTIN_BY_NAME[error].id if error else None,
        error_category=BUILTIN_BY_NAME[error].category if error else None,
        error=error_base(error) if error else None, timeout=60, input_file_size=job.input_file_size,
        exit_code=exit_code, task_results={"tasks": [{"type": "main", "exit_code": exit_code}]},
        resources={"cpus": 1.0, "mem": 256.0, "disk": 10.0},
        configuration={"tasks": [{"type": "main", "settings": {"API_KEY": "s3cr3t", "MODE": "fast"}}]},
        output={"output_data": []}, created=now, queued=now - timedelta(minutes=6),
        started=now - timedelta(minutes=5), ended=now - timedelta(minutes=1) if status != "RUNNING" else None,
        last_modified=now))
