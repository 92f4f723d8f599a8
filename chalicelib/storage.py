"""Workspace brokers: where a workspace's bytes live. `host` is a folder on this machine (the local
stack's default); `s3` is a bucket (moto's locally, the real one in AWS)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from chalicelib.errors import InvalidInput

BROKER_TYPES = ("host", "s3")


class Broker(Protocol):
    def size_of(self, path: str) -> int | None: ...
    def write(self, path: str, content: bytes, media_type: str | None) -> int: ...
    def read(self, path: str) -> bytes: ...
    def upload_url(self, path: str, media_type: str | None, expires_seconds: int) -> str: ...


def check_relative_path(path: str, field: str = "file_path") -> str:
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f'"{field}" must be a relative path inside the workspace: {path!r}', field=field)
    return "/".join(parts)


class HostBroker:
    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _resolve(self, path: str) -> Path:
        return self.root / check_relative_path(path)

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
    if kind == "host":
        if not isinstance(broker.get("host_path"), str) or not broker["host_path"].startswith("/"):
            raise InvalidInput('"configuration.broker.host_path" must be an absolute path',
                               field="configuration.broker.host_path")
    elif kind == "s3":
        if not isinstance(broker.get("bucket_name"), str) or not broker["bucket_name"]:
            raise InvalidInput('"configuration.broker.bucket_name" is required for an s3 broker',
                               field="configuration.broker.bucket_name")
    else:
        raise InvalidInput(f'"configuration.broker.type" must be one of: {", ".join(BROKER_TYPES)}',
                           field="configuration.broker.type")
    return configuration


def broker_for(configuration: dict[str, Any]) -> Broker:
    broker = configuration["broker"]
    if broker["type"] == "host":
        return HostBroker(broker["host_path"])
    return S3Broker(broker["bucket_name"])
