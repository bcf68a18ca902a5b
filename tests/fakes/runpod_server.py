"""A fake of RunPod's serverless queue API (the cloud one), served by aiohttp on 127.0.0.1.

Routes, shapes and states as the real API (DESIGN.md, "RunPod contracts"):

- ``POST /v2/{endpoint}/run`` with ``{"input", "policy"?}`` -> ``{"id", "status": "IN_QUEUE"}``
- ``GET  /v2/{endpoint}/status/{id}`` -> ``{"id", "status", "delayTime", "executionTime",
  "output" | "error"}``; 404 once a job has expired
- ``POST /v2/{endpoint}/cancel/{id}`` -> ``{"id", "status": "CANCELLED"}``
- ``GET  /v2/{endpoint}/health`` -> ``{"jobs": {...}, "workers": {...}}``

Every route wants ``Authorization: Bearer <api_key>`` (401 otherwise).

A job lives on the wall clock: ``queue_s`` in IN_QUEUE (a cold start), then
``run_s`` in IN_PROGRESS (``output`` holds a progress payload meanwhile), then
its outcome. ``hold=True`` keeps it IN_PROGRESS until ``release()``, for tests
that must stop a run at a known point without timing. ``policy.executionTimeout``
is enforced (TIMED_OUT). A job's result comes from the endpoint's handler
(``handlers[endpoint] = fn(input) -> output``), turned into a job the way
runpod-python's job loop does it (``runpod/serverless/modules/rp_job.py``):

- a handler that returns ``{"error": ...}`` makes the job FAILED, with that value as
  the ``error`` (a string as it is, anything else as JSON text); no HTTP status;
- a handler that raises makes the job FAILED with the SDK's JSON error string
  (``error_type``, ``error_message``, ``error_traceback``, ...); ``FakeJobFailure``
  gives its own string instead;
- a generator handler (``GeneratorHandler``, as worker-vllm's is, with
  ``return_aggregate_stream``) yields items: one whose ``output`` is a dict with an
  ``error`` makes the job FAILED with ``str()`` of that error (Python's repr of a dict,
  not JSON); a raise gives ``"handler: <message> \ntraceback: ..."``; otherwise the job
  is COMPLETED with the list of everything yielded.

Faults: ``inject("status", 429, retry_after=1)``, ``inject("run", 500, times=2)``;
``run_gate`` delays the answer to ``/run`` after the job exists;
``expire(job_id)`` or ``expire_all()`` make RunPod forget jobs (404).
Counters: ``submissions``, ``requests`` (per route), ``cancels``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.chat import FakeLLM
from tests.fakes.local_server import LocalServer

PROGRESS = "progress"


class FakeJobFailure(Exception):
    """Raised by a handler: the job ends FAILED with ``error`` (a string, maybe JSON)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def sdk_error(message: str, error_type: str = "RuntimeError") -> str:
    """The JSON string the runpod SDK reports when a handler raises."""
    return json.dumps({"error_type": f"<class '{error_type}'>", "error_message": message,
                       "error_traceback": "Traceback (most recent call last): ...",
                       "hostname": "fake-worker", "worker_id": "w1", "runpod_version": "1.12.0"})


