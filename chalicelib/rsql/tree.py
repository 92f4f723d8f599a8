"""The parsed RSQL tree: comparisons and n-ary AND/OR nodes, plus `and_with` to add a rule."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True, slots=True)
class Comparison:
    """`selector op args`. `op` is canonical (`=gt=`, never `>`); `args` are unescaped values."""

    selector: str
    op: str
    args: tuple[str, ...]
    # Where the selector and each value start in `q` (0-based), for error messages. Not part of
    # equality: two comparisons are the same whatever text they came from. -1 = built in code.
    pos: int = field(default=-1, compare=False, repr=False)
    arg_pos: tuple[int, ...] = field(default=(), compare=False, repr=False)
    # True for comparisons built in code (visibility rules): `*` is then an ordinary character,
    # so a stored id can never widen the rule into a pattern. The parser never sets it.
    literal: bool = False

    def to_vector(self) -> dict[str, Any]:
        return {"sel": self.selector, "op": self.op, "args": list(self.args)}


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def to_vector(self) -> dict[str, Any]:
        return {"and": [child.to_vector() for child in self.children]}


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def to_vector(self) -> dict[str, Any]:
        return {"or": [child.to_vector() for child in self.children]}


Node = Union[Comparison, And, Or]


def visibility_rule(selector: str, values: Iterable[str], op: str = "=in=") -> Comparison:
    """A comparison built in code, matched literally (e.g. `projectId =in= the caller's projects`).

    An empty `values` is allowed and matches nothing with `=in=` (a caller who sees no project).
    """
    return Comparison(selector, op, tuple(values), literal=True)


def and_with(tree: Node | None, extra: Node | None) -> Node | None:
    """AND `extra` (e.g. the caller's visibility rule) onto a parsed tree.

    Never flattens: the user's tree stays one child, so its sibling grouping (the same-parameter
    rule) is untouched and nothing in `q` can re-associate with the rule.
    """
    if tree is None:
        return extra
    if extra is None:
        return tree
    return And((tree, extra))
