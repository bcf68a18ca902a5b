"""The writer on a RunPod vLLM endpoint (runpod-workers/worker-vllm), through the queue API.

Each request is one job: ``{"openai_route": "/v1/chat/completions",
"openai_input": <chat completion body>}`` submitted to ``/run`` and polled,
so a cold start only makes the job wait in the queue instead of timing out
an HTTP request. The COMPLETED output is the chat completion, or a
one-element list holding it; ``llm.read_completion`` reads both.

Errors, as the service really gives them (runpod-python's job loop, worker-vllm):
worker-vllm yields ``{"error": {...}}`` (vLLM's ErrorResponse, or its own
``{"message": "vLLM returned HTTP 400: <vLLM's JSON>", "type": "worker_error"}``),
and runpod's loop turns that into a FAILED job whose ``error`` is ``str()`` of the
object: no HTTP status survives. ``read_vllm_error`` reads the status and the reason
back out of that text (``code``, the ``type`` name, or "HTTP 400" in the message), so
the writer can fall back from ``json_schema`` on a 400, shrink a request that exceeds
the model's context, and retry what is transient (5xx, 429, an engine or worker error,
TIMED_OUT) here, with backoff. An older vLLM's ``{"object": "error", ...}`` arrives as a
COMPLETED job's output: it is an error too, never content.

Minimum ``MAX_MODEL_LEN``: 8192 tokens. The script stage asks up to 4096 tokens of
output on a prompt of about 1000 tokens plus the idea; each planning batch is sized to
fit the context the writer assumes (``context_tokens``, 8192 by default) and shrinks
(smaller ``max_tokens``, fewer scenes) when vLLM refuses a request as too long, down
to one scene per request. Below 8192 the script stage of a long idea is refused.

Every job id is recorded as soon as RunPod returns it (``app.core.writers.jobs``): a
restart during a writer stage polls that job instead of paying for it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

from app.core.errors import ConfigError
from app.core.metering import record_job
from app.core.runpod import (
    Job,
    JobExpired,
    JobStatus,
    RetryPolicy,
    RunPodClient,
    RunPodError,
    WaitTimedOut,
    parse_error,
)
from app.core.settings import Settings
from app.core.writers.jobs import current_log, request_key
from app.core.writers.llm import LLMWriter

log = logging.getLogger(__name__)

OPENAI_ROUTE = "/v1/chat/completions"
MIN_MAX_MODEL_LEN = 8192

# vLLM's error types (ErrorResponse.type) and the HTTP status each stands for.
_TYPE_STATUS = {"badrequesterror": 400, "notfounderror": 404, "unprocessableentityerror": 422,
                "toomanyrequests": 429, "internalservererror": 500,
                "serviceunavailableerror": 503, "serviceunavailable": 503}
_HTTP = re.compile(r"\bHTTP (\d{3})\b")


def vllm_job_input(body: dict[str, Any]) -> dict[str, Any]:
    """The job input worker-vllm expects for an OpenAI chat completion."""
    return {"openai_route": OPENAI_ROUTE, "openai_input": body}


class WriterJobError(RunPodError):
    """A writer job that ended in an error; ``status`` is the HTTP status vLLM meant,
    read out of the error text (None when the text names none)."""

    def __init__(self, detail: str, *, status: int | None, job: Job | None = None,
                 endpoint: str = "", final_state: str = "FAILED") -> None:
        super().__init__(detail, status=status, endpoint=endpoint,
                         job_id=job.id if job else None)
        self.job = job
        self.final_state = final_state

    @property
    def transient(self) -> bool:
        """Another job may work: a 5xx, a 429, a timed-out job, or a failure that names
        no status (the engine or the worker failed, not the request)."""
        if self.final_state == "CANCELLED":
            return False
        if self.final_state == "TIMED_OUT" or self.status is None:
            return True
        return self.status == 429 or self.status >= 500


def read_vllm_error(error: Any) -> tuple[int | None, str]:
    """The HTTP status and the reason inside a writer job's ``error`` (or an error
    object in its output), whichever of worker-vllm's shapes it has."""
    info: Any = error
    if isinstance(error, str):
        text, parsed = parse_error(error)
        if parsed is None or "error_message" in parsed:  # plain text, or an exception
            return _status_in(text), text
        info = parsed
    status, message = _dig(info)
    return status, " ".join(message.split())[:600]


def _dig(info: Any, depth: int = 0) -> tuple[int | None, str]:
    if depth > 4:
        return None, str(info)
    if isinstance(info, list) and len(info) == 1:
        return _dig(info[0], depth + 1)
    if not isinstance(info, dict):
        text = str(info)
        return _status_in(text), text
    if isinstance(info.get("error"), dict | list):
        return _dig(info["error"], depth + 1)
    message = info.get("message") or info.get("error_message") or info.get("error") or ""
    message = message if isinstance(message, str) else json.dumps(message)
    status = None
    code = info.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code < 600:
        status = code
    kind = info.get("type") or info.get("error_type")
    if status is None and isinstance(kind, str):
        status = _TYPE_STATUS.get(kind.replace("_", "").casefold())
    # worker-vllm's own wrapper: "vLLM returned HTTP 400: <vLLM's JSON error body>"
    inner = _HTTP.search(message)
    if inner:
        rest = message[inner.end():].lstrip(": ").strip()
        parsed, _ = _json_or_none(rest)
        if parsed is not None:
            inner_status, inner_message = _dig(parsed, depth + 1)
            return inner_status or int(inner.group(1)), inner_message
        return int(inner.group(1)), rest or message
    if status is None:
        status = _status_in(message)
    return status, message


def _json_or_none(text: str) -> tuple[Any, bool]:
    try:
        return json.loads(text), True
    except ValueError:
        return None, False


