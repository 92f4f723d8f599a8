"""The local stack's settings: a value it cannot run with stops start-up, before anything starts, with a
message naming the setting and exit status 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.config import ConfigurationError, load_local_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("name", "value"), [
    ("JOBS_WORKER_SLOTS", "0"), ("JOBS_WORKER_SLOTS", "-2"), ("JOBS_WORKER_SLOTS", "two"),
    ("JOBS_WORKER_SLOTS", "1.5"), ("PORT", "0"), ("PORT", "70000"), ("PORT", "http"),
    ("JOBS_SNAPSHOT_SECONDS", "0"), ("JOBS_SNAPSHOT_SECONDS", "nan"), ("JOBS_SWEEP_SECONDS", "-1"),
    ("JOBS_SNAPSHOT_PAUSE_RATIO", "-1"), ("JOBS_JOURNAL_MAX_RECORDS", "0"), ("JOBS_CANCEL_WATCH_SECONDS", "inf"),
    ("JOBS_API_PROCESSES", "0"), ("JOBS_API_PROCESSES", "many"),
    ("JOBS_MOTO", "docker"), ("JOBS_JOURNAL", "maybe"), ("JOBS_AUTH_MODE", "none"), ("JOBS_BULK_WRITERS", "0"),
])
def test_a_bad_local_setting_is_refused_by_name(monkeypatch, name, value):
    # Given one setting the stack cannot run with
    monkeypatch.setenv(name, value)
    # When the settings are read, Then the error names it
    with pytest.raises(ConfigurationError, match=name):
        load_local_settings()


def test_good_local_settings_are_read(monkeypatch):
    for name, value in {"JOBS_WORKER_SLOTS": "3", "PORT": "8123", "JOBS_SNAPSHOT_SECONDS": "0.5",
                        "JOBS_SNAPSHOT_PAUSE_RATIO": "0", "JOBS_JOURNAL": "0", "JOBS_API_PROCESSES": "3"}.items():
        monkeypatch.setenv(name, value)
    settings = load_local_settings()
    assert (settings.worker_slots, settings.port, settings.snapshot_seconds, settings.journal,
            settings.api_processes) == (3, 8123, 0.5, False, 3)
    monkeypatch.delenv("JOBS_WORKER_SLOTS")
    monkeypatch.delenv("JOBS_API_PROCESSES")
    assert load_local_settings().worker_slots is None  # the CPU count, decided by the workers
    assert load_local_settings().api_processes is None  # decided by the stack (local.stack.default_api_processes)


def test_the_stack_does_not_start_with_no_worker_slots(tmp_path):
    # Given JOBS_WORKER_SLOTS=0
    environment = {**os.environ, "JOBS_WORKER_SLOTS": "0", "JOBS_DATA_DIR": str(tmp_path / "data")}
    # When `make run` starts the stack
    done = subprocess.run([sys.executable, "-m", "local.stack"], cwd=REPO, env=environment, capture_output=True,
                          text=True, timeout=60)
    # Then it stops at once with exit status 2 and a message naming the setting, having started nothing
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == "cannot start: JOBS_WORKER_SLOTS='0' must be a whole number above 0"
    assert not (tmp_path / "data").exists()
