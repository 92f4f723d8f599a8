"""The local runner end to end on this machine: real subprocesses, host workspaces in tmp_path."""
from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from pathlib import Path

import pytest

from chalicelib.runners.base import DuplicateExecution, NoFreeSlot, OutputFile
from chalicelib.runners.local import LocalRunner
from tests.unit.runners.runner_world import Harness, MemorySink, Recorder, manifest

UPPER = manifest(
    "tr a-z A-Z < ${INPUT_FILE} > ${OUTPUT_DIR}/out.txt",
    files=[{"name": "INPUT_FILE"}],
    outputs=[{"name": "upper", "pattern": "*.txt", "mediaType": "text/plain"}],
)
SLEEPY = manifest("sleep 30", timeout=1)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_for_file(path: Path, timeout: float = 2.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.01)
    raise AssertionError(f"{path} never appeared")


# --- success -------------------------------------------------------------------------------


def test_transforms_an_input_file_into_an_output_file(harness: Harness):
    # Given a job that upper-cases its input file
    spec = harness.spec(UPPER, files={"INPUT_FILE": [harness.input_file("data/in.txt", b"hello world\n", 11)]})

    # When it runs
    result = harness.run(spec)

    # Then it succeeds and its output is in the output workspace
    assert (result.failure, result.detail, result.exit_code) == (None, None, 0)
    path = "outputs/7/1/out.txt"
    assert result.output_files == (OutputFile("upper", "out.txt", path, "out", 12, "text/plain"),)
    assert (harness.out_root / path).read_bytes() == b"HELLO WORLD\n"
    assert harness.events.phases_of(spec.cluster_id) == ["UPLOADING", "EXECUTING", "DOWNLOADING"]
    tasks = result.task_results["tasks"]
    assert [(t["type"], t["was_started"], t["exit_code"]) for t in tasks] == [
        ("pre", True, 0), ("main", True, 0), ("post", True, 0)]
    assert all(t["started"] <= t["ended"] for t in tasks)
    assert result.started <= result.ended
    # the working directory is gone, the input untouched, the sink closed
    assert not (harness.tmp / "work" / spec.cluster_id).exists()
    assert (harness.in_root / "data/in.txt").read_bytes() == b"hello world\n"
    assert harness.sinks[spec.cluster_id].closed


def test_seed_environment_and_substitution(harness: Harness, tmp_path: Path):
    # Given inputs of every kind, a setting, a mount and resources
    mount = tmp_path / "ref"
    mount.mkdir()
    raw = manifest(
        'echo "file=${in-file} multi=${MULTI} n=${count} o=${opts} s=${SCALE}"; env | sort',
        files=[{"name": "in-file"}, {"name": "MULTI", "multiple": True}],
        json=[{"name": "count", "type": "integer"}, {"name": "opts", "type": "object"}],
        settings=[{"name": "SCALE"}], mounts=[{"name": "ref", "path": "/ref"}],
        resources=[{"name": "cpus", "value": 2}, {"name": "sharedMem", "value": 64}])
    spec = harness.spec(
        raw, files={"in-file": [harness.input_file("a.txt", b"a", 1)],
                    "MULTI": [harness.input_file("x/b.txt", b"b", 2), harness.input_file("y/b.txt", b"c", 3)]},
        json={"count": 3, "opts": {"k": "v w"}}, settings={"SCALE": "2.5"}, mounts={"ref": {"host_path": str(mount)}},
        resources={"cpus": 2.0, "mem": 128.0, "disk": 0.5, "gpus": 0.0, "sharedMem": 64.0})

    # When it runs
    result = harness.run(spec)

    # Then the command and the environment hold the values, and the inputs are staged
    assert result.failure is None, result.detail
    out = harness.sinks[spec.cluster_id].of("stdout")
    work = harness.tmp / "work" / spec.cluster_id
    assert out[0] == (f"file={work}/inputs/in-file/a.txt multi={work}/inputs/MULTI n=3 "
                      f'o={{"k":"v w"}} s=2.5')
    env = dict(line.split("=", 1) for line in out[1:])
    assert env["IN_FILE"] == f"{work}/inputs/in-file/a.txt"
    assert env["MULTI"] == f"{work}/inputs/MULTI"
    assert env["OUTPUT_DIR"] == f"{work}/outputs"
    assert (env["COUNT"], env["OPTS"], env["SCALE"], env["REF"]) == ("3", '{"k":"v w"}', "2.5", str(mount))
    assert (env["ALLOCATED_CPUS"], env["ALLOCATED_MEM"], env["ALLOCATED_DISK"], env["ALLOCATED_GPUS"],
            env["ALLOCATED_SHAREDMEM"]) == ("2", "128", "0.5", "0", "64")
    assert (env["HOME"], env["TMPDIR"]) == (str(work), f"{work}/tmp")
    assert "AWS_ACCESS_KEY_ID" not in env  # the service's own environment stays out


