"""The deploy template's tables come from the same models as the local and test tables."""
import json

from chalicelib.models.tables import ALL_MODELS
from deploy.schema import all_create_table_args
from deploy.template import TEMPLATE, build, render


def test_committed_template_is_current():
    assert TEMPLATE.read_text() == render(), "run: python -m deploy.template"


def test_every_model_has_a_table_with_the_same_keys_and_indexes():
    resources = build()["Resources"]
    tables = {r["Properties"]["TableName"]["Fn::Sub"].split("}-", 1)[1]: r["Properties"]
              for r in resources.values() if r.get("Type") == "AWS::DynamoDB::Table"}
    assert set(tables) == {model.base_name for model in ALL_MODELS}
    for args in all_create_table_args(""):
        cfn = tables[args["TableName"]]
        assert cfn["KeySchema"] == args["KeySchema"]
        assert cfn["KeySchema"][0]["KeyType"] == "HASH"
        assert cfn.get("GlobalSecondaryIndexes") == args.get("GlobalSecondaryIndexes")
        assert cfn["BillingMode"] == "PAY_PER_REQUEST"


def test_jobs_table_has_the_indexes_the_list_needs():
    jobs = next(a for a in all_create_table_args("") if a["TableName"] == "jobs")
    names = {index["IndexName"] for index in jobs["GlobalSecondaryIndexes"]}
    assert names == {"by-modified", "by-status", "by-type", "by-type-status", "by-batch", "by-recipe", "by-owner",
                     "by-project", "by-created", "by-queue"}
    ranges = {"by-created": "created_key", "by-queue": "queue_key"}
    for index in jobs["GlobalSecondaryIndexes"]:
        expected = ranges.get(index["IndexName"], "modified_key")
        assert index["KeySchema"][1] == {"AttributeName": expected, "KeyType": "RANGE"}
    json.dumps(jobs)  # serialisable as is