def _status_in(text: str) -> int | None:
    found = _HTTP.search(text)
    return int(found.group(1)) if found else None


def output_error(output: Any) -> tuple[int | None, str] | None:
    """An error object where a COMPLETED job's output should be a completion: an older
    vLLM's ``{"object": "error", ...}``, or ``{"error": ...}`` with no choices (either
    may come alone or in worker-vllm's one-element aggregated list)."""
    item = output[0] if isinstance(output, list) and len(output) == 1 else output
    if not isinstance(item, dict) or "choices" in item:
        return None
    if item.get("object") == "error" or item.get("error"):
        return read_vllm_error(item)
    return None


class RunPodVllmTransport:
    def __init__(
        self,
        client: RunPodClient,
        endpoint: str,
        *,
        execution_timeout_s: float = 600.0,
        ttl_s: float = 1800.0,
        wait_timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.execution_timeout_s = execution_timeout_s
        self.ttl_s = ttl_s
        # RunPod ends a job by its ttl at the latest; past that, stop waiting on our own.
        self.wait_timeout_s = wait_timeout_s if wait_timeout_s is not None else ttl_s + 60.0
        # Transient FAILED jobs (503, an engine error, TIMED_OUT) are submitted again.
        self.retry = retry or RetryPolicy(attempts=3, base_s=2.0, max_s=30.0)
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def complete(self, body: dict[str, Any]) -> Any:
        job_input = vllm_job_input(body)
        key = request_key(job_input)
        jobs = current_log()
        earlier = jobs.resumable(key) if jobs is not None else None
        failures = 0
        while True:
            final = await self._resume(earlier) if earlier else None
            earlier = None
            if final is None:
                final = await self._submit_and_wait(job_input, key)
            try:
                return self._output(final)
            except WriterJobError as exc:
                failures += 1
                if not exc.transient or failures >= self.retry.attempts:
                    raise
                delay = self.retry.delay(failures, self._rng)
                log.info("writer: RunPod job %s %s; submitting again in %.1f s", final.id,
                         exc.detail, delay)
                await self._sleep(delay)

    async def _resume(self, job_id: str) -> Job | None:
        """The end of a job an earlier process submitted; None if RunPod forgot it."""
        try:
            return await self._wait(job_id)
        except JobExpired:
            log.info("writer: RunPod no longer knows job %s; submitting it again", job_id)
            return None

    async def _submit_and_wait(self, job_input: dict[str, Any], key: str) -> Job:
        job = await self.client.submit(self.endpoint, job_input,
                                       execution_timeout_s=self.execution_timeout_s,
                                       ttl_s=self.ttl_s)
        jobs = current_log()
        if jobs is not None:
            try:
                await jobs.record(key, job.id)
            except asyncio.CancelledError:
                if not jobs.keeps_jobs():
                    await self.client.cancel_quietly(self.endpoint, job.id)
                raise
        return await self._wait(job.id)

    async def _wait(self, job_id: str) -> Job:
        try:
            final = await self.client.wait(self.endpoint, job_id, timeout_s=self.wait_timeout_s)
        except asyncio.CancelledError:
            jobs = current_log()
            if jobs is None or not jobs.keeps_jobs():  # kept: ``resume`` polls it later
                await self.client.cancel_quietly(self.endpoint, job_id)
            raise
        except WaitTimedOut:  # we gave up waiting: don't leave the job running
            await self.client.cancel_quietly(self.endpoint, job_id)
            raise
        record_job(gpu_s=final.execution_s, queue_s=final.delay_s)
        return final

    def _output(self, job: Job) -> Any:
        if job.status is JobStatus.COMPLETED:
            found = output_error(job.output)
            if found is None:
                return job.output
            status, reason = found
            raise WriterJobError(f"the model server answered with an error: {reason}",
                                 status=status, job=job, endpoint=self.endpoint)
        if job.status is JobStatus.FAILED:
            status, reason = read_vllm_error(job.error)
            detail = f"the job failed: {reason}" if reason else "the job failed"
        else:
            status, detail = None, job.describe()
        raise WriterJobError(detail, status=status, job=job, endpoint=self.endpoint,
                             final_state=job.status.value)

    async def aclose(self) -> None:
        await self.client.aclose()


class RunPodVllmWriter(LLMWriter):
    """``Writer`` on a RunPod vLLM endpoint. Owns ``client``: ``aclose()`` closes it."""

    def __init__(
        self,
        client: RunPodClient,
        endpoint: str,
        *,
        model: str | None = None,
        execution_timeout_s: float = 600.0,
        ttl_s: float = 1800.0,
        max_repairs: int = 2,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **kwargs: Any,
    ) -> None:
        transport = RunPodVllmTransport(client, endpoint, execution_timeout_s=execution_timeout_s,
                                        ttl_s=ttl_s, retry=retry, sleep=sleep)
        super().__init__(transport, name=f"RunPod vLLM {endpoint}", model=model,
                         max_repairs=max_repairs, **kwargs)
        self.endpoint = endpoint

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> RunPodVllmWriter:
        """From ``RUNPOD_API_KEY``, ``RUNPOD_ENDPOINT_BASE_URL``, ``RUNPOD_WRITER_ENDPOINT``
        and (optional: the served model's name) ``WRITER_MODEL``."""
        if settings.runpod_api_key is None or not settings.runpod_writer_endpoint:
            raise ConfigError("the RunPod writer needs RUNPOD_API_KEY and RUNPOD_WRITER_ENDPOINT")
        client = RunPodClient(settings.runpod_api_key, base_url=settings.runpod_base_url)
        return cls(client, settings.runpod_writer_endpoint, model=settings.writer_model,
                   **kwargs)
