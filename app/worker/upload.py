"""Upload a rendered PNG to R2 (or any S3 API) with boto3: only into the endpoint's own
``R2_BUCKET``, and never over an existing object.

Not ``runpod.serverless.utils.rp_upload``: it picks a bucket named after the
month unless told otherwise and silently saves locally when credentials are
missing (FACTS.md). Here the S3 client is built with the checksum settings R2
needs (botocore >= 1.36 otherwise sends aws-chunked bodies with CRC32
trailers, which R2 has rejected).

Every put is conditional (``If-None-Match: *``, which R2 and S3 honour on
PutObject): when an object is already at the key, the store answers 412 and
nothing is written. The desktop puts the attempt number in every key, so a
retry writes a new key; an existing one means this job already ran (RunPod may
deliver a job again after a worker died) or something else wrote there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

R2_CONFIG = {
    "request_checksum_calculation": "when_required",
    "response_checksum_validation": "when_required",
    "retries": {"max_attempts": 4, "mode": "standard"},
    "connect_timeout": 10,
    "read_timeout": 60,
}
# Answers that mean the endpoint's R2 settings are wrong: no retry fixes them.
SETTINGS_ERRORS = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                             "NoSuchBucket", "InvalidBucketName", "Unauthorized"})


class UploadError(RuntimeError):
    """The image could not be stored; the message is safe to return in a job error.
    ``settings``: the endpoint's R2 settings are at fault (the bucket, the token)."""

    def __init__(self, message: str, *, settings: bool = False) -> None:
        super().__init__(message)
        self.settings = settings


class ObjectExists(UploadError):
    """An object is already at the key: it was left as it is."""


@dataclass(frozen=True, slots=True)
class R2Settings:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    bucket: str
    region: str = "auto"


def read_r2_settings(env: Mapping[str, str]) -> tuple[R2Settings | None, list[str]]:
    """The endpoint's R2 settings, or the names of what is missing. ``R2_BUCKET`` is
    required: it is the only bucket the worker writes to."""
    endpoint = env.get("R2_ENDPOINT_URL", "").strip()
    account = env.get("R2_ACCOUNT_ID", "").strip()
    if not endpoint and account:
        endpoint = f"https://{account}.r2.cloudflarestorage.com"
    values = {"R2_ENDPOINT_URL or R2_ACCOUNT_ID": endpoint,
              "R2_ACCESS_KEY_ID": env.get("R2_ACCESS_KEY_ID", "").strip(),
              "R2_SECRET_ACCESS_KEY": env.get("R2_SECRET_ACCESS_KEY", "").strip(),
              "R2_BUCKET": env.get("R2_BUCKET", "").strip()}
    missing = [name for name, value in values.items() if not value]
    if missing:
        return None, missing
    return R2Settings(endpoint_url=endpoint, access_key_id=values["R2_ACCESS_KEY_ID"],
                      secret_access_key=values["R2_SECRET_ACCESS_KEY"],
                      bucket=values["R2_BUCKET"],
                      region=env.get("R2_REGION", "").strip() or "auto"), []


class S3Uploader:
    """``put`` bytes at a key of ``bucket`` (the endpoint's ``R2_BUCKET``), never over an
    existing object."""

    def __init__(self, client: Any, *, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: R2Settings) -> S3Uploader:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            region_name=settings.region,
            config=Config(**R2_CONFIG),
        )
        return cls(client, bucket=settings.bucket)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Uploader:
        """From ``R2_ENDPOINT_URL`` (or ``R2_ACCOUNT_ID``), ``R2_ACCESS_KEY_ID``,
        ``R2_SECRET_ACCESS_KEY`` and ``R2_BUCKET``: the endpoint's environment."""
        settings, missing = read_r2_settings(env)
        if settings is None:
            raise UploadError(f"the worker's R2 settings are incomplete: set {', '.join(missing)} "
                              "in the endpoint's environment", settings=True)
        return cls.from_settings(settings)

    def check_bucket(self, bucket: str) -> None:
        if bucket != self.bucket:
            raise UploadError(f"this worker writes only to its own bucket (R2_BUCKET), not to "
                              f"{bucket!r}")

    def put(self, bucket: str, key: str, data: bytes, *, metadata: Mapping[str, str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.check_bucket(bucket)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="image/png",
                                   Metadata=dict(metadata), IfNoneMatch="*")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "error"))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "PreconditionFailed" or status == 412:
                raise ObjectExists(f"{bucket}/{key} already exists: the worker never "
                                   "overwrites an image (a new attempt writes a new key)"
                                   ) from None
            raise UploadError(f"upload to {bucket}/{key} failed: {code}",
                              settings=code in SETTINGS_ERRORS) from None
        except BotoCoreError as exc:
            raise UploadError(f"upload to {bucket}/{key} failed: {type(exc).__name__}") from None
