"""Issue 14, item 3: a password inside WRITER_BASE_URL reaches no text.

The CLI runs as a process against the OpenAI-compatible fake (on its own thread),
with ``WRITER_BASE_URL=http://bob:<password>@127.0.0.1:<port>/v1``. The password
is sent as HTTP Basic auth, and appears nowhere: not in ``doctor``, the progress
lines, the log lines (``-v``), ``show --json``, ``history --json``, an export, or
any file of the data folder (the embedded history's database among them).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.fakes.openai_server import FakeOpenAI
from tests.integration.support import BackgroundRunPod, json_lines, storyreel

PASSWORD = "Hunter2/pw@x"  # a / and an @, as a MongoDB or proxy password may hold
IN_URL = "Hunter2%2Fpw%40x"
MODEL = "fake-llm"


class ModelsOpenAI(FakeOpenAI):
    """The OpenAI fake with ``GET /v1/models`` (what doctor asks), recording auth too."""

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.get("/v1/models", self._models)]

    async def _models(self, request: web.Request) -> web.Response:
        self.auth_headers.append(request.headers.get("Authorization"))
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})


@pytest.fixture
def server() -> Iterator[BackgroundRunPod]:
    """The fake served from a thread of its own (``BackgroundRunPod`` serves any fake)."""
    background = BackgroundRunPod(ModelsOpenAI())
    background.start()
    try:
        yield background
    finally:
        background.stop()


def writer_env(server: BackgroundRunPod, **more: str) -> dict[str, str]:
    return {"WRITER_BASE_URL": f"http://bob:{IN_URL}@127.0.0.1:{server.fake.port}/v1",
            "WRITER_MODEL": MODEL, **more}


def assert_no_password(text: str) -> None:
    for secret in (PASSWORD, IN_URL, "bob:", "Hunter2"):
        assert secret not in text


BASIC = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()


def test_a_url_password_is_sent_as_basic_auth_and_shown_nowhere(server, home, tmp_path):
    env = writer_env(server)
    shown = f"127.0.0.1:{server.fake.port}"

    doctor = storyreel("doctor", env=env)
    assert doctor.returncode == 0, doctor.stderr
    assert f"OpenAI-compatible {MODEL} at {shown}: reachable" in doctor.stdout
    doctor_json = storyreel("doctor", "--json", env=env)
    assert json.loads(doctor_json.stdout)["ok"] is True
    assert server.fake.auth_headers == [BASIC, BASIC]

    server.call(lambda: server.fake.inject(503, retry_after=0))  # a retry: a log line
    run = storyreel("-v", "run", "--text", "A lighthouse keeper finds a boat.", "--json",
                    "--max-shots", "2", env=env)
    assert run.returncode == 0, run.stderr
    assert f"writer: http://{shown}: HTTP 503" in run.stderr  # the log line, reduced
    [done] = json_lines(run.stdout)

    echo = f"unknown route http://bob:{IN_URL}@127.0.0.1:{server.fake.port}/v1/chat/completions"
    server.call(lambda: server.fake.inject(400, body={"error": {"message": echo}}))
    failed = storyreel("run", "--text", "A fox steals the moon.", "--json", env=env)
    assert failed.returncode == 1
    [bad] = json_lines(failed.stdout)
    assert bad["status"] == "failed" and f"http://{shown}" in bad["error"]

    out = tmp_path / "run.json"
    texts = [doctor.stdout, doctor.stderr, doctor_json.stdout, doctor_json.stderr,
             run.stdout, run.stderr, failed.stdout, failed.stderr]
    for args in (("show", done["run_id"], "--json"), ("show", bad["run_id"], "--json"),
                 ("history", "--json"), ("export", done["run_id"], "--format", "json",
                                         "--out", str(out))):
        result = storyreel(*args, env=env)
        assert result.returncode == 0, result.stderr
        texts += [result.stdout, result.stderr]
    exported = out.read_text()
    assert f"OpenAI-compatible {MODEL} at {shown}" in exported  # the stored writer field
    texts.append(exported)
    for text in texts:
        assert_no_password(text)
    for path in Path(home).rglob("*"):  # the history's database, logs, cache, blobs
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and IN_URL.encode() not in data, path


def test_a_url_password_and_a_writer_key_together_are_refused_clearly(server, home):
    result = storyreel("doctor", env=writer_env(server, WRITER_API_KEY="sk-KEY-NEVER-SHOWN"))
    assert result.returncode == 2
    assert result.stderr.startswith("storyreel: WRITER_BASE_URL holds a user name and "
                                    "password and WRITER_API_KEY is set too")
    assert_no_password(result.stdout + result.stderr)
    assert "sk-KEY-NEVER-SHOWN" not in result.stdout + result.stderr
    assert server.call(lambda: server.fake.requests) == 0 and server.fake.auth_headers == []
