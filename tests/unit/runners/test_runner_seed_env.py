from __future__ import annotations

from chalicelib.runners.base import InputFile
from chalicelib.runners.files import staged_names
from chalicelib.runners.seed_env import format_number, known_names, rewrite_command, seed_environment


def test_environment_names_follow_seed():
    # Given one value of each kind
    env = seed_environment(
        file_inputs={"input-file": "/w/inputs/input-file/a.txt"}, json_inputs={"count": 3, "label": "x y"},
        settings={"db-host": "h"}, mounts={"ref": "/data/ref"},
        resources={"cpus": 0.25, "mem": 128.0, "sharedMem": 64.0}, output_dir="/w/outputs")

    # Then each is a variable named as Seed names it
    assert env == {
        "INPUT_FILE": "/w/inputs/input-file/a.txt", "COUNT": "3", "LABEL": "x y", "DB_HOST": "h", "REF": "/data/ref",
        "ALLOCATED_CPUS": "0.25", "ALLOCATED_MEM": "128", "ALLOCATED_SHAREDMEM": "64", "OUTPUT_DIR": "/w/outputs",
    }


def test_json_inputs_are_json_encoded_unless_strings():
    env = seed_environment(file_inputs={}, json_inputs={"o": {"a": [1, True]}, "s": "plain", "n": None},
                           settings={}, mounts={}, resources={}, output_dir="/o")
    assert (env["O"], env["S"], env["N"]) == ('{"a":[1,true]}', "plain", "null")


def test_command_references_become_environment_references():
    names = known_names(["input-file", "count"], ["sharedMem"])
    command = 'tr a-z A-Z < "${input-file}" > ${OUTPUT_DIR}/x ${COUNT} ${ALLOCATED_sharedMem} ${HOME} $count'
    assert rewrite_command(command, names) == (
        'tr a-z A-Z < "${INPUT_FILE}" > ${OUTPUT_DIR}/x ${COUNT} ${ALLOCATED_SHAREDMEM} ${HOME} $count')


def test_format_number():
    assert [format_number(v) for v in (1.0, 0.25, 2048, 1e6)] == ["1", "0.25", "2048", "1000000"]


def test_staged_names_are_unique_and_safe():
    files = [InputFile(i, name, "p", "w", {}) for i, name in ((1, "a.txt"), (2, "a.txt"), (3, "../b"), (4, ".."))]
    assert staged_names(files) == ["a.txt", "2_a.txt", "b", "file-4"]
