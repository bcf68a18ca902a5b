"""A small asyncio client for the RunPod serverless queue API, on aiohttp.

Not the runpod SDK (FACTS.md: its async client hides a 401 behind ``KeyError``,
polls at a fixed 1 s and has no ``delayTime``/``executionTime``). This one:

- ``submit`` (``POST /{endpoint}/run`` with ``policy.executionTimeout`` and
  ``ttl``), ``status``, ``cancel``, ``health``;
- ``wait`` polls a job until it ends, fast at first and slower later (bounded),
  with jitter so many jobs do not poll in step, and closely again around the
  time the endpoint's jobs usually take (``PollPolicy``);
- every request retries 429, 5xx and connection errors with jittered
  exponential backoff, honouring ``Retry-After``;
- errors are typed: ``RunPodError`` (a ``RemoteError`` with endpoint and job
  id), ``RunPodAuthError`` for 401/403, ``JobExpired`` for a 404 on status.

The API key goes into one header of one session and nowhere else: it is never
logged and is scrubbed from any error text a server echoes back.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import aiohttp
from pydantic import SecretStr

from app.core.errors import RemoteError
from app.core.settings import DEFAULT_RUNPOD_BASE

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class JobStatus(StrEnum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def finished(self) -> bool:
        return self not in (JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS)

    @classmethod
    def _missing_(cls, value: object) -> JobStatus | None:
        # RunPod's job-state page calls the running state RUNNING; the API says IN_PROGRESS.
        return cls.IN_PROGRESS if value == "RUNNING" else None


class RunPodError(RemoteError):
    """RunPod answered with an error, or did not answer. Never carries the API key."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        endpoint: str = "",
        job_id: str | None = None,
    ) -> None:
        where = f"RunPod endpoint {endpoint}" if endpoint else "RunPod"
        if job_id:
            where += f", job {job_id}"
        super().__init__(status, where, detail)
        self.endpoint = endpoint
        self.job_id = job_id


class RunPodAuthError(RunPodError):
    """401 or 403: the key is wrong, revoked, or has no access to this endpoint."""


class JobExpired(RunPodError):
    """404 on status: RunPod no longer knows the job (results are kept ~30 min)."""


class WaitTimedOut(RunPodError):
    """``wait`` gave up before the job ended (the job itself may still run)."""


