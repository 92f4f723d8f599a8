"""Issue #14: input an attacker can send is refused at the door with a 4xx naming the field, and nothing is
written — job inputs and settings, workspaces, file names, the X-Jobs-Project header, job type sizes and
environment names a manifest may not take."""
from __future__ import annotations

import base64
import copy

import boto3
import pytest

from chalicelib.models.tables import ErrorModel, File, Job, JobData, JobType, JobTypeRevision, Workspace
from local.sample_data import manifest
from tests.functional.assertions import assert_error

PROJECT = {"X-Jobs-Project": "default"}
KIB = 1024


# --- helpers ------------------------------------------------------------------------------------------

def interface_manifest(name: str = "hardened") -> dict:
    """The sample manifest plus a string input TEXT, an object input OPTS and a mount REF."""
    raw = manifest(name)
    interface = raw["job"]["interface"]
    interface["inputs"]["json"] += [{"name": "TEXT", "type": "string", "required": False},
                                    {"name": "OPTS", "type": "object", "required": False}]
    interface["mounts"] = [{"name": "REF", "path": "/ref"}]
    return raw


@pytest.fixture
def job_type(api):
    response = api.post("/v6/job-types/", {"docker_image": "hardened:1", "manifest": interface_manifest(),
                                           "configuration": {"output_workspaces": {"default": "default"}}})
    assert response.status_code == 201, response.body
    return response.json_body["id"]


@pytest.fixture
def input_file(api, aws):
    (aws / "in").mkdir(exist_ok=True)
    (aws / "in" / "a.dat").write_bytes(b"data")
    response = api.post("/v6/files/", {"workspace": "default", "file_path": "in/a.dat"})
    assert response.status_code == 201, response.body
    return response.json_body["id"]


def job_body(job_type: int, input_file: int, json_inputs: dict | None = None, configuration: dict | None = None):
    body = {"job_type_id": job_type, "input": {"files": {"INPUT_FILE": [input_file]}, "json": json_inputs or {}}}
    if configuration is not None:
        body["configuration"] = configuration
    return body


def job_counts() -> tuple[int, int]:
    return Job.count(), JobData.count()


def job_type_counts() -> tuple[int, int, int]:
    return JobType.count(), JobTypeRevision.count(), ErrorModel.count()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- job inputs and settings --------------------------------------------------------------------------

@pytest.mark.parametrize("json_inputs, configuration, status, field", [
    ({"TEXT": "a\x00b"}, None, 400, "input.json.TEXT"),
    ({"TEXT": "\ud800"}, None, 400, "input.json.TEXT"),
    ({"OPTS": {"k": ["ok", "bad\x00"]}}, None, 400, "input.json.OPTS"),
    ({"OPTS": {"bad\x00key": 1}}, None, 400, "input.json.OPTS"),
    ({"TEXT": "x" * (64 * KIB + 1)}, None, 400, "input.json.TEXT"),
    ({"OPTS": {"k": "x" * (64 * KIB)}}, None, 400, "input.json.OPTS"),
    ({"TEXT": "x" * (200 * KIB)}, None, 413, "input"),
    ({}, {"settings": {"MODE": "fa\x00st"}}, 400, "configuration.settings.MODE"),
    ({}, {"settings": {"MODE": "\udfff"}}, 400, "configuration.settings.MODE"),
    ({}, {"settings": {"MODE": "x" * (64 * KIB + 1)}}, 400, "configuration.settings.MODE"),
    ({}, {"mounts": {"REF": {"host_path": "/data\x00"}}}, 400, "configuration.mounts.REF"),
    ({}, {"mounts": {"REF": {"host_path": "/data", "pad": "x" * (130 * KIB)}}}, 413, "configuration"),
], ids=["nul", "lone-surrogate", "nul-in-object", "nul-in-key", "string-over-64KiB", "object-over-64KiB",
        "200KB-string", "setting-nul", "setting-surrogate", "setting-over-64KiB", "mount-nul", "configuration-big"])
def test_bad_inputs_and_settings_are_refused_and_nothing_is_written(api, job_type, input_file, json_inputs,
                                                                  configuration, status, field):
    before = job_counts()

    response = api.as_role("submitter").post("/v6/jobs/", job_body(job_type, input_file, json_inputs, configuration),
                                             headers=PROJECT)

    assert_error(response, status, field)
    assert job_counts() == before


def test_values_at_the_limit_are_accepted(api, job_type, input_file):
    body = job_body(job_type, input_file, {"TEXT": "x" * (64 * KIB), "OPTS": {"k": "é" * 100}},
                    {"settings": {"MODE": "y" * (64 * KIB)}})

    response = api.as_role("submitter").post("/v6/jobs/", body, headers=PROJECT)

    assert response.status_code == 201, response.body


# --- workspaces ---------------------------------------------------------------------------------------

def host(name: str, path: str) -> dict:
    return {"name": name, "configuration": {"broker": {"type": "host", "host_path": path}}}


def s3(name: str, bucket: str, **extra) -> dict:
    return {"name": name, "configuration": {"broker": {"type": "s3", "bucket_name": bucket, **extra}}}


