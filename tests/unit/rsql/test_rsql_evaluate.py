"""Evaluating bound trees on history-shaped jobs: spec examples, collections, the same-parameter
rule, nulls, typed stored values, and the visibility rule ANDed at tree level."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.rsql import (
    And,
    Comparison,
    RsqlSyntaxError,
    and_with,
    bind,
    epoch_ms,
    evaluate,
    from_epoch_ms,
    parse,
    prepare,
    visibility_rule,
)


def matches(q: str, job: dict[str, Any]) -> bool:
    return evaluate(bind(parse(q)), job)


# -- the spec's examples on the spec's job (+ a second algorithm: Sleeps=5, Times=3,1) -----------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('description=="Teste Yade com batch"', False),
        ('description=="test yade pela web"', True),
        ('jobOwner=="adm*"', True),
        ("priority==1", True),
        ('algorithmName=="Teste_Progresso"', True),
        ("algorithmName==Teste_Progresso", True),
        ('executionMachine==40100;jobOwner=="admin"', True),
        ('executionMachine==40101;jobOwner=="admin"', False),
        ('priority==1,jobOwner=="admin"', True),
        ('priority==2,jobOwner=="root"', False),
        ("(isDeleted==false);(description==*MS2)", False),
        ("(isDeleted==false);(description==*web)", True),
        ('algorithmName=="Yade";exitStatus=="KILLED"', False),
        ('algorithmName=="Yade";exitStatus=="SUCCESS"', True),
        ('paramLabel=="Sleeps"', True),
        ('paramLabel=="Sleep"', False),
        ("(paramLabel=='Sleeps');(paramValue=='3')", False),  # 3 belongs to Times, not Sleeps
        ("(paramLabel=='Sleeps');(paramValue=='5')", True),
        ("(paramLabel=='Sleeps');(paramValue=in=('3','1'))", False),
        ("(paramLabel=='Times');(paramValue=in=('3','1'))", True),
        ("submissionTime=='2019/06/12 21:24:25.342-0300'", False),  # stored times are UTC
        ("submissionTime=='2019/06/12 18:24:25.342-0300'", True),
        ("submissionTime=='2019/06/12 21:24:25.342+00'", True),
        ("endTime=gt='2019/06/12 21:00+03';endTime=lt='2019/06/12 22:00+03'", False),
        ("endTime=gt='2019/06/12 21:00+00';endTime=lt='2019/06/12 22:00+00'", True),
    ],
)
def test_spec_examples(job: dict[str, Any], q: str, expected: bool) -> None:
    assert matches(q, job) is expected


# -- every operator on scalar fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("priority==1", True), ("priority!=1", False), ("priority=gt=0", True), ("priority=gt=1", False),
        ("priority=ge=1", True), ("priority=lt=1", False), ("priority<2", True), ("priority<=1", True),
        ("priority=in=(3,1)", True), ("priority=out=(3,1)", False), ("priority=out=(3)", True),
        ("wallclockTime=gt=411.5", True), ("wallclockTime==412", True), ("cpuTime==0", True),
        ("isDeleted==false", True), ("isDeleted!=false", False),
        ("automaticallyMachineSelection==true", False),
        ("jobType==ALGORITHM", True), ("jobType!=FLOW", True), ("jobType=in=(FLOW)", False),
        ("jobStatus=out=(QUEUED,EXECUTING)", True), ("exitStatus=in=(SUCCESS,KILLED)", True),
        ("jobOwner=gt=adm", True), ("jobOwner=lt=admin", False), ("jobOwner=le=admin", True),
        ("jobOwner=ge=b", False), ("jobId=='admi@test.CBNNGZHYE2'", True), ("groupId==admi*", True),
        ("projectId==admin/testeYade", True), ("description!=*yade*", False), ("description!=*YADE*", True),
        ("lastModifiedTime=ge='2019/06/12 21:31:20.926+00'", True),
        ("lastModifiedTime=gt='2019/06/12 21:31:20.926+00'", False),
        ("lastModifiedTime=le='2019/06/12 21:31:20.925+00'", False),
    ],
)
def test_scalar_operators(job: dict[str, Any], q: str, expected: bool) -> None:
    assert matches(q, job) is expected


def test_text_matching_is_literal_and_case_sensitive(job: dict[str, Any]) -> None:
    job["description"] = r"100%_done C:\dir\a.b"
    assert matches(r"description==*%_done*", job)
    assert matches(r"description==*C:\dir*", job)  # unquoted: the backslash is literal
    assert matches(r"description=='*C:\\dir\\a.b'", job)  # quoted: \\ is one backslash
    assert not matches("description==100_*", job)  # '_' is not a one-character wildcard
    assert not matches("description==1%", job)  # '%' is not a wildcard
    assert not matches("description==*a.c", job)  # '.' is not a wildcard
    assert not matches("description==*DONE*", job)
    assert matches("description==100%_done*", job)


# -- dates: millisecond precision, stored shapes ---------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        "2019-06-13T00:24:25.342",
        "2019-06-13T00:24:25.342Z",
        "2019-06-13T00:24:25.342+00:00",
        "2019-06-12T21:24:25.342-03:00",
        datetime(2019, 6, 13, 0, 24, 25, 342_999, tzinfo=timezone.utc),  # truncated to the ms
        datetime(2019, 6, 13, 0, 24, 25, 342_000),  # naive = UTC
        datetime(2019, 6, 13, 5, 54, 25, 342_000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        1560385465342,
    ],
)
def test_date_equality_matches_that_millisecond(job: dict[str, Any], stored: Any) -> None:
    job["submissionTime"] = stored
    assert matches("submissionTime=='2019/06/12 21:24:25.342-0300'", job)
    assert not matches("submissionTime=='2019/06/12 21:24:25.343-0300'", job)
    assert not matches("submissionTime=='2019/06/12 21:24:25-0300'", job)
    assert matches("submissionTime=gt='2019/06/12 21:24:25-0300'", job)


def test_epoch_helpers_round_trip() -> None:
    ms = epoch_ms("2019-06-13T00:24:25.342Z")
    assert ms == 1560385465342
    assert from_epoch_ms(ms) == datetime(2019, 6, 13, 0, 24, 25, 342_000, tzinfo=timezone.utc)


# -- null and missing values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("exitCode==0", False), ("exitCode!=0", True), ("exitCode=in=(0,1)", False),
        ("exitCode=out=(0,1)", True), ("exitCode=gt=-1", False), ("exitCode=le=0", False),
        ("flowName==*", False), ("flowName!=*", True), ("endTime=lt='2100/01/01+00'", False),
        ("isDeleted==false", False), ("isDeleted!=true", True),
    ],
)
def test_null_never_matches_except_through_negation(job: dict[str, Any], q: str, expected: bool) -> None:
    job["exitCode"] = None
    job["flowName"] = None
    job["endTime"] = None
    del job["isDeleted"]
    assert matches(q, job) is expected


# -- typed stored values -------------------------------------------------------------------------


def test_stored_values_are_normalised(job: dict[str, Any]) -> None:
    job.update(priority=Decimal("3"), exitStatus="success", isDeleted="true", flowId="12", exitCode=True)
    assert matches("priority==3;priority=gt=2", job)
    assert matches("exitStatus==SUCCESS", job)  # the spec's sample holds "success"
    assert matches("isDeleted==true", job)
    assert matches("flowId==12", job)
    assert not matches("exitCode==1", job)  # a bool is never taken for a number


# -- collections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("algorithmName==Yade", True),
        ("algorithmName!=Yade", False),  # one algorithm is Yade
        ("algorithmName!=Other", True),
        ("algorithmName=out=(Yade,Other)", False),
        ("algorithmName=out=(Other)", True),
        ("algorithmVersion=gt=5", True),  # "5.0.0" > "5" as text
        ("algorithmId=in=(sleeper)", True),
        ("paramId==sleeps", True),
        ("paramId==1", False),  # paramId is the input name, not the numeric id
        ("paramType==INPUT_FILE", True),
        ("paramType!=ARRAY", True),
        ("paramValue==4", True),
        ("paramValue==*fiveParticles*", True),
        ("paramValue!=4", False),
        ("paramValue=out=(42,43)", True),
        ("paramValue=gt=z", False),
        ("paramValue=gt=9", True),  # "true", "teste/..." sort after "9" as text
    ],
)
def test_collection_fields_match_any_element_and_negations_mean_none(
    job: dict[str, Any], q: str, expected: bool
) -> None:
    assert matches(q, job) is expected


def test_param_value_compares_as_text(job: dict[str, Any]) -> None:
    job["algorithms"] = [{"algorithmId": "x", "parameters": [{"label": "n", "value": ["10"]}]}]
    assert not matches("paramValue=gt=9", job)  # "10" < "9" lexicographically
    assert matches("paramValue=lt=9", job)


def test_a_job_without_algorithms(job: dict[str, Any]) -> None:
    job["algorithms"] = []
    assert not matches("algorithmName==Yade", job)
    assert matches("algorithmName!=Yade", job)
    assert not matches("paramLabel==*", job)
    assert matches("paramValue=out=(1)", job)
    del job["algorithms"]
    assert matches("paramLabel!=Sleeps", job)


# -- the same-parameter rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("paramLabel=='Sleeps';paramValue=in=('3','1')", False),
        ("paramLabel=='Times';paramValue=in=('3','1')", True),
        ("paramLabel==Sleeps;paramType==INTEGER;paramValue==5;paramId==sleeps", True),
        ("paramLabel==Sleeps;paramType==INTEGER;paramValue==5;paramId==times", False),
        # under OR each stands alone
        ("paramLabel==Sleeps,paramValue==3", True),
        ("(paramLabel==Sleeps,paramValue==3);paramValue==1", True),
        # in different AND nodes each stands alone: Sleeps exists; Times has 3 and is INTEGER
        ("paramLabel==Sleeps;(paramValue==3;paramType==INTEGER)", True),
        ("paramLabel==Sleeps;(paramValue==3;paramType==BOOLEAN)", False),
        # other comparisons between the siblings do not break the group
        ("paramLabel==Sleeps;priority==1;paramValue==3", False),
        ("paramLabel==Sleeps;priority==1;paramValue==5", True),
        # a negated member in a group is about that one parameter
        ("paramLabel==Sleeps;paramValue!=3", True),
        ("paramLabel==Times;paramValue!=3", False),
        ("paramLabel==Times;paramValue=out=(7,8)", True),
        ("paramLabel!=Sleeps;paramValue==5", False),  # the only parameter with 5 is Sleeps
        # all-negated siblings stand alone: "no parameter labelled Nope" and "no parameter with 3"
        ("paramLabel!=Nope;paramValue!=3", False),
        ("paramLabel!=Nope;paramValue!=42", True),
        # the group spans parameters of every algorithm, one parameter at a time
        ("paramLabel=='Working Folder';paramValue=='.:DIRECTORY_TYPE'", True),
        ("paramLabel=='Working Folder';paramValue==5", False),
    ],
)
def test_same_parameter_rule(job: dict[str, Any], q: str, expected: bool) -> None:
    assert matches(q, job) is expected


# -- the caller's visibility rule is ANDed into the tree, never into q ---------------------------


def test_and_with_wraps_without_flattening() -> None:
    user = parse("paramLabel==a;paramValue==1")
    rule = visibility_rule("projectId", ["p1", "p2"])
    combined = and_with(user, rule)
    assert combined == And((user, Comparison("projectId", "=in=", ("p1", "p2"), literal=True)))
    assert combined is not None and combined.to_vector()["and"][0] == user.to_vector()
    assert and_with(None, rule) is rule and and_with(user, None) is user and and_with(None, None) is None


def test_visibility_rule_restricts_results(job: dict[str, Any]) -> None:
    mine = visibility_rule("projectId", ["admin/testeYade"])
    theirs = visibility_rule("projectId", ["other/project"])
    assert evaluate(bind(and_with(parse("priority==1"), mine)), job)  # type: ignore[arg-type]
    assert not evaluate(bind(and_with(parse("priority==1"), theirs)), job)  # type: ignore[arg-type]
    # An OR in q cannot escape the rule: the user's tree is one child of the AND.
    assert not evaluate(bind(and_with(parse("priority==9,jobOwner==admin"), theirs)), job)  # type: ignore[arg-type]


def test_visibility_rule_values_are_literal_and_may_be_empty(job: dict[str, Any]) -> None:
    assert not evaluate(bind(visibility_rule("projectId", ["*"])), job)
    assert not evaluate(bind(visibility_rule("projectId", ["admin*"])), job)
    assert not evaluate(bind(visibility_rule("projectId", [])), job)
    job["projectId"] = "admin*"
    assert evaluate(bind(visibility_rule("projectId", ["admin*"])), job)


def test_prepare_parses_q_on_its_own_before_adding_the_rule(job: dict[str, Any]) -> None:
    rule = visibility_rule("projectId", ["admin/testeYade"])
    with pytest.raises(RsqlSyntaxError):
        prepare("jobId==1),(jobId==2", rule)  # the break-out payload of vector D102
    assert prepare(None, None) is None
    only_rule = prepare(None, rule)
    assert only_rule is not None and evaluate(only_rule, job)
    both = prepare("jobOwner==root", rule)
    assert both is not None and not evaluate(both, job)
