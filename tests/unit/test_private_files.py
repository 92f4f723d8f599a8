"""The local store's files are the owner's only: the journal, both kinds of snapshot, the engine's lock and
the data folder are created 0600/0700 whatever the umask, and files an earlier version left wider are
narrowed when a stack starts on the folder."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local import engine as engine_module
from local.engine import Engine, write_snapshot
from local.private_files import secure_data_folder
from local.snapshot import save_snapshot
from tests.unit.test_engine import fill


@pytest.fixture(autouse=True)
def aws_and_a_wide_umask(only_fake_aws_credentials):
    previous = os.umask(0o022)  # what most shells use: 0644 files, 0755 folders
    yield
    os.umask(previous)
    engine_module.uninstall()


def modes(root: Path) -> dict[str, int]:
    """Every entry under root (root included) -> its permission bits."""
    found = {".": stat.S_IMODE(os.lstat(root).st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def wider_than_owner(root: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(root).items()
            if mode & 0o077 and not (root / name).is_symlink()}


def test_the_engine_s_journal_snapshot_and_lock_are_owner_only(tmp_path):
    # Given an engine (the moto process's store) on a new data folder, with writes journaled
    data = tmp_path / "data"
    with mock_aws():
        engine = Engine(data, sync=False)
        engine.claim_folder()  # as the moto process does first
        engine.install()
        engine.restore()
        fill()
        # When it takes a snapshot (twice: the first becomes snapshot.prev)
        write_snapshot(data, engine.journal.rotate(), "us-east-1")
        write_snapshot(data, engine.journal.rotate(), "us-east-1")
        engine.close()
    # Then nothing in the folder is readable by anyone but its owner
    assert {"snapshot/manifest.json", "snapshot.prev/dynamodb/000000.jsonl", "engine.lock"} <= set(modes(data))
    assert any(name.startswith("journal/") for name in modes(data))
    assert wider_than_owner(data) == {}
    assert modes(data)["snapshot/s3"] == 0o700 and modes(data)["snapshot/manifest.json"] == 0o600


def test_the_snapshot_taken_over_http_is_owner_only(tmp_path):
    # Given emulated AWS with a table, logs and an object
    with mock_aws():
        fill()
        # When the in-process snapshot (JOBS_JOURNAL=0, JOBS_MOTO=thread) saves it
        save_snapshot(boto3.session.Session(region_name="us-east-1"), None, tmp_path / "data")
    # Then its files and folders are the owner's only
    assert "snapshot/s3/000000.bin" in modes(tmp_path / "data")
    assert wider_than_owner(tmp_path / "data") == {}


def test_files_left_with_wider_modes_are_narrowed_at_start(tmp_path):
    # Given a data folder an earlier version wrote with 0644/0755 (and a job's workspace beside them)
    data = tmp_path / "data"
    for folder in ("journal", "snapshot/dynamodb", "snapshot.prev", "workspaces/default"):
        (data / folder).mkdir(parents=True)
    for file in ("journal/00000001.log", "snapshot/manifest.json", "snapshot/dynamodb/000000.jsonl",
                 "tokens.json", "engine.lock", "workspaces/default/input.txt"):
        (data / file).write_text("secret")
        os.chmod(data / file, 0o644)
    os.chmod(data, 0o755)
    (data / "snapshot" / "link").symlink_to("/etc/hostname")
    # When a stack starts on it
    secure_data_folder(data)
    # Then the store's files are narrowed; the jobs' own files are left as their owner made them
    assert wider_than_owner(data) == {"workspaces": "0o755", "workspaces/default": "0o755",
                                      "workspaces/default/input.txt": "0o644"}
    assert stat.S_IMODE(os.stat("/etc/hostname").st_mode) & 0o044  # a link is not followed
