"""Upload a rendered PNG to R2 (or any S3 API) with boto3, at exactly the requested key.

Not ``runpod.serverless.utils.rp_upload``: it picks a bucket named after the
month unless told otherwise and silently saves locally when credentials are
missing (FACTS.md). Here missing credentials are an error, and the S3 client
is built with the checksum settings R2 needs (botocore >= 1.36 otherwise
sends aws-chunked bodies with CRC32 trailers, which R2 has rejected).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

R2_CONFIG = {
    "request_checksum_calculation": "when_required",
    "response_checksum_validation": "when_required",
    "retries": {"max_attempts": 4, "mode": "standard"},
    "connect_timeout": 10,
    "read_timeout": 60,
}


class UploadError(RuntimeError):
    """The image could not be stored; the message is safe to return in a job error."""


class S3Uploader:
    """``put`` bytes at bucket/key. ``allowed_buckets``: when given, the only buckets
    this worker writes to (the endpoint's ``R2_BUCKET``)."""

    def __init__(self, client: Any, *, allowed_buckets: frozenset[str] | None = None) -> None:
        self.client = client
        self.allowed_buckets = allowed_buckets

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Uploader:
        """From ``R2_ENDPOINT_URL`` (or ``R2_ACCOUNT_ID``), ``R2_ACCESS_KEY_ID``,
        ``R2_SECRET_ACCESS_KEY`` and optionally ``R2_BUCKET``: the endpoint's environment."""
        import boto3
        from botocore.config import Config

        env = os.environ if env is None else env
        endpoint = env.get("R2_ENDPOINT_URL", "").strip()
        account = env.get("R2_ACCOUNT_ID", "").strip()
        if not endpoint and account:
            endpoint = f"https://{account}.r2.cloudflarestorage.com"
        key_id = env.get("R2_ACCESS_KEY_ID", "").strip()
        secret = env.get("R2_SECRET_ACCESS_KEY", "").strip()
        missing = [name for name, value in (("R2_ENDPOINT_URL or R2_ACCOUNT_ID", endpoint),
                                            ("R2_ACCESS_KEY_ID", key_id),
                                            ("R2_SECRET_ACCESS_KEY", secret)) if not value]
        if missing:
            raise UploadError(f"the worker has no R2 credentials: set {', '.join(missing)} in "
                              "the endpoint's environment")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name=env.get("R2_REGION", "auto"),
            config=Config(**R2_CONFIG),
        )
        bucket = env.get("R2_BUCKET", "").strip()
        return cls(client, allowed_buckets=frozenset({bucket}) if bucket else None)

    def check_bucket(self, bucket: str) -> None:
        if self.allowed_buckets is not None and bucket not in self.allowed_buckets:
            raise UploadError(f"this worker does not write to bucket {bucket!r}")

    def put(self, bucket: str, key: str, data: bytes, *, metadata: Mapping[str, str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.check_bucket(bucket)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="image/png",
                                   Metadata=dict(metadata))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise UploadError(f"upload to {bucket}/{key} failed: {code}") from None
        except BotoCoreError as exc:
            raise UploadError(f"upload to {bucket}/{key} failed: {type(exc).__name__}") from None