def test_multiple_input_files_are_staged_side_by_side(harness: Harness):
    raw = manifest("ls ${MULTI} && cat ${MULTI}/*", files=[{"name": "MULTI", "multiple": True}])
    spec = harness.spec(raw, files={"MULTI": [harness.input_file("x/b.txt", b"one\n", 2),
                                              harness.input_file("y/b.txt", b"two\n", 3)]})
    result = harness.run(spec)
    assert result.failure is None
    assert harness.sinks[spec.cluster_id].of("stdout") == ["3_b.txt", "b.txt", "two", "one"]


def test_a_json_input_is_never_parsed_as_shell(harness: Harness, tmp_path: Path):
    raw = manifest("echo ${text}", json=[{"name": "text", "type": "string"}])
    spec = harness.spec(raw, json={"text": f"hi; touch {tmp_path}/pwned"})
    result = harness.run(spec)
    assert result.failure is None
    assert harness.sinks[spec.cluster_id].of("stdout") == [f"hi; touch {tmp_path}/pwned"]
    assert not (tmp_path / "pwned").exists()


def test_json_outputs_and_recursive_patterns(harness: Harness):
    # Given a job writing files in sub-folders and a results manifest
    raw = manifest(
        "mkdir -p ${OUTPUT_DIR}/a/b && echo 1 > ${OUTPUT_DIR}/a/one.csv && echo 2 > ${OUTPUT_DIR}/a/b/two.csv"
        """ && echo '{"total": 3, "label": "ok", "extra": true}' > ${OUTPUT_DIR}/seed.outputs.json""",
        outputs=[{"name": "tables", "pattern": "**/*.csv", "multiple": True},
                 {"name": "manifest-like", "pattern": "*.json", "required": False}],
        json_outputs=[{"name": "total", "type": "integer"}, {"name": "title", "type": "string", "key": "label"},
                      {"name": "absent", "type": "string", "required": False}])
    spec = harness.spec(raw)

    # When it runs
    result = harness.run(spec)

    # Then every match is captured (not seed.outputs.json) and the JSON outputs come by key
    assert result.failure is None, result.detail
    assert [(f.output, f.file_path, f.file_size, f.media_type) for f in result.output_files] == [
        ("tables", "outputs/7/1/a/b/two.csv", 2, "text/csv"), ("tables", "outputs/7/1/a/one.csv", 2, "text/csv")]
    assert result.output_json == {"total": 3, "title": "ok"}


@pytest.mark.parametrize("content, detail", [
    ("not json", "is not valid JSON"), ("[1]", "must hold a JSON object"), ('{"total": "3"}', "of type integer")])
def test_an_invalid_results_manifest(harness: Harness, content: str, detail: str):
    raw = manifest(f"echo '{content}' > ${{OUTPUT_DIR}}/seed.outputs.json",
                   json_outputs=[{"name": "total", "type": "integer"}])
    result = harness.run(harness.spec(raw))
    assert result.failure == "invalid-results-manifest"
    assert detail in result.detail


def test_a_missing_required_json_output(harness: Harness):
    raw = manifest("true", json_outputs=[{"name": "total", "type": "integer"}])
    result = harness.run(harness.spec(raw))
    assert (result.failure, result.exit_code) == ("missing-required-output", 0)


# --- logs ----------------------------------------------------------------------------------


def test_output_lines_stream_in_order_with_timestamps(harness: Harness):
    # Given a command interleaving both streams, ending without a newline, with bytes that are not UTF-8
    raw = manifest("for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf 'caf\\351\\r\\nlast'")
    spec = harness.spec(raw)
    before = int(time.time() * 1000)

    result = harness.run(spec)

    # Then each stream's lines arrive in order, timestamped, decoded, without line ends
    sink = harness.sinks[spec.cluster_id]
    assert result.failure is None
    assert sink.of("stdout") == ["out1", "out2", "out3", "caf\ufffd", "last"]
    assert sink.of("stderr") == ["err1", "err2", "err3"]
    stamps = [ts for _, _, ts in sink.lines]
    assert all(before <= ts <= int(time.time() * 1000) for ts in stamps)
    for stream in ("stdout", "stderr"):
        of_stream = [ts for s, _, ts in sink.lines if s == stream]
        assert of_stream == sorted(of_stream)
    assert sink.closed


