"""Workspace brokers: where a workspace's bytes live. `host` is a folder on this machine (the local
stack's default); `s3` is a bucket (moto's locally, the real one in AWS)."""
from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from chalicelib.errors import InvalidInput

BROKER_TYPES = ("host", "s3")
BROKER_KEYS = {"host": ("type", "host_path"), "s3": ("type", "bucket_name")}
# Where `host` workspaces may live: colon-separated absolute folders, read at call time.
HOST_ROOTS_VARIABLE = "JOBS_HOST_WORKSPACE_ROOTS"
MAX_FILE_NAME = 250
# What a file name may hold: it becomes part of staged paths that `${NAME}` expands to (unquoted in many
# commands: no spaces, no newlines, no shell-special characters) and of S3 keys.
_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Broker(Protocol):
    def size_of(self, path: str) -> int | None: ...
    def write(self, path: str, content: bytes, media_type: str | None) -> int: ...
    def read(self, path: str) -> bytes: ...
    def upload_url(self, path: str, media_type: str | None, expires_seconds: int) -> str: ...


def check_relative_path(path: str, field: str = "file_path") -> str:
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f'"{field}" must be a relative path inside the workspace: {path!r}', field=field)
    if _CONTROL.search(path) or _has_surrogate(path):
        raise InvalidInput(f'"{field}" must not hold control characters (NUL, newline...) or lone surrogates',
                           field=field)
    return "/".join(parts)


def check_file_name(name: str, field: str = "file_name") -> str:
    """A plain file name: 1-250 of `A-Z a-z 0-9 . _ -`, not starting with `.` (so never `.` or `..`)."""
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInput(f'"{field}" must be a plain file name, not a path: {name[:100]!r}', field=field)
    if len(name) > MAX_FILE_NAME or not _FILE_NAME.fullmatch(name) or name.startswith("."):
        raise InvalidInput(f'"{field}" must be a plain file name of 1-{MAX_FILE_NAME} letters, digits, ".", "_" '
                           f'or "-", not starting with ".": {name[:100]!r}', field=field)
    return name


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def contained(root: str | Path, path: str, field: str = "file_path") -> Path:
    """`root/path`, once its real path (symbolic links resolved, as far as it exists) is known to stay inside
    the real path of `root`; else InvalidInput naming `field`."""
    target = Path(root) / check_relative_path(path, field)
    real_root = os.path.realpath(root)
    real = os.path.realpath(target)
    if real != real_root and not real.startswith(real_root.rstrip("/") + "/"):
        raise InvalidInput(f'"{field}" leaves the workspace (a symbolic link points outside it): {path!r}',
                           field=field)
    return target


def host_workspace_roots() -> tuple[str, ...]:
    """The folders `host` workspaces must be inside (real paths): `JOBS_HOST_WORKSPACE_ROOTS`, colon-separated;
    by default the local data's `workspaces/` folder (`$JOBS_DATA_DIR/workspaces`, JOBS_DATA_DIR defaulting to
    `.local-data` as in `make run`) and the system temp folder."""
    configured = os.environ.get(HOST_ROOTS_VARIABLE, "")
    if configured.strip():
        roots = [part for part in configured.split(":") if part.strip()]
    else:
        data_dir = os.environ.get("JOBS_DATA_DIR") or ".local-data"
        roots = [os.path.join(data_dir, "workspaces"), tempfile.gettempdir()]
    return tuple(os.path.realpath(os.path.abspath(root)) for root in roots)


def _check_host_path(value: object) -> str:
    field = "configuration.broker.host_path"
    if not isinstance(value, str) or not value.startswith("/"):
        raise InvalidInput(f'"{field}" must be an absolute path', field=field)
    if "\x00" in value or _CONTROL.search(value) or _has_surrogate(value):
        raise InvalidInput(f'"{field}" must not hold NUL or other control characters', field=field)
    if any(part == ".." for part in value.split("/")):
        raise InvalidInput(f'"{field}" must not hold ".." segments', field=field)
    if not os.path.isdir(value):
        raise InvalidInput(f'"{field}" must be an existing folder: {value!r}', field=field)
    real = os.path.realpath(value)
    roots = host_workspace_roots()
    if not any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots):
        raise InvalidInput(f'"{field}" must be inside one of the allowed folders ({HOST_ROOTS_VARIABLE}): '
                           f'{", ".join(roots)}', field=field)
    return value