@pytest.fixture
def roots(tmp_path, monkeypatch):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("JOBS_HOST_WORKSPACE_ROOTS", f"{allowed}:{tmp_path / 'also-allowed'}")
    return allowed


def test_a_folder_inside_an_allowed_root_is_accepted(api, roots):
    (roots / "ws").mkdir()
    response = api.post("/v6/workspaces/", host("inside", str(roots / "ws")))
    assert response.status_code == 201, response.body


@pytest.mark.parametrize("make, fragment", [
    (lambda root: str(root / "missing"), "existing folder"),
    (lambda root: str(root) + "/a\x00b", "NUL"),
    (lambda root: str(root) + "/../allowed", '".."'),
    (lambda root: "/tmp/../etc", '".."'),
    (lambda root: str(root.parent), "allowed folders"),
    (lambda root: "/etc", "allowed folders"),
    (lambda root: str(root / "to-etc"), "allowed folders"),
], ids=["missing", "nul", "dot-dot", "tmp-dot-dot-etc", "outside-roots", "etc", "link-leaving-roots"])
def test_bad_host_paths_are_400_and_nothing_is_written(api, roots, make, fragment):
    (roots / "to-etc").symlink_to("/etc", target_is_directory=True)
    before = Workspace.count()

    response = api.post("/v6/workspaces/", host("bad", make(roots)))

    assert_error(response, 400, "configuration.broker.host_path", fragment)
    assert Workspace.count() == before