class JobFailed(RunPodError):
    """A job ended FAILED, TIMED_OUT or CANCELLED; ``job`` holds its last state."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.describe(), endpoint=job.endpoint, job_id=job.id)
        self.job = job


@dataclass(frozen=True, slots=True)
class Job:
    """One job as RunPod last described it."""

    id: str
    status: JobStatus
    endpoint: str = ""
    output: Any = None
    error: str | None = None
    delay_ms: float | None = None
    execution_ms: float | None = None

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def delay_s(self) -> float | None:
        """Time in the queue, including a cold start (``delayTime``)."""
        return None if self.delay_ms is None else self.delay_ms / 1000

    @property
    def execution_s(self) -> float | None:
        """Time a worker spent on the job: the GPU time paid for (``executionTime``)."""
        return None if self.execution_ms is None else self.execution_ms / 1000

    @property
    def error_info(self) -> dict[str, Any] | None:
        """The ``error`` string parsed, when it is a JSON object (the SDK's error shape)."""
        return parse_error(self.error)[1]

    def describe(self) -> str:
        """A readable line: the status and, for a failed job, why."""
        text = {
            JobStatus.FAILED: "the job failed",
            JobStatus.TIMED_OUT: "the job timed out (executionTimeout or ttl reached)",
            JobStatus.CANCELLED: "the job was cancelled",
        }.get(self.status, f"the job is {self.status.value}")
        detail = parse_error(self.error)[0]
        return f"{text}: {detail}" if detail else text

    def result(self) -> Any:
        """The output of a COMPLETED job; ``JobFailed`` for any other final state."""
        if self.status is JobStatus.COMPLETED:
            return self.output
        raise JobFailed(self)


@dataclass(frozen=True, slots=True)
class Health:
    jobs: Mapping[str, int] = field(default_factory=dict)
    workers: Mapping[str, int] = field(default_factory=dict)

    @property
    def in_queue(self) -> int:
        return int(self.jobs.get("inQueue", 0))

    @property
    def in_progress(self) -> int:
        return int(self.jobs.get("inProgress", 0))

    @property
    def idle_workers(self) -> int:
        return int(self.workers.get("idle", 0))

    @property
    def running_workers(self) -> int:
        return int(self.workers.get("running", 0))

    def summary(self) -> str:
        return (f"workers: {self.idle_workers} idle, {self.running_workers} running; "
                f"jobs: {self.in_queue} in queue, {self.in_progress} in progress")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one request on 429, 5xx and connection errors."""

    attempts: int = 5
    base_s: float = 0.5
    max_s: float = 20.0
    max_retry_after_s: float = 60.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(n-1))]."""
        return rng.uniform(0, min(self.max_s, self.base_s * 2 ** (failures - 1)))


@dataclass(frozen=True)
class PollPolicy:
    """How ``wait`` paces status requests.

    Backoff: ``first_s``, then times ``factor``, at most ``max_s`` apart, each shortened
    by up to ``jitter`` (a fraction) at random so that many jobs do not poll in step.

    Expectation: when the endpoint's jobs usually take about ``expected`` seconds from
    submission to the end (learnt from ``delayTime + executionTime`` of the jobs this
    client saw finish, or given to ``wait``), polls are ``near_s`` apart from
    ``lead * expected`` until ``overrun * expected``: an ending job is seen within
    ``near_s`` at the cost of a few requests, instead of up to ``max_s`` late.

    Blind (nothing known yet: a new user's first jobs): polls are at most ``blind_max_s``
    apart for the first ``blind_for_s`` seconds, and when any job of the endpoint ends,
    every wait on that endpoint that has run about as long (``lead`` times that job's
    time) polls at once: jobs submitted together end together, so the first one seen
    ending announces the others (``RunPodClient.wait``).
    """

    first_s: float = 0.25
    factor: float = 1.5
    max_s: float = 3.0
    jitter: float = 0.2
    near_s: float = 0.2
    lead: float = 0.85
    overrun: float = 1.5
    learn_weight: float = 0.3  # of the newest job in the running average
    blind_max_s: float = 1.0
    blind_for_s: float = 30.0

    def intervals(self, rng: random.Random):
        interval = self.first_s
        while True:
            yield interval * (1 - rng.uniform(0, self.jitter))
            interval = min(self.max_s, interval * self.factor)

    def pause(self, backoff: float, elapsed: float, expected: float | None) -> float:
        """The next pause, ``elapsed`` seconds into a wait for a job expected to take
        ``expected`` seconds (None: unknown)."""
        if expected is None or expected <= 0:
            return min(backoff, self.blind_max_s) if elapsed < self.blind_for_s else backoff
        window = expected * self.lead
        if elapsed < window:
            return min(backoff, window - elapsed) if elapsed + backoff > window else backoff
        if elapsed < expected * self.overrun:
            return min(backoff, self.near_s)
        return backoff


class Naps:
    """The pauses of ``wait`` between polls, which another job's end can cut short."""

    def __init__(self) -> None:
        # endpoint -> {a nap's wake-up future: when its wait started}
        self._waiting: dict[str, dict[asyncio.Future, float]] = {}

    async def nap(self, endpoint: str, started: float, sleep: Awaitable[None]) -> bool:
        """Await ``sleep``; True when woken before it ended."""
        waker = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(endpoint, {})
        waiting[waker] = started
        sleeper = asyncio.ensure_future(sleep)
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.pop(waker, None)
            if not sleeper.done():
                sleeper.cancel()
        woken = waker.done()
        if not woken:
            waker.cancel()
        return woken

    def wake(self, endpoint: str, *, started_before: float) -> None:
        """End the naps of the waits on ``endpoint`` that started before that time."""
        for waker, started in list(self._waiting.get(endpoint, {}).items()):
            if started <= started_before and not waker.done():
                waker.set_result(None)


def parse_error(error: Any) -> tuple[str, dict[str, Any] | None]:
    """A FAILED job's ``error``: readable text, and the object when the string is JSON.

    The runpod SDK reports a raised exception as a JSON string with
    ``error_type``, ``error_message`` and ``error_traceback``; a handler that
    returns ``{"error": ...}`` gives that value as it is, and a generator handler
    (worker-vllm) that yields ``{"error": {...}}`` gives ``str()`` of that object:
    Python's repr, read here with ``ast.literal_eval`` (literals only, never code).
    """
    if error is None:
        return "", None
    info: Any = error
    if isinstance(error, str):
        info = _structured(error.strip()) or error
    if isinstance(info, dict):
        message = info.get("error_message") or info.get("error") or info.get("message")
        if isinstance(message, dict):  # {"error": {"message": ...}} (vLLM's ErrorResponse)
            return parse_error(message)[0], info
        kind = info.get("error_type")
        if isinstance(message, str | int | float) and str(message).strip():
            text = str(message).strip()
            if isinstance(kind, str) and kind and kind not in text:
                text = f"{_short_type(kind)}: {text}"
        else:
            text = json.dumps(info, sort_keys=True)[:500]
        return _one_line(text), info
    return _one_line(str(info)), None


def _structured(text: str) -> dict[str, Any] | list | None:
    """A JSON object, or the Python repr of one (``{'message': ..., 'code': None}``)."""
    if not text.startswith(("{", "[")) or len(text) > 200_000:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict | list) else None