def test_a_long_line_is_cut_into_pieces(harness: Harness):
    from chalicelib.runners.process import MAX_LINE_BYTES
    spec = harness.spec(manifest(f"head -c {MAX_LINE_BYTES + 10} /dev/zero | tr '\\0' x; echo; echo next"))
    assert harness.run(spec).failure is None
    assert [len(line) for line in harness.sinks[spec.cluster_id].of("stdout")] == [MAX_LINE_BYTES, 10, 4]


def test_secrets_stay_out_of_the_log_unless_printed(harness: Harness):
    raw = manifest("echo working; test -n \"$TOKEN\" && echo has-token >&2",
                   settings=[{"name": "TOKEN", "secret": True}])
    spec = harness.spec(raw, settings={"TOKEN": "s3cr3t-value"})
    result = harness.run(spec)
    assert result.failure is None
    lines = harness.sinks[spec.cluster_id].lines
    assert sorted(line for _, line, _ in lines) == ["has-token", "working"]  # no order across streams
    assert "s3cr3t-value" not in repr(lines) + repr(result)

    printed = harness.spec(manifest("echo $TOKEN", settings=[{"name": "TOKEN", "secret": True}]),
                           settings={"TOKEN": "s3cr3t-value"})
    harness.run(printed)
    assert harness.sinks[printed.cluster_id].of("stdout") == ["s3cr3t-value"]


def test_a_failing_log_sink_does_not_block_the_job(tmp_path: Path):
    class Broken(MemorySink):
        def write(self, stream, line, timestamp_ms):
            raise RuntimeError("CloudWatch is down")

    events = Recorder()
    runner = LocalRunner(1, tmp_path / "work", events, lambda spec: Broken())
    h = Harness.__new__(Harness)  # only for its spec builder
    h._ids, h.out_broker = 0, {}
    spec = h.spec(manifest("seq 1 100000"))
    runner.launch(spec)
    assert events.wait(spec.cluster_id).failure is None


# --- failures ------------------------------------------------------------------------------


def test_a_non_zero_exit_captures_no_output(harness: Harness):
    spec = harness.spec(manifest("echo partial > ${OUTPUT_DIR}/out.txt; exit 3",
                                 outputs=[{"name": "o", "pattern": "out.txt"}]))
    result = harness.run(spec)
    assert (result.failure, result.exit_code, result.output_files) == ("exit-code", 3, ())
    assert not (harness.out_root / "outputs").exists()
    post = result.task_results["tasks"][2]
    assert (post["was_started"], post["started"], post["exit_code"]) == (False, None, None)
    assert harness.events.phases_of(spec.cluster_id) == ["UPLOADING", "EXECUTING"]


def test_a_command_killed_by_a_signal_reports_128_plus_it(harness: Harness):
    result = harness.run(harness.spec(manifest("kill -9 $$")))
    assert (result.failure, result.exit_code) == ("exit-code", 137)


def test_timeout_kills_the_whole_process_tree(harness: Harness, tmp_path: Path):
    # Given a job whose shell waits on a grandchild that ignores SIGTERM
    pid_file = tmp_path / "pid"
    spec = harness.spec(manifest(f"sh -c 'trap \"\" TERM; sleep 30' & echo $! > {pid_file}; sleep 30; wait",
                                 timeout=1))

    # When it runs past its timeout
    started = time.monotonic()
    result = harness.run(spec)

    # Then the whole tree is gone after the grace period and the failure is a timeout
    assert (result.failure, result.exit_code) == ("timeout", 143)
    assert 1.0 <= time.monotonic() - started < 2.5
    assert _gone(int(pid_file.read_text()))
    assert result.wall_seconds >= 1.0
    assert result.task_results["tasks"][1]["exit_code"] == 143


def test_stop_cancels_a_running_execution(harness: Harness, tmp_path: Path):
    # Given a running job with a grandchild
    spec = harness.spec(manifest(f"sleep 30 & echo $! > {tmp_path}/pid; wait", timeout=60))
    harness.runner.launch(spec)
    pid = int(_wait_for_file(tmp_path / "pid"))

    # When it is stopped
    assert harness.runner.stop(spec.cluster_id) is True
    result = harness.events.wait(spec.cluster_id)

    # Then it ends canceled, its processes gone, the runner forgets it
    assert result.failure == "canceled"
    assert _gone(pid)
    assert harness.runner.stop(spec.cluster_id) is False
    assert harness.runner.running() == []
    assert harness.runner.stop("unknown") is False


