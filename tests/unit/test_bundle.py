"""The deployed bundle holds product code only: `chalice package` builds it, and this opens it.

Emulator set-up, demo data and emulator workarounds live under `local/` (and templates under `deploy/`),
which Chalice does not package; nothing packaged may import them or moto.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCAL_ONLY = re.compile(r"^\s*(from|import)\s+(local|tests|bench|deploy|moto)\b|mock_aws|EMULATED_ACCOUNT|"
                        r"load_demo|sample_data", re.MULTILINE)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("package")
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    subprocess.run([str(chalice), "package", "--stage", "dev", str(out)], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=300)
    return zipfile.ZipFile(out / "deployment.zip")


def test_the_bundle_holds_the_app_and_chalicelib_but_nothing_local(bundle: zipfile.ZipFile) -> None:
    names = bundle.namelist()
    assert "app.py" in names and "chalicelib/wiring.py" in names and "chalicelib/models/job_state.py" in names
    ours = {name.split("/", 1)[0] for name in names if not name.startswith(("chalicelib/", "app.py"))}
    assert not ours & {"local", "tests", "bench", "deploy", "statemachines", ".local-data"}


def test_no_packaged_module_reaches_for_the_emulator_or_demo_data(bundle: zipfile.ZipFile) -> None:
    offenders = {}
    for name in bundle.namelist():
        if name == "app.py" or (name.startswith("chalicelib/") and name.endswith(".py")):
            found = LOCAL_ONLY.findall(bundle.read(name).decode())
            if found:
                offenders[name] = found
    assert offenders == {}
