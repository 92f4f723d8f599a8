"""Binding: a parsed tree + the field catalog -> a typed, validated tree ready to evaluate or plan.

`bind` checks every selector, operator and value (raising an `RsqlError` naming the selector,
the value and its position) and converts values once, so evaluation never parses anything.

It also makes the same-parameter rule explicit. Comparisons on `param*` selectors that are
direct siblings under one AND node refer to the same parameter: they become one `ParamGroup`
("some single parameter satisfies all of these"). Under OR, or in different AND nodes (a
parenthesised group is its own node), each comparison stands alone. A group needs at least one
positive comparison; siblings that are all `!=`/`=out=` stay independent ("no parameter has ...").
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from chalicelib.rsql.errors import RsqlOperatorError, RsqlSelectorError
from chalicelib.rsql.fields import (
    CATALOG,
    EQUALITY_OPERATORS,
    NEGATED_OPERATORS,
    Field,
    FieldType,
    Scope,
    TextPattern,
    convert,
)
from chalicelib.rsql.tree import Comparison, Node, Or


@dataclass(frozen=True, slots=True)
class Predicate:
    """A typed comparison. `values` hold converted values: `TextPattern` for text equality ops,
    `str` for text ordering, `int`/`float`/`bool`, enum `str`, or epoch milliseconds for dates."""

    field: Field
    op: str
    values: tuple[Any, ...]
    pos: int = dataclasses.field(default=-1, compare=False, repr=False)

    @property
    def negated(self) -> bool:
        """`!=` / `=out=`: true when NO value (no element of a collection) matches."""
        return self.op in NEGATED_OPERATORS

    def test(self, value: Any) -> bool:
        """The positive form of the comparison (`==` for `!=`, `=in=` for `=out=`) on one
        normalised, non-null stored value."""
        op = self.op
        if op in EQUALITY_OPERATORS:
            if self.field.type is FieldType.TEXT:
                return any(pattern.matches(value) for pattern in self.values)
            return value in self.values
        bound = self.values[0]
        if op == "=gt=":
            return bool(value > bound)
        if op == "=ge=":
            return bool(value >= bound)
        if op == "=lt=":
            return bool(value < bound)
        return bool(value <= bound)


@dataclass(frozen=True, slots=True)
class ParamGroup:
    """Some single parameter (of any algorithm) satisfies every predicate."""

    predicates: tuple[Predicate, ...]


@dataclass(frozen=True, slots=True)
class BoundAnd:
    children: tuple[BoundNode, ...]


@dataclass(frozen=True, slots=True)
class BoundOr:
    children: tuple[BoundNode, ...]


BoundNode = Union[Predicate, ParamGroup, BoundAnd, BoundOr]


def bind(tree: Node, catalog: Mapping[str, Field] = CATALOG) -> BoundNode:
    """Validate and type `tree` against `catalog`; raise an `RsqlError` (400) on the first problem."""
    if isinstance(tree, Comparison):
        return _predicate(tree, catalog)
    children = tuple(bind(child, catalog) for child in tree.children)
    if isinstance(tree, Or):
        return BoundOr(children)
    return _group_parameters(children)


def _predicate(comparison: Comparison, catalog: Mapping[str, Field]) -> Predicate:
    selector, op, pos = comparison.selector, comparison.op, comparison.pos
    known = catalog.get(selector)
    if known is None:
        raise _unknown_selector(selector, pos, catalog)
    if op not in known.operators:
        raise RsqlOperatorError(
            "operator_not_allowed", pos, operator=op, selector=selector, allowed=known.operators
        )
    arg_pos = comparison.arg_pos or (pos,) * len(comparison.args)
    if comparison.literal and known.type is FieldType.TEXT and op in EQUALITY_OPERATORS:
        values: tuple[Any, ...] = tuple(TextPattern("exact", raw) for raw in comparison.args)
    else:
        values = tuple(convert(known, op, raw, at) for raw, at in zip(comparison.args, arg_pos, strict=True))
    return Predicate(known, op, values, pos)


def _group_parameters(children: tuple[BoundNode, ...]) -> BoundNode:
    params = [
        child for child in children
        if isinstance(child, Predicate) and child.field.scope is Scope.PARAMETER
    ]
    if len(params) < 2 or all(p.negated for p in params):
        return BoundAnd(children)
    group = ParamGroup(tuple(params))
    rest: list[BoundNode] = []
    for child in children:  # the group takes the place of its first member
        if child is params[0]:
            rest.append(group)
        elif not any(child is p for p in params):
            rest.append(child)
    return rest[0] if len(rest) == 1 else BoundAnd(tuple(rest))


def _unknown_selector(selector: str, pos: int, catalog: Mapping[str, Field]) -> RsqlSelectorError:
    """Name only public selectors: suggest one that differs by case or by a dotted path prefix."""
    shown = selector if len(selector) <= 60 else selector[:59] + "…"
    by_lower = {name.lower(): name for name in catalog}
    suggestion = by_lower.get(selector.lower()) or by_lower.get(selector.rsplit(".", 1)[-1].lower())
    if suggestion:
        return RsqlSelectorError("unknown_selector_suggest", pos, selector=shown, suggestion=suggestion)
    return RsqlSelectorError("unknown_selector", pos, selector=shown)
