"""The writer on a RunPod vLLM endpoint (runpod-workers/worker-vllm), through the queue API.

Each request is one job: ``{"openai_route": "/v1/chat/completions",
"openai_input": <chat completion body>}`` submitted to ``/run`` and polled,
so a cold start only makes the job wait in the queue instead of timing out
an HTTP request. The COMPLETED output is the chat completion, or a
one-element list holding it; ``llm.read_completion`` reads both.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.core.errors import ConfigError
from app.core.metering import record_job
from app.core.runpod import RunPodClient, WaitTimedOut
from app.core.settings import Settings
from app.core.writers.llm import LLMWriter

OPENAI_ROUTE = "/v1/chat/completions"


def vllm_job_input(body: dict[str, Any]) -> dict[str, Any]:
    """The job input worker-vllm expects for an OpenAI chat completion."""
    return {"openai_route": OPENAI_ROUTE, "openai_input": body}


class RunPodVllmTransport:
    def __init__(
        self,
        client: RunPodClient,
        endpoint: str,
        *,
        execution_timeout_s: float = 600.0,
        ttl_s: float = 1800.0,
        wait_timeout_s: float | None = None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.execution_timeout_s = execution_timeout_s
        self.ttl_s = ttl_s
        # RunPod ends a job by its ttl at the latest; past that, stop waiting on our own.
        self.wait_timeout_s = wait_timeout_s if wait_timeout_s is not None else ttl_s + 60.0

    async def complete(self, body: dict[str, Any]) -> Any:
        job = await self.client.submit(self.endpoint, vllm_job_input(body),
                                       execution_timeout_s=self.execution_timeout_s,
                                       ttl_s=self.ttl_s)
        try:
            final = await self.client.wait(self.endpoint, job.id, timeout_s=self.wait_timeout_s)
        except asyncio.CancelledError:
            await self.client.cancel_quietly(self.endpoint, job.id)
            raise
        except WaitTimedOut:  # we gave up waiting: don't leave the job running
            await self.client.cancel_quietly(self.endpoint, job.id)
            raise
        record_job(gpu_s=final.execution_s, queue_s=final.delay_s)
        return final.result()  # JobFailed (a RemoteError) for FAILED, TIMED_OUT, CANCELLED

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
    ) -> None:
        transport = RunPodVllmTransport(client, endpoint, execution_timeout_s=execution_timeout_s,
                                        ttl_s=ttl_s)
        super().__init__(transport, name=f"RunPod vLLM {endpoint}", model=model,
                         max_repairs=max_repairs)
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
