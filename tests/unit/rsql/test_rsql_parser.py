"""Parser behaviour beyond the vectors: whitespace, positions, operators, limits, fuzzing."""
from __future__ import annotations

import random
import time

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.rsql import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_VALUE_LENGTH,
    MAX_VALUES,
    And,
    Comparison,
    Node,
    Operator,
    Or,
    RsqlError,
    RsqlLimitError,
    RsqlSyntaxError,
    parse,
)


def _error(q: str, operators: list[Operator] | None = None) -> RsqlError:
    with pytest.raises(RsqlError) as caught:
        parse(q, operators)
    return caught.value


# -- tree shape and values --------------------------------------------------------------------


def test_tree_equality_ignores_source_positions() -> None:
    assert parse("a==b") == Comparison("a", "==", ("b",))
    assert parse("  a == b ") == parse("a==b")
    assert parse("a==b").pos == 0 and parse("  a == b").pos == 2  # type: ignore[union-attr]
    assert parse("a=in=(x, 'y')").arg_pos == (6, 9)  # type: ignore[union-attr]


def test_n_ary_nodes_and_groups_stay_nested() -> None:
    a, b, c = (Comparison(s, "==", ("1",)) for s in "abc")
    assert parse("a==1;b==1;c==1") == And((a, b, c))
    assert parse("a==1,(b==1,c==1)") == Or((a, Or((b, c))))
    assert parse("(a==1;b==1)") == And((a, b))
    assert parse("a==1;b==1,c==1") == Or((And((a, b)), c))


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [(">", "=gt="), (">=", "=ge="), ("<", "=lt="), ("<=", "=le="), ("=gt=", "=gt="), ("!=", "!=")],
)
def test_aliases_are_normalised(alias: str, canonical: str) -> None:
    assert parse(f"a{alias}1").op == canonical  # type: ignore[union-attr]


def test_escapes_inside_quotes_and_backslash_outside() -> None:
    assert parse(r"a=='it\'s'").args == ("it's",)  # type: ignore[union-attr]
    assert parse(r'a=="say \"hi\" \\ \n"').args == ('say "hi" \\ n',)  # type: ignore[union-attr]
    # Outside quotes a backslash is an ordinary character.
    assert parse(r"a==x\y").args == ("x\\y",)  # type: ignore[union-attr]


# -- whitespace decision: tab/CR/LF are spaces outside quotes, kept inside quotes ----------------


@pytest.mark.parametrize("ws", [" ", "\t", "\r", "\n", "\r\n", " \t\n "])
def test_tab_cr_lf_separate_tokens_like_a_space(ws: str) -> None:
    q = f"{ws}a{ws}=={ws}b{ws};{ws}c=in=({ws}x{ws},{ws}y{ws}){ws}"
    assert parse(q).to_vector() == {
        "and": [{"sel": "a", "op": "==", "args": ["b"]}, {"sel": "c", "op": "=in=", "args": ["x", "y"]}]
    }


@pytest.mark.parametrize("ws", ["\t", "\n", "\r"])
def test_word_operators_accept_tab_cr_lf_around_them(ws: str) -> None:
    assert parse(f"a==b{ws}and{ws}c==d{ws}or{ws}e==f").to_vector() == parse("a==b;c==d,e==f").to_vector()


@pytest.mark.parametrize("ws", ["\t", "\n", "\r"])
def test_tab_cr_lf_never_end_up_inside_an_unquoted_value(ws: str) -> None:
    error = _error(f"a==b{ws}c")
    assert error.key == "expected_logical"
    assert error.position == 5


def test_tab_cr_lf_inside_quotes_are_kept_as_written() -> None:
    assert parse("a=='x\ty\r\nz'").args == ("x\ty\r\nz",)  # type: ignore[union-attr]


@pytest.mark.parametrize(("q", "pos", "code"), [("a==b\x00", 4, "U+0000"), ("a=='x\x1by'", 5, "U+001B"),
                                                 ("\x7fa==b", 0, "U+007F"), ("a==\x0bb", 3, "U+000B")])
def test_other_control_characters_are_refused_everywhere(q: str, pos: int, code: str) -> None:
    error = _error(q)
    assert (error.key, error.position, error.params["code"]) == ("control_char", pos, code)


def test_word_operators() -> None:
    assert parse("a==b  and   c==d").to_vector() == parse("a==b;c==d").to_vector()
    assert parse("a=in=(b or c)").to_vector() == {"sel": "a", "op": "=in=", "args": ["b", "c"]}
    assert _error("a=in=(b and c)").key == "expected_list_separator"
    assert _error("a==b AND c==d").key == "expected_logical"
    assert parse("and==x").to_vector() == {"sel": "and", "op": "==", "args": ["x"]}


# -- errors carry a key and the 0-based position -----------------------------------------------


