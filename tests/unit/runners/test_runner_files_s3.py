"""Staging from and writing to an s3 workspace stream through boto3's managed transfer (moto here)."""
from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.runners.base import InputFile
from chalicelib.runners.files import fetch, store


@pytest.fixture
def bucket():
    from moto import mock_aws

    from chalicelib import aws
    aws.reset_clients()
    with mock_aws():
        import boto3
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="ws-bucket")
        yield {"broker": {"type": "s3", "bucket_name": "ws-bucket"}}
    aws.reset_clients()


def test_s3_round_trip(bucket: dict, tmp_path: Path):
    # Given a file written to the workspace by `store`
    source = tmp_path / "out.txt"
    source.write_bytes(b"payload")
    assert store(source, bucket, "outputs/1/1/out.txt", "text/plain") == 7

    # When it is staged back as an input
    target = tmp_path / "in.txt"
    fetch(InputFile(1, "out.txt", "outputs/1/1/out.txt", "ws", bucket), target)

    # Then the bytes and the media type made the trip
    from chalicelib.aws import client
    assert target.read_bytes() == b"payload"
    assert client("s3").head_object(Bucket="ws-bucket", Key="outputs/1/1/out.txt")["ContentType"] == "text/plain"


def test_a_missing_s3_object_raises(bucket: dict, tmp_path: Path):
    with pytest.raises(Exception):  # noqa: B017 - botocore's ClientError; the runner reports any as filesystem-io
        fetch(InputFile(1, "x", "nope/x", "ws", bucket), tmp_path / "x")