class GeneratorHandler:
    """A handler that yields (like worker-vllm's async generator); the job's output is
    the list of what it yielded (runpod's ``return_aggregate_stream``)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, job_input: Any) -> Any:
        return self.fn(job_input)


def run_like_runpod(handler: Callable[[Any], Any], job_input: Any) -> tuple[str, Any, Any]:
    """(status, output, error) as runpod-python's job loop reports a handler's result."""
    if isinstance(handler, GeneratorHandler):
        outputs = []
        try:
            for item in handler(job_input):
                if isinstance(item, dict) and item.get("error"):
                    return "FAILED", None, str(item["error"])
                outputs.append(item)
        except Exception as exc:
            trace = "Traceback (most recent call last): ..."
            return "FAILED", None, f"handler: {exc} \ntraceback: {trace}"
        return "COMPLETED", outputs, None
    try:
        output = handler(job_input)
    except FakeJobFailure as exc:
        return "FAILED", None, exc.error
    except Exception as exc:
        return "FAILED", None, sdk_error(str(exc), type(exc).__name__)
    if isinstance(output, dict) and output.get("error"):
        error = output["error"]
        return "FAILED", None, error if isinstance(error, str) else json.dumps(error)
    return "COMPLETED", output, None


@dataclass
class JobPlan:
    """How one job will go."""

    queue_s: float = 0.0
    run_s: float = 0.0
    outcome: str = "COMPLETED"  # or FAILED or TIMED_OUT
    error: str | None = None  # the error string of a FAILED job
    hold: bool = False  # stay IN_PROGRESS until released


@dataclass
class FakeJob:
    id: str
    endpoint: str
    input: Any
    policy: dict[str, Any]
    plan: JobPlan
    submitted_at: float
    status: str = "IN_QUEUE"
    output: Any = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    released_at: float | None = None
    status_reads: int = 0

    @property
    def finished(self) -> bool:
        return self.status not in ("IN_QUEUE", "IN_PROGRESS")


@dataclass
class Fault:
    status: int
    retry_after: float | None = None
    body: Any = None


@dataclass
class FakeRunPod(LocalServer):
    PREFIX = "/v2"

    api_key: str = "test-runpod-key"
    default_plan: JobPlan = field(default_factory=JobPlan)
    plan_for: Callable[[str, Any, int], JobPlan] | None = None
    handlers: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    workers: int = 1

    def __post_init__(self) -> None:
        LocalServer.__init__(self)
        self.jobs: dict[str, FakeJob] = {}
        self.submissions: list[FakeJob] = []
        self.requests: Counter[str] = Counter()
        self.cancels: list[str] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._planned: deque[JobPlan] = deque()
        self._ids = itertools.count(1)
        # When set to an Event, /run creates the job but answers only once it is set.
        self.run_gate: asyncio.Event | None = None

    # Running the server.

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v2/{endpoint}/run", self._run),
            web.get("/v2/{endpoint}/status/{job_id}", self._status),
            web.post("/v2/{endpoint}/cancel/{job_id}", self._cancel),
            web.get("/v2/{endpoint}/health", self._health),
        ]

    # Steering.

    def plan_next(self, *plans: JobPlan) -> None:
        """Plans for the next submissions, in order (then ``plan_for``, then the default)."""
        self._planned.extend(plans)

    def inject(self, route: str, status: int, *, times: int = 1, retry_after: float | None = None,
               body: Any = None) -> None:
        """Answer the next ``times`` requests to ``route`` (run, status, cancel, health)
        with ``status`` instead of serving them."""
        queue = self._faults.setdefault(route, deque())
        queue.extend(Fault(status, retry_after, body) for _ in range(times))

    def release(self, job_id: str) -> None:
        self.jobs[job_id].released_at = self.clock()

    def release_all(self) -> None:
        for job in self.jobs.values():
            if job.plan.hold and job.released_at is None:
                job.released_at = self.clock()

    def expire(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def expire_all(self) -> None:
        self.jobs.clear()

    def state(self, job_id: str) -> str:
        job = self.jobs[job_id]
        self._advance(job)
        return job.status

    def in_progress(self) -> list[FakeJob]:
        for job in self.jobs.values():
            self._advance(job)
        return [j for j in self.jobs.values() if j.status == "IN_PROGRESS"]

    def running(self) -> list[FakeJob]:
        """Jobs not yet in a final state (queued or in progress)."""
        for job in self.jobs.values():
            self._advance(job)
        return [j for j in self.jobs.values() if not j.finished]

    # The job clock.

    def _advance(self, job: FakeJob) -> None:
        if job.finished:
            return
        now = self.clock()
        plan = job.plan
        ttl = job.policy.get("ttl")
        start = job.submitted_at + plan.queue_s
        if ttl is not None and now >= job.submitted_at + ttl / 1000 and now < start:
            self._finish(job, "TIMED_OUT", now)
            return
        if now < start:
            return
        job.started_at = start
        job.status = "IN_PROGRESS"
        end = start + plan.run_s
        limit = job.policy.get("executionTimeout")
        if limit is not None and plan.run_s > limit / 1000:
            if now >= start + limit / 1000:
                self._finish(job, "TIMED_OUT", start + limit / 1000)
            else:
                job.output = self._progress(job, now)
            return
        if plan.hold:
            if job.released_at is None:
                job.output = self._progress(job, now)
                return
            end = max(end, job.released_at)
        if now < end:
            job.output = self._progress(job, now)
            return
        self._finish(job, plan.outcome, end)

    def _progress(self, job: FakeJob, now: float) -> dict[str, Any]:
        run_s = job.plan.run_s or 1.0
        done = min(1.0, (now - (job.started_at or now)) / run_s)
        return {PROGRESS: round(done, 3), "stage": "rendering"}

    def _finish(self, job: FakeJob, outcome: str, at: float) -> None:
        job.output = None
        job.finished_at = at
        if outcome == "COMPLETED":
            handler = self.handlers.get(job.endpoint, echo_handler)
            outcome, job.output, job.error = run_like_runpod(handler, job.input)
        elif outcome == "FAILED":
            job.error = job.plan.error or sdk_error("the fake job failed")
        job.status = outcome

    # Routes.

    def _gate(self, request: web.Request, route: str) -> web.Response | None:
        self.requests[route] += 1
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": "Unauthorized"}, status=401)
        faults = self._faults.get(route)
        if faults:
            fault = faults.popleft()
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            body = fault.body if fault.body is not None else {"error": f"injected {fault.status}"}
            return web.json_response(body, status=fault.status, headers=headers)
        return None

    async def _run(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request, "run")) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        if not isinstance(body, dict) or "input" not in body:
            return web.json_response({"error": "the body must hold 'input'"}, status=400)
        endpoint = request.match_info["endpoint"]
        n = next(self._ids)
        if self._planned:
            plan = self._planned.popleft()
        elif self.plan_for is not None:
            plan = self.plan_for(endpoint, body["input"], n)
        else:
            plan = JobPlan(**vars(self.default_plan))
        job = FakeJob(id=f"job-{n:04d}-{hashlib.sha1(str(n).encode()).hexdigest()[:8]}",
                      endpoint=endpoint, input=body["input"], policy=body.get("policy") or {},
                      plan=plan, submitted_at=self.clock())
        self.jobs[job.id] = job
        self.submissions.append(job)
        if self.run_gate is not None:  # the job exists; its id is not answered yet
            await self.run_gate.wait()
        return web.json_response({"id": job.id, "status": "IN_QUEUE"})

    async def _status(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request, "status")) is not None:
            return refused
        job = self.jobs.get(request.match_info["job_id"])
        if job is None or job.endpoint != request.match_info["endpoint"]:
            return web.json_response({"error": "request does not exist"}, status=404)
        job.status_reads += 1
        self._advance(job)
        doc: dict[str, Any] = {"id": job.id, "status": job.status}
        if job.started_at is not None:
            doc["delayTime"] = int((job.started_at - job.submitted_at) * 1000)
        if job.finished_at is not None and job.started_at is not None:
            doc["executionTime"] = int((job.finished_at - job.started_at) * 1000)
        if job.status == "FAILED":
            doc["error"] = job.error
        elif job.output is not None:
            doc["output"] = job.output
        return web.json_response(doc)

    async def _cancel(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request, "cancel")) is not None:
            return refused
        job = self.jobs.get(request.match_info["job_id"])
        if job is None or job.endpoint != request.match_info["endpoint"]:
            return web.json_response({"error": "request does not exist"}, status=404)
        self.cancels.append(job.id)
        self._advance(job)
        if not job.finished:
            now = self.clock()
            job.status, job.output, job.finished_at = "CANCELLED", None, now
        return web.json_response({"id": job.id, "status": job.status})

    async def _health(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request, "health")) is not None:
            return refused
        endpoint = request.match_info["endpoint"]
        mine = [j for j in self.jobs.values() if j.endpoint == endpoint]
        for job in mine:
            self._advance(job)
        by = Counter(j.status for j in mine)
        busy = min(self.workers, by["IN_PROGRESS"])
        return web.json_response({
            "jobs": {"completed": by["COMPLETED"], "failed": by["FAILED"] + by["TIMED_OUT"],
                     "inProgress": by["IN_PROGRESS"], "inQueue": by["IN_QUEUE"],
                     "retried": 0},
            "workers": {"idle": self.workers - busy, "running": busy, "initializing": 0,
                        "ready": self.workers - busy, "throttled": 0, "unhealthy": 0},
        })


# Handlers: what a COMPLETED job's output is, per kind of endpoint.


def echo_handler(job_input: Any) -> Any:
    return {"echo": job_input}


def vllm_handler(llm: FakeLLM, *, as_list: bool = False) -> Callable[[Any], Any]:
    """worker-vllm's OpenAI route: the chat completion (or a one-element list holding it)."""

    def handle(job_input: Any) -> Any:
        if job_input.get("openai_route") != "/v1/chat/completions":
            raise FakeJobFailure(json.dumps({"error": "unknown openai_route"}))
        answer = llm(job_input["openai_input"])
        return [answer] if as_list else answer

    return handle


