"""RSQL parser for the reference grammar (jirutka/rsql-parser 2.x).

    or         = and { ("," | " or ") and }
    and        = constraint { (";" | " and ") constraint }
    constraint = "(" or ")" | comparison
    comparison = selector operator arguments
    arguments  = "(" value { ("," | " or ") value } ")" | value

Two steps, both linear in the length of `q`:

1. Lexing. One fixed regular expression splits `q` into tokens: word operators (` and `, ` or `
   with whitespace on both sides), whitespace (skipped), unreserved runs, single/double-quoted
   strings, comparison operators and punctuation. Each alternative is unambiguous (a character
   can be consumed only one way), so a failed attempt gives back at most the token it was
   matching and lexing stays linear; user text is never turned into a pattern.
   A character no token accepts becomes a "bad" token and lexing stops there, so the parser
   still reports an earlier syntax error first (errors come out in text order).
2. Parsing. Recursive descent over the token list. Recursion only happens at a "(", and the
   nesting limit is checked before recursing, so no input can exhaust the stack.

Whitespace: outside quotes, tab, CR and LF are whitespace exactly like a space (they separate
tokens and may surround ` and ` / ` or `); they never end up in an unquoted selector or value.
Inside quotes every character is kept as written. Other control characters (U+0000-U+001F
except tab/CR/LF, and U+007F) are refused anywhere in `q`.

Tree shape: AND/OR are n-ary; a parenthesised group stays a nested node (`a;(b;c)` is not
flattened) and a group with one child collapses to that child. Operator aliases are normalised
(`>` -> `=gt=` ...).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from chalicelib.rsql.errors import RsqlLimitError, RsqlSyntaxError
from chalicelib.rsql.tree import And, Comparison, Node, Or

MAX_QUERY_LENGTH = 4096
MAX_DEPTH = 16
MAX_COMPARISONS = 100
MAX_VALUES = 100
MAX_VALUE_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Operator:
    """A comparison operator. `multi` operators accept a value list `(a,b,...)`."""

    symbol: str
    multi: bool = False


DEFAULT_OPERATORS: tuple[Operator, ...] = (
    Operator("=="),
    Operator("!="),
    Operator("=gt="),
    Operator("=ge="),
    Operator("=lt="),
    Operator("=le="),
    Operator("=in=", multi=True),
    Operator("=out=", multi=True),
)
ALIASES = {">": "=gt=", ">=": "=ge=", "<": "=lt=", "<=": "=le="}
_OPERATOR_SYMBOL = re.compile(r"=[A-Za-z]*=|!=|[<>]=?")

# Token kinds. ' and ' lexes as ';' and ' or ' as ',': the grammar treats them alike.
_WORD, _QUOTED, _OP, _BAD, _END = "w", "q", "o", "!", "$"
_VALUE_KINDS = (_WORD, _QUOTED)

_TOKEN = re.compile(
    r"""[ \t\r\n]+(and|or)[ \t\r\n]          # 1 word operator, whitespace on both sides
    |[ \t\r\n]+                              # whitespace: skipped
    |([^"'();,=<>!~ \t\r\n]+)                # 2 unreserved run: selector or value
    |'([^'\\]*(?:\\.[^'\\]*)*)'              # 3 single-quoted
    |"([^"\\]*(?:\\.[^"\\]*)*)"              # 4 double-quoted
    |(=[A-Za-z]*=|!=|[<>]=?)                 # 5 comparison operator
    |([();,])                                # 6 punctuation
    |(.)                                     # 7 anything else: a syntax error
    """,
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DEFAULT_TABLE = {op.symbol: op.multi for op in DEFAULT_OPERATORS}


def parse(q: str, operators: Iterable[Operator] | None = None) -> Node:
    """Parse `q` into a tree, or raise an `RsqlError` (400) saying what is wrong and where.

    `operators` replaces the default operator set (the aliases `>`, `>=`, `<`, `<=` keep
    working when their canonical operator is in the set).
    """
    if len(q) > MAX_QUERY_LENGTH:
        raise RsqlLimitError("query_too_long", None, length=len(q), max=MAX_QUERY_LENGTH)
    control = _CONTROL.search(q)
    if control:
        raise RsqlSyntaxError("control_char", control.start(), code=f"U+{ord(control.group()):04X}")
    table = _DEFAULT_TABLE if operators is None else operator_table(operators)
    return _Parser(q, table).parse()


def operator_table(operators: Iterable[Operator]) -> dict[str, bool]:
    """`{canonical symbol: multi}`; raises ValueError for a symbol the grammar cannot lex."""
    table: dict[str, bool] = {}
    for op in operators:
        if not _OPERATOR_SYMBOL.fullmatch(op.symbol):
            raise ValueError(f"not an RSQL operator symbol: {op.symbol!r}")
        table[ALIASES.get(op.symbol, op.symbol)] = op.multi
    return table


class _Parser:
    __slots__ = ("q", "table", "kinds", "texts", "starts", "i", "comparisons")

    def __init__(self, q: str, table: dict[str, bool]) -> None:
        self.q = q
        self.table = table
        self.i = 0
        self.comparisons = 0
        self._lex()

    def _lex(self) -> None:
        kinds: list[str] = []
        texts: list[str] = []
        starts: list[int] = []
        for m in _TOKEN.finditer(self.q):
            group = m.lastindex
            if group is None:  # plain whitespace
                continue
            if group == 2:
                kinds.append(_WORD)
                texts.append(m.group(2))
            elif group == 3 or group == 4:
                text = m.group(group)
                kinds.append(_QUOTED)
                texts.append(_UNESCAPE.sub(r"\1", text) if "\\" in text else text)
            elif group == 5:
                kinds.append(_OP)
                texts.append(m.group(5))
            elif group == 6:
                kinds.append(m.group(6))
                texts.append(m.group(6))
            elif group == 1:
                kinds.append(";" if m.group(1) == "and" else ",")
                texts.append(m.group(1))
            else:
                kinds.append(_BAD)
                texts.append(m.group(7))
                starts.append(m.start())
                break
            # A word operator starts at its word; anything else (a quote too) at its first char.
            starts.append(m.start(1) if group == 1 else m.start())
        kinds.append(_END)
        texts.append("")
        starts.append(len(self.q))
        self.kinds, self.texts, self.starts = kinds, texts, starts

    # -- grammar -----------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.kinds[0] == _END:
            raise RsqlSyntaxError("empty_query", 0)
        node = self._or(0)
        kind = self.kinds[self.i]
        if kind != _END:
            if kind == ")":
                raise RsqlSyntaxError("unmatched_close", self.starts[self.i])
            self._fail("expected_logical")
        return node

    def _or(self, depth: int) -> Node:
        first = self._and(depth)
        if self.kinds[self.i] != ",":
            return first
        children = [first]
        while self.kinds[self.i] == ",":
            self.i += 1
            children.append(self._and(depth))
        return Or(tuple(children))

    def _and(self, depth: int) -> Node:
        first = self._constraint(depth)
        if self.kinds[self.i] != ";":
            return first
        children = [first]
        while self.kinds[self.i] == ";":
            self.i += 1
            children.append(self._constraint(depth))
        return And(tuple(children))

    def _constraint(self, depth: int) -> Node:
        if self.kinds[self.i] != "(":
            return self._comparison()
        opened = self.starts[self.i]
        if depth >= MAX_DEPTH:  # checked before recursing: the stack stays shallow
            raise RsqlLimitError("too_deep", opened, max=MAX_DEPTH)
        self.i += 1
        node = self._or(depth + 1)
        kind = self.kinds[self.i]
        if kind != ")":
            if kind == _END:
                raise RsqlSyntaxError("unclosed_group", opened)
            self._fail("expected_logical_or_close")
        self.i += 1
        return node

    def _comparison(self) -> Comparison:
        kinds, texts, starts = self.kinds, self.texts, self.starts
        i = self.i
        if kinds[i] != _WORD:
            if kinds[i] == _QUOTED:
                raise RsqlSyntaxError("quoted_selector", starts[i])
            self._fail("expected_selector")
        selector, sel_pos = texts[i], starts[i]
        i += 1
        if kinds[i] != _OP:
            self.i = i
            self._fail("expected_operator", selector=_clip(selector))
        symbol = texts[i]
        op = ALIASES.get(symbol, symbol)
        multi = self.table.get(op)
        if multi is None:
            raise RsqlSyntaxError("unknown_operator", starts[i], operator=_clip(symbol))
        i += 1
        if kinds[i] == "(":
            args, arg_pos, i = self._value_list(i, op, multi)
        elif kinds[i] in _VALUE_KINDS:
            self._check_value(i)
            args, arg_pos = (texts[i],), (starts[i],)
            i += 1
        else:
            self.i = i
            self._fail("expected_value", operator=symbol)
        self.i = i
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise RsqlLimitError("too_many_comparisons", sel_pos, max=MAX_COMPARISONS)
        return Comparison(selector, op, args, sel_pos, arg_pos)

    def _value_list(self, i: int, op: str, multi: bool) -> tuple[tuple[str, ...], tuple[int, ...], int]:
        kinds, texts, starts = self.kinds, self.texts, self.starts
        opened = starts[i]
        i += 1
        if kinds[i] == ")":
            raise RsqlSyntaxError("empty_list", opened)
        args: list[str] = []
        arg_pos: list[int] = []
        while True:
            if kinds[i] not in _VALUE_KINDS:
                self.i = i
                self._fail("expected_value", operator=op)
            if len(args) == MAX_VALUES:
                raise RsqlLimitError("too_many_values", starts[i], max=MAX_VALUES)
            self._check_value(i)
            args.append(texts[i])
            arg_pos.append(starts[i])
            i += 1
            kind = kinds[i]
            if kind == ",":
                i += 1
            elif kind == ")":
                break
            elif kind == _END:
                raise RsqlSyntaxError("unclosed_list", opened)
            else:
                self.i = i
                self._fail("expected_list_separator")
        if not multi and len(args) > 1:
            raise RsqlSyntaxError("single_value_operator", opened, operator=op)
        return tuple(args), tuple(arg_pos), i + 1

    # -- errors ------------------------------------------------------------------------------

    def _check_value(self, i: int) -> None:
        if len(self.texts[i]) > MAX_VALUE_LENGTH:
            raise RsqlLimitError("value_too_long", self.starts[i], max=MAX_VALUE_LENGTH)

    def _fail(self, key: str, **params: str) -> NoReturn:
        """Raise `key` for the token at `self.i`, or the lexical error if that token is bad."""
        i = self.i
        kind, pos = self.kinds[i], self.starts[i]
        if kind == _BAD:
            char = self.texts[i]
            if char in "'\"":
                raise RsqlSyntaxError("unterminated_quote", pos)
            raise RsqlSyntaxError("reserved_char", pos, char=char)
        found = None if kind == _END else _clip(_source_token(self.q, pos))
        raise RsqlSyntaxError(key, pos, found=found, **params)


def _source_token(q: str, pos: int) -> str:
    m = _TOKEN.match(q, pos)
    return m.group(0) if m else q[pos : pos + 1]


def _clip(text: str, limit: int = 40) -> str:
    """Echo user text in messages without echoing a whole 1 KiB value."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
