"""Field catalog, operators per type, typed value conversion, and `bind`."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.rsql import (
    CATALOG,
    BoundAnd,
    BoundOr,
    FieldType,
    Operator,
    ParamGroup,
    Predicate,
    RsqlError,
    RsqlOperatorError,
    RsqlSelectorError,
    RsqlValueError,
    Scope,
    TextPattern,
    bind,
    parse,
)

ALL_OPERATORS = ("==", "!=", "=gt=", "=ge=", "=lt=", "=le=", "=in=", "=out=")


def _bind(q: str) -> object:
    return bind(parse(q))


def _values(q: str) -> tuple[object, ...]:
    bound = bind(parse(q))
    assert isinstance(bound, Predicate)
    return bound.values


def _error(q: str) -> RsqlError:
    with pytest.raises(RsqlError) as caught:
        bind(parse(q))
    assert isinstance(caught.value, InvalidInput)
    return caught.value


def _ms(iso_utc: str) -> int:
    return round(datetime.fromisoformat(iso_utc).replace(tzinfo=timezone.utc).timestamp() * 1000)


# -- the catalog --------------------------------------------------------------------------------


def test_catalog_has_exactly_the_contract_fields_with_their_types() -> None:
    expected = {
        "jobId": "text", "groupId": "text", "projectId": "text", "jobOwner": "text",
        "automaticallyMachineSelection": "boolean", "numberOfProcesses": "integer",
        "numberOfProcessesByMachine": "integer", "submissionTime": "date", "description": "text",
        "priority": "integer", "multipleExecution": "boolean", "jobType": "enum",
        "numberOfAttempts": "integer", "executionMachine": "text", "endTime": "date",
        "exitCode": "integer", "guiltyNodeId": "text", "exitStatus": "enum", "cpuTime": "number",
        "wallclockTime": "number", "ramMemory": "number", "flowId": "integer", "flowVersion": "integer",
        "flowName": "text", "lastModifiedTime": "date", "isDeleted": "boolean", "jobStatus": "enum",
        "algorithmId": "text", "algorithmVersion": "text", "algorithmName": "text", "paramId": "text",
        "paramLabel": "text", "paramValue": "text", "paramType": "enum",
    }
    assert {name: f.type.value for name, f in CATALOG.items()} == expected
    assert {n for n, f in CATALOG.items() if f.scope is Scope.ALGORITHM} == {
        "algorithmId", "algorithmVersion", "algorithmName"}
    assert {(n, f.key) for n, f in CATALOG.items() if f.scope is Scope.PARAMETER} == {
        ("paramId", "parameterId"), ("paramLabel", "label"), ("paramValue", "value"), ("paramType", "type")}


def test_enum_values_are_the_spec_lists() -> None:
    assert CATALOG["jobType"].allowed == ("ALGORITHM", "FLOW")
    assert len(CATALOG["exitStatus"].allowed) == 12 and "KILLED" in CATALOG["exitStatus"].allowed
    assert CATALOG["jobStatus"].allowed == (
        "SCHEDULED", "INIT", "UPLOADING", "QUEUED", "EXECUTING", "DOWNLOADING", "FINISHED", "UNKNOWN")
    assert CATALOG["paramType"].allowed == (
        "INPUT_FILE", "INTEGER", "BOOLEAN", "STRING", "NUMBER", "OBJECT", "ARRAY")


# -- each operator on each type ------------------------------------------------------------------

_SAMPLES = {
    FieldType.TEXT: ("description", "abc", TextPattern("exact", "abc")),
    FieldType.INTEGER: ("priority", "-7", -7),
    FieldType.NUMBER: ("cpuTime", "1.5", 1.5),
    FieldType.BOOLEAN: ("isDeleted", "true", True),
    FieldType.DATE: ("endTime", "2019/06/12-03", _ms("2019-06-12T03:00:00")),
    FieldType.ENUM: ("exitStatus", "KILLED", "KILLED"),
}
_ORDERED = {FieldType.TEXT, FieldType.INTEGER, FieldType.NUMBER, FieldType.DATE}


@pytest.mark.parametrize("op", ALL_OPERATORS)
@pytest.mark.parametrize("field_type", list(FieldType))
def test_each_operator_on_each_type(field_type: FieldType, op: str) -> None:
    selector, raw, converted = _SAMPLES[field_type]
    q = f"{selector}{op}({raw},{raw})" if op in ("=in=", "=out=") else f"{selector}{op}{raw}"
    if op in ("=gt=", "=ge=", "=lt=", "=le=") and field_type not in _ORDERED:
        error = _error(q)
        assert isinstance(error, RsqlOperatorError)
        assert (error.key, error.params["selector"], error.params["allowed"]) == (
            "operator_not_allowed", selector, ("==", "!=", "=in=", "=out="))
        return
    bound = _bind(q)
    assert isinstance(bound, Predicate) and bound.op == op
    if field_type is FieldType.TEXT and op in ("=gt=", "=ge=", "=lt=", "=le="):
        converted = "abc"  # ordering compares plain text: no pattern
    expected_count = 2 if op in ("=in=", "=out=") else 1
    assert bound.values == (converted,) * expected_count
    assert bound.negated is (op in ("!=", "=out="))


def test_a_custom_operator_is_refused_by_every_field() -> None:
    tree = parse("priority=all=(1,2)", [Operator("=all=", multi=True)])
    with pytest.raises(RsqlOperatorError):
        bind(tree)


# -- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "text"),
    [
        ("adm", "exact", "adm"),
        ("adm*", "prefix", "adm"),
        ("*MS2", "suffix", "MS2"),
        ("*tumor*", "contains", "tumor"),
        ("'*slice 3*'", "contains", "slice 3"),
        ("*", "suffix", ""),
        ("**", "contains", ""),
        ("100%", "exact", "100%"),
        ("a_b*", "prefix", "a_b"),
        (r"*C:\dir*", "contains", "C:\\dir"),
        ("*.sgy", "suffix", ".sgy"),
        ("''", "exact", ""),
    ],
)
def test_text_wildcards_at_start_and_or_end(raw: str, kind: str, text: str) -> None:
    assert _values(f"jobOwner=={raw}") == (TextPattern(kind, text),)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["a*b", "*a*b", "a*b*", "*a*b*", "***", "'a *b'"])
def test_a_star_in_the_middle_is_refused(raw: str) -> None:
    prefix = "priority==1;description=="
    error = _error(prefix + raw)
    assert isinstance(error, RsqlValueError)
    assert (error.key, error.params["selector"]) == ("wildcard_middle", "description")
    assert error.position == len(prefix)


def test_wildcards_apply_to_each_value_of_in_and_out() -> None:
    assert _values("jobOwner=in=(adm*,*root,bob)") == (
        TextPattern("prefix", "adm"), TextPattern("suffix", "root"), TextPattern("exact", "bob"))
    assert _error("jobOwner=out=(a,b*c)").key == "wildcard_middle"


def test_text_ordering_is_plain_text_and_refuses_a_star() -> None:
    assert _values("jobOwner=gt=adm") == ("adm",)
    error = _error("jobOwner=le=adm*")
    assert (error.key, error.params["operator"]) == ("wildcard_ordering", "=le=")


# -- integers, numbers, booleans, enums ----------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("42", 42), ("-1", -1), ("+3", 3), ("007", 7),
                                            ("9223372036854775807", 2**63 - 1)])
def test_integers(raw: str, value: int) -> None:
    assert _values(f"priority=={raw}") == (value,)


@pytest.mark.parametrize(("raw", "key"), [("1.5", "invalid_integer"), ("abc", "invalid_integer"),
                                          ("1e3", "invalid_integer"), ("'٣'", "invalid_integer"),
                                          ("''", "invalid_integer"), ("' 1'", "invalid_integer"),
                                          ("9223372036854775808", "integer_out_of_range")])
def test_bad_integers(raw: str, key: str) -> None:
    error = _error(f"exitCode=={raw}")
    assert (error.key, error.params["selector"], error.position) == (key, "exitCode", 10)


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("1.5", 1.5), ("-0.25", -0.25), ("412", 412)])
def test_numbers(raw: str, value: float) -> None:
    assert _values(f"wallclockTime=ge={raw}") == (value,)


@pytest.mark.parametrize("raw", [".5", "1.", "1e3", "NaN", "inf", "1,5"[:1] + "x"])
def test_bad_numbers(raw: str) -> None:
    assert _error(f"cpuTime=={raw}").key == "invalid_number"


def test_booleans_are_only_lower_case_true_and_false() -> None:
    assert _values("isDeleted==true") == (True,)
    assert _values("multipleExecution=in=(true,false)") == (True, False)
    for raw in ("TRUE", "True", "1", "yes", "''"):
        error = _error(f"isDeleted=={raw}")
        assert (error.key, error.params["value"]) == ("invalid_boolean", raw.strip("'"))


def test_enums_are_upper_case_and_the_error_lists_the_allowed_values() -> None:
    assert _values("jobType=in=(ALGORITHM,FLOW)") == ("ALGORITHM", "FLOW")
    assert _values("paramType==INPUT_FILE") == ("INPUT_FILE",)
    error = _error("exitStatus==killed")
    assert error.key == "invalid_enum"
    assert error.params["allowed"] == CATALOG["exitStatus"].allowed
    assert "KILLED, LOST, UNDEFINED" in error.detail


# -- dates ----------------------------------------------------------------------------------------

_DATE_CASES = [
    ("2019/06/12-03", "2019-06-12T03:00:00"),
    ("2019/06/12+03", "2019-06-11T21:00:00"),
    ("2019/06/12-0330", "2019-06-12T03:30:00"),
    ("2019/06/12+0530", "2019-06-11T18:30:00"),
    ("2019/06/12 21:24-03", "2019-06-13T00:24:00"),
    ("2019/06/12 21:24+03", "2019-06-12T18:24:00"),
    ("2019/06/12 21:24-0300", "2019-06-13T00:24:00"),
    ("2019/06/12 21:24+0000", "2019-06-12T21:24:00"),
    ("2019/06/12 21:24:25-00", "2019-06-12T21:24:25"),
    ("2019/06/12 21:24:25+01", "2019-06-12T20:24:25"),
    ("2019/06/12 21:24:25-0945", "2019-06-13T07:09:25"),
    ("2019/06/12 21:24:25+1400", "2019-06-12T07:24:25"),
    ("2019/06/12 21:24:25.342-0300", "2019-06-13T00:24:25.342"),
    ("2019/06/12 21:24:25.342+03", "2019-06-12T18:24:25.342"),
    ("2019/06/12 21:24:25.007-12", "2019-06-13T09:24:25.007"),
    ("2019/06/12 21:24:25.999+0100", "2019-06-12T20:24:25.999"),
    ("2020/02/29 23:59:59.999+00", "2020-02-29T23:59:59.999"),
    ("2000/01/01-01", "2000-01-01T01:00:00"),
]


@pytest.mark.parametrize(("raw", "utc"), _DATE_CASES)
def test_every_date_format_with_every_zone_form(raw: str, utc: str) -> None:
    assert _values(f"submissionTime=='{raw}'") == (_ms(utc),)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("2019/06/12", "date_zone_missing"),
        ("2019/06/12 21:24", "date_zone_missing"),
        ("2019/06/12 21:24:25", "date_zone_missing"),
        ("2019/06/12 21:24:25.342", "date_zone_missing"),
        ("2019/06/12 21:24 03", "date_zone_plus"),
        ("2019/06/12 21:24:25.342 0300", "date_zone_plus"),
        ("2019/06/12 03", "date_zone_plus"),
        ("2019/06/12 21:24:25.34-03", "date_millis"),
        ("2019/06/12 21:24:25.3421-03", "date_millis"),
        ("2019/06/12 21:24:25.3-03", "date_millis"),
        ("2020/02/30-03", "impossible_date"),
        ("2019/02/29-03", "impossible_date"),
        ("2019/04/31-03", "impossible_date"),
        ("2019/13/01-03", "impossible_date"),
        ("2019/00/10-03", "impossible_date"),
        ("0000/01/01-03", "impossible_date"),
        ("2019/06/12 24:00-03", "impossible_date"),
        ("2019/06/12 23:60-03", "impossible_date"),
        ("2019/06/12 23:59:60-03", "impossible_date"),
        ("2019/06/12+24", "invalid_zone"),
        ("2019/06/12-0360", "invalid_zone"),
        ("2019/06/12Z", "invalid_date"),
        ("2019/06/12+3", "invalid_date"),
        ("2019/06/12+030", "invalid_date"),
        ("2019-06-12-03", "invalid_date"),
        ("2019/6/12-03", "invalid_date"),
        ("2019/06/12T21:24-03", "invalid_date"),
        ("2019/06/12 21-03", "invalid_date"),
        ("12/06/2019-03", "invalid_date"),
        ("today", "invalid_date"),
        ("", "invalid_date"),
    ],
)
def test_bad_dates_are_refused_never_clamped(raw: str, key: str) -> None:
    prefix = "priority==1;endTime=lt="
    error = _error(f"{prefix}'{raw}'")
    assert isinstance(error, RsqlValueError)
    assert (error.key, error.params["selector"], error.position) == (key, "endTime", len(prefix))


def test_dates_under_in_and_every_date_field() -> None:
    for selector in ("submissionTime", "endTime", "lastModifiedTime"):
        assert _values(f"{selector}=in=(2019/06/12-03,2019/06/13-03)") == (
            _ms("2019-06-12T03:00:00"), _ms("2019-06-13T03:00:00"))


# -- selectors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "key", "suggestion"),
    [
        ("nope", "unknown_selector", None),
        ("jobid", "unknown_selector_suggest", "jobId"),
        ("algorithms.parameters.paramLabel", "unknown_selector_suggest", "paramLabel"),
        ("job_owner_attr", "unknown_selector", None),
    ],
)
def test_unknown_selector(selector: str, key: str, suggestion: str | None) -> None:
    error = _error(f"priority==1;{selector}==x")
    assert isinstance(error, RsqlSelectorError)
    assert (error.key, error.position, error.params.get("suggestion")) == (key, 12, suggestion)
    assert error.params["selector"] == selector


def test_an_unknown_selector_message_names_no_other_field() -> None:
    error = _error("secretAttribute==x")
    assert error.detail == "At position 0: Unknown field 'secretAttribute'."


# -- bound tree shape and the same-parameter grouping ---------------------------------------------


def test_bind_keeps_the_tree_shape() -> None:
    bound = _bind("priority==1,(jobOwner==a;exitCode==0)")
    assert isinstance(bound, BoundOr)
    assert isinstance(bound.children[1], BoundAnd)
    assert [p.field.name for p in bound.children[1].children] == ["jobOwner", "exitCode"]  # type: ignore[union-attr]


def test_param_siblings_under_one_and_become_one_group() -> None:
    bound = _bind("priority==1;paramLabel==Sleeps;jobOwner==a;paramValue=in=(3,1)")
    assert isinstance(bound, BoundAnd)
    priority, group, owner = bound.children  # the group takes its first member's place
    assert isinstance(group, ParamGroup)
    assert [(p.field.name, p.op) for p in group.predicates] == [("paramLabel", "=="), ("paramValue", "=in=")]
    assert (priority.field.name, owner.field.name) == ("priority", "jobOwner")  # type: ignore[union-attr]
    only_params = _bind("(paramLabel=='Sleeps');(paramValue=='3')")
    assert isinstance(only_params, ParamGroup) and len(only_params.predicates) == 2


def test_param_comparisons_under_or_or_in_other_and_nodes_stand_alone() -> None:
    assert isinstance(_bind("paramLabel==a,paramValue==1"), BoundOr)
    nested = _bind("paramLabel==a;(paramValue==1;priority==1)")
    assert isinstance(nested, BoundAnd)
    assert isinstance(nested.children[0], Predicate) and isinstance(nested.children[1], BoundAnd)


def test_all_negated_param_siblings_stay_independent() -> None:
    bound = _bind("paramLabel!=a;paramValue=out=(1)")
    assert isinstance(bound, BoundAnd)
    assert all(isinstance(c, Predicate) for c in bound.children)
    mixed = _bind("paramLabel==a;paramValue!=1")
    assert isinstance(mixed, ParamGroup)
