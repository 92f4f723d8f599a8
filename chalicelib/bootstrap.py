"""What a fresh store needs before it serves: the built-in error catalog and, locally, the
`default` workspace. Idempotent, so it runs at every start."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.models import catalog, files
from chalicelib.seed import BUILTIN_ERRORS


def prepare_store(default_workspace_path: str | None = None) -> None:
    now = clock.now()
    catalog.ensure_builtin_errors(list(BUILTIN_ERRORS), now)
    if default_workspace_path:
        files.ensure_workspace({
            "name": "default", "title": "Default workspace",
            "description": "Input and output files of the local stack",
            "configuration": {"broker": {"type": "host", "host_path": default_workspace_path}}}, now)