def _short_type(kind: str) -> str:
    # "<class 'ValueError'>" -> "ValueError"
    return kind.replace("<class '", "").replace("'>", "").rsplit(".", 1)[-1]


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RunPodClient:
    """One aiohttp session per client; close it with ``aclose()`` (or ``async with``)."""

    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        base_url: str = DEFAULT_RUNPOD_BASE,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        request_timeout_s: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise ValueError("a RunPod API key is required")
        self._key = SecretStr(key)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.poll = poll or PollPolicy()
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s, connect=10)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task] = set()
        self._expected: dict[str, float] = {}  # endpoint -> usual seconds per job
        self._naps = Naps()
        self.requests = 0  # HTTP requests sent (benchmarks read it)

    def __repr__(self) -> str:  # never shows the key
        return f"RunPodClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> RunPodClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._background:  # cancels still on their way out
            await asyncio.wait(list(self._background), timeout=10)
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    # The queue API.

    async def submit(
        self,
        endpoint: str,
        payload: Mapping[str, Any],
        *,
        execution_timeout_s: float | None = None,
        ttl_s: float | None = None,
    ) -> Job:
        """``POST /{endpoint}/run``: queue a job and return it (``IN_QUEUE`` as a rule).

        Retried like every request: a 5xx or a lost connection after RunPod took the
        job can, rarely, queue it twice (the pipeline would pay for a retry anyway).
        Cancelled while the request is on its way, it still learns the new job's id
        and cancels that job before re-raising.
        """
        body: dict[str, Any] = {"input": dict(payload)}
        policy = {}
        if execution_timeout_s is not None:
            policy["executionTimeout"] = int(execution_timeout_s * 1000)
        if ttl_s is not None:
            policy["ttl"] = int(ttl_s * 1000)
        if policy:
            body["policy"] = policy
        request = asyncio.ensure_future(self._request("POST", endpoint, "run", json_body=body))
        try:
            doc = await asyncio.shield(request)
        except asyncio.CancelledError:
            # Cancelled while /run was on its way: the job may exist already. Learn its
            # id and cancel it, or it runs (and is paid for) with nobody waiting.
            await self._cancel_when_submitted(endpoint, request)
            raise
        job = self._job(endpoint, doc, None)
        log.debug("runpod: submitted job %s to %s", job.id, endpoint)
        return job

    async def _cancel_when_submitted(self, endpoint: str, request: asyncio.Future) -> None:
        async def follow() -> None:
            try:
                doc = await request
                job_id = doc.get("id")
            except Exception:
                return  # never submitted
            if isinstance(job_id, str) and job_id:
                await self._cancel_logged(endpoint, job_id)

        task = asyncio.ensure_future(follow())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        try:
            await asyncio.wait_for(asyncio.shield(task), 10.0)
        except TimeoutError:
            log.warning("runpod: a job submitted to %s as its caller was cancelled is not "
                        "cancelled yet; left to finish", endpoint)

    async def status(self, endpoint: str, job_id: str) -> Job:
        """``GET /{endpoint}/status/{id}``. ``JobExpired`` when RunPod answers 404."""
        doc = await self._request("GET", endpoint, f"status/{job_id}", job_id=job_id)
        return self._job(endpoint, doc, job_id)

    async def cancel(self, endpoint: str, job_id: str) -> Job | None:
        """``POST /{endpoint}/cancel/{id}``; None when RunPod no longer knows the job."""
        try:
            doc = await self._request("POST", endpoint, f"cancel/{job_id}", job_id=job_id)
        except JobExpired:
            return None
        log.debug("runpod: cancelled job %s on %s", job_id, endpoint)
        return self._job(endpoint, doc, job_id)

    async def cancel_quietly(self, endpoint: str, job_id: str, *, timeout_s: float = 10.0) -> None:
        """Best-effort cancel for a caller that is itself being cancelled.

        The request runs in its own task and is shielded, so it reaches RunPod even
        when the caller is cancelled again; errors are logged, never raised.
        """
        task = asyncio.ensure_future(self._cancel_logged(endpoint, job_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            log.warning("runpod: cancelling job %s on %s is taking long; left to finish",
                        job_id, endpoint)

    async def _cancel_logged(self, endpoint: str, job_id: str) -> None:
        try:
            await self.cancel(endpoint, job_id)
        except Exception as exc:
            log.warning("runpod: could not cancel job %s on %s: %s", job_id, endpoint, exc)

    async def health(self, endpoint: str) -> Health:
        doc = await self._request("GET", endpoint, "health")
        jobs = doc.get("jobs") if isinstance(doc.get("jobs"), dict) else {}
        workers = doc.get("workers") if isinstance(doc.get("workers"), dict) else {}
        return Health(jobs=dict(jobs), workers=dict(workers))

    async def wait(
        self,
        endpoint: str,
        job_id: str,
        *,
        timeout_s: float | None = None,
        on_update: Callable[[Job], Awaitable[None] | None] | None = None,
        expected_s: float | None = None,
    ) -> Job:
        """Poll until the job ends and return its final state (whatever the status).

        ``on_update`` sees every state read while the job runs (its ``output`` may be
        a progress payload then). ``expected_s``: how long the job should take from
        now, when known better than the endpoint's running average (see
        ``PollPolicy``). ``JobExpired`` if RunPod forgets the job; ``WaitTimedOut`` if
        ``timeout_s`` passes first (the job is left alone: the caller decides whether
        to cancel it).
        """
        started = self._clock()
        deadline = None if timeout_s is None else started + timeout_s
        intervals = self.poll.intervals(self._rng)
        while True:
            job = await self.status(endpoint, job_id)
            if job.finished:
                self._learn(job)
                return job
            if on_update is not None:
                maybe = on_update(job)
                if maybe is not None:
                    await maybe
            backoff = next(intervals)
            while True:  # sleep until the next poll, or until a sibling job's end
                expected = expected_s if expected_s is not None else self._expected.get(
                    endpoint)  # read again: a job of this endpoint may have ended meanwhile
                elapsed = self._clock() - started
                pause = self.poll.pause(backoff, elapsed, expected)
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        raise WaitTimedOut(f"gave up waiting after {timeout_s:g} s "
                                          f"(the job is {job.status.value})",
                                          endpoint=endpoint, job_id=job_id)
                    pause = min(pause, left)
                napped = self._clock()
                if not await self._nap(endpoint, pause, started):
                    break
                backoff = max(0.0, backoff - (self._clock() - napped))
                expected = expected_s if expected_s is not None else self._expected.get(
                    endpoint)
                if backoff <= 0 or (expected is not None
                                    and self._clock() - started >= expected * self.poll.lead):
                    break  # a job submitted about when this one was has ended: look now

    async def _nap(self, endpoint: str, pause: float, started: float) -> bool:
        """Sleep ``pause`` seconds; True when woken early by another job's end."""
        return await self._naps.nap(endpoint, started, self._sleep(pause))

    def expect(self, endpoint: str, seconds: float) -> None:
        """Seed an endpoint's usual submission-to-end time (learnt from history by an
        earlier process), so the first jobs are polled as well as later ones; the
        endpoint's own jobs take over from there."""
        if seconds > 0:
            self._expected.setdefault(endpoint, seconds)

    def expected_s(self, endpoint: str) -> float | None:
        """The running average of submission-to-end times of this endpoint's jobs."""
        return self._expected.get(endpoint)

    def _learn(self, job: Job) -> None:
        if job.status is not JobStatus.COMPLETED or job.execution_ms is None:
            return
        took = (job.execution_ms + (job.delay_ms or 0.0)) / 1000
        before = self._expected.get(job.endpoint)
        weight = self.poll.learn_weight
        self._expected[job.endpoint] = took if before is None else (
            before + weight * (took - before))
        # Waits that have run about as long as this job took are likely over too.
        self._naps.wake(job.endpoint, started_before=self._clock() - took * self.poll.lead)

    # One request, with retries.

    async def _request(
        self,
        method: str,
        endpoint: str,
        path: str,
        *,
        json_body: Any = None,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        url = f"{self.base_url}/{endpoint}/{path}"
        failures = 0
        while True:
            retry_after: float | None = None
            try:
                status, headers, text = await self._send(method, url, json_body)
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"no answer ({_network_reason(exc)})"
                status = None
            else:
                if 200 <= status < 300:
                    return self._decode(text, endpoint, job_id, status)
                if status in (401, 403):
                    raise RunPodAuthError(
                        f"the RunPod API key was refused (HTTP {status}); check "
                        "RUNPOD_API_KEY and that the key may use this endpoint",
                        status=status, endpoint=endpoint, job_id=job_id)
                if status == 404 and job_id is not None:
                    raise JobExpired("RunPod no longer knows this job (expired or never "
                                     "existed)", status=404, endpoint=endpoint, job_id=job_id)
                if status == 404:
                    raise RunPodError("no such endpoint (HTTP 404); check the endpoint id",
                                      status=404, endpoint=endpoint)
                problem = self._error_text(status, text)
                if status != 429 and status < 500:
                    raise RunPodError(problem, status=status, endpoint=endpoint, job_id=job_id)
                retry_after = retry_after_seconds(headers.get("Retry-After"))
            failures += 1
            if failures >= self.retry.attempts:
                raise RunPodError(f"{problem}; gave up after {failures} tries",
                                  status=status, endpoint=endpoint, job_id=job_id)
            delay = self.retry.delay(failures, self._rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.retry.max_retry_after_s))
            log.info("runpod: %s %s/%s: %s; retrying in %.2f s", method, endpoint,
                     path.split("/", 1)[0], problem, delay)
            await self._sleep(delay)

    async def _send(
        self, method: str, url: str, json_body: Any
    ) -> tuple[int, Mapping[str, str], str]:
        session = self._ensure_session()
        self.requests += 1
        async with session.request(method, url, json=json_body) as resp:
            return resp.status, resp.headers, await resp.text(errors="replace")

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._key.get_secret_value()}",
                         "Accept": "application/json"},
            )
        return self._session

    def _decode(self, text: str, endpoint: str, job_id: str | None, status: int) -> dict:
        try:
            doc = json.loads(text) if text.strip() else {}
        except ValueError:
            raise RunPodError(f"the answer is not JSON: {self._scrub(text)[:200]!r}",
                              status=status, endpoint=endpoint, job_id=job_id) from None
        if not isinstance(doc, dict):
            raise RunPodError(f"expected a JSON object, got {type(doc).__name__}",
                              status=status, endpoint=endpoint, job_id=job_id)
        return doc

    def _error_text(self, status: int, text: str) -> str:
        detail = ""
        try:
            doc = json.loads(text)
        except ValueError:
            detail = text
        else:
            if isinstance(doc, dict):
                detail = str(doc.get("error") or doc.get("message") or doc.get("detail") or doc)
            else:
                detail = str(doc)
        detail = _one_line(self._scrub(detail), 300)
        name = {429: "too many requests", 500: "server error", 502: "bad gateway",
                503: "service unavailable", 504: "gateway timeout"}.get(status, "error")
        return f"HTTP {status} {name}" + (f": {detail}" if detail else "")

    def _scrub(self, text: str) -> str:
        key = self._key.get_secret_value()
        return text.replace(key, "***") if key else text

    def _job(self, endpoint: str, doc: Mapping[str, Any], job_id: str | None) -> Job:
        raw_id = doc.get("id", job_id)
        raw_status = doc.get("status")
        try:
            status = JobStatus(raw_status)
        except ValueError:
            raise RunPodError(f"unexpected job status {raw_status!r}", endpoint=endpoint,
                              job_id=job_id) from None
        if not isinstance(raw_id, str) or not raw_id:
            raise RunPodError("the answer has no job id", endpoint=endpoint, job_id=job_id)
        error = doc.get("error")
        if error is not None and not isinstance(error, str):
            error = json.dumps(error)
        return Job(
            id=raw_id,
            status=status,
            endpoint=endpoint,
            output=doc.get("output"),
            error=self._scrub(error) if error else error,
            delay_ms=_number(doc.get("delayTime")),
            execution_ms=_number(doc.get("executionTime")),
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(exc).__name__
