"""`/v6/job-types/`: register job types (and new revisions), list, filter, page and read them back.

Every test starts from the `aws` fixture's empty store (plus the `default` host workspace) and talks
to the service only through HTTP, except where it reads the stored model to check what was written.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.models import catalog
from chalicelib.models.tables import ErrorModel, JobType, JobTypeRevision
from local import seed_store
from local.sample_data import manifest
from tests.functional.assertions import assert_error

# --- helpers ------------------------------------------------------------------------------------------

def body_for(name: str = "my-job", version: str = "1.0.0", **fields) -> dict:
    body = {"docker_image": f"registry.example.com/{name}:{version}", "manifest": manifest(name, version)}
    body.update(fields)
    return body


def create(api, name: str = "my-job", version: str = "1.0.0", **fields) -> dict:
    response = api.post("/v6/job-types/", body_for(name, version, **fields))
    assert response.status_code == 201, response.body
    return response.json_body


def stored_counts() -> tuple[int, int]:
    """(job types, job type revisions) in the store."""
    return len(list(JobType.scan())), len(list(JobTypeRevision.scan()))


def names_versions(page: dict) -> list[tuple[str, str]]:
    return [(row["name"], row["version"]) for row in page["results"]]




def bulk_job_types(count: int) -> None:
    """`count` job types written straight to the table (fast), named bulk-000, bulk-001, ..."""
    now = datetime.now(timezone.utc)
    ids = seed_store.allocate("job_type", count)
    with JobType.batch_write() as batch:
        for i, job_type_id in enumerate(ids):
            name = f"bulk-{i:03d}"
            batch.save(JobType(id=job_type_id, name=name, version="1.0.0", docker_image=f"{name}:1",
                               revision_id=job_type_id, manifest=manifest(name), created=now, last_modified=now))


# --- POST /v6/job-types/ ------------------------------------------------------------------------------

def test_new_job_type_is_201_with_location_and_details(api):
    # Given a valid Seed manifest and a configuration using the default workspace
    sent = body_for("my-job", "1.2.0", configuration={"output_workspaces": {"default": "default"},
                                                      "settings": {"MODE": "fast"}})
    sent["manifest"]["job"]["title"] = "My Special Job"

    # When an operator registers it
    response = api.as_role("operator").post("/v6/job-types/", sent)

    # Then it is created, found at its Location, with every default filled in
    assert response.status_code == 201, response.body
    assert response.headers["Location"] == "http://testserver/v6/job-types/my-job/1.2.0/"
    body = response.json_body
    assert isinstance(body["id"], int) and body["id"] >= 1
    assert body["name"] == "my-job"
    assert body["version"] == "1.2.0"
    assert body["title"] == "My Special Job"
    assert body["description"] == "Sample job type my-job"
    assert body["docker_image"] == "registry.example.com/my-job:1.2.0"
    assert body["is_active"] is True
    assert body["is_paused"] is False
    assert body["is_system"] is False
    assert body["is_published"] is False
    assert body["max_tries"] == 3
    assert body["max_scheduled"] is None
    assert body["revision_num"] == 1
    assert body["paused"] is None
    assert body["manifest"] == sent["manifest"]
    assert body["configuration"] == {"output_workspaces": {"default": "default"}, "settings": {"MODE": "fast"}}
    assert body["created"].endswith("Z") and body["last_modified"] == body["created"]


def test_explicit_flags_are_stored(api):
    body = create(api, "flags", is_active=False, is_paused=True, max_tries=7, max_scheduled=2, icon_code="f013",
                  is_published=True)

    details = api.get("/v6/job-types/flags/1.0.0/").json_body
    for got in (body, details):
        assert (got["is_active"], got["is_paused"], got["max_tries"], got["max_scheduled"], got["icon_code"],
                got["is_published"]) == (False, True, 7, 2, "f013", True)
        assert got["paused"] is not None and got["paused"].endswith("Z")


def test_same_name_and_version_again_stores_a_new_revision(api):
    # Given a registered job type
    first = create(api, "my-job", docker_image="my-job:1")

    # When the same name+version is posted again with another image and title
    again = body_for("my-job", docker_image="my-job:2")
    again["manifest"]["job"]["title"] = "Renamed"
    response = api.post("/v6/job-types/", again)

    # Then it is a 200 for the same job type, now at revision 2
    assert response.status_code == 200, response.body
    assert response.headers["Location"] == "http://testserver/v6/job-types/my-job/1.0.0/"
    body = response.json_body
    assert (body["id"], body["revision_num"], body["docker_image"], body["title"]) == (
        first["id"], 2, "my-job:2", "Renamed")
    assert body["created"] == first["created"]

    # And the details show revision 2 while revision 1 is kept for the jobs pinned to it
    details = api.get("/v6/job-types/my-job/1.0.0/").json_body
    assert (details["revision_num"], details["docker_image"], details["title"]) == (2, "my-job:2", "Renamed")
    old, new = catalog.get_revision(first["id"], 1), catalog.get_revision(first["id"], 2)
    assert old is not None and new is not None
    assert (old.docker_image, old.manifest["job"]["title"]) == ("my-job:1", "My Job")
    assert (new.docker_image, new.manifest["job"]["title"]) == ("my-job:2", "Renamed")
    assert old.id != new.id
    assert catalog.get_revision(first["id"], 3) is None

    # And the list still holds one job type
    assert api.get("/v6/job-types/").json_body["count"] == 1
def test_new_revision_keeps_the_fields_the_request_does_not_give(api):
    # Given a paused, inactive job type with its own settings and limits
    create(api, "kept", is_paused=True, is_active=False, max_tries=7, max_scheduled=4, icon_code="f013",
           configuration={"settings": {"MODE": "m"}})

    # When only a new image is posted for the same name+version
    response = api.post("/v6/job-types/", body_for("kept", docker_image="kept:2"))

    # Then the revision changes the image and keeps everything else
    assert response.status_code == 200, response.body
    body = response.json_body
    assert (body["revision_num"], body["docker_image"]) == (2, "kept:2")
    assert (body["is_paused"], body["is_active"], body["max_tries"], body["max_scheduled"], body["icon_code"]) == (
        True, False, 7, 4, "f013")
    assert body["paused"] is not None
    assert body["configuration"] == {"settings": {"MODE": "m"}}


def test_new_revision_applies_the_fields_the_request_gives(api):
    create(api, "changed", is_paused=True, max_tries=7)

    response = api.post("/v6/job-types/", body_for("changed", is_paused=False, max_tries=2,
                                                   configuration={"settings": {"MODE": "z"}}))

    body = response.json_body
    assert (body["revision_num"], body["is_paused"], body["paused"], body["max_tries"]) == (2, False, None, 2)
    assert body["configuration"] == {"settings": {"MODE": "z"}}


def test_post_without_trailing_slash_is_served_the_same(api):
    response = api.post("/v6/job-types", body_for("no-slash"))

    assert response.status_code == 201, response.body
    assert response.headers["Location"] == "http://testserver/v6/job-types/no-slash/1.0.0/"


def test_configuration_with_a_known_workspace_and_declared_setting_is_accepted(api):
    body = create(api, configuration={"priority": 5, "output_workspaces": {"outputs": {"OUTPUT_FILE": "default"}},
                                      "settings": {"MODE": "slow"}})

    assert body["configuration"] == {"priority": 5, "output_workspaces": {"outputs": {"OUTPUT_FILE": "default"}},
                                     "settings": {"MODE": "slow"}}
def test_secret_settings_are_never_returned(api):
    # Given a job type whose configuration sets the manifest's secret setting API_KEY
    response = api.post("/v6/job-types/", body_for(configuration={"settings": {"API_KEY": "s3cr3t", "MODE": "m"}}))
    assert response.status_code == 201, response.body

    # Then neither the creation response nor the details nor the list carry the secret
    details = api.get("/v6/job-types/my-job/1.0.0/")
    for got in (response, details):
        assert got.json_body["configuration"]["settings"] == {"MODE": "m"}
    for got in (response, details, api.get("/v6/job-types/")):
        assert b"s3cr3t" not in got.body


# --- POST: refused bodies -----------------------------------------------------------------------------

def _without_job_name(m):
    del m["job"]["name"]


def _bad_seed_version(m):
    m["seedVersion"] = "2.0.0"


def _timeout_as_string(m):
    m["job"]["timeout"] = "60"


def _duplicate_input_names(m):
    m["job"]["interface"]["inputs"]["files"].append({"name": "INPUT_FILE"})


def _input_name_with_digits(m):
    m["job"]["interface"]["inputs"]["files"][0]["name"] = "INPUT1"


@pytest.mark.parametrize("mutate, path", [
    (_without_job_name, "manifest.job.name: "),
    (_bad_seed_version, "manifest.seedVersion: "),
    (_timeout_as_string, "manifest.job.timeout: "),
    (_duplicate_input_names, "manifest.job.interface.inputs.files[1].name: "),
    (_input_name_with_digits, "manifest.job.interface.inputs.files[0].name: "),
], ids=["missing-job-name", "bad-seed-version", "timeout-not-integer", "duplicate-input", "input-name-digits"])
def test_invalid_manifest_is_400_naming_the_field(api, mutate, path):
    sent = body_for("bad-job")
    mutate(sent["manifest"])

    response = api.post("/v6/job-types/", sent)

    detail = assert_error(response, 400)
    assert detail.startswith(path), detail
    assert stored_counts() == (0, 0)


@pytest.mark.parametrize("change, fragment", [
    ({"bogus": 1}, "bogus"),
    ({"is_active": "yes"}, '"is_active"'),
    ({"max_tries": 0}, '"max_tries"'),
    ({"max_tries": True}, '"max_tries"'),
    ({"docker_image": 5}, '"docker_image"'),
    ({"manifest": "not an object"}, '"manifest"'),
    ({"max_scheduled": 1.5}, '"max_scheduled"'),
], ids=["unknown-field", "is_active-string", "max_tries-zero", "max_tries-bool", "docker_image-int",
        "manifest-string", "max_scheduled-float"])
def test_bad_body_field_is_400_naming_it(api, change, fragment):
    response = api.post("/v6/job-types/", body_for("bad-field", **change))

    assert_error(response, 400, fragment)
    assert stored_counts() == (0, 0)


def test_missing_docker_image_is_400(api):
    sent = body_for()
    del sent["docker_image"]

    response = api.post("/v6/job-types/", sent)

    assert_error(response, 400)
    assert response.json_body == {"detail": 'Missing required parameter: "docker_image"'}


@pytest.mark.parametrize("raw, fragment", [
    ("{oops", "JSON parse error"),
    ('[{"docker_image": "x"}]', "JSON object"),
    ("", "empty"),
], ids=["not-json", "json-array", "empty"])
def test_body_that_is_not_a_json_object_is_400(api, raw, fragment):
    response = api.post("/v6/job-types/", raw=raw)

    assert_error(response, 400, fragment)


def test_text_plain_body_is_415_and_writes_nothing(api):
    response = api.post("/v6/job-types/", raw='{"docker_image": "x"}', headers={"Content-Type": "text/plain"})

    assert response.status_code == 415, response.body
    assert stored_counts() == (0, 0)
def test_text_plain_body_is_415_with_a_json_detail(api):
    response = api.post("/v6/job-types/", raw='{"docker_image": "x"}', headers={"Content-Type": "text/plain"})

    assert_error(response, 415)


def test_json_content_type_with_charset_is_accepted(api):
    response = api.post("/v6/job-types/", body_for("charset"),
                        headers={"Content-Type": "application/json; charset=utf-8"})

    assert response.status_code == 201, response.body


def test_configuration_naming_an_unknown_workspace_is_400(api):
    response = api.post("/v6/job-types/", body_for(configuration={"output_workspaces": {"default": "nope"}}))

    assert_error(response, 400, "nope")
    assert stored_counts() == (0, 0)
def test_unknown_workspace_message_names_the_parameter(api):
    response = api.post("/v6/job-types/", body_for(configuration={"output_workspaces": {"default": "nope"}}))

    assert_error(response, 400, "configuration.output_workspaces", "nope")


@pytest.mark.parametrize("configuration, path", [
    ({"settings": {"NOPE": "1"}}, "configuration.settings.NOPE: "),
    ({"mounts": {"data": {}}}, "configuration.mounts.data: "),
    ({"output_workspaces": {"outputs": {"NOT_AN_OUTPUT": "default"}}},
     "configuration.output_workspaces.outputs.NOT_AN_OUTPUT: "),
    ({"priority": 0}, "configuration.priority: "),
    ({"colour": "red"}, "configuration.colour: "),
], ids=["undeclared-setting", "undeclared-mount", "undeclared-output", "priority-zero", "unknown-key"])
def test_configuration_not_matching_the_manifest_is_400_naming_the_field(api, configuration, path):
    response = api.post("/v6/job-types/", body_for(configuration=configuration))

    detail = assert_error(response, 400)
    assert detail.startswith(path), detail
    assert stored_counts() == (0, 0)


@pytest.mark.parametrize("sent", [
    body_for("x", bogus=1),
    body_for("x", max_tries=0),
    body_for("x", configuration={"output_workspaces": {"default": "nope"}}),
    body_for("x", configuration={"settings": {"NOPE": "1"}}),
    {"docker_image": "x", "manifest": {**manifest("x"), "seedVersion": "9"}},
], ids=["unknown-field", "max_tries-zero", "unknown-workspace", "undeclared-setting", "bad-manifest"])
def test_a_refused_request_writes_nothing(api, sent):
    # Given one job type already registered (so a refused re-registration could add a revision)
    create(api, "x")
    before = stored_counts()
    errors_before = len(list(ErrorModel.scan()))

    # When a request is refused
    response = api.post("/v6/job-types/", copy.deepcopy(sent))

    # Then no job type, revision or error was written
    assert response.status_code >= 400, response.body
    assert stored_counts() == before == (1, 1)
    assert len(list(ErrorModel.scan())) == errors_before
    assert api.get("/v6/job-types/x/1.0.0/").json_body["revision_num"] == 1


@pytest.mark.parametrize("role", ["viewer", "submitter"])
def test_roles_below_operator_cannot_register(api, role):
    response = api.as_role(role).post("/v6/job-types/", body_for())

    assert_error(response, 403, "operator")
    assert stored_counts() == (0, 0)


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operator_and_admin_can_register(api, role):
    response = api.as_role(role).post("/v6/job-types/", body_for())

    assert response.status_code == 201, response.body


# --- GET /v6/job-types/ -------------------------------------------------------------------------------

def test_empty_list_is_an_empty_page(api):
    response = api.get("/v6/job-types/")

    assert response.status_code == 200
    assert response.json_body == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_is_sorted_by_name_then_version_in_the_paging_envelope(api):
    # Given job types registered out of order, with versions that sort differently as text
    for name, version in [("beta", "1.10.0"), ("alpha", "2.0.0"), ("beta", "1.2.0"), ("alpha", "1.0.0"),
                          ("beta", "1.2.0-rc.1")]:
        create(api, name, version)

    # When listed
    body = api.get("/v6/job-types/").json_body

    # Then the envelope keys come in order and rows are by name, then version (numerically)
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 5
    assert (body["next"], body["previous"]) == (None, None)
    assert names_versions(body) == [("alpha", "1.0.0"), ("alpha", "2.0.0"), ("beta", "1.2.0"),
                                    ("beta", "1.2.0-rc.1"), ("beta", "1.10.0")]
    row = body["results"][0]
    assert "manifest" not in row and "configuration" not in row
    assert {"id", "name", "version", "title", "description", "is_active", "is_system", "is_paused",
            "is_published", "icon_code", "unmet_resources", "max_tries", "revision_num", "docker_image",
            "created", "last_modified"} <= set(row)


def test_list_without_trailing_slash_is_the_same(api):
    create(api, "a")
    create(api, "b")

    with_slash, without = api.get("/v6/job-types/"), api.get("/v6/job-types")

    assert without.status_code == 200
    assert without.json_body == with_slash.json_body


def test_list_filters(api):
    # Given active, inactive, system and keyword-bearing job types
    active = create(api, "active-one")
    inactive = create(api, "inactive-one", is_active=False)
    sauce = create(api, "sauce")
    create(api, "sauce", "2.0.0")
    special = body_for("titled")
    special["manifest"]["job"]["title"] = "The Secret SAUCE maker"
    titled = api.post("/v6/job-types/", special).json_body
    system = catalog.find_job_type("active-one", "1.0.0")
    JobType(system.id, is_system=True).update(actions=[JobType.is_system.set(True)])

    def listed(query: str) -> list[tuple[str, str]]:
        response = api.get(f"/v6/job-types/?{query}")
        assert response.status_code == 200, response.body
        return names_versions(response.json_body)

    # Then each filter keeps only what it names, and filters combine with AND
    assert listed("is_active=false") == [("inactive-one", "1.0.0")]
    assert listed("is_active=TRUE") == [("active-one", "1.0.0"), ("sauce", "1.0.0"), ("sauce", "2.0.0"),
                                        ("titled", "1.0.0")]
    assert listed("is_system=t") == [("active-one", "1.0.0")]
    assert listed("is_system=0&is_active=1") == [("sauce", "1.0.0"), ("sauce", "2.0.0"), ("titled", "1.0.0")]
    assert listed("name=sauce") == [("sauce", "1.0.0"), ("sauce", "2.0.0")]
    assert listed("name=sauce&name=inactive-one") == [("inactive-one", "1.0.0"), ("sauce", "1.0.0"),
                                                      ("sauce", "2.0.0")]
    assert listed("name=nothing") == []
    assert listed(f"id={active['id']}&id={inactive['id']}") == [("active-one", "1.0.0"), ("inactive-one", "1.0.0")]
    assert listed(f"id={sauce['id']}&name=sauce") == [("sauce", "1.0.0")]
    assert listed("keyword=Sauce") == [("sauce", "1.0.0"), ("sauce", "2.0.0"), ("titled", "1.0.0")]
    assert listed("keyword=maker") == [("titled", "1.0.0")]
    assert titled["id"] != sauce["id"]
    # unknown parameters and empty segments are ignored (the console sends both)
    assert len(listed("sortField=name&include_superseded=true&&")) == 5


@pytest.mark.parametrize("query", ["is_active=maybe", "is_system=yes"])
def test_invalid_boolean_filter_is_400(api, query):
    response = api.get(f"/v6/job-types/?{query}")

    assert_error(response, 400, query.split("=")[0])
def test_non_integer_id_filter_is_400(api):
    create(api, "a")

    response = api.get("/v6/job-types/?id=abc")

    assert response.json_body == {"detail": 'Parameter must be a valid integer: "id"'}
    assert response.status_code == 400


def test_pages_link_to_each_other_with_absolute_urls(api):
    # Given three job types
    for name in ("a", "b", "c"):
        create(api, name)

    # When read one a page
    first = api.get("/v6/job-types/?page_size=1&is_active=true").json_body

    # Then `next` is an absolute URL keeping the other parameters, and following it works
    assert first["count"] == 3 and names_versions(first) == [("a", "1.0.0")]
    assert first["previous"] is None
    url = urlsplit(first["next"])
    assert (url.scheme, url.netloc, url.path) == ("http", "testserver", "/v6/job-types/")
    assert parse_qs(url.query) == {"page_size": ["1"], "is_active": ["true"], "page": ["2"]}
    second = api.get(f"{url.path}?{url.query}").json_body
    assert names_versions(second) == [("b", "1.0.0")]
    assert parse_qs(urlsplit(second["previous"]).query)["page"] == ["1"]
    last = api.get("/v6/job-types/?page_size=1&page=3").json_body
    assert names_versions(last) == [("c", "1.0.0")]
    assert last["next"] is None and last["previous"] is not None


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page=2", "page=2&page_size=1000"])
def test_invalid_page_is_404(api, query):
    create(api, "only")

    response = api.get(f"/v6/job-types/?{query}")

    assert_error(response, 404)
    assert response.json_body == {"detail": "Invalid page."}


@pytest.mark.parametrize("page_size", ["abc", "0", "-5", ""])
def test_invalid_page_size_falls_back_to_100(api, page_size):
    bulk_job_types(101)

    body = api.get(f"/v6/job-types/?page_size={page_size}").json_body

    assert body["count"] == 101
    assert len(body["results"]) == 100
    assert body["results"][-1]["name"] == "bulk-099"
    assert parse_qs(urlsplit(body["next"]).query)["page"] == ["2"]


def test_page_size_above_the_maximum_is_served(api):
    bulk_job_types(3)

    body = api.get("/v6/job-types/?page_size=5000").json_body

    assert len(body["results"]) == 3 and body["next"] is None


# --- GET /v6/job-types/{name}/ and /{name}/{version}/ -------------------------------------------------

def test_versions_of_a_name(api):
    for version in ("2.0.0", "1.10.0", "1.9.0"):
        create(api, "multi", version)
    create(api, "other")

    for path in ("/v6/job-types/multi/", "/v6/job-types/multi"):
        response = api.get(path)
        assert response.status_code == 200, response.body
        body = response.json_body
        assert list(body) == ["count", "next", "previous", "results"]
        assert names_versions(body) == [("multi", "1.9.0"), ("multi", "1.10.0"), ("multi", "2.0.0")]


def test_details_of_a_version(api):
    created = create(api, "detailed", "3.1.4", configuration={"settings": {"MODE": "x"}})

    for path in ("/v6/job-types/detailed/3.1.4/", "/v6/job-types/detailed/3.1.4"):
        response = api.get(path)
        assert response.status_code == 200, response.body
        assert response.json_body == created


@pytest.mark.parametrize("path", ["/v6/job-types/nothing/", "/v6/job-types/nothing/1.0.0/",
                                  "/v6/job-types/present/9.9.9/", "/v6/job-types/nothing"])
def test_missing_job_type_is_404(api, path):
    create(api, "present")

    response = api.get(path)

    assert_error(response, 404)
    assert response.json_body == {"detail": "Not found."}
def test_location_of_a_version_with_build_metadata_can_be_followed(api):
    response = api.post("/v6/job-types/", body_for("built", "1.0.0+b1"))
    assert response.status_code == 201, response.body

    followed = api.get(urlsplit(response.headers["Location"]).path)

    assert followed.status_code == 200, followed.body
    assert followed.json_body["version"] == "1.0.0+b1"


def test_reads_need_a_token_but_any_role(api):
    create(api, "readable")

    assert api.as_role("viewer").get("/v6/job-types/readable/1.0.0/").status_code == 200
    assert api.as_role(None).get("/v6/job-types/readable/1.0.0/").status_code == 401


def test_wrong_method_is_405_json(api):
    response = api.client.http.request("DELETE", "/v6/job-types/",
                                       headers={"Host": "testserver", "Authorization": "Bearer admin-token"})

    assert_error(response, 405)
