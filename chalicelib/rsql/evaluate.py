"""Evaluate a bound tree against one history-shaped job dict (see the contract's job structure).

Semantics:
- Job fields: a comparison on a null (or missing) value is false, except `!=` and `=out=`, which
  are always the exact negation of `==` / `=in=` and so are true on null ("no value equals x").
- Collection fields (`algorithm*`: each algorithm; `param*`: each parameter of each algorithm):
  a positive comparison is true when ANY element matches; `!=` / `=out=` are true when NO element
  matches (so also true for a job with no algorithms/parameters).
- `paramValue` compares as text against each element of the parameter's `value` list.
- A `ParamGroup` (the same-parameter rule, built by `bind`) is true when one single parameter
  satisfies every member; for a member `!=` / `=out=` that means "this parameter's field does not
  match" (for `paramValue`: none of its values matches).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib.rsql.bind import BoundAnd, BoundNode, BoundOr, Predicate
from chalicelib.rsql.fields import Field, Scope, stored_value


def evaluate(node: BoundNode, job: Mapping[str, Any]) -> bool:
    """True when `job` satisfies the bound tree."""
    if isinstance(node, Predicate):
        return _predicate(node, job)
    if isinstance(node, BoundAnd):
        return all(evaluate(child, job) for child in node.children)
    if isinstance(node, BoundOr):
        return any(evaluate(child, job) for child in node.children)
    return any(
        all(_holds(predicate, parameter) for predicate in node.predicates)
        for parameter in _parameters(job)
    )


def _predicate(predicate: Predicate, job: Mapping[str, Any]) -> bool:
    field = predicate.field
    if field.scope is Scope.JOB:
        elements: Iterator[Mapping[str, Any]] = iter((job,))
    elif field.scope is Scope.ALGORITHM:
        elements = _algorithms(job)
    else:
        elements = _parameters(job)
    hit = any(_matches(predicate, element) for element in elements)
    return hit != predicate.negated


def _holds(predicate: Predicate, parameter: Mapping[str, Any]) -> bool:
    return _matches(predicate, parameter) != predicate.negated


def _matches(predicate: Predicate, element: Mapping[str, Any]) -> bool:
    """Whether any non-null value of the field on this element passes the positive test."""
    return any(
        value is not None and predicate.test(value)
        for value in _values(predicate.field, element.get(predicate.field.key))
    )


def _values(field: Field, raw: Any) -> Iterator[Any]:
    if isinstance(raw, (list, tuple)):  # paramValue: a list of text values
        for item in raw:
            yield stored_value(field, item)
    else:
        yield stored_value(field, raw)


def _algorithms(job: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from job.get("algorithms") or ()


def _parameters(job: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for algorithm in _algorithms(job):
        yield from algorithm.get("parameters") or ()
