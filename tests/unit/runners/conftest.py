"""Fixtures for the local runner tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.runners.runner_world import Harness


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    h = Harness(tmp_path)
    yield h
    h.runner.shutdown(timeout=5)