def test_background_processes_die_with_the_command(harness: Harness, tmp_path: Path):
    spec = harness.spec(manifest(f"sleep 30 & echo $! > {tmp_path}/pid; echo done"))
    started = time.monotonic()
    result = harness.run(spec)
    assert result.failure is None
    assert time.monotonic() - started < 1.5  # the sleeping child neither holds up the end nor the output
    assert _gone(int((tmp_path / "pid").read_text()))


def test_stop_while_staging_inputs(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    # Given an execution stuck staging its input
    import chalicelib.runners.local as local
    staging, release = threading.Event(), threading.Event()

    def slow_fetch(source, target):
        staging.set()
        release.wait(5)
        target.write_bytes(b"x")

    monkeypatch.setattr(local, "fetch", slow_fetch)
    spec = harness.spec(UPPER, files={"INPUT_FILE": [harness.input_file("in.txt", b"x")]})
    harness.runner.launch(spec)
    assert staging.wait(5)

    # When it is stopped, then staging ends
    assert harness.runner.stop(spec.cluster_id) is True
    release.set()

    # Then the command never starts and the execution ends canceled
    result = harness.events.wait(spec.cluster_id)
    assert (result.failure, result.exit_code) == ("canceled", None)
    assert [t["was_started"] for t in result.task_results["tasks"]] == [True, False, False]
    assert harness.events.phases_of(spec.cluster_id) == ["UPLOADING"]


def test_failing_reports_do_not_change_the_execution(tmp_path: Path):
    class Grumpy(Recorder):
        def phase(self, spec, phase, at):
            raise RuntimeError("DynamoDB throttled")

    events = Grumpy()
    h = Harness(tmp_path)
    runner = LocalRunner(1, tmp_path / "work2", events, lambda spec: MemorySink())
    spec = h.spec(UPPER, files={"INPUT_FILE": [h.input_file("in.txt", b"abc")]})
    runner.launch(spec)
    assert events.wait(spec.cluster_id).failure is None


def test_an_unexpected_error_still_ends_the_execution(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    import chalicelib.runners.local as local

    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(local, "match_outputs", broken)
    spec = harness.spec(UPPER, files={"INPUT_FILE": [harness.input_file("in.txt", b"abc")]})
    result = harness.run(spec)
    assert (result.failure, result.detail, result.exit_code) == ("filesystem-io", "disk on fire", 0)
    assert result.cpu_seconds is not None
    post = result.task_results["tasks"][2]
    assert post["was_started"] and post["ended"] is not None
    assert harness.sinks[spec.cluster_id].closed
    assert harness.runner.free_slots() == 2
    assert not (harness.tmp / "work" / spec.cluster_id).exists()


def test_a_missing_input_file_is_a_filesystem_error(harness: Harness):
    missing = harness.input_file("in.txt", b"x", 5)
    (harness.in_root / "in.txt").unlink()
    spec = harness.spec(UPPER, files={"INPUT_FILE": [missing]})
    result = harness.run(spec)
    assert result.failure == "filesystem-io"
    assert "file 5 (in:in.txt)" in result.detail
    assert [t["was_started"] for t in result.task_results["tasks"]] == [True, False, False]
    assert result.task_results["tasks"][0]["exit_code"] == 1
    assert result.exit_code is None and result.cpu_seconds is None


def test_a_missing_setting(harness: Harness):
    raw = manifest("true", settings=[{"name": "DB_HOST"}, {"name": "TOKEN", "secret": True}])
    spec = harness.spec(raw, settings={"TOKEN": "x"})
    result = harness.run(spec)
    assert (result.failure, result.detail) == ("missing-setting", "setting 'DB_HOST' has no value")
    assert harness.events.phases_of(spec.cluster_id) == ["UPLOADING"]


@pytest.mark.parametrize("mounts", [{}, {"ref": {"type": "volume", "driver": "x"}}, {"ref": {"host_path": "/nope"}}])
def test_a_missing_mount(harness: Harness, mounts: dict):
    raw = manifest("true", mounts=[{"name": "ref", "path": "/ref"}])
    result = harness.run(harness.spec(raw, mounts=mounts))
    assert result.failure == "missing-mount"
    assert "'ref'" in result.detail


def test_a_missing_required_output(harness: Harness):
    spec = harness.spec(manifest("echo x > ${OUTPUT_DIR}/other.dat", outputs=[{"name": "o", "pattern": "*.txt"}]))
    result = harness.run(spec)
    assert (result.failure, result.exit_code, result.output_files) == ("missing-required-output", 0, ())
    assert result.task_results["tasks"][2]["exit_code"] == 1


def test_an_optional_output_may_be_missing(harness: Harness):
    spec = harness.spec(manifest("true", outputs=[{"name": "o", "pattern": "*.txt", "required": False}]))
    result = harness.run(spec)
    assert (result.failure, result.output_files) == (None, ())


def test_several_files_for_a_single_output(harness: Harness):
    spec = harness.spec(manifest("touch ${OUTPUT_DIR}/a.txt ${OUTPUT_DIR}/b.txt; touch ${OUTPUT_DIR}/c.png",
                                 outputs=[{"name": "pic", "pattern": "*.png"}, {"name": "o", "pattern": "*.txt"}]))
    result = harness.run(spec)
    assert result.failure == "unexpected-multiple-outputs"
    assert not (harness.out_root / "outputs").exists()  # nothing written when an output is wrong


def test_a_link_out_of_the_output_dir_is_not_an_output(harness: Harness):
    spec = harness.spec(manifest("ln -s /etc/passwd ${OUTPUT_DIR}/out.txt", outputs=[{"name": "o", "pattern": "*"}]))
    assert harness.run(spec).failure == "missing-required-output"


def test_a_manifest_without_command_cannot_run_here(harness: Harness):
    raw = manifest("")
    del raw["job"]["interface"]["command"]
    assert harness.run(harness.spec(raw)).failure == "task-launch"


def test_finished_comes_even_when_the_log_sink_cannot_open(tmp_path: Path):
    events = Recorder()

    def no_sink(spec):
        raise OSError("no log group")

    runner = LocalRunner(1, tmp_path / "work", events, no_sink)
    h = Harness.__new__(Harness)
    h._ids, h.out_broker = 0, {}
    spec = h.spec(manifest("true"))
    runner.launch(spec)
    result = events.wait(spec.cluster_id)
    assert (result.failure, result.detail) == ("task-launch", "the log sink could not be opened: no log group")
    assert runner.free_slots() == 1


# --- slots and measures --------------------------------------------------------------------


def test_slots(tmp_path: Path):
    # Given a runner with two slots, both busy
    h = Harness(tmp_path, slots=2)
    first, second = h.spec(SLEEPY, timeout=60), h.spec(SLEEPY, timeout=60)
    h.runner.launch(first)
    h.runner.launch(second)
    assert h.runner.free_slots() == 0
    assert sorted(h.runner.running()) == sorted([first.cluster_id, second.cluster_id])

    # Then a third launch is refused, as is a second launch of a running execution
    with pytest.raises(NoFreeSlot):
        h.runner.launch(h.spec(SLEEPY))
    with pytest.raises(DuplicateExecution):
        h.runner.launch(first)

    # When one ends, its slot is free again by the time `finished` is reported
    h.runner.stop(first.cluster_id)
    h.events.wait(first.cluster_id)
    assert h.events.free_at_finish[first.cluster_id] == 1
    assert h.runner.running() == [second.cluster_id]
    h.runner.shutdown(timeout=5)
    assert h.runner.free_slots() == 2
    assert [len(results) for results in h.events.results.values()] == [1, 1]  # exactly once each


def test_default_slots_is_the_cpu_count(tmp_path: Path):
    assert LocalRunner(None, tmp_path, Recorder(), lambda spec: MemorySink()).free_slots() == (os.cpu_count() or 1)


def test_measures_of_a_cpu_burning_command(harness: Harness):
    burn = "import time; t = time.process_time(); x = [0] * 2_000_000\nwhile time.process_time() - t < 0.3: pass"
    spec = harness.spec(manifest(f"{sys.executable} -c {shlex.quote(burn)}", timeout=60))  # wall time grows under load
    result = harness.run(spec)
    assert result.failure is None, harness.sinks[spec.cluster_id].lines
    assert result.cpu_seconds >= 0.3
    assert result.wall_seconds >= 0.3
    assert result.peak_memory_mib > 10  # the interpreter and a list of 2 million slots


def test_keep_workdirs(tmp_path: Path):
    h = Harness(tmp_path, keep_workdirs=True)
    spec = h.spec(UPPER, files={"INPUT_FILE": [h.input_file("in.txt", b"abc")]})
    assert h.run(spec).failure is None
    assert (tmp_path / "work" / spec.cluster_id / "inputs" / "INPUT_FILE" / "in.txt").read_bytes() == b"abc"
    assert (tmp_path / "work" / spec.cluster_id / "outputs" / "out.txt").read_bytes() == b"ABC"


def test_a_cluster_id_must_be_a_safe_folder_name(harness: Harness):
    with pytest.raises(ValueError):
        harness.runner.launch(harness.spec(SLEEPY, cluster_id="../escape"))
    assert harness.runner.free_slots() == 2
