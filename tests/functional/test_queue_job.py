"""POST /v6/jobs/: queue a new job — validation, what is stored, the dispatch message, idempotency.

Every test starts from the `aws` fixture's empty store (plus the `default` host workspace and the
dispatch queue) and talks to the service through HTTP; it reads the tables and the queue directly
only to check what was (or was not) written.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import botocore.client
import pytest

from chalicelib import aws as aws_clients
from chalicelib import clock
from chalicelib.models import files as file_store
from chalicelib.models.tables import IdempotencyRecord, Job, JobData, JobInputFile, TriggerEvent
from chalicelib.services import queue_job as queue_job_service
from local import sample_data as sd
from tests.functional.assertions import assert_error

MIB = 1024 * 1024
NOW = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=timezone.utc)
JOB_TYPE_CONFIGURATION = {"priority": 50, "output_workspaces": {"default": "default"},
                          "settings": {"API_KEY": "s3cr3t", "MODE": "fast"}}


# --- helpers ------------------------------------------------------------------------------------------

@pytest.fixture
def fixed_clock():
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


@pytest.fixture
def world(aws):
    """A job type (sample manifest: INPUT_FILE one required file, LEVEL optional integer, OUTPUT_FILE,
    settings API_KEY (secret) and MODE) with a configuration, and three registered files."""
    job_type = sd.job_type("queue-me", configuration=JOB_TYPE_CONFIGURATION)
    workspace = file_store.get_workspace("default")
    stored = file_store.save_files([
        dict(workspace_id=workspace.id, workspace_name="default", file_name=name, file_path=f"in/{name}",
             file_size=size, source_started=started, source_ended=ended, source_sensor="s-1")
        for name, size, started, ended in (
            ("a.dat", 2 * MIB, datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 2, tzinfo=timezone.utc)),
            ("b.dat", MIB, None, None),
            ("c.dat", MIB // 2, None, None),
        )], clock.now())
    return {"job_type": job_type, "files": stored}


def job_body(world, **overrides) -> dict:
    body = {"job_type_id": world["job_type"].id,
            "input": {"files": {"INPUT_FILE": [world["files"][0].id]}, "json": {"LEVEL": 3}}}
    body.update(overrides)
    return body


def submit(api, body, role: str = "submitter", headers: dict | None = None):
    return api.as_role(role).post("/v6/jobs/", body, headers=headers)


def dispatch_queue_url() -> str:
    return boto3.client("sqs").get_queue_url(QueueName="test-dispatch")["QueueUrl"]


def queued_messages() -> list[dict]:
    """Every message on the dispatch queue (received, so each test reads them once)."""
    sqs, url, bodies = boto3.client("sqs"), dispatch_queue_url(), []
    while True:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        if not received.get("Messages"):
            return bodies
        bodies.extend(json.loads(message["Body"]) for message in received["Messages"])


def stored_counts() -> dict[str, int]:
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=dispatch_queue_url(), AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return {"jobs": Job.count(), "job data": JobData.count(), "input links": JobInputFile.count(),
            "events": TriggerEvent.count(),
            "messages": sum(int(value) for value in attributes.values())}




# --- success ------------------------------------------------------------------------------------------

def test_queued_job_is_201_with_location_and_details(api, world, fixed_clock):
    # Given a job type with a configuration and a registered input file
    file = world["files"][0]

    # When a submitter queues a job that overrides one setting
    response = submit(api, job_body(world, configuration={"settings": {"MODE": "slow"}}, description="first run"))

    # Then it is created, found at its Location, QUEUED, with no execution yet
    assert response.status_code == 201, response.body
    body = response.json_body
    assert response.headers["Location"] == f"http://testserver/v6/jobs/{body['id']}/"
    assert body["status"] == "QUEUED"
    assert body["num_exes"] == 1
    assert body["execution"] is None
    assert body["node"] is None and body["error"] is None
    assert body["max_tries"] == 3
    assert body["job_type"]["id"] == world["job_type"].id
    assert body["job_type_rev"]["id"] == world["job_type"].revision_id
    assert body["job_type_rev"]["revision_num"] == 1
    assert body["event"]["type"] == "USER"
    assert body["event"]["occurred"] == "2026-03-04T05:06:07.891Z"
    assert body["created"] == body["queued"] == body["last_status_change"] == body["last_modified"] \
        == "2026-03-04T05:06:07.891Z"
    assert body["started"] is None and body["ended"] is None
    # the input is echoed without `version`, the input files by name, their size in MiB
    assert body["input"] == {"files": {"INPUT_FILE": [file.id]}, "json": {"LEVEL": 3}}
    assert body["input_files"] == {"INPUT_FILE": ["a.dat"]}
    assert body["input_file_size"] == 2.0
    # the configuration is the job's over the job type's, without the secret setting
    assert body["configuration"] == {"priority": 50, "output_workspaces": {"default": "default", "outputs": {}},
                                     "mounts": {}, "settings": {"MODE": "slow"}}
    assert "s3cr3t" not in response.body.decode()
    # resources: the manifest's, disk grown by inputMultiplier x input size
    assert body["resources"] == {"resources": {"cpus": 1.0, "mem": 256.0, "disk": 14.0, "gpus": 0.0}}
    # source fields come from the input files
    assert body["source_started"] == "2026-01-01T00:00:00.000Z"
    assert body["source_ended"] == "2026-01-02T00:00:00.000Z"
    assert body["source_sensor"] == "s-1"
    # and the Location serves the same details
    assert api.as_role("viewer").get(f"/v6/jobs/{body['id']}/").json_body == body


def test_the_answer_is_what_was_written_not_read_back(api, world, monkeypatch):
    # Given every AWS request of this process recorded
    sent: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        sent.append(operation)
        return original(client, operation, params)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)

    # When a job is queued
    response = submit(api, job_body(world, description="no read-back"))

    # Then nothing is read after the job's write (the details come from what was written) ...
    assert response.status_code == 201, response.body
    after_write = sent[sent.index("TransactWriteItems") + 1:]
    assert not [operation for operation in after_write if operation in ("GetItem", "BatchGetItem", "Query")], sent
    # ... and they are what the job's Location serves
    monkeypatch.undo()
    assert api.as_role("viewer").get(f"/v6/jobs/{response.json_body['id']}/").json_body == response.json_body


def test_stored_job_records_who_what_and_when(api, world, fixed_clock):
    # Given a submitter who is a member of two projects
    # When it queues a job under its second project
    response = submit(api, job_body(world, description="nightly"), headers={"X-Jobs-Project": "submitter-project"})

    # Then the stored job, its data, links and event carry everything later steps need
    assert response.status_code == 201, response.body
    job = Job.get(response.json_body["id"], consistent_read=True)
    assert job.status == "QUEUED" and job.num_exes == 1 and job.priority == 50 and job.max_tries == 3
    assert job.owner == "submitter-user"
    assert job.project == "submitter-project"
    assert job.description == "nightly"
    assert job.timeline == [{"status": "QUEUED", "at": "2026-03-04T05:06:07.891Z", "exe_num": 1}]
    assert job.job_type_rev_id == world["job_type"].revision_id and job.job_type_revision_num == 1
    assert job.job_type_title == "Queue Me"
    assert job.type_status == f"{world['job_type'].id}#QUEUED"
    event = TriggerEvent.get(job.event["id"])
    assert job.event == {"id": event.id, "type": "USER", "occurred": "2026-03-04T05:06:07.891Z"}
    assert event.type == "USER" and event.occurred == NOW
    data = JobData.get(job.id)
    assert data.input == {"files": {"INPUT_FILE": [world["files"][0].id]}, "json": {"LEVEL": 3}}
    # the effective configuration is stored with its secret (the run needs it)
    assert data.configuration["settings"] == {"API_KEY": "s3cr3t", "MODE": "fast"}
    links = list(JobInputFile.query(job.id))
    assert [(link.job_input, link.file_id) for link in links] == [("INPUT_FILE", world["files"][0].id)]


def test_job_without_project_header_goes_to_the_callers_first_project(api, world):
    response = submit(api, job_body(world))

    assert response.status_code == 201, response.body
    assert Job.get(response.json_body["id"]).project == "default"


def test_queued_job_is_listed_as_queued(api, world):
    # Given a queued job
    job_id = submit(api, job_body(world)).json_body["id"]

    # When the QUEUED jobs are listed
    page = api.as_role("viewer").get("/v6/jobs/?status=QUEUED").json_body

    # Then it is there, with its priority-bearing configuration not in the row
    assert [row["id"] for row in page["results"]] == [job_id]
    assert page["results"][0]["status"] == "QUEUED"
    assert page["results"][0]["event"]["type"] == "USER"


def test_one_dispatch_message_is_sent(api, world):
    # Given a job queued with priority 7
    job_id = submit(api, job_body(world, configuration={"priority": 7})).json_body["id"]

    # When the dispatch queue is read
    messages = queued_messages()

    # Then exactly one message asks for its first execution, with its priority
    assert messages == [{"job_id": job_id, "exe_num": 1, "priority": 7}]


def test_job_type_priority_and_default_priority_apply(api, world):
    # Given a job type without a configured priority
    plain = sd.job_type("plain-type", configuration={"output_workspaces": {"default": "default"}})

    # When jobs are queued without a priority for it and for the configured type
    first = submit(api, {"job_type_id": plain.id, "input": {"files": {"INPUT_FILE": [world["files"][1].id]}}})
    second = submit(api, job_body(world))

    # Then the default (100) and the job type's (50) apply
    assert first.status_code == 201 and second.status_code == 201
    assert first.json_body["configuration"]["priority"] == 100
    assert second.json_body["configuration"]["priority"] == 50
    assert sorted(m["priority"] for m in queued_messages()) == [50, 100]


def test_job_is_pinned_to_the_current_revision(api, world):
    # Given a job type that got a second revision
    again = api.as_role("operator").post("/v6/job-types/", {
        "docker_image": "queue-me:1.0.1", "manifest": sd.manifest("queue-me")})
    assert again.status_code == 200, again.body

    # When a job is queued
    body = submit(api, job_body(world)).json_body

    # Then it carries revision 2
    assert body["job_type_rev"]["revision_num"] == 2
    assert body["job_type_rev"]["docker_image"] == "queue-me:1.0.1"


def test_multiple_file_input_takes_several_files_and_sums_their_size(api, world):
    # Given a job type whose file input is `multiple`
    manifest = sd.manifest("many-inputs")
    manifest["job"]["interface"]["inputs"]["files"] = [{"name": "INPUT_FILES", "multiple": True}]
    created = api.as_role("operator").post("/v6/job-types/", {
        "docker_image": "many:1", "manifest": manifest, "configuration": {"output_workspaces": {"default": "default"}}})
    assert created.status_code == 201, created.body
    ids = [f.id for f in world["files"]]

    # When a job is queued on all three files
    response = submit(api, {"job_type_id": created.json_body["id"], "input": {"files": {"INPUT_FILES": ids}}})

    # Then every file is an input, the size is their sum, and there is one link per file
    assert response.status_code == 201, response.body
    assert response.json_body["input_files"] == {"INPUT_FILES": ["a.dat", "b.dat", "c.dat"]}
    assert response.json_body["input_file_size"] == 3.5
    assert JobInputFile.count(response.json_body["id"]) == 3


def test_paused_job_type_still_accepts_jobs(api, world):
    paused = sd.job_type("paused-type", is_paused=True, configuration={"output_workspaces": {"default": "default"}})

    response = submit(api, {"job_type_id": paused.id, "input": {"files": {"INPUT_FILE": [world["files"][0].id]}}})

    assert response.status_code == 201, response.body
    assert response.json_body["status"] == "QUEUED"


def test_a_failed_dispatch_send_still_queues_the_job(api, world, monkeypatch):
    # Given an SQS that refuses every message
    sqs = aws_clients.client("sqs")

    def refuse(**kwargs):
        raise RuntimeError("SQS is down")
    monkeypatch.setattr(sqs, "send_message", refuse)
    warnings = []
    monkeypatch.setattr(queue_job_service.logger, "warning",
                        lambda message, **kwargs: warnings.append((message, kwargs.get("extra"))))

    # When a job is queued
    response = submit(api, job_body(world))

    # Then the request succeeds, the job is stored QUEUED, and the lost send is logged for the sweep
    assert response.status_code == 201, response.body
    job_id = response.json_body["id"]
    assert Job.get(job_id).status == "QUEUED"
    assert len(warnings) == 1
    assert warnings[0][1]["job_id"] == job_id and "SQS is down" in warnings[0][1]["error"]
    monkeypatch.undo()
    assert queued_messages() == []


# --- refusals write nothing ---------------------------------------------------------------------------

def _bad_bodies(world) -> dict:
    file_id = world["files"][0].id
    valid_input = {"files": {"INPUT_FILE": [file_id]}}
    jt = world["job_type"].id
    return {
        "missing job_type_id": ({"input": valid_input}, 400, 'Missing required parameter: "job_type_id"'),
        "non-integer job_type_id": ({"job_type_id": "one", "input": valid_input}, 400, '"job_type_id"'),
        "boolean job_type_id": ({"job_type_id": True, "input": valid_input}, 400, '"job_type_id"'),
        "unknown job type": ({"job_type_id": 999, "input": valid_input}, 404, "job_type_id"),
        "inactive job type": ({"job_type_id": world["inactive"].id, "input": valid_input}, 400,
                              "not active", "job_type_id"),
        "missing input": ({"job_type_id": jt}, 400, 'Missing required parameter: "input"'),
        "unknown file id": ({"job_type_id": jt, "input": {"files": {"INPUT_FILE": [98765]}}}, 400,
                            "input.files.INPUT_FILE", "98765"),
        "deleted file": ({"job_type_id": jt, "input": {"files": {"INPUT_FILE": [world["deleted"].id]}}}, 400,
                         "input.files.INPUT_FILE", "deleted"),
        "missing required input": ({"job_type_id": jt, "input": {"json": {"LEVEL": 1}}}, 400,
                                   "input.files.INPUT_FILE", "required"),
        "wrong JSON type": ({"job_type_id": jt, "input": {**valid_input, "json": {"LEVEL": "high"}}}, 400,
                            "input.json.LEVEL", "integer"),
        "undeclared input": ({"job_type_id": jt, "input": {**valid_input, "json": {"COLOR": "red"}}}, 400,
                             "input.json.COLOR"),
        "no file for a file input": ({"job_type_id": jt, "input": {"files": {"INPUT_FILE": []}}}, 400,
                                     "input.files.INPUT_FILE"),
        "several files for a single input": (
            {"job_type_id": jt, "input": {"files": {"INPUT_FILE": [file_id, world["files"][1].id]}}}, 400,
            "input.files.INPUT_FILE", "one file"),
        "unknown input key": ({"job_type_id": jt, "input": {**valid_input, "data": {}}}, 400, "input.data"),
        "unknown workspace": ({"job_type_id": jt, "input": valid_input,
                               "configuration": {"output_workspaces": {"default": "nowhere"}}}, 400,
                              "configuration.output_workspaces.default", "nowhere"),
        "unknown output workspace": ({"job_type_id": jt, "input": valid_input, "configuration": {
            "output_workspaces": {"outputs": {"OUTPUT_FILE": "nowhere"}}}}, 400,
            "configuration.output_workspaces.outputs.OUTPUT_FILE"),
        "priority 0": ({"job_type_id": jt, "input": valid_input, "configuration": {"priority": 0}}, 400,
                       "configuration.priority"),
        "undeclared setting": ({"job_type_id": jt, "input": valid_input,
                                "configuration": {"settings": {"NOPE": "x"}}}, 400, "configuration.settings.NOPE"),
        "description too long": ({"job_type_id": jt, "input": valid_input, "description": "x" * 1025}, 400,
                                 '"description"'),
        "unknown field": ({"job_type_id": jt, "input": valid_input, "priority": 5}, 400, "Unknown field", "priority"),
    }


CASES = ["missing job_type_id", "non-integer job_type_id", "boolean job_type_id", "unknown job type",
         "inactive job type", "missing input", "unknown file id", "deleted file", "missing required input",
         "wrong JSON type", "undeclared input", "no file for a file input", "several files for a single input",
         "unknown input key", "unknown workspace", "unknown output workspace", "priority 0", "undeclared setting",
         "description too long", "unknown field"]


@pytest.mark.parametrize("case", CASES)
def test_bad_body_is_refused_naming_the_field_and_writes_nothing(api, world, case):
    # Given an inactive job type, a deleted file and what is stored so far
    world["inactive"] = sd.job_type("retired", is_active=False,
                                    configuration={"output_workspaces": {"default": "default"}})
    (world["deleted"],) = file_store.save_files([dict(
        workspace_id=1, workspace_name="default", file_name="gone.dat", file_path="in/gone.dat",
        is_deleted=True)], clock.now())
    body, status, *fragments = _bad_bodies(world)[case]
    before = stored_counts()

    # When the bad body is sent (with an Idempotency-Key, which must not be used up either)
    response = submit(api, body, headers={"Idempotency-Key": "retry-me"})

    # Then it is refused, naming the field, and nothing was written or sent
    assert_error(response, status, *fragments)
    assert stored_counts() == before
    assert IdempotencyRecord.count() == 0


@pytest.mark.parametrize("raw, content_type, status, fragment", [
    ("{not json", "application/json", 400, "JSON parse error"),
    ("[1, 2]", "application/json", 400, "JSON object"),
    ("", "application/json", 400, "empty"),
    ('{"job_type_id": 1}', "text/plain", 415, "text/plain"),
], ids=["not JSON", "not an object", "empty", "text/plain"])
def test_unreadable_body_is_refused_and_writes_nothing(api, world, raw, content_type, status, fragment):
    before = stored_counts()

    response = api.as_role("submitter").post("/v6/jobs/", raw=raw, headers={"Content-Type": content_type})

    assert_error(response, status, fragment)
    assert stored_counts() == before


def test_viewer_may_not_queue_jobs(api, world):
    before = stored_counts()

    response = submit(api, job_body(world), role="viewer")

    assert_error(response, 403, "submitter")
    assert stored_counts() == before


def test_queueing_needs_credentials(api, world):
    response = api.as_role(None).post("/v6/jobs/", job_body(world))

    assert_error(response, 401)
    assert Job.count() == 0


def test_project_the_caller_is_not_in_is_403(api, world):
    response = submit(api, job_body(world), headers={"X-Jobs-Project": "someone-elses"})

    assert_error(response, 403, "someone-elses")
    assert Job.count() == 0


def test_path_without_trailing_slash_queues_too(api, world):
    response = api.as_role("submitter").post("/v6/jobs", job_body(world))

    assert response.status_code == 201, response.body


# --- idempotency --------------------------------------------------------------------------------------

def test_same_key_and_body_twice_is_one_job_and_one_message(api, world):
    # Given a job queued with an Idempotency-Key
    first = submit(api, job_body(world), headers={"Idempotency-Key": "order-42"})
    assert first.status_code == 201, first.body

    # When the same request is sent again with the same key
    second = submit(api, job_body(world), headers={"Idempotency-Key": "order-42"})

    # Then the answer names the same job, and nothing more was created or sent
    assert second.status_code == 201, second.body
    assert second.json_body["id"] == first.json_body["id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert second.json_body == first.json_body
    assert Job.count() == 1 and TriggerEvent.count() == 1
    assert len(queued_messages()) == 1
    (record,) = list(IdempotencyRecord.scan())
    assert record.status == "COMPLETED"
    assert "order-42" not in record.id  # the key is hashed with the caller's name


def test_same_key_with_another_body_is_409_and_writes_nothing(api, world):
    # Given a job queued with a key
    assert submit(api, job_body(world), headers={"Idempotency-Key": "k-1"}).status_code == 201
    before = stored_counts()

    # When another body comes with the same key
    response = submit(api, job_body(world, description="changed"), headers={"Idempotency-Key": "k-1"})

    # Then it is a conflict and nothing is written
    assert_error(response, 409, "Idempotency-Key")
    assert stored_counts() == before


def test_same_key_under_another_project_is_409(api, world):
    assert submit(api, job_body(world), headers={"Idempotency-Key": "k-2"}).status_code == 201

    response = submit(api, job_body(world), headers={"Idempotency-Key": "k-2", "X-Jobs-Project": "submitter-project"})

    assert_error(response, 409)
    assert Job.count() == 1


def test_two_callers_with_the_same_key_get_two_jobs(api, world):
    # When two principals use the same key with the same body
    mine = submit(api, job_body(world), role="submitter", headers={"Idempotency-Key": "shared"})
    theirs = submit(api, job_body(world), role="operator", headers={"Idempotency-Key": "shared"})

    # Then each gets its own job
    assert mine.status_code == 201 and theirs.status_code == 201
    assert mine.json_body["id"] != theirs.json_body["id"]
    assert Job.count() == 2
    assert {Job.get(r.json_body["id"]).owner for r in (mine, theirs)} == {"submitter-user", "operator-user"}
    assert len(queued_messages()) == 2


def test_a_refused_request_does_not_use_up_its_key(api, world):
    # Given a request refused with a key
    refused = submit(api, job_body(world, configuration={"priority": 0}), headers={"Idempotency-Key": "fix-me"})
    assert refused.status_code == 400

    # When the corrected request is sent with the same key
    fixed = submit(api, job_body(world), headers={"Idempotency-Key": "fix-me"})

    # Then it is queued
    assert fixed.status_code == 201, fixed.body
    assert Job.count() == 1


def test_without_a_key_every_request_queues_a_job(api, world):
    first, second = submit(api, job_body(world)), submit(api, job_body(world))

    assert first.json_body["id"] != second.json_body["id"]
    assert Job.count() == 2
    assert IdempotencyRecord.count() == 0


@pytest.mark.parametrize("key", ["x" * 256, "   "], ids=["too long", "blank"])
def test_bad_idempotency_key_is_400(api, world, key):
    response = submit(api, job_body(world), headers={"Idempotency-Key": key})

    assert_error(response, 400, "Idempotency-Key")
    assert Job.count() == 0


def test_longest_idempotency_key_is_accepted(api, world):
    response = submit(api, job_body(world), headers={"Idempotency-Key": "k" * 255})

    assert response.status_code == 201, response.body
