"""`python -m chalicelib.rsql`: exit codes and output."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.rsql", *args],
        cwd=REPO, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )


def test_a_valid_query_prints_the_vector_tree_and_exits_0() -> None:
    done = run("(paramLabel=='Sleeps');(paramValue=in=('3','1'))")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"and": [
        {"sel": "paramLabel", "op": "==", "args": ["Sleeps"]},
        {"sel": "paramValue", "op": "=in=", "args": ["3", "1"]},
    ]}
    assert done.stderr == ""


def test_non_ascii_values_are_printed_as_is() -> None:
    done = run("a==日本語")
    assert done.returncode == 0 and json.loads(done.stdout)["args"] == ["日本語"]


def test_a_syntax_error_exits_2_with_the_position_on_stderr() -> None:
    done = run("a==b c==d")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "error: At position 5: Expected ';', ',', ' and ', ' or ' or the end of the query, found 'c'.")
    assert lines[1:] == ["  a==b c==d", "       ^"]


def test_the_locale_flag() -> None:
    done = run("--locale", "pt_BR", "(a==b")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == "error: Na posição 0: Este '(' nunca é fechado."


def test_custom_operators_are_added_to_the_default_set() -> None:
    q = "name==TRON;genres=all=(sci-fi,thriller)"
    assert run(q).returncode == 2
    done = run("--operators", "=all=,=any=", q)
    assert done.returncode == 0, done.stderr
    genres = json.loads(done.stdout)["and"][1]
    assert genres == {"sel": "genres", "op": "=all=", "args": ["sci-fi", "thriller"]}
    assert run("--operators", "like", q).returncode == 2


def test_bind_flag_checks_fields_and_values() -> None:
    assert run("priority==x").returncode == 0
    done = run("--bind", "priority==x")
    assert done.returncode == 2
    assert "Field 'priority' needs an integer, got 'x'." in done.stderr


def test_missing_query_is_a_usage_error() -> None:
    assert run().returncode == 2
