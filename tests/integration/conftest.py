"""Fixtures of the end-to-end tests: moto for R2 (one server, a bucket per test) and the
fake RunPod cloud API on a background thread (one per test); see ``tests.fakes.cloud``."""

from tests.fakes.cloud import bucket, cloud_env, runpod, s3  # noqa: F401 (fixtures)
