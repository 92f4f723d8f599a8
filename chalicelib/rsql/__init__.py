"""RSQL for the job history: parse `q`, bind it to the field catalog, evaluate it on jobs.

    tree = parse(q)                                   # syntax + limits
    tree = and_with(tree, visibility_rule("projectId", caller_projects))
    bound = bind(tree)                                # fields, operators, typed values
    matches = [job for job in jobs if evaluate(bound, job)]

or `prepare(q, visibility)` for the three steps. Every bad query raises an `RsqlError`, which is
an `InvalidInput` (400); `render(error, locale)` gives its message in en_US or pt_BR.
"""
from __future__ import annotations

from chalicelib.rsql.bind import BoundAnd, BoundNode, BoundOr, ParamGroup, Predicate, bind
from chalicelib.rsql.errors import (
    RsqlError,
    RsqlLimitError,
    RsqlOperatorError,
    RsqlSelectorError,
    RsqlSyntaxError,
    RsqlValueError,
)
from chalicelib.rsql.evaluate import evaluate
from chalicelib.rsql.fields import CATALOG, Field, FieldType, Scope, TextPattern, epoch_ms, from_epoch_ms
from chalicelib.rsql.messages import LOCALES, normalize_locale, render
from chalicelib.rsql.parser import (
    DEFAULT_OPERATORS,
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_VALUE_LENGTH,
    MAX_VALUES,
    Operator,
    parse,
)
from chalicelib.rsql.tree import And, Comparison, Node, Or, and_with, visibility_rule


def prepare(q: str | None, visibility: Node | None = None) -> BoundNode | None:
    """Parse the user's `q` on its own, AND the caller's rule onto the tree, bind.

    `q=None` (absent) means every job the rule allows; None back means no filter at all.
    """
    tree = parse(q) if q is not None else None
    combined = and_with(tree, visibility)
    return None if combined is None else bind(combined)


__all__ = [
    "And", "BoundAnd", "BoundNode", "BoundOr", "CATALOG", "Comparison", "DEFAULT_OPERATORS",
    "Field", "FieldType", "LOCALES", "MAX_COMPARISONS", "MAX_DEPTH", "MAX_QUERY_LENGTH",
    "MAX_VALUES", "MAX_VALUE_LENGTH", "Node", "Operator", "Or", "ParamGroup", "Predicate",
    "RsqlError", "RsqlLimitError", "RsqlOperatorError", "RsqlSelectorError", "RsqlSyntaxError",
    "RsqlValueError", "Scope", "TextPattern", "and_with", "bind", "epoch_ms", "evaluate",
    "from_epoch_ms", "normalize_locale", "parse", "prepare", "render", "visibility_rule",
]
