"""Every conformance vector of shared/spec/rsql-vectors.json, run through `parse`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.rsql import Operator, RsqlSyntaxError, parse

# shared/ sits beside the repository clone (locally and in CI).
VECTORS_PATH = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "rsql-vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def _operators(vector: dict[str, Any]) -> list[Operator] | None:
    if "operators" not in vector:
        return None
    return [Operator(o["symbol"], multi=o["multi"]) for o in vector["operators"]]


def test_the_vector_file_is_the_full_set() -> None:
    # Given the shared file / Then it holds all vectors, each with a unique id
    ids = [v["id"] for v in VECTORS]
    assert len(ids) == 132
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    # Given a vector's input (and custom operator set, when it has one)
    operators = _operators(vector)
    if vector["expect"] == {"error": True}:
        # When parsed / Then it is a 400 syntax-or-limit error, never anything else
        with pytest.raises(InvalidInput) as caught:
            parse(vector["input"], operators)
        assert isinstance(caught.value, InvalidInput)
        assert caught.value.position is not None  # type: ignore[attr-defined]
    else:
        # When parsed / Then the tree is exactly the expected one
        assert parse(vector["input"], operators).to_vector() == vector["expect"]


def test_custom_operator_vector_fails_with_the_default_set() -> None:
    # Given J106, which needs =all= / When parsed with the default operators / Then it is refused
    j106 = next(v for v in VECTORS if v["id"] == "J106")
    with pytest.raises(RsqlSyntaxError) as caught:
        parse(j106["input"])
    assert caught.value.key == "unknown_operator"
    assert caught.value.position == j106["input"].index("=all=")
