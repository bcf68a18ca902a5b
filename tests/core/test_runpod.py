"""The RunPod queue client against a fake of the cloud API on 127.0.0.1.

Time is a manual clock shared by the fake server and the client: the client's
``sleep`` advances it, so a "10 s" job takes no real time and every number
(delayTime, executionTime, backoff) is exact.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.core.errors import RemoteError
from app.core.runpod import (
    Health,
    JobExpired,
    JobFailed,
    JobStatus,
    PollPolicy,
    RetryPolicy,
    RunPodAuthError,
    RunPodClient,
    RunPodError,
    WaitTimedOut,
    parse_error,
    retry_after_seconds,
)
from tests.fakes.runpod_server import FakeRunPod, JobPlan, sdk_error
from tests.fakes.waiting import eventually

ENDPOINT = "shots123"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock):
    async with FakeRunPod(clock=clock) as server:
        yield server


def make_client(fake: FakeRunPod, clock: ManualClock, *, key: str | None = None,
                base_url: str | None = None, **kwargs) -> RunPodClient:
    return RunPodClient(key or fake.api_key, base_url=base_url or fake.base_url,
                        sleep=clock.sleep, clock=clock, rng=random.Random(7), **kwargs)


@pytest.fixture
async def client(fake, clock):
    c = make_client(fake, clock)
    yield c
    await c.aclose()


async def test_submit_sends_input_and_policy(fake, client):
    job = await client.submit(ENDPOINT, {"task": "echo", "n": 1}, execution_timeout_s=120,
                              ttl_s=3600)
    assert job.status is JobStatus.IN_QUEUE and not job.finished
    assert job.endpoint == ENDPOINT
    [sent] = fake.submissions
    assert sent.id == job.id
    assert sent.input == {"task": "echo", "n": 1}
    assert sent.policy == {"executionTimeout": 120_000, "ttl": 3_600_000}


async def test_wait_follows_the_states_and_returns_delay_and_execution_time(fake, client):
    fake.plan_next(JobPlan(queue_s=4.0, run_s=10.0))
    seen = []
    job = await client.submit(ENDPOINT, {"x": 1})
    final = await client.wait(ENDPOINT, job.id, on_update=seen.append)

    assert final.status is JobStatus.COMPLETED
    assert final.result() == {"echo": {"x": 1}}
    assert final.delay_ms == 4000 and final.delay_s == 4.0
    assert final.execution_ms == 10_000 and final.execution_s == 10.0
    statuses = [j.status for j in seen]
    assert statuses[0] is JobStatus.IN_QUEUE and JobStatus.IN_PROGRESS in statuses
    # While in progress, output holds the worker's progress payload, not the result.
    progress = [j.output for j in seen if j.status is JobStatus.IN_PROGRESS]
    assert all("progress" in p for p in progress)
    assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)


async def test_wait_accepts_an_async_update_callback(fake, client):
    fake.plan_next(JobPlan(run_s=1.0))
    seen = []

    async def on_update(job):
        seen.append(job.status)

    job = await client.submit(ENDPOINT, {})
    await client.wait(ENDPOINT, job.id, on_update=on_update)
    assert JobStatus.IN_PROGRESS in seen


def test_poll_intervals_start_fast_grow_and_are_bounded():
    policy = PollPolicy(first_s=0.25, factor=2.0, max_s=2.0, jitter=0.0)
    gen = policy.intervals(random.Random(1))
    assert [next(gen) for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    jittered = PollPolicy(first_s=1.0, factor=1.0, max_s=1.0, jitter=0.2).intervals(
        random.Random(1))
    values = [next(jittered) for _ in range(50)]
    assert all(0.8 <= v <= 1.0 for v in values) and len(set(values)) > 1


async def test_wait_polls_fast_first_then_slower(fake, client, clock):
    fake.plan_next(JobPlan(queue_s=5.0, run_s=30.0))
    job = await client.submit(ENDPOINT, {})
    await client.wait(ENDPOINT, job.id)
    polls = clock.sleeps
    assert polls[0] <= client.poll.first_s
    assert max(polls) <= client.poll.max_s
    assert polls[-1] > polls[0] * 4
    # Nothing known of the endpoint yet: at most blind_max_s apart for blind_for_s, then
    # backing off to max_s. A 35 s job costs a bounded number of status requests.
    policy = client.poll
    assert max(polls[:20]) <= policy.blind_max_s and polls[-1] > policy.blind_max_s
    assert fake.requests["status"] < policy.blind_for_s / (policy.blind_max_s * 0.8) + 12


def test_pause_closes_in_around_the_expected_end():
    policy = PollPolicy(first_s=0.25, max_s=3.0, near_s=0.2, lead=0.8, overrun=1.5)
    assert policy.pause(3.0, elapsed=1.0, expected=None) == policy.blind_max_s  # blind
    assert policy.pause(3.0, elapsed=policy.blind_for_s + 1, expected=None) == 3.0
    assert policy.pause(1.0, elapsed=1.0, expected=10.0) == 1.0  # far from the end
    assert policy.pause(3.0, elapsed=6.0, expected=10.0) == 2.0  # not past 0.8 x 10
    assert policy.pause(3.0, elapsed=8.0, expected=10.0) == 0.2  # near the end
    assert policy.pause(3.0, elapsed=16.0, expected=10.0) == 3.0  # far past it: back off


async def test_a_learnt_duration_makes_endings_seen_sooner_at_few_requests(fake, client, clock):
    fake.default_plan = JobPlan(queue_s=1.0, run_s=4.0)
    first = await client.submit(ENDPOINT, {})
    await client.wait(ENDPOINT, first.id)
    assert client.expected_s(ENDPOINT) == 5.0
    late_first = clock.now - fake.jobs[first.id].finished_at

    reads = fake.requests["status"]
    second = await client.submit(ENDPOINT, {})
    await client.wait(ENDPOINT, second.id)
    late_second = clock.now - fake.jobs[second.id].finished_at
    assert late_second <= client.poll.near_s < late_first
    assert fake.requests["status"] - reads <= 12


async def test_a_job_seen_ending_wakes_the_waits_submitted_with_it():
    """A new user's first wave: nothing known, long naps; the first job seen ending makes
    the others that have run as long poll at once (here their naps would never end)."""
    async with FakeRunPod() as fake:
        naps: list[float] = []

        async def never(seconds: float) -> None:  # a nap only a wake-up ends
            naps.append(seconds)
            await asyncio.Event().wait()

        client = RunPodClient(fake.api_key, base_url=fake.base_url, sleep=never)
        try:
            fake.plan_next(JobPlan(hold=True), JobPlan(hold=True), JobPlan(run_s=0.0))
            held = [await client.submit(ENDPOINT, {}) for _ in range(2)]
            waits = [asyncio.create_task(client.wait(ENDPOINT, j.id)) for j in held]
            await eventually(lambda: len(naps) >= 2, what="both waits to nap")
            fake.release_all()
            done = await client.submit(ENDPOINT, {})
            assert (await client.wait(ENDPOINT, done.id)).status is JobStatus.COMPLETED
            finished = await asyncio.wait_for(asyncio.gather(*waits), 5)
            assert [j.status for j in finished] == [JobStatus.COMPLETED] * 2
            assert all(fake.jobs[j.id].status_reads == 2 for j in held)
        finally:
            await client.aclose()


async def test_429_is_retried_after_retry_after(fake, client, clock):
    fake.inject("status", 429, retry_after=7)
    job = await client.submit(ENDPOINT, {})
    final = await client.wait(ENDPOINT, job.id)
    assert final.status is JobStatus.COMPLETED
    assert fake.requests["status"] == 2
    assert clock.sleeps[0] >= 7.0


async def test_5xx_on_run_is_retried_and_submits_once(fake, client):
    fake.inject("run", 500, times=2)
    job = await client.submit(ENDPOINT, {"a": 1})
    assert fake.requests["run"] == 3
    assert [j.id for j in fake.submissions] == [job.id]


async def test_retry_delays_grow_with_jitter(fake, clock):
    client = make_client(fake, clock, retry=RetryPolicy(attempts=5, base_s=1.0, max_s=8.0))
    try:
        fake.inject("health", 503, times=4)
        await client.health(ENDPOINT)
    finally:
        await client.aclose()
    assert len(clock.sleeps) == 4
    assert all(0 <= d <= min(8.0, 2 ** n) for n, d in enumerate(clock.sleeps))


async def test_gives_up_after_the_retry_budget_with_a_readable_error(fake, clock):
    client = make_client(fake, clock, retry=RetryPolicy(attempts=3, base_s=0.1))
    try:
        fake.inject("status", 502, times=10)
        job = await client.submit(ENDPOINT, {})
        with pytest.raises(RunPodError) as caught:
            await client.status(ENDPOINT, job.id)
    finally:
        await client.aclose()
    err = caught.value
    assert err.status == 502 and err.endpoint == ENDPOINT and err.job_id == job.id
    assert "gave up after 3 tries" in str(err) and "bad gateway" in str(err)
    assert fake.requests["status"] == 3


async def test_connection_errors_are_retried_then_reported(clock):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RunPodClient("k", base_url=f"http://127.0.0.1:{port}/v2", sleep=clock.sleep,
                          clock=clock, retry=RetryPolicy(attempts=3, base_s=0.1))
    try:
        with pytest.raises(RunPodError) as caught:
            await client.health(ENDPOINT)
    finally:
        await client.aclose()
    assert caught.value.status is None
    assert "cannot connect" in str(caught.value)
    assert len(clock.sleeps) == 2


async def test_a_refused_key_is_named_without_the_key(fake, clock, caplog):
    secret = "rp_SECRET_should_never_show_0123456789"
    client = make_client(fake, clock, key=secret)
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(RunPodAuthError) as caught:
            await client.submit(ENDPOINT, {})
    finally:
        await client.aclose()
    err = caught.value
    assert isinstance(err, RemoteError) and err.status == 401
    assert "the RunPod API key was refused" in str(err)
    assert secret not in str(err) and secret not in repr(err)
    assert secret not in repr(client)
    assert secret not in caplog.text
    assert fake.requests["run"] == 1  # not retried


async def test_the_key_never_reaches_the_log_even_when_echoed(fake, client, caplog):
    caplog.set_level(logging.DEBUG)
    fake.inject("run", 500, body={"error": f"bad auth header Bearer {fake.api_key}"})
    fake.inject("run", 400, body={"error": f"key {fake.api_key} may not do this"})
    with pytest.raises(RunPodError) as caught:
        await client.submit(ENDPOINT, {})
    assert caught.value.status == 400
    assert fake.api_key not in str(caught.value)
    assert "***" in str(caught.value)
    assert fake.api_key not in caplog.text


async def test_404_on_status_means_expired(fake, client):
    job = await client.submit(ENDPOINT, {})
    fake.expire(job.id)
    with pytest.raises(JobExpired) as caught:
        await client.wait(ENDPOINT, job.id)
    assert caught.value.status == 404
    assert caught.value.job_id == job.id and caught.value.endpoint == ENDPOINT
    assert fake.requests["status"] == 1  # not retried


async def test_404_without_a_job_names_the_endpoint(fake, client):
    fake.inject("health", 404)
    with pytest.raises(RunPodError, match="no such endpoint"):
        await client.health("nope")


async def test_failed_job_with_a_json_error_string_is_readable(fake, client):
    fake.plan_next(JobPlan(run_s=1, outcome="FAILED",
                           error=sdk_error("CUDA out of memory", "torch.OutOfMemoryError")))
    job = await client.submit(ENDPOINT, {})
    final = await client.wait(ENDPOINT, job.id)
    assert final.status is JobStatus.FAILED
    assert final.error_info["error_message"] == "CUDA out of memory"
    assert final.describe() == "the job failed: OutOfMemoryError: CUDA out of memory"
    with pytest.raises(JobFailed) as caught:
        final.result()
    assert caught.value.job is final
    assert "CUDA out of memory" in str(caught.value) and job.id in str(caught.value)


async def test_execution_timeout_ends_in_timed_out(fake, client):
    fake.plan_next(JobPlan(run_s=50.0))
    job = await client.submit(ENDPOINT, {}, execution_timeout_s=5)
    final = await client.wait(ENDPOINT, job.id)
    assert final.status is JobStatus.TIMED_OUT
    assert "timed out" in final.describe()


async def test_cancel_stops_a_running_job(fake, client):
    fake.plan_next(JobPlan(hold=True))
    job = await client.submit(ENDPOINT, {})
    await client.status(ENDPOINT, job.id)
    cancelled = await client.cancel(ENDPOINT, job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert (await client.wait(ENDPOINT, job.id)).status is JobStatus.CANCELLED
    fake.expire(job.id)
    assert await client.cancel(ENDPOINT, job.id) is None


async def test_cancel_quietly_survives_the_callers_cancellation(fake, client):
    fake.plan_next(JobPlan(hold=True))
    job = await client.submit(ENDPOINT, {})

    async def follow():
        try:
            await client.wait(ENDPOINT, job.id)
        except asyncio.CancelledError:
            await client.cancel_quietly(ENDPOINT, job.id)
            raise

    task = asyncio.create_task(follow())
    await eventually(lambda: fake.requests["status"] >= 2, what="two status reads")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.cancels == [job.id]
    assert fake.state(job.id) == "CANCELLED"


async def test_cancelled_while_submitting_still_cancels_the_new_job(fake, client):
    fake.plan_next(JobPlan(hold=True))
    fake.run_gate = asyncio.Event()
    task = asyncio.create_task(client.submit(ENDPOINT, {}))
    await eventually(lambda: fake.submissions, what="the job to exist")
    task.cancel()
    await asyncio.sleep(0)
    fake.run_gate.set()  # RunPod answers /run only now
    with pytest.raises(asyncio.CancelledError):
        await task
    [job] = fake.submissions
    assert fake.cancels == [job.id] and fake.state(job.id) == "CANCELLED"


async def test_wait_gives_up_after_its_timeout(fake, client):
    fake.plan_next(JobPlan(hold=True))
    job = await client.submit(ENDPOINT, {})
    with pytest.raises(WaitTimedOut, match="gave up waiting after 20 s"):
        await client.wait(ENDPOINT, job.id, timeout_s=20)


async def test_health(fake, client):
    fake.plan_next(JobPlan(hold=True), JobPlan(queue_s=100))
    await client.submit(ENDPOINT, {})
    await client.submit(ENDPOINT, {})
    health = await client.health(ENDPOINT)
    assert isinstance(health, Health)
    assert health.in_progress == 1 and health.in_queue == 1
    assert health.running_workers == 1 and health.idle_workers == 0
    assert health.summary() == "workers: 0 idle, 1 running; jobs: 1 in queue, 1 in progress"


async def test_one_session_closed_by_aclose(fake, clock):
    client = make_client(fake, clock)
    await client.health(ENDPOINT)
    session = client._session
    await client.health(ENDPOINT)
    assert client._session is session
    await client.aclose()
    assert session.closed and client._session is None
    await client.aclose()  # twice is fine


async def test_unknown_status_is_an_error(fake, client, monkeypatch):
    job = await client.submit(ENDPOINT, {})
    fake.jobs[job.id].status = "WEIRD"
    with pytest.raises(RunPodError, match="unexpected job status 'WEIRD'"):
        await client.status(ENDPOINT, job.id)


def test_parse_error_shapes():
    assert parse_error(None) == ("", None)
    assert parse_error("plain words") == ("plain words", None)
    assert parse_error('{"error": "invalid shot input: width"}')[0] == "invalid shot input: width"
    text, info = parse_error(sdk_error("boom", "ValueError"))
    assert text == "ValueError: boom" and info["error_type"] == "<class 'ValueError'>"
    assert parse_error("{not json")[0] == "{not json"
    assert parse_error('{"odd": 1}')[0] == '{"odd": 1}'


def test_parse_error_reads_the_python_repr_a_generator_handler_leaves():
    # runpod's job loop gives str() of a yielded {"error": {...}}: a repr, not JSON.
    text = str({"message": "vLLM returned HTTP 503: busy", "type": "worker_error",
                "code": None})
    detail, info = parse_error(text)
    assert detail == "vLLM returned HTTP 503: busy" and info["code"] is None
    assert parse_error("{'a': __import__('os')}")[1] is None  # literals only, never code


def test_retry_after_parsing():
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("-4") == 0.0
    assert retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < retry_after_seconds(later) <= 120


def test_running_is_read_as_in_progress():
    assert JobStatus("RUNNING") is JobStatus.IN_PROGRESS
    assert not JobStatus.IN_PROGRESS.finished and JobStatus.TIMED_OUT.finished


def test_a_key_is_required():
    with pytest.raises(ValueError):
        RunPodClient("")