def test_default_roots_are_the_data_dir_workspaces_and_the_temp_dir(api, tmp_path, monkeypatch):
    monkeypatch.delenv("JOBS_HOST_WORKSPACE_ROOTS", raising=False)
    monkeypatch.setenv("JOBS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "workspaces" / "w").mkdir(parents=True)
    assert api.post("/v6/workspaces/", host("in-data", str(tmp_path / "data" / "workspaces" / "w"))).status_code == 201
    assert api.post("/v6/workspaces/", host("in-tmp", str(tmp_path))).status_code == 201
    assert_error(api.post("/v6/workspaces/", host("etc", "/etc")), 400, "allowed folders")


@pytest.mark.parametrize("bucket", ["Bad_Bucket!!", "ab", "x" * 64, "-starts-with-dash", "ends-with-dot.",
                                    "two..dots", "192.168.1.10", "UPPER-case", "with space"])
def test_bad_bucket_names_are_400_and_nothing_is_written(api, bucket):
    before = Workspace.count()

    response = api.post("/v6/workspaces/", s3("bucketed", bucket))

    assert_error(response, 400, "configuration.broker.bucket_name")
    assert Workspace.count() == before


def test_a_valid_bucket_name_is_accepted(api):
    boto3.client("s3").create_bucket(Bucket="my.bucket-01")
    assert api.post("/v6/workspaces/", s3("bucketed", "my.bucket-01")).status_code == 201


@pytest.mark.parametrize("body, field", [
    (s3("extra", "ok-bucket", region_name="eu-west-1"), "configuration.broker.region_name"),
    ({"name": "extra", "configuration": {"broker": {"type": "host", "host_path": "/tmp", "nfs": True}}},
     "configuration.broker.nfs"),
])
def test_unknown_broker_keys_are_400(api, body, field):
    before = Workspace.count()
    assert_error(api.post("/v6/workspaces/", body), 400, field)
    assert Workspace.count() == before


# --- file names and paths -----------------------------------------------------------------------------

def uploads_folder(aws) -> list[str]:
    folder = aws / "uploads"
    return sorted(str(p.relative_to(aws)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("name, fragment", [
    ("a\x00b.txt", "plain file name"),
    ("..", "must be a plain file name"),
    (".", "must be a plain file name"),
    ("dir/a.txt", "must be a plain file name"),
    ("a b.txt", "plain file name"),
    ("line\nbreak.txt", "plain file name"),
    (".hidden", 'not starting with "."'),
    ("$(id).txt", "plain file name"),
    ("x" * 251, "file_name"),
], ids=["nul", "dot-dot", "dot", "slash", "space", "newline", "hidden", "shell", "too-long"])
def test_bad_upload_file_names_are_400_and_nothing_is_written(api, aws, name, fragment):
    before = File.count(), uploads_folder(aws)

    response = api.post("/v6/files/", {"workspace": "default", "file_name": name, "content_base64": b64(b"x")})

    assert_error(response, 400, '"file_name"', fragment)
    assert (File.count(), uploads_folder(aws)) == before


def test_a_bad_name_for_a_presigned_upload_is_400(api):
    response = api.post("/v6/files/uploads/", {"workspace": "default", "file_name": ".."})
    assert_error(response, 400, '"file_name" must be a plain file name')


def test_a_file_path_linking_out_of_the_workspace_is_400(api, aws, tmp_path):
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("secret")
    (aws / "in").mkdir(exist_ok=True)
    (aws / "in" / "secret.txt").symlink_to(secret)
    (aws / "etc").symlink_to("/etc", target_is_directory=True)
    before = File.count()

    for path in ("in/secret.txt", "etc/hostname", "etc/passwd"):
        response = api.post("/v6/files/", {"workspace": "default", "file_path": path})
        assert_error(response, 400, '"file_path"', "leaves the workspace")
    assert File.count() == before


def test_a_file_path_whose_name_is_unsafe_needs_a_file_name(api, aws):
    (aws / "in").mkdir(exist_ok=True)
    (aws / "in" / "my data.txt").write_text("x")
    before = File.count()

    assert_error(api.post("/v6/files/", {"workspace": "default", "file_path": "in/my data.txt"}), 400, '"file_path"')
    assert File.count() == before
    named = api.post("/v6/files/", {"workspace": "default", "file_path": "in/my data.txt", "file_name": "data.txt"})
    assert named.status_code == 201, named.body
    assert named.json_body["file_name"] == "data.txt"


def test_a_file_path_with_control_characters_is_400(api):
    response = api.post("/v6/files/", {"workspace": "default", "file_path": "in/a\x00.txt"})
    assert_error(response, 400, '"file_path"')


# --- X-Jobs-Project -----------------------------------------------------------------------------------

@pytest.mark.parametrize("project", ["p" * 129, "p" * 3000, "proj\tx", "proj\x7f"],
                         ids=["129", "3000", "tab", "del"])
def test_a_bad_project_header_is_400_naming_it(api, aws, project):
    before = File.count(), uploads_folder(aws)

    response = api.post("/v6/files/", {"workspace": "default", "file_name": "a.txt", "content_base64": b64(b"x")},
                        headers={"X-Jobs-Project": project})

    assert_error(response, 400, "X-Jobs-Project")
    assert (File.count(), uploads_folder(aws)) == before


def test_a_bad_project_header_on_a_job_is_400(api, job_type, input_file):
    before = job_counts()
    response = api.as_role("submitter").post("/v6/jobs/", job_body(job_type, input_file),
                                             headers={"X-Jobs-Project": "p" * 3000})
    assert_error(response, 400, "X-Jobs-Project")
    assert job_counts() == before


# --- job type sizes -----------------------------------------------------------------------------------

def big_description() -> dict:
    raw = manifest("big-one")
    raw["job"]["description"] = "d" * (300 * KIB)
    return raw


def big_manifest() -> dict:
    raw = manifest("big-one")
    raw["job"]["tags"] = ["t" * 1000] * 3000  # 3 MB
    return raw


@pytest.mark.parametrize("exists", [False, True], ids=["new", "new-revision"])
@pytest.mark.parametrize("make, extra, field", [
    (big_description, {}, "manifest.job.description"),
    (big_manifest, {}, '"manifest"'),
    (lambda: manifest("big-one"), {"configuration": {"settings": {"MODE": "m" * (70 * KIB)}}}, '"configuration"'),
], ids=["description-300KB", "manifest-3MB", "configuration-70KB"])
def test_a_job_type_too_large_to_store_is_413_and_nothing_is_written(api, make, extra, field, exists):
    if exists:
        assert api.post("/v6/job-types/", {"docker_image": "big:1", "manifest": manifest("big-one")}).status_code == 201
    before = job_type_counts()

    response = api.post("/v6/job-types/", {"docker_image": "big:1", "manifest": make(), **extra})

    assert_error(response, 413, field)
    assert job_type_counts() == before


# --- environment names a manifest may not take -------------------------------------------------------

def with_name(where: str, name: str) -> tuple[dict, str]:
    raw = manifest("reserved")
    interface = raw["job"]["interface"]
    if where == "files":
        interface["inputs"]["files"].append({"name": name, "required": False})
        return raw, "manifest.job.interface.inputs.files[1].name"
    if where == "json":
        interface["inputs"]["json"].append({"name": name, "type": "string", "required": False})
        return raw, "manifest.job.interface.inputs.json[1].name"
    if where == "settings":
        interface["settings"].append({"name": name})
        return raw, "manifest.job.interface.settings[2].name"
    if where == "mounts":
        interface["mounts"] = [{"name": name, "path": "/m"}]
        return raw, "manifest.job.interface.mounts[0].name"
    interface["outputs"]["files"].append({"name": name, "pattern": "*.x"})
    return raw, "manifest.job.interface.outputs.files[1].name"


@pytest.mark.parametrize("where", ["files", "json", "settings", "mounts", "outputs"])
@pytest.mark.parametrize("name", ["PATH", "LD_PRELOAD", "ld-library-path", "PYTHONPATH", "HOME", "SHELL", "IFS",
                                  "ENV", "BASH_ENV", "OUTPUT_DIR", "ALLOCATED_CPUS", "LD_AUDIT"])
def test_reserved_environment_names_are_refused(api, where, name):
    raw, path = with_name(where, name)
    before = job_type_counts()

    response = api.post("/v6/job-types/", {"docker_image": "reserved:1", "manifest": copy.deepcopy(raw)})

    assert_error(response, 400, path)
    assert job_type_counts() == before