def _check_bucket_name(value: object) -> str:
    """AWS's rules for general purpose buckets: 3-63 of `a-z 0-9 . -`, starting and ending with a letter or
    digit, no `..`, not an IP address."""
    field = "configuration.broker.bucket_name"
    if not isinstance(value, str) or not value:
        raise InvalidInput(f'"{field}" is required for an s3 broker', field=field)
    valid = bool(_BUCKET.fullmatch(value)) and ".." not in value
    try:
        ipaddress.IPv4Address(value)
        valid = False
    except ValueError:
        pass
    if not valid:
        raise InvalidInput(f'"{field}" must be a valid S3 bucket name (3-63 lower-case letters, digits, "." or "-",'
                           f' starting and ending with a letter or digit, not an IP address): {value[:100]!r}',
                           field=field)
    return value


class HostBroker:
    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _resolve(self, path: str) -> Path:
        return contained(self.root, path)

    def size_of(self, path: str) -> int | None:
        target = self._resolve(path)
        return target.stat().st_size if target.is_file() else None

    def write(self, path: str, content: bytes, media_type: str | None) -> int:
        target = self._resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as out:  # on disk before the API answers (the embedded stack's guarantee)
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return len(content)

    def read(self, path: str) -> bytes:
        return self._resolve(path).read_bytes()

    def upload_url(self, path: str, media_type: str | None, expires_seconds: int) -> str:
        raise InvalidInput('A "host" workspace takes no direct uploads: put the file in its folder and register it '
                           'with "file_path", or send it as "content_base64"', field="workspace")


class S3Broker:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def _client(self) -> Any:  # boto3's S3 client: chalicelib.aws hands clients out untyped
        from chalicelib.aws import client
        return client("s3")

    def size_of(self, path: str) -> int | None:
        from botocore.exceptions import ClientError
        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=check_relative_path(path))["ContentLength"])
        except ClientError:
            return None

    def write(self, path: str, content: bytes, media_type: str | None) -> int:
        extra = {"ContentType": media_type} if media_type else {}
        self._client.put_object(Bucket=self.bucket, Key=check_relative_path(path), Body=content, **extra)
        return len(content)

    def read(self, path: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=check_relative_path(path))["Body"].read()

    def upload_url(self, path: str, media_type: str | None, expires_seconds: int) -> str:
        """A presigned PUT: the bytes go straight to S3, past the API's 4 MiB request limit."""
        params = {"Bucket": self.bucket, "Key": check_relative_path(path)}
        if media_type:
            params["ContentType"] = media_type
        return str(self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_seconds))


def validate_broker(configuration: object) -> dict[str, Any]:
    if not isinstance(configuration, dict) or not isinstance(configuration.get("broker"), dict):
        raise InvalidInput('"configuration" must be an object with a "broker" object', field="configuration")
    broker = configuration["broker"]
    kind = broker.get("type")
    if kind not in BROKER_TYPES:
        raise InvalidInput(f'"configuration.broker.type" must be one of: {", ".join(BROKER_TYPES)}',
                           field="configuration.broker.type")
    unknown = sorted(str(key) for key in broker if key not in BROKER_KEYS[kind])
    if unknown:
        raise InvalidInput(f'"configuration.broker.{unknown[0][:100]}" is not allowed: a {kind} broker takes '
                           f'{", ".join(BROKER_KEYS[kind])}', field=f"configuration.broker.{unknown[0][:100]}")
    if kind == "host":
        _check_host_path(broker.get("host_path"))
    else:
        _check_bucket_name(broker.get("bucket_name"))
    return configuration


def broker_for(configuration: dict[str, Any]) -> Broker:
    broker = configuration["broker"]
    if broker["type"] == "host":
        return HostBroker(broker["host_path"])
    return S3Broker(broker["bucket_name"])