@pytest.mark.parametrize(
    ("q", "key", "pos"),
    [
        ("", "empty_query", 0),
        ("a==b;;c==d", "expected_selector", 5),
        ("(a==b", "unclosed_group", 0),
        ("a==b)", "unmatched_close", 4),
        ("(a==b c==d)", "expected_logical_or_close", 6),
        ("a==b c==d", "expected_logical", 5),
        ("'a'==b", "quoted_selector", 0),
        ("a b==c", "expected_operator", 2),
        ("a=like=b", "unknown_operator", 1),
        ("a==", "expected_value", 3),
        ("a=in=()", "empty_list", 5),
        ("a=in=(b,c", "unclosed_list", 5),
        ("a=in=(b;c)", "expected_list_separator", 7),
        ("a==(b,c)", "single_value_operator", 3),
        ("a=='b", "unterminated_quote", 3),
        ("a==b~", "reserved_char", 4),
        ("a=~b", "reserved_char", 1),
        ("a==b)~", "unmatched_close", 4),  # the earlier error wins over the later bad character
    ],
)
def test_syntax_errors_have_key_and_position(q: str, key: str, pos: int) -> None:
    error = _error(q)
    assert isinstance(error, RsqlSyntaxError) and isinstance(error, InvalidInput)
    assert isinstance(error, InvalidInput) and (error.key, error.position, error.field) == (key, pos, "q")
    assert f"At position {pos}: " in error.detail


def test_found_token_is_echoed_and_clipped() -> None:
    error = _error("a==b " + "c" * 500)
    assert error.params["found"] == "c" * 39 + "…"


# -- custom operator sets -----------------------------------------------------------------------


def test_custom_operator_set_replaces_the_default() -> None:
    ops = [Operator("=="), Operator("=all=", multi=True), Operator("=near=")]
    assert parse("g=all=(x,y)", ops).to_vector() == {"sel": "g", "op": "=all=", "args": ["x", "y"]}
    assert parse("g=all=x", ops).to_vector() == {"sel": "g", "op": "=all=", "args": ["x"]}
    assert _error("g=near=(x,y)", ops).key == "single_value_operator"
    assert _error("g=in=(x)", ops).key == "unknown_operator"
    assert _error("g>1", ops).key == "unknown_operator"
    assert parse("g>1", [Operator("=gt=")]).to_vector() == {"sel": "g", "op": "=gt=", "args": ["1"]}


@pytest.mark.parametrize("symbol", ["like", "=1=", "==="])
def test_a_custom_symbol_the_grammar_cannot_lex_is_a_programming_error(symbol: str) -> None:
    with pytest.raises(ValueError):
        parse("a==b", [Operator(symbol)])


# -- limits -------------------------------------------------------------------------------------


def test_query_length_limit() -> None:
    assert parse("a==b" + " " * (MAX_QUERY_LENGTH - 4)).to_vector()["sel"] == "a"
    error = _error("a==b" + " " * (MAX_QUERY_LENGTH - 3))
    assert isinstance(error, RsqlLimitError)
    assert (error.key, error.params["length"], error.position) == ("query_too_long", 4097, None)


def test_nesting_depth_limit() -> None:
    ok = "(" * MAX_DEPTH + "a==b" + ")" * MAX_DEPTH
    assert parse(ok) == Comparison("a", "==", ("b",))
    error = _error("(" * (MAX_DEPTH + 1) + "a==b" + ")" * (MAX_DEPTH + 1))
    assert isinstance(error, RsqlLimitError)
    assert (error.key, error.position) == ("too_deep", MAX_DEPTH)


def test_comparison_count_limit() -> None:
    assert len(parse(";".join(["a==b"] * MAX_COMPARISONS)).children) == 100  # type: ignore[union-attr]
    error = _error(";".join(["a==b"] * (MAX_COMPARISONS + 1)))
    assert (error.key, error.position) == ("too_many_comparisons", 500)


def test_value_list_limit() -> None:
    values = ",".join(str(i) for i in range(MAX_VALUES))
    assert len(parse(f"a=in=({values})").args) == 100  # type: ignore[union-attr]
    q = f"a=in=({values},x)"
    error = _error(q)
    assert (error.key, error.position) == ("too_many_values", q.index(",x)") + 1)


def test_value_length_limit_counts_unescaped_characters() -> None:
    assert parse("a==" + "x" * MAX_VALUE_LENGTH).args == ("x" * 1024,)  # type: ignore[union-attr]
    assert parse("a=='" + "\\x" * MAX_VALUE_LENGTH + "'").args == ("x" * 1024,)  # type: ignore[union-attr]
    error = _error("b==c;a=='" + "y" * (MAX_VALUE_LENGTH + 1) + "'")
    assert (error.key, error.position) == ("value_too_long", 8)


