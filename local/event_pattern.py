"""EventBridge's event patterns, as the local stack applies them to the events it delivers (the task agent's
"ECS Task State Change" events): so an event the deployed rule would not pass costs no invocation here
either, and the benchmarks count what AWS would deliver.

The subset the stack's rules use: exact values (strings, numbers, booleans, null), nested fields, `$or`,
`exists`, `prefix` and `anything-but` (a value or a list). Arrays are matched as EventBridge documents it: a
field inside an array of objects takes the values of every element ("crushed"), and a pattern value matches
when any of them does. Whether fields of the same object must match in the same array element (what
event-ruler calls array-consistent matching) is not documented for EventBridge; crushed matching passes
every event array-consistent matching passes, and more, so locally a rule never delivers less than AWS."""
from __future__ import annotations

from typing import Any

OR = "$or"


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    flat: dict[str, list[Any]] = {}
    _flatten(event, "", flat)
    return _matches(pattern, flat, "")


def _flatten(node: Any, path: str, flat: dict[str, list[Any]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{path}.{key}" if path else key, flat)
    elif isinstance(node, list):
        for element in node:
            _flatten(element, path, flat)
    else:
        flat.setdefault(path, []).append(node)


def _matches(pattern: dict[str, Any], flat: dict[str, list[Any]], path: str) -> bool:
    for key, expected in pattern.items():
        if key == OR:
            if not any(_matches(branch, flat, path) for branch in expected):
                return False
            continue
        field = f"{path}.{key}" if path else key
        if isinstance(expected, dict):
            if not _matches(expected, flat, field):
                return False
        elif not any(_value_matches(rule, flat.get(field)) for rule in expected):
            return False
    return True


def _value_matches(rule: Any, values: list[Any] | None) -> bool:
    if not isinstance(rule, dict):
        return values is not None and any(_same(rule, value) for value in values)
    (operator, operand), = rule.items()
    if operator == "exists":
        return (values is not None) == bool(operand)
    if values is None:
        return False
    if operator == "prefix":
        return any(isinstance(value, str) and value.startswith(operand) for value in values)
    if operator == "anything-but":
        excluded = operand if isinstance(operand, list) else [operand]
        return any(not any(_same(other, value) for other in excluded) for value in values)
    raise ValueError(f"event pattern operator {operator!r} is not emulated locally")


def _same(rule: Any, value: Any) -> bool:
    if isinstance(rule, bool) or isinstance(value, bool):
        return rule is value
    if isinstance(rule, (int, float)) and isinstance(value, (int, float)):
        return float(rule) == float(value)
    return bool(rule == value)
