"""Error messages in en_US and pt_BR."""
from __future__ import annotations

import re

import pytest

from chalicelib.rsql import RsqlError, bind, normalize_locale, parse, render
from chalicelib.rsql.messages import _MESSAGES

# One query per message key: each must raise that key, and render in every locale.
QUERIES_BY_KEY = {
    "empty_query": "",
    "control_char": "a==\x01",
    "unmatched_close": "a==b)",
    "unclosed_group": "(a==b",
    "expected_logical": "a==b c",
    "expected_logical_or_close": "(a==b c)",
    "quoted_selector": "'a'==b",
    "expected_selector": "a==b;",
    "expected_operator": "a",
    "unknown_operator": "a=x=b",
    "expected_value": "a==;",
    "empty_list": "a=in=()",
    "unclosed_list": "a=in=(b",
    "expected_list_separator": "a=in=(b c)",
    "single_value_operator": "a==(b,c)",
    "unterminated_quote": "a=='b",
    "reserved_char": "a==b~",
    "query_too_long": "a" * 5000,
    "too_deep": "(" * 17 + "a==b" + ")" * 17,
    "too_many_comparisons": ";".join(["a==b"] * 101),
    "too_many_values": "a=in=(" + ",".join("x" * 101) + ")",
    "value_too_long": "a==" + "x" * 1025,
    "unknown_selector": "nope==1",
    "unknown_selector_suggest": "PRIORITY==1",
    "operator_not_allowed": "isDeleted=gt=true",
    "invalid_integer": "priority==x",
    "integer_out_of_range": "priority==99999999999999999999",
    "invalid_number": "cpuTime==x",
    "invalid_boolean": "isDeleted==yes",
    "invalid_enum": "jobType==flow",
    "invalid_date": "endTime==yesterday",
    "date_zone_missing": "endTime==2019/06/12",
    "date_zone_plus": "endTime=='2019/06/12 03'",
    "date_millis": "endTime=='2019/06/12 10:00:00.1-03'",
    "impossible_date": "endTime==2020/02/30-03",
    "invalid_zone": "endTime==2020/02/03+25",
    "wildcard_middle": "jobOwner==a*b",
    "wildcard_ordering": "jobOwner=gt=a*",
}


def _raise(q: str) -> RsqlError:
    with pytest.raises(RsqlError) as caught:
        bind(parse(q))
    return caught.value


def test_both_locales_define_the_same_keys() -> None:
    assert set(_MESSAGES["en_US"]) == set(_MESSAGES["pt_BR"])
    assert set(QUERIES_BY_KEY) == set(_MESSAGES["en_US"]) - {"_position", "_end"}


@pytest.mark.parametrize(("key", "q"), QUERIES_BY_KEY.items(), ids=list(QUERIES_BY_KEY))
def test_every_key_renders_in_every_locale(key: str, q: str) -> None:
    error = _raise(q)
    assert error.key == key
    english, portuguese = render(error, "en_US"), render(error, "pt_BR")
    assert english == error.detail
    assert english != portuguese
    for text in (english, portuguese):
        assert not re.search(r"\{[a-z]+\}", text)  # every placeholder was filled


def test_a_syntax_error_in_both_languages() -> None:
    error = _raise("a==b c==d")
    assert render(error, "en_US") == (
        "At position 5: Expected ';', ',', ' and ', ' or ' or the end of the query, found 'c'.")
    assert render(error, "pt_BR") == (
        "Na posição 5: Esperado ';', ',', ' and ', ' or ' ou o fim da consulta; encontrado 'c'.")


def test_end_of_query_is_translated() -> None:
    error = _raise("a==")
    assert render(error, "pt_BR") == (
        "Na posição 3: Esperado um valor para '=='; encontrado o fim da consulta.")


def test_a_value_error_names_the_selector_and_value() -> None:
    error = _raise("exitStatus==killed")
    assert render(error, "pt_BR").startswith(
        "Na posição 12: 'killed' não é um valor válido para o campo 'exitStatus'; "
        "permitidos (em maiúsculas): UNKNOWN, SUCCESS,")


def test_a_limit_error_without_position_has_no_prefix() -> None:
    error = _raise("a" * 4097)
    assert render(error, "pt_BR") == "A consulta tem 4097 caracteres; o máximo permitido é 4096."


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("pt_BR", "pt_BR"), ("pt-BR", "pt_BR"), ("pt-br", "pt_BR"), ("PT_br", "pt_BR"), ("pt", "pt_BR"),
     ("pt_PT", "pt_BR"), ("en_US", "en_US"), ("en", "en_US"), ("fr_FR", "en_US"), ("", "en_US"),
     (None, "en_US"), ("../../etc", "en_US")],
)
def test_locale_normalisation(locale: str | None, expected: str) -> None:
    assert normalize_locale(locale) == expected


def test_unknown_locale_renders_the_default() -> None:
    error = _raise("a==b c==d")
    assert render(error, "de_DE") == render(error, "en_US") == render(error)
