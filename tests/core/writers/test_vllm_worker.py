"""The writer against a fake worker-vllm behind a fake RunPod that reports errors the way
runpod-python's job loop does: FAILED jobs whose ``error`` is text, no HTTP status field.

Covers issue 13's writer items: the status and reason read out of the error text, the
response-format fallback on that, context-length refusals, transient retries, COMPLETED
``object: error`` answers, batched planning, schema bounds, loops, and writer jobs
recorded and resumed.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from app.core.errors import StageError
from app.core.history.memory import MemoryHistory
from app.core.ideas import from_text
from app.core.models import Script
from app.core.pipeline import Pipeline
from app.core.runpod import PollPolicy, RetryPolicy, RunPodClient
from app.core.writers.jobs import recording_jobs, request_key
from app.core.writers.llm import (
    PLAN_FORMAT,
    context_overflow,
    looks_looping,
    plan_batches,
    plan_schema,
    script_schema,
    split_scenes,
)
from app.core.writers.runpod_vllm import (
    RunPodVllmWriter,
    output_error,
    read_vllm_error,
    vllm_job_input,
)
from tests.core.doubles import ScriptedRenderer
from tests.fakes.chat import PLAN, SCRIPT, FakeLLM, completion
from tests.fakes.runpod_server import FakeRunPod, JobPlan, run_like_runpod, sdk_error
from tests.fakes.vllm_worker import FakeVllmWorker, context_message, prompt_tokens
from tests.fakes.waiting import eventually

IDEA = from_text("An old lighthouse keeper takes in a runaway boy on the night of a storm.")
FAST_POLL = PollPolicy(first_s=0.002, factor=1.5, max_s=0.01)
FAST_RETRY = RetryPolicy(attempts=4, base_s=0.001, max_s=0.01)
ENDPOINT = "llm1"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


class Rig:
    def __init__(self, **worker) -> None:
        self.llm = FakeLLM()
        self.worker = FakeVllmWorker(self.llm, **worker)
        self.fake = FakeRunPod()
        self.fake.handlers[ENDPOINT] = self.worker.handler()
        self.sleeps = Sleeps()

    async def __aenter__(self) -> Rig:
        await self.fake.start()
        self.writer = self.new_writer()
        return self

    def new_writer(self, **kwargs) -> RunPodVllmWriter:
        client = RunPodClient(self.fake.api_key, base_url=self.fake.base_url, poll=FAST_POLL,
                              retry=FAST_RETRY, rng=random.Random(1))
        return RunPodVllmWriter(client, ENDPOINT, model="served", sleep=self.sleeps, **kwargs)

    async def __aexit__(self, *exc) -> None:
        await self.writer.aclose()
        await self.fake.close()


def long_script(scenes: int, words: int = 60) -> Script:
    body = "\n\n".join(
        f"{'INT' if i % 2 else 'EXT'}. PLACE {i} - NIGHT\n\n"
        + " ".join(f"word{i}" for _ in range(words))
        + f"\n\nMARA\nLine {i}."
        for i in range(1, scenes + 1))
    return Script(title="Long", logline="A long one.", screenplay=body, characters=[])


# The error text, as runpod-python's job loop leaves it.


def test_the_fake_reports_handler_errors_as_runpod_python_does():
    status, output, error = run_like_runpod(lambda _: {"error": "bad input"}, {})
    assert (status, output, error) == ("FAILED", None, "bad input")

    def boom(_):
        raise ValueError("no GPU")

    status, _, error = run_like_runpod(boom, {})
    assert status == "FAILED" and json.loads(error)["error_message"] == "no GPU"
    worker = FakeVllmWorker(style="engine", max_model_len=10)
    status, _, error = run_like_runpod(worker.handler(), vllm_job_input(
        {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 5}))
    # str() of the error object: Python's repr, single quotes, None, and no status field.
    assert status == "FAILED" and error.startswith("{'message': ") and "'param': None" in error


@pytest.mark.parametrize("style", ["proxy", "engine"])
def test_read_vllm_error_finds_status_and_reason_in_failed_text(style):
    worker = FakeVllmWorker(style=style, max_model_len=100)
    body = {"messages": [{"role": "user", "content": "y" * 2000}], "max_tokens": 50}
    _, _, error = run_like_runpod(worker.handler(), vllm_job_input(body))
    status, reason = read_vllm_error(error)
    assert status == 400
    assert reason.startswith("This model's maximum context length is 100 tokens.")


def test_read_vllm_error_other_shapes():
    assert read_vllm_error(sdk_error("CUDA out of memory")) == (
        None, "RuntimeError: CUDA out of memory")
    assert read_vllm_error("handler: engine dead \ntraceback: ...")[0] is None
    assert read_vllm_error(str({"message": "Request to vLLM failed: x", "type": "worker_error",
                                "code": None}))[0] is None
    assert read_vllm_error(str({"message": "busy", "type": "ServiceUnavailableError",
                                "param": None, "code": None}))[0] == 503
    old = {"object": "error", "message": "bad", "type": "BadRequestError", "param": None,
           "code": 400}
    assert output_error([old]) == (400, "bad")
    assert output_error([completion("{}")]) is None


def test_context_overflow_reads_vllm_and_openai_wording():
    new = context_message(4096, 3000, 2000)
    assert context_overflow(new).limit == 4096 and context_overflow(new).input_tokens == 3000
    alone = context_message(4096, 5000, 10)
    assert context_overflow(alone).input_tokens == 5000
    old = ("This model's maximum context length is 4096 tokens. However, you requested 5000 "
           "tokens (1000 in the messages, 4000 in the completion). Please reduce the length "
           "of the messages or completion.")
    assert context_overflow(old).input_tokens == 1000
    assert context_overflow("some other 400") is None


# The writer on those errors.


@pytest.mark.parametrize("style", ["proxy", "engine", "old"])
async def test_a_refused_json_schema_falls_back_on_the_failed_jobs_text(style):
    async with Rig(style=style, refuse_json_schema=True) as rig:
        script = await rig.writer.write_script(IDEA, seed=1, style=None)
        assert script.title == SCRIPT["title"]
        formats = [(b.get("response_format") or {}).get("type") for b in rig.worker.bodies]
        assert formats == ["json_schema", "json_object"]


async def test_refused_bounds_are_dropped_before_the_schema():
    async with Rig(refuse_bounds=True) as rig:
        await rig.writer.write_script(IDEA, seed=1, style=None)
        first, second = rig.worker.bodies
        assert "maxLength" in json.dumps(first["response_format"])
        assert second["response_format"]["type"] == "json_schema"
        assert "maxLength" not in json.dumps(second["response_format"])
        await rig.writer.plan_scenes(IDEA, await rig.writer.write_script(IDEA, seed=1,
                                                                         style=None), seed=1)
        plan = rig.worker.bodies[-1]["response_format"]["json_schema"]["schema"]
        # Only the refused keyword is dropped: the scene and shot counts stay bounded.
        assert plan["properties"]["scenes"]["maxItems"] == 2
        assert "maxLength" not in json.dumps(plan) and len(rig.worker.bodies) == 4


@pytest.mark.parametrize("style", ["proxy", "engine", "old"])
async def test_a_max_tokens_refusal_shrinks_max_tokens_to_what_fits(style):
    async with Rig(style=style, max_model_len=3000) as rig:
        script = await rig.writer.write_script(IDEA, seed=1, style=None)
        assert script.title == SCRIPT["title"]
        refused, asked = rig.worker.bodies
        assert refused["max_tokens"] == 4096
        assert asked["max_tokens"] == 3000 - prompt_tokens(asked) - 16
        assert rig.writer.context_tokens == 3000


async def test_an_idea_too_long_for_the_context_names_max_model_len():
    async with Rig(max_model_len=300) as rig:
        with pytest.raises(StageError, match="MAX_MODEL_LEN of at least 8192"):
            await rig.writer.write_script(IDEA, seed=1, style=None)
        assert len(rig.fake.submissions) == 1


async def test_transient_failed_writer_jobs_are_retried_with_backoff():
    async with Rig() as rig:
        rig.worker.fail_next(503, "Service Unavailable", times=2)
        script = await rig.writer.write_script(IDEA, seed=1, style=None)
        assert script.title == SCRIPT["title"]
        assert len(rig.fake.submissions) == 3 and len(rig.sleeps.delays) == 2


async def test_a_timed_out_writer_job_is_retried():
    async with Rig() as rig:
        rig.fake.plan_next(JobPlan(outcome="TIMED_OUT"))
        await rig.writer.write_script(IDEA, seed=1, style=None)
        assert len(rig.fake.submissions) == 2


async def test_a_bad_request_is_not_retried():
    async with Rig() as rig:
        rig.worker.fail_next(400, "Invalid 'messages': expected a list")
        with pytest.raises(StageError, match="expected a list"):
            await rig.writer.write_script(IDEA, seed=1, style=None)
        assert len(rig.fake.submissions) == 1


async def test_an_old_vllm_error_in_a_completed_job_is_an_error_not_content():
    async with Rig(style="old") as rig:
        rig.worker.fail_next(500, "the engine died", times=3)
        with pytest.raises(StageError, match="the engine died"):
            await rig.writer.write_script(IDEA, seed=1, style=None)
        assert {j.status for j in rig.fake.submissions} == {"COMPLETED"}
        assert len(rig.fake.submissions) == 3  # 500: transient, retried, never read as a reply


# Batched planning.


def test_split_scenes_cuts_before_each_heading():
    script = long_script(5)
    scenes = split_scenes(script.screenplay)
    assert len(scenes) == 5 and scenes[2].startswith("INT. PLACE 3")
    assert split_scenes("Just prose, no headings.") == ["Just prose, no headings."]


def test_batches_respect_the_token_budget_and_the_scene_cap():
    scenes = [f"EXT. S{i}\n\n" + "x" * 400 for i in range(20)]  # ~100 tokens each
    batches = plan_batches(scenes, fixed_tokens=500, budget_tokens=1000, max_scenes=8)
    assert [len(b) for b in batches] == [4, 4, 4, 4, 4]
    assert [s for b in batches for s in b] == scenes
    assert [len(b) for b in plan_batches(scenes, fixed_tokens=0, budget_tokens=10**6,
                                         max_scenes=8)] == [8, 8, 4]
    # The output asked for counts too: 500 + 100 n + 100 n <= 1000 -> 2 scenes a batch.
    assert {len(b) for b in plan_batches(scenes, fixed_tokens=500, budget_tokens=1000,
                                         max_scenes=8, output_tokens=lambda n: 100 * n)} == {2}


async def test_a_long_script_is_planned_in_batches_that_fit_merged_in_order():
    async with Rig(max_model_len=4096) as rig:
        rig.writer.context_tokens = 4096
        script = long_script(40)
        plans = await rig.writer.plan_scenes(IDEA, script, seed=1)
        assert [p.scene.index for p in plans] == list(range(1, 41))
        assert [p.scene.heading for p in plans] == [
            f"{'INT' if i % 2 else 'EXT'}. PLACE {i} - NIGHT" for i in range(1, 41)]
        assert 5 < len(rig.worker.bodies) < 40  # batches of several scenes, no refusals
        for body in rig.worker.bodies:
            assert prompt_tokens(body) + body["max_tokens"] <= 4096
            n = body["response_format"]["json_schema"]["schema"]["properties"]["scenes"]
            assert n["minItems"] == n["maxItems"] <= 8


async def test_a_batch_too_long_for_the_context_is_split():
    async with Rig(max_model_len=2000) as rig:
        script = long_script(6, words=150)  # the writer assumes 8192: one batch, refused
        plans = await rig.writer.plan_scenes(IDEA, script, seed=1)
        assert [p.scene.index for p in plans] == list(range(1, 7))
        assert rig.writer.context_tokens == 2000
        refused = [b for b in rig.worker.bodies if prompt_tokens(b) + b["max_tokens"] > 2000]
        assert len(refused) == 1  # once the context is known, every later batch fits


# Bounds and loops.


def test_schemas_carry_bounds_in_strict_form_and_drop_them_on_request():
    bounded = plan_schema(3)
    scenes = bounded["properties"]["scenes"]
    shots = scenes["items"]["properties"]["shots"]
    assert (scenes["minItems"], scenes["maxItems"]) == (3, 3)
    assert shots["maxItems"] == 6 and shots["minItems"] == 1
    assert shots["items"]["properties"]["description"]["maxLength"] > 0
    assert script_schema()["properties"]["screenplay"]["maxLength"] > 0
    plain = json.dumps(plan_schema(3, bounded=False)) + json.dumps(script_schema(bounded=False))
    assert "maxLength" not in plain and "maxItems" not in plain and "minItems" not in plain


def test_looks_looping():
    assert looks_looping('{"title": "A' + " storm storm" * 80)
    assert looks_looping("\n".join(["He climbs the stairs to the lamp room."] * 8))
    assert not looks_looping(json.dumps(SCRIPT)) and not looks_looping(json.dumps(PLAN))


async def test_a_looping_reply_is_retried_with_a_corrective_note_and_fewer_tokens():
    async with Rig() as rig:
        rig.llm.script(('{"title": "The' + " keeper keeper" * 200, "length"))
        script = await rig.writer.write_script(IDEA, seed=1, style=None)
        assert script.title == SCRIPT["title"]
        first, second = rig.worker.bodies
        assert "repeating" in second["messages"][-1]["content"]
        assert second["max_tokens"] < first["max_tokens"]


# Writer jobs recorded and resumed.


async def test_a_recorded_job_is_polled_instead_of_paid_again_and_resubmitted_after_404():
    async with Rig() as rig:
        known: dict[str, str] = {}
        saves: list[dict] = []

        async def save() -> None:
            saves.append(dict(known))

        with recording_jobs(known, save):
            await rig.writer.write_script(IDEA, seed=1, style=None)
        [job] = rig.fake.submissions
        assert list(known.values()) == [job.id] and saves == [known]

        later = rig.new_writer()  # another process, same history
        with recording_jobs(dict(known), save):
            await later.write_script(IDEA, seed=1, style=None)
        assert len(rig.fake.submissions) == 1  # polled, not submitted

        rig.fake.expire_all()
        again = dict(known)
        with recording_jobs(again, save):
            await later.write_script(IDEA, seed=1, style=None)
        assert len(rig.fake.submissions) == 2 and again != known
        await later.aclose()


async def test_a_run_detached_in_the_writer_stage_resumes_its_writer_job_without_paying_again():
    async with Rig() as rig:
        history = MemoryHistory()
        rig.fake.plan_next(JobPlan(hold=True))
        first = Pipeline(rig.writer, ScriptedRenderer(), history)
        task = asyncio.create_task(first.start(IDEA))
        await eventually(rig.fake.in_progress, what="the script job to run")
        run_id = first.active_runs[0]

        async def recorded() -> bool:
            return bool((await history.get_run(run_id)).writer_jobs)

        await eventually(recorded, what="the writer job in history")
        stored = await history.get_run(run_id)
        [job] = rig.fake.submissions
        assert list(stored.writer_jobs.values()) == [job.id]  # written as RunPod answered
        assert rig.fake.state(job.id) == "IN_PROGRESS"  # before the job ended
        assert first.detach(run_id)
        await task
        assert rig.fake.cancels == []  # the job was kept for resume

        rig.fake.release_all()
        later = Pipeline(rig.new_writer(), ScriptedRenderer(), history)
        resumed = await later.resume(run_id)
        assert resumed.title == SCRIPT["title"]
        scripts = [j for j in rig.fake.submissions
                   if j.input["openai_input"]["response_format"]["json_schema"]["name"]
                   != PLAN_FORMAT]
        assert len(scripts) == 1  # the script job was polled again, not paid for twice
        assert request_key(job.input) in resumed.writer_jobs
        await later.writer.aclose()


async def test_an_openai_compatible_vllm_refusing_max_tokens_is_asked_with_fewer():
    from app.core.writers.openai_compat import OpenAICompatWriter
    from tests.fakes.openai_server import FakeOpenAI

    llm = FakeLLM()
    server = FakeOpenAI(llm)
    await server.start()
    writer = OpenAICompatWriter(server.base_url, "m", retry=FAST_RETRY, sleep=Sleeps())
    try:
        message = context_message(4096, 900, 4096)
        server.inject(400, body={"error": {"message": message, "type": "BadRequestError",
                                           "param": None, "code": 400}})
        await writer.write_script(IDEA, seed=1, style=None)
        [body] = llm.requests
        assert body["max_tokens"] == 4096 - 900 - 16
    finally:
        await writer.aclose()
        await server.close()
