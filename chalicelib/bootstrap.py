"""What a fresh store needs before it serves: the built-in error catalog and the `default` workspace
(a local folder in the embedded stack; the stack's bucket when deployed, JOBS_FILES_BUCKET). Idempotent,
so it runs at every start (locally) and at every deployment (the `Bootstrap` custom resource)."""
from __future__ import annotations

import os

from chalicelib import clock
from chalicelib.models import catalog, files
from chalicelib.seed import BUILTIN_ERRORS


def prepare_store(default_workspace_path: str | None = None, files_bucket: str | None = None) -> None:
    now = clock.now()
    catalog.ensure_builtin_errors(list(BUILTIN_ERRORS), now)
    bucket = files_bucket or (None if default_workspace_path else os.environ.get("JOBS_FILES_BUCKET"))
    if default_workspace_path:
        files.ensure_workspace({
            "name": "default", "title": "Default workspace",
            "description": "Input and output files of the local stack",
            "configuration": {"broker": {"type": "host", "host_path": default_workspace_path}}}, now)
    elif bucket:
        files.ensure_workspace({
            "name": "default", "title": "Default workspace",
            "description": "Input and output files, in the stack's bucket",
            "configuration": {"broker": {"type": "s3", "bucket_name": bucket}}}, now)
