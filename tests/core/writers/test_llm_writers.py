"""Both cloud writers against fakes of their real protocols: the RunPod queue API
(worker-vllm's OpenAI route) and an OpenAI-compatible chat-completions server.

The JSON, validation and repair logic is shared, so most tests run on both.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from app.core.errors import ConfigError, StageError
from app.core.ideas import from_text
from app.core.models import ShotType
from app.core.runpod import PollPolicy, RetryPolicy, RunPodClient
from app.core.settings import parse
from app.core.writers import Writer
from app.core.writers.llm import (
    PLAN_FORMAT,
    PLAN_SCHEMA,
    SCRIPT_FORMAT,
    Reply,
    ReplyProblem,
    extract_json,
    normalise_shot_type,
    read_completion,
)
from app.core.writers.openai_compat import OpenAICompatWriter
from app.core.writers.runpod_vllm import RunPodVllmWriter
from tests.fakes.chat import PLAN, SCRIPT, FakeLLM, completion
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.runpod_server import FakeRunPod, JobPlan, sdk_error, vllm_handler
from tests.fakes.waiting import eventually

IDEA = from_text("An old lighthouse keeper takes in a runaway boy on the night of a storm.")
FAST_POLL = PollPolicy(first_s=0.002, factor=1.5, max_s=0.01)
FAST_RETRY = RetryPolicy(attempts=4, base_s=0.001, max_s=0.01)


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


class VllmRig:
    kind = "vllm"

    def __init__(self, as_list: bool = False) -> None:
        self.llm = FakeLLM()
        self.fake = FakeRunPod()
        self.fake.handlers["llm1"] = vllm_handler(self.llm, as_list=as_list)

    async def start(self) -> RunPodVllmWriter:
        await self.fake.start()
        client = RunPodClient(self.fake.api_key, base_url=self.fake.base_url, poll=FAST_POLL,
                              retry=FAST_RETRY, rng=random.Random(1))
        self.writer = RunPodVllmWriter(client, "llm1", model="served-model", sleep=no_sleep)
        return self.writer

    async def close(self) -> None:
        await self.writer.aclose()
        await self.fake.close()


class OpenAIRig:
    kind = "openai"

    def __init__(self) -> None:
        self.llm = FakeLLM()
        self.fake = FakeOpenAI(self.llm, api_key="sk-writer-secret")

    async def start(self) -> OpenAICompatWriter:
        await self.fake.start()
        self.writer = OpenAICompatWriter(self.fake.base_url, "llama3.1", "sk-writer-secret",
                                         retry=FAST_RETRY, sleep=no_sleep)
        return self.writer

    async def close(self) -> None:
        await self.writer.aclose()
        await self.fake.close()


@pytest.fixture(params=["vllm", "vllm-list", "openai"])
async def rig(request):
    rig = {"vllm": VllmRig, "vllm-list": lambda: VllmRig(as_list=True),
           "openai": OpenAIRig}[request.param]()
    await rig.start()
    yield rig
    await rig.close()


async def test_writers_implement_the_protocol(rig):
    assert isinstance(rig.writer, Writer)


async def test_write_script_asks_for_a_schema_and_returns_the_script(rig):
    script = await rig.writer.write_script(IDEA, seed=42, style="charcoal sketch")
    assert script.title == SCRIPT["title"]
    assert script.screenplay.startswith("EXT. LIGHTHOUSE - NIGHT")
    assert [c.name for c in script.characters] == ["Mara", "Tom"]
    assert 50 <= len(script.characters[0].description.split()) <= 80

    [body] = rig.llm.requests
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == SCRIPT_FORMAT and fmt["json_schema"]["strict"] is True
    assert body["seed"] == 42 and body["max_tokens"] > 0
    assert body["messages"][0]["role"] == "system"
    assert IDEA.text in body["messages"][1]["content"]
    assert "charcoal sketch" in body["messages"][1]["content"]
    assert "50 to 80 words" in body["messages"][1]["content"]


async def test_plan_scenes_returns_scenes_and_shots_in_order(rig):
    script = await rig.writer.write_script(IDEA, seed=1, style=None)
    plans = await rig.writer.plan_scenes(IDEA, script, seed=1)
    assert [p.scene.index for p in plans] == [1, 2]
    assert plans[0].scene.heading == "EXT. LIGHTHOUSE - NIGHT"
    assert [s.shot_type for s in plans[0].shots] == [ShotType.EXTREME_WIDE, ShotType.MEDIUM]
    assert plans[1].shots[0].dialogue == "MARA: You'll want to shut that door."
    assert plans[1].shots[0].characters == ["Mara"]

    body = rig.llm.requests[-1]
    assert body["response_format"]["json_schema"]["name"] == PLAN_FORMAT
    prompt = body["messages"][1]["content"]
    assert "Cast: Mara, Tom" in prompt and script.screenplay.strip() in prompt
    for t in ShotType:
        assert t.value in prompt


async def test_invalid_json_is_repaired_with_a_short_request(rig):
    rig.llm.script("Sure! Here is the script: {\"title\": oops}")
    script = await rig.writer.write_script(IDEA, seed=1, style=None)
    assert script.title == SCRIPT["title"]
    first, second = rig.llm.requests
    assert len(second["messages"]) == len(first["messages"]) + 2
    assistant, repair = second["messages"][-2:]
    assert assistant == {"role": "assistant",
                         "content": "Sure! Here is the script: {\"title\": oops}"}
    assert repair["role"] == "user" and "not valid JSON" in repair["content"]


async def test_truncated_json_is_asked_again_shorter(rig):
    rig.llm.script(('{"title": "The Last Keeper", "logline": "An old', "length"))
    script = await rig.writer.write_script(IDEA, seed=1, style=None)
    assert script.title == SCRIPT["title"]
    repair = rig.llm.requests[1]["messages"][-1]
    assert "cut off" in repair["content"] and "shorter" in repair["content"]
    # The cut-off reply is not sent back: it would only eat the token budget again.
    assert all(m["role"] != "assistant" for m in rig.llm.requests[1]["messages"])


async def test_a_wrong_shape_is_repaired_with_the_validation_error(rig):
    bad = json.loads(json.dumps(PLAN))
    bad["scenes"][0]["shots"][0]["shot_type"] = "FISHEYE"
    rig.llm.script(json.dumps(SCRIPT), json.dumps(bad))
    script = await rig.writer.write_script(IDEA, seed=1, style=None)
    plans = await rig.writer.plan_scenes(IDEA, script, seed=1)
    assert len(plans) == 2
    repair = rig.llm.requests[2]["messages"][-1]["content"]
    assert "scenes.0.shots.0.shot_type" in repair


async def test_three_bad_replies_fail_the_stage_clearly(rig):
    rig.llm.script("not json", '{"title": ""}', ('{"tit', "length"))
    with pytest.raises(StageError) as caught:
        await rig.writer.write_script(IDEA, seed=1, style=None)
    message = str(caught.value)
    assert "no usable script in 3 tries" in message
    assert "cut off at the token limit" in message
    assert len(rig.llm.requests) == 3


async def test_fenced_json_needs_no_repair(rig):
    rig.llm.script("```json\n" + json.dumps(SCRIPT) + "\n```")
    script = await rig.writer.write_script(IDEA, seed=1, style=None)
    assert script.title == SCRIPT["title"] and len(rig.llm.requests) == 1


async def test_an_empty_plan_is_refused(rig):
    rig.llm.script(json.dumps(SCRIPT), '{"scenes": []}', '{"scenes": []}', '{"scenes": []}')
    script = await rig.writer.write_script(IDEA, seed=1, style=None)
    with pytest.raises(StageError, match="scene plan"):
        await rig.writer.plan_scenes(IDEA, script, seed=1)


# Transport-specific behaviour.


async def test_vllm_job_input_uses_the_openai_route():
    rig = VllmRig()
    await rig.start()
    try:
        await rig.writer.write_script(IDEA, seed=3, style=None)
        [job] = rig.fake.submissions
        assert set(job.input) == {"openai_route", "openai_input"}
        assert job.input["openai_route"] == "/v1/chat/completions"
        assert job.input["openai_input"]["model"] == "served-model"
        assert job.input["openai_input"]["messages"][0]["role"] == "system"
        assert job.policy["executionTimeout"] > 0 and job.policy["ttl"] > 0
    finally:
        await rig.close()


async def test_vllm_failed_job_fails_the_stage_with_its_reason_once_retries_run_out():
    rig = VllmRig()
    await rig.start()
    try:
        # A worker exception names no status: transient, so tried three times in all.
        rig.fake.plan_next(*[JobPlan(outcome="FAILED", error=sdk_error("model not loaded"))] * 3)
        with pytest.raises(StageError, match="model not loaded"):
            await rig.writer.write_script(IDEA, seed=3, style=None)
        assert len(rig.fake.submissions) == 3
    finally:
        await rig.close()


async def test_vllm_cancelling_the_stage_cancels_the_job():
    rig = VllmRig()
    await rig.start()
    try:
        rig.fake.plan_next(JobPlan(hold=True))
        task = asyncio.create_task(rig.writer.write_script(IDEA, seed=3, style=None))
        await eventually(rig.fake.in_progress, what="the job to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        [job] = rig.fake.submissions
        assert rig.fake.cancels == [job.id] and rig.fake.state(job.id) == "CANCELLED"
    finally:
        await rig.close()


async def test_openai_key_is_sent_and_a_refused_key_is_clear():
    rig = OpenAIRig()
    await rig.start()
    try:
        await rig.writer.write_script(IDEA, seed=3, style=None)
        assert rig.fake.auth_headers == ["Bearer sk-writer-secret"]
        assert rig.llm.requests[0]["model"] == "llama3.1"
        rig.fake.api_key = "another"
        with pytest.raises(StageError) as caught:
            await rig.writer.write_script(IDEA, seed=3, style=None)
        assert "WRITER_API_KEY" in str(caught.value) and "refused" in str(caught.value)
        assert "sk-writer-secret" not in str(caught.value)
    finally:
        await rig.close()


async def test_openai_without_a_key_sends_no_authorization():
    async with FakeOpenAI() as fake:
        writer = OpenAICompatWriter(fake.base_url, "llama3.1")
        try:
            await writer.write_script(IDEA, seed=3, style=None)
        finally:
            await writer.aclose()
        assert fake.auth_headers == [None]


async def test_openai_429_and_5xx_are_retried():
    rig = OpenAIRig()
    await rig.start()
    try:
        rig.fake.inject(429, retry_after=0)
        rig.fake.inject(503)
        script = await rig.writer.write_script(IDEA, seed=3, style=None)
        assert script.title == SCRIPT["title"] and rig.fake.requests == 3
        rig.fake.inject(400, body={"error": {"message": "model 'x' not found"}})
        with pytest.raises(StageError, match="model 'x' not found"):
            await rig.writer.write_script(IDEA, seed=3, style=None)
    finally:
        await rig.close()


async def test_openai_server_refusing_json_schema_is_asked_more_plainly():
    rig = OpenAIRig()
    await rig.start()
    try:
        refusal = {"error": {"message": "response_format.type 'json_schema' is unsupported"}}
        rig.fake.inject(400, body=refusal)
        rig.fake.inject(400, body=refusal)
        script = await rig.writer.write_script(IDEA, seed=3, style=None)
        assert script.title == SCRIPT["title"]
        [body] = rig.llm.requests  # the refused requests never reached the model
        assert "response_format" not in body and rig.fake.requests == 3
        # Later requests go straight to the plainer form.
        await rig.writer.plan_scenes(IDEA, script, seed=3)
        assert rig.fake.requests == 4
    finally:
        await rig.close()


# Building from settings.


def test_from_settings(tmp_path: Path):
    settings = parse({"RUNPOD_API_KEY": "rp-key", "RUNPOD_WRITER_ENDPOINT": "abc123",
                      "WRITER_MODEL": "qwen", "WRITER_BASE_URL": "http://127.0.0.1:11434/v1"},
                     home=tmp_path)
    vllm = RunPodVllmWriter.from_settings(settings)
    assert vllm.name == "RunPod vLLM abc123" and vllm.model == "qwen"
    assert vllm.transport.client.base_url == "https://api.runpod.ai/v2"
    compat = OpenAICompatWriter.from_settings(settings)
    assert compat.name == "OpenAI-compatible qwen at 127.0.0.1:11434"
    assert compat.transport.url == "http://127.0.0.1:11434/v1/chat/completions"
    with pytest.raises(ConfigError):
        RunPodVllmWriter.from_settings(parse({}, home=tmp_path))
    with pytest.raises(ConfigError):
        OpenAICompatWriter.from_settings(parse({}, home=tmp_path))


# The pure parts.


def test_read_completion_shapes():
    assert read_completion(completion("hi")).content == "hi"
    assert read_completion([completion("hi", "length")]) == Reply("hi", "length")
    chunks = [{"choices": [{"delta": {"content": "a"}}]},
              {"choices": [{"delta": {"content": "b"}, "finish_reason": "stop"}]}]
    assert read_completion(chunks) == Reply("ab", "stop")
    with pytest.raises(ReplyProblem):
        read_completion({"choices": []})
    with pytest.raises(StageError, match="no such model"):
        read_completion({"error": "no such model"})


def test_extract_json():
    assert extract_json(Reply('{"a": 1}')) == {"a": 1}
    assert extract_json(Reply('<think>hmm {"b": 0}</think>\n{"a": 1}')) == {"a": 1}
    assert extract_json(Reply('Here you go:\n{"a": {"b": 2}}\nEnjoy!')) == {"a": {"b": 2}}
    with pytest.raises(ReplyProblem) as caught:
        extract_json(Reply('{"a": ', "length"))
    assert caught.value.truncated
    with pytest.raises(ReplyProblem, match="empty"):
        extract_json(Reply("   "))


def test_shot_types_are_normalised():
    assert normalise_shot_type("Close-up shot") == "CU"
    assert normalise_shot_type("cu") == "CU"
    assert normalise_shot_type("two shot") == "2S"
    assert normalise_shot_type("over the shoulder") == "OTS"
    assert normalise_shot_type("EXTREME_CLOSE_UP") == "ECU"
    assert normalise_shot_type("fisheye") == "fisheye"


def test_the_plan_schema_is_strict_everywhere():
    def walk(node):
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert set(node["required"]) == set(node["properties"])
            for child in node["properties"].values():
                walk(child)
        if node.get("type") == "array":
            walk(node["items"])

    walk(PLAN_SCHEMA)
    shot = PLAN_SCHEMA["properties"]["scenes"]["items"]["properties"]["shots"]["items"]
    assert shot["properties"]["shot_type"]["enum"] == [t.value for t in ShotType]