@pytest.mark.parametrize(
    ("q", "key"),
    [
        ("(" * 10_000, "query_too_long"),
        ("(" * 4096, "too_deep"),
        ("(" * 2000 + "a==b" + ")" * 2000, "too_deep"),
        ("a=in=(" + ",".join(["x"] * 2000) + ")", "too_many_values"),
        ("a=in=(" + ",".join(["'x'"] * 1000) + ")", "too_many_values"),
        (";".join(["a==b"] * 800), "too_many_comparisons"),
        ("a=='" + "x" * 4000, "unterminated_quote"),
        ("a=='" + "\\" * 4000, "unterminated_quote"),
        ("a==b" + " and" * 1000, "expected_operator"),
    ],
)
def test_hostile_inputs_are_refused_quickly(q: str, key: str) -> None:
    started = time.perf_counter()
    error = _error(q[:MAX_QUERY_LENGTH] if key != "query_too_long" else q)
    assert error.key == key
    assert time.perf_counter() - started < 0.05


# -- fuzzing ------------------------------------------------------------------------------------

_FUZZ_ALPHABET = list("ab=!<>~();,'\"\\ *\t\n") + ["==", "=in=", "=out=", " and ", " or ", "é", "\x00"]


def test_random_strings_only_ever_raise_rsql_errors() -> None:
    rng = random.Random(20240601)
    parsed = refused = 0
    for _ in range(10_000):
        q = "".join(rng.choice(_FUZZ_ALPHABET) for _ in range(rng.randint(0, 40)))
        try:
            parse(q)
            parsed += 1
        except RsqlError as error:
            assert isinstance(error, InvalidInput) and error.detail
            refused += 1
    assert parsed > 0 and refused > 0  # the alphabet reaches both outcomes


_UNRESERVED = "abcXYZ019_.:/*%@+-é日😀\\"
_ANY = _UNRESERVED + "\"'();,=<>!~ \t"


def _random_tree(rng: random.Random, depth: int, budget: list[int]) -> Node:
    if depth < MAX_DEPTH and budget[0] > 2 and rng.random() < 0.35:
        kind = rng.choice((And, Or))
        return kind(tuple(_random_tree(rng, depth + 1, budget) for _ in range(rng.randint(2, 3))))
    budget[0] -= 1
    op = rng.choice(["==", "!=", "=gt=", "=ge=", "=lt=", "=le=", "=in=", "=out="])
    count = rng.randint(1, 4) if op in ("=in=", "=out=") else 1
    selector = "".join(rng.choice(_UNRESERVED) for _ in range(rng.randint(1, 6)))
    values = tuple("".join(rng.choice(_ANY) for _ in range(rng.randint(0, 6))) for _ in range(count))
    return Comparison(selector, op, values)


def _to_text(node: Node, rng: random.Random) -> str:
    """Serialise a tree with random spellings: aliases, quotes, escapes, word operators, spaces."""
    pad = lambda: rng.choice(["", "", " ", "\t", "\n "])  # noqa: E731
    if isinstance(node, Comparison):
        aliases = {"=gt=": ">", "=ge=": ">=", "=lt=": "<", "=le=": "<="}
        op = aliases[node.op] if node.op in aliases and rng.random() < 0.5 else node.op
        values = [_value_text(v, rng) for v in node.args]
        if len(values) > 1 or rng.random() < 0.3:
            sep = rng.choice([",", " or "])
            args = "(" + pad() + sep.join(v + pad() for v in values) + ")"
        else:
            args = values[0]
        return f"{pad()}{node.selector}{pad()}{op}{pad()}{args}{pad()}"
    sep = rng.choice([";", " and "]) if isinstance(node, And) else rng.choice([",", " or "])
    return sep.join(
        f"({_to_text(c, rng)})" if isinstance(c, (And, Or)) else _to_text(c, rng) for c in node.children
    )


def _value_text(value: str, rng: random.Random) -> str:
    if value and all(ch in _UNRESERVED for ch in value) and rng.random() < 0.5:
        return value
    quote = rng.choice("'\"")
    # Escape what must be escaped, and sometimes an ordinary character too (the backslash drops).
    body = "".join("\\" + ch if ch in (quote, "\\") or rng.random() < 0.1 else ch for ch in value)
    return quote + body + quote


def _comparisons(node: Node) -> int:
    return 1 if isinstance(node, Comparison) else sum(_comparisons(c) for c in node.children)


def test_random_trees_round_trip_through_text() -> None:
    rng = random.Random(7)
    checked = 0
    while checked < 2_000:
        tree = _random_tree(rng, 0, [40])
        text = _to_text(tree, rng)
        if _comparisons(tree) > MAX_COMPARISONS or len(text) > MAX_QUERY_LENGTH:
            continue
        checked += 1
        assert parse(text) == tree, text


def test_long_runs_of_whitespace_are_fine() -> None:
    assert parse("a==" + " " * 4000 + "b").to_vector() == {"sel": "a", "op": "==", "args": ["b"]}


def test_mutated_valid_queries_only_ever_raise_rsql_errors() -> None:
    rng = random.Random(11)
    for _ in range(3_000):
        text = list(_to_text(_random_tree(rng, 0, [20]), rng))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.5 and text:
                del text[min(at, len(text) - 1)]
            else:
                text.insert(at, rng.choice(_ANY + "\\"))
        try:
            parse("".join(text))
        except RsqlError:
            pass
