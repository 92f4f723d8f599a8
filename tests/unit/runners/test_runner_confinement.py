"""The runner stays inside its workspaces (#14): symbolic links leaving a workspace are never followed when
inputs are staged or outputs stored, odd file names never reach `${NAME}`, and a manifest naming a variable
the runner reserves never runs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from chalicelib.runners.base import InputFile
from chalicelib.runners.files import staged_names
from tests.unit.runners.runner_world import Harness, manifest

COPY = manifest(
    "cat ${INPUT_FILE} > ${OUTPUT_DIR}/out.txt",
    files=[{"name": "INPUT_FILE"}],
    outputs=[{"name": "o", "pattern": "*.txt"}],
)


def _secret(harness: Harness) -> Path:
    """A file beside the workspaces, not in one."""
    outside = harness.tmp / "outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.txt"
    secret.write_text("top secret\n")
    return secret


def _linked_input(harness: Harness, path: str, target: Path, file_id: int = 5) -> InputFile:
    link = harness.in_root / path
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return InputFile(file_id=file_id, file_name=Path(path).name, file_path=path, workspace="in",
                     broker=harness.in_broker)


def _assert_refused_before_the_command(harness: Harness, result, file_id: int = 5) -> None:
    assert result.failure == "filesystem-io", result
    assert f"file {file_id}" in result.detail and "outside its workspace" in result.detail, result.detail
    assert [t["was_started"] for t in result.task_results["tasks"]] == [True, False, False]
    assert result.output_files == ()
    assert not (harness.out_root / "outputs").exists()


@pytest.mark.skipif(not os.path.isfile("/etc/hostname"), reason="no /etc/hostname on this machine")
def test_a_link_to_etc_hostname_is_never_staged(harness: Harness):
    spec = harness.spec(COPY, files={"INPUT_FILE": [_linked_input(harness, "host.txt", Path("/etc/hostname"))]})

    _assert_refused_before_the_command(harness, harness.run(spec))


def test_a_link_to_a_file_outside_the_workspace_is_never_staged(harness: Harness):
    secret = _secret(harness)
    spec = harness.spec(COPY, files={"INPUT_FILE": [_linked_input(harness, "data/in.txt", secret)]})

    _assert_refused_before_the_command(harness, harness.run(spec))


def test_a_linked_folder_leaving_the_workspace_is_never_staged(harness: Harness):
    secret = _secret(harness)
    (harness.in_root / "data").symlink_to(secret.parent, target_is_directory=True)
    source = InputFile(file_id=6, file_name="secret.txt", file_path="data/secret.txt", workspace="in",
                       broker=harness.in_broker)

    _assert_refused_before_the_command(harness, harness.run(harness.spec(COPY, files={"INPUT_FILE": [source]})), 6)


def test_a_link_inside_the_workspace_is_staged(harness: Harness):
    real = harness.input_file("real/in.txt", b"inside\n", 3)
    del real
    linked = _linked_input(harness, "alias/in.txt", harness.in_root / "real" / "in.txt", 4)

    result = harness.run(harness.spec(COPY, files={"INPUT_FILE": [linked]}))

    assert result.failure is None, result.detail
    assert (harness.out_root / "outputs/7/1/out.txt").read_bytes() == b"inside\n"


def test_an_output_linking_out_of_output_dir_is_refused(harness: Harness):
    secret = _secret(harness)
    raw = manifest(f"ln -s {secret} ${{OUTPUT_DIR}}/out.txt", outputs=[{"name": "o", "pattern": "*.txt",
                                                                          "required": False}])
    result = harness.run(harness.spec(raw))

    assert (result.failure, result.output_files) == (None, ())
    assert not (harness.out_root / "outputs").exists()


def test_an_output_workspace_folder_linking_outside_is_refused(harness: Harness):
    # Given an output workspace whose `outputs` folder is a link to a folder outside it
    elsewhere = harness.tmp / "elsewhere"
    elsewhere.mkdir()
    (harness.out_root / "outputs").symlink_to(elsewhere, target_is_directory=True)
    raw = manifest("echo x > ${OUTPUT_DIR}/out.txt", outputs=[{"name": "o", "pattern": "*.txt"}])

    result = harness.run(harness.spec(raw))

    assert result.failure == "filesystem-io"
    assert "outside its workspace" in result.detail
    assert list(elsewhere.rglob("*")) == []


@pytest.mark.parametrize("name", ["a b.txt", "line\nbreak.txt", "$(id).txt", ".hidden", "..", ""])
def test_unsafe_file_names_are_staged_under_a_neutral_name(name: str):
    files = [InputFile(file_id=9, file_name=name, file_path="x/y", workspace="in", broker={})]
    assert staged_names(files) == ["file-9"]


def test_safe_file_names_are_kept():
    files = [InputFile(file_id=9, file_name="Scene_01.v2-final.tif", file_path="x/y", workspace="in", broker={})]
    assert staged_names(files) == ["Scene_01.v2-final.tif"]


@pytest.mark.parametrize("kind", ["settings", "json", "mounts"])
def test_a_stored_manifest_naming_a_reserved_variable_never_runs(harness: Harness, tmp_path: Path, kind: str):
    # Given a manifest stored before such names were refused (the runner does not validate it again)
    marker = tmp_path / "ran"
    if kind == "settings":
        raw = manifest(f"touch {marker}", settings=[{"name": "PATH"}])
        spec = harness.spec(raw, settings={"PATH": "/tmp/evil"})
    elif kind == "json":
        raw = manifest(f"touch {marker}", json=[{"name": "LD_PRELOAD", "type": "string"}])
        spec = harness.spec(raw, json={"LD_PRELOAD": "/tmp/evil.so"})
    else:
        raw = manifest(f"touch {marker}", mounts=[{"name": "HOME", "path": "/home"}])
        spec = harness.spec(raw, mounts={"HOME": {"host_path": str(tmp_path)}})

    result = harness.run(spec)

    assert result.failure == "task-launch"
    assert "reserves" in result.detail
    assert not marker.exists()


def test_a_link_swapped_in_after_the_check_is_never_staged(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    # Given an input that is a plain file inside the workspace when it is checked, and a symbolic link to a file
    # outside the moment after (the swap an attacker with write access to the workspace would race)
    from chalicelib.runners import files
    secret = _secret(harness)
    harness.input_file("data/in.txt", b"harmless\n", 5)
    checked = files.inside

    def check_then_swap(root: str, key: str) -> Path:
        path = checked(root, key)
        path.unlink()
        path.symlink_to(secret)
        return path
    monkeypatch.setattr(files, "inside", check_then_swap)
    source = InputFile(file_id=5, file_name="in.txt", file_path="data/in.txt", workspace="in", broker=harness.in_broker)
    # When a job stages it, Then what was opened is checked: refused, the secret is never copied
    _assert_refused_before_the_command(harness, harness.run(harness.spec(COPY, files={"INPUT_FILE": [source]})))
    assert not any("top secret" in p.read_text(errors="ignore") for p in harness.tmp.rglob("*")
                   if p.is_file() and not p.is_symlink() and p != secret)
