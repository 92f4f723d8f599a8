"""Error messages for RSQL queries in en_US (default) and pt_BR.

An error is a message key plus params; `render` picks the locale's template and, when the error
has a position, prefixes it ("At position 12: ..."). Positions are 0-based character indexes.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

DEFAULT_LOCALE = "en_US"

_MESSAGES: dict[str, dict[str, str]] = {
    "en_US": {
        "_position": "At position {pos}: ",
        "_end": "the end of the query",
        # syntax
        "empty_query": "The query is empty.",
        "control_char": "Control character {code} is not allowed.",
        "unmatched_close": "This ')' has no matching '('.",
        "unclosed_group": "This '(' is never closed.",
        "expected_logical": "Expected ';', ',', ' and ', ' or ' or the end of the query, found {found}.",
        "expected_logical_or_close": "Expected ';', ',', ' and ', ' or ' or ')', found {found}.",
        "quoted_selector": "A selector (field name) cannot be quoted.",
        "expected_selector": "Expected a selector (field name), found {found}.",
        "expected_operator": "Expected a comparison operator after '{selector}', found {found}.",
        "unknown_operator": "Unknown operator '{operator}'.",
        "expected_value": "Expected a value for '{operator}', found {found}.",
        "empty_list": "The value list is empty.",
        "unclosed_list": "This value list is never closed with ')'.",
        "expected_list_separator": "Expected ',' or ')' in the value list, found {found}.",
        "single_value_operator": "Operator '{operator}' takes one value, not a list.",
        "unterminated_quote": "This quoted value is never closed.",
        "reserved_char": (
            "Unexpected reserved character '{char}'; the characters \" ' ( ) ; , = < > ! ~ and space "
            "may only appear inside a quoted value."
        ),
        # limits
        "query_too_long": "The query has {length} characters; at most {max} are allowed.",
        "too_deep": "Groups are nested more than {max} levels deep.",
        "too_many_comparisons": "The query has more than {max} comparisons.",
        "too_many_values": "A value list has more than {max} values.",
        "value_too_long": "A value is longer than {max} characters.",
        # fields, operators, values
        "unknown_selector": "Unknown field '{selector}'.",
        "unknown_selector_suggest": "Unknown field '{selector}'; did you mean '{suggestion}'?",
        "operator_not_allowed": (
            "Operator '{operator}' cannot be used with field '{selector}'; allowed: {allowed}."
        ),
        "invalid_integer": "Field '{selector}' needs an integer, got '{value}'.",
        "integer_out_of_range": "The integer '{value}' for field '{selector}' is out of range.",
        "invalid_number": "Field '{selector}' needs a number such as 12 or 1.5, got '{value}'.",
        "invalid_boolean": "Field '{selector}' needs true or false, got '{value}'.",
        "invalid_enum": (
            "'{value}' is not a valid value for field '{selector}'; allowed (upper case): {allowed}."
        ),
        "invalid_date": (
            "'{value}' is not a valid date for field '{selector}'; use yyyy/MM/dd, yyyy/MM/dd HH:mm, "
            "yyyy/MM/dd HH:mm:ss or yyyy/MM/dd HH:mm:ss.SSS followed by a time zone "
            "(+hh, -hh, +hhmm or -hhmm), e.g. 2019/06/12 21:24:25.342-0300."
        ),
        "date_zone_missing": (
            "The date '{value}' for field '{selector}' needs a time zone: +hh, -hh, +hhmm or -hhmm "
            "(e.g. 2019/06/12 21:00-03)."
        ),
        "date_zone_plus": (
            "The date '{value}' for field '{selector}' has no time zone; in a URL a '+' must be "
            "written %2B (a bare '+' arrives as a space)."
        ),
        "date_millis": "Milliseconds in '{value}' (field '{selector}') must have exactly three digits.",
        "impossible_date": "'{value}' (field '{selector}') is not a real date or time.",
        "invalid_zone": (
            "The time zone of '{value}' (field '{selector}') is out of range "
            "(hours 00-23, minutes 00-59)."
        ),
        "wildcard_middle": (
            "In '{value}' (field '{selector}') a '*' may only be at the start and/or the end."
        ),
        "wildcard_ordering": (
            "A '*' wildcard cannot be used with '{operator}' (field '{selector}'); "
            "patterns work with ==, !=, =in= and =out=."
        ),
    },
    "pt_BR": {
        "_position": "Na posição {pos}: ",
        "_end": "o fim da consulta",
        "empty_query": "A consulta está vazia.",
        "control_char": "O caractere de controle {code} não é permitido.",
        "unmatched_close": "Este ')' não tem um '(' correspondente.",
        "unclosed_group": "Este '(' nunca é fechado.",
        "expected_logical": "Esperado ';', ',', ' and ', ' or ' ou o fim da consulta; encontrado {found}.",
        "expected_logical_or_close": "Esperado ';', ',', ' and ', ' or ' ou ')'; encontrado {found}.",
        "quoted_selector": "Um seletor (nome de campo) não pode estar entre aspas.",
        "expected_selector": "Esperado um seletor (nome de campo); encontrado {found}.",
        "expected_operator": "Esperado um operador de comparação após '{selector}'; encontrado {found}.",
        "unknown_operator": "Operador desconhecido '{operator}'.",
        "expected_value": "Esperado um valor para '{operator}'; encontrado {found}.",
        "empty_list": "A lista de valores está vazia.",
        "unclosed_list": "Esta lista de valores nunca é fechada com ')'.",
        "expected_list_separator": "Esperado ',' ou ')' na lista de valores; encontrado {found}.",
        "single_value_operator": "O operador '{operator}' aceita um único valor, não uma lista.",
        "unterminated_quote": "Este valor entre aspas nunca é fechado.",
        "reserved_char": (
            "Caractere reservado inesperado '{char}'; os caracteres \" ' ( ) ; , = < > ! ~ e o espaço "
            "só podem aparecer dentro de um valor entre aspas."
        ),
        "query_too_long": "A consulta tem {length} caracteres; o máximo permitido é {max}.",
        "too_deep": "Os grupos estão aninhados em mais de {max} níveis.",
        "too_many_comparisons": "A consulta tem mais de {max} comparações.",
        "too_many_values": "Uma lista de valores tem mais de {max} valores.",
        "value_too_long": "Um valor tem mais de {max} caracteres.",
        "unknown_selector": "Campo desconhecido '{selector}'.",
        "unknown_selector_suggest": "Campo desconhecido '{selector}'; você quis dizer '{suggestion}'?",
        "operator_not_allowed": (
            "O operador '{operator}' não pode ser usado com o campo '{selector}'; permitidos: {allowed}."
        ),
        "invalid_integer": "O campo '{selector}' exige um número inteiro; recebido '{value}'.",
        "integer_out_of_range": "O inteiro '{value}' do campo '{selector}' está fora do intervalo permitido.",
        "invalid_number": "O campo '{selector}' exige um número como 12 ou 1.5; recebido '{value}'.",
        "invalid_boolean": "O campo '{selector}' exige true ou false; recebido '{value}'.",
        "invalid_enum": (
            "'{value}' não é um valor válido para o campo '{selector}'; permitidos (em maiúsculas): "
            "{allowed}."
        ),
        "invalid_date": (
            "'{value}' não é uma data válida para o campo '{selector}'; use yyyy/MM/dd, "
            "yyyy/MM/dd HH:mm, yyyy/MM/dd HH:mm:ss ou yyyy/MM/dd HH:mm:ss.SSS seguido do fuso "
            "horário (+hh, -hh, +hhmm ou -hhmm), por exemplo 2019/06/12 21:24:25.342-0300."
        ),
        "date_zone_missing": (
            "A data '{value}' do campo '{selector}' exige o fuso horário: +hh, -hh, +hhmm ou -hhmm "
            "(por exemplo 2019/06/12 21:00-03)."
        ),
        "date_zone_plus": (
            "A data '{value}' do campo '{selector}' está sem fuso horário; numa URL o '+' deve ser "
            "escrito %2B (um '+' simples chega como espaço)."
        ),
        "date_millis": (
            "Os milissegundos de '{value}' (campo '{selector}') devem ter exatamente três dígitos."
        ),
        "impossible_date": "'{value}' (campo '{selector}') não é uma data ou hora real.",
        "invalid_zone": (
            "O fuso horário de '{value}' (campo '{selector}') está fora do intervalo "
            "(horas 00-23, minutos 00-59)."
        ),
        "wildcard_middle": (
            "Em '{value}' (campo '{selector}') o '*' só pode estar no início e/ou no fim."
        ),
        "wildcard_ordering": (
            "O curinga '*' não pode ser usado com '{operator}' (campo '{selector}'); "
            "padrões funcionam com ==, !=, =in= e =out=."
        ),
    },
}

LOCALES = tuple(_MESSAGES)


class _Renderable(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def position(self) -> int | None: ...
    @property
    def params(self) -> Mapping[str, Any]: ...


def normalize_locale(locale: str | None) -> str:
    """`pt-br`, `PT_BR` and `pt` -> `pt_BR`; anything unknown -> the default locale."""
    if not locale:
        return DEFAULT_LOCALE
    lang, _, region = locale.replace("-", "_").partition("_")
    wanted = f"{lang.lower()}_{region.upper()}" if region else lang.lower()
    if wanted in _MESSAGES:
        return wanted
    for known in LOCALES:
        if known.split("_")[0] == lang.lower():
            return known
    return DEFAULT_LOCALE


def render(error: _Renderable, locale: str | None = None) -> str:
    """The error's message in `locale` (unknown or missing locale -> en_US)."""
    return render_key(error.key, error.position, error.params, normalize_locale(locale))


def render_key(key: str, position: int | None, params: Mapping[str, Any], locale: str) -> str:
    catalog = _MESSAGES.get(locale, _MESSAGES[DEFAULT_LOCALE])
    template = catalog.get(key) or _MESSAGES[DEFAULT_LOCALE].get(key) or key
    values = dict(params)
    if "found" in values:
        found = values["found"]
        values["found"] = catalog["_end"] if found is None else f"'{found}'"
    if "allowed" in values and not isinstance(values["allowed"], str):
        values["allowed"] = ", ".join(values["allowed"])
    text = template.format(**values)
    if position is not None and position >= 0:
        text = catalog["_position"].format(pos=position) + text
    return text