def shot_handler(
    put: Callable[[str, str, bytes], None] | None = None, *, draw: bool | None = None
) -> Callable[[Any], Any]:
    """The shot worker's contract: checks the input with the worker's own validation,
    makes a PNG (a real panel when ``draw`` or ``put``, else stand-in bytes), hands it to
    ``put(bucket, key, data)`` when given, and answers with the COMPLETED output shape."""
    from app.worker.handler import INVALID_INPUT, InvalidInput, parse_input

    draw = put is not None if draw is None else draw

    def handle(job_input: Any) -> Any:
        try:
            shot = parse_input(job_input)
        except InvalidInput as exc:
            # What RunPod shows for a handler that returned {"error": ...}: the string itself.
            raise FakeJobFailure(f"{INVALID_INPUT}: {exc}") from None
        if draw:
            from app.worker.draft import BACKEND

            data = BACKEND.render(prompt=shot.prompt, negative_prompt=shot.negative_prompt,
                                  width=shot.width, height=shot.height, seed=shot.seed,
                                  steps=shot.steps, guidance=shot.guidance)
        else:
            data = f"fake png {shot.bucket}/{shot.key} seed {shot.seed}".encode()
        if put is not None:
            put(shot.bucket, shot.key, data)
        return {
            "image": {"bucket": shot.bucket, "key": shot.key, "width": shot.width,
                      "height": shot.height, "seed": shot.seed,
                      "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                      "mime": "image/png"},
            "timings": {"load_s": 0.0, "render_s": 0.01, "upload_s": 0.0},
            "model": "fake-flux",
        }

    return handle
