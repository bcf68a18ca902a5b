"""Issue 14, item 1: the embedded history is reachable only by its user.

Another local user (``nobody``) used to list, rewrite and add runs through the
server's 127.0.0.1 port. Now the server listens on a Unix socket in a 0700 folder,
and that user's connection is refused by the system, while the owner's works.

The other user is a forked child of this test that switches to ``nobody`` (tests
run as root here, and ``nobody`` may not be able to run this interpreter from its
path); what it needs is imported before the fork.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from app.core.history.embedded import (
    MAX_SOCKET_PATH,
    UNIX_SOCKETS,
    EmbeddedServer,
    socket_name,
)
from app.core.history.factory import open_embedded
from tests.core.history.test_history_contract import make_run
from tests.core.history.test_history_embedded import history_servers

pytestmark = pytest.mark.skipif(not UNIX_SOCKETS, reason="Windows serves on 127.0.0.1")


def another_user() -> pwd.struct_passwd:
    if not hasattr(os, "fork") or os.geteuid() != 0:
        pytest.skip("acting as another user needs root (to switch to it) and fork")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user 'nobody' to act as")


def as_user(user: pwd.struct_passwd, action: Callable[[], str]) -> str:
    """What ``action`` returns, or the exception it raises as "Type: message", when run
    in a child process switched to ``user``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no return from here
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            try:
                result = action()
            except BaseException as exc:  # everything goes back to the test
                result = f"{type(exc).__name__}: {exc}"
            os.write(write, result.encode()[:60000])
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def raw_connect(where: Path | tuple[str, int]) -> Callable[[], str]:
    def connect() -> str:
        family = socket.AF_UNIX if isinstance(where, Path) else socket.AF_INET
        with socket.socket(family) as s:
            s.settimeout(5.0)
            s.connect(str(where) if isinstance(where, Path) else where)
        return "connected"

    return connect


def titles_through(uri: str) -> Callable[[], str]:
    """The review's attack: read every run's title through the server."""

    def read() -> str:
        client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=3000)
        try:
            return "read: " + ",".join(d["title"] for d in client.storyreel.runs.find({}))
        finally:
            client.close()

    return read


def seed_a_run(uri: str) -> None:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        client.storyreel.runs.insert_one({"run_id": "r1", "title": "A private title"})
    finally:
        client.close()


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A folder every user may enter (pytest's own is closed to others): what keeps the
    other user out must then be ours."""
    folder = Path(tempfile.mkdtemp(prefix="storyreel-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_another_user_is_refused_while_the_owner_connects(open_tmp):
    user = another_user()
    server = EmbeddedServer(open_tmp / "db")
    server.start()
    try:
        assert server.socket_path is not None
        seed_a_run(server.uri)  # the owner connects (and warms up what the child needs)
        assert titles_through(server.uri)() == "read: A private title"

        way_in = as_user(user, lambda: ",".join(os.listdir(open_tmp)))
        refused = as_user(user, raw_connect(server.socket_path))
        attack = as_user(user, titles_through(server.uri))
    finally:
        server.stop()

    assert way_in == "db"  # the other user gets as far as the db folder
    assert refused.startswith("PermissionError") and "Permission denied" in refused
    assert "Permission denied" in attack and "A private title" not in attack
    assert history_servers() == []


def test_on_tcp_another_user_could_read_history(tmp_path):
    """The same attack on the server as it was (127.0.0.1, as still on Windows): it works,
    so the refusal above is the socket's doing, not the test's."""
    user = another_user()
    server = EmbeddedServer(tmp_path / "db", unix=False)
    server.start()
    try:
        seed_a_run(server.uri)
        assert as_user(user, raw_connect((server.host, server.port))) == "connected"
        assert as_user(user, titles_through(server.uri)) == "read: A private title"
    finally:
        server.stop()


def test_the_socket_and_the_database_are_private(tmp_path):
    server = EmbeddedServer(tmp_path / "db")
    server.start()
    try:
        assert server.socket_path is not None and server.socket_path.parent == tmp_path / "db"
        seed_a_run(server.uri)
        files = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in (tmp_path / "db").iterdir()}
    finally:
        server.stop()

    assert stat.S_IMODE((tmp_path / "db").stat().st_mode) == 0o700
    assert files.pop(server.socket_path.name) == 0o600
    assert files and set(files.values()) == {0o600}  # history.db and SQLite's -wal, -shm
    assert "history.db" in files


def test_an_older_open_folder_and_database_become_private(tmp_path):
    folder = tmp_path / "db"
    server = EmbeddedServer(folder)
    server.start()
    server.stop()
    folder.chmod(0o755)  # as an earlier version left them
    (folder / "history.db").chmod(0o644)

    server.start()
    server.stop()

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "history.db").stat().st_mode) == 0o600


def deep_folder(tmp_path: Path) -> Path:
    folder = tmp_path
    while len(os.fsencode(folder / "db" / socket_name())) <= MAX_SOCKET_PATH:
        folder = folder / "a-rather-long-folder-name"
    return folder / "db"


def test_a_long_data_folder_puts_the_socket_in_the_private_runtime_folder(
        tmp_path, open_tmp, monkeypatch):
    user = another_user() if os.geteuid() == 0 and hasattr(os, "fork") else None
    runtime = open_tmp / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    server = EmbeddedServer(deep_folder(tmp_path))
    server.start()
    try:
        sock = server.socket_path
        assert sock is not None and sock.parent == runtime / "storyreel"
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        seed_a_run(server.uri)
        assert titles_through(server.uri)() == "read: A private title"
        if user is not None:
            runtime.chmod(0o711)  # even with the way in open, the folder of ours is closed
            assert "Permission denied" in as_user(user, raw_connect(sock))
    finally:
        server.stop()
    assert not sock.exists()


def test_an_untrusted_runtime_folder_is_passed_over_for_the_temp_folder(
        tmp_path, open_tmp, monkeypatch):
    runtime = tmp_path / "shared-run"
    runtime.mkdir()
    runtime.chmod(0o777)  # anyone could put things there
    temp = open_tmp  # a short path, as /tmp is
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    server = EmbeddedServer(deep_folder(tmp_path))
    server.start()
    try:
        sock = server.socket_path
        assert sock is not None and sock.parent == temp / f"storyreel-{os.geteuid()}"
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        seed_a_run(server.uri)
    finally:
        server.stop()
    assert not (runtime / "storyreel").exists()


def test_a_temp_folder_that_is_a_symlink_or_open_to_others_is_not_used(
        tmp_path, open_tmp, monkeypatch):
    temp = open_tmp  # a short path, as /tmp is
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (temp / f"storyreel-{os.geteuid()}").symlink_to(elsewhere)  # planted by someone else
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    servers = [EmbeddedServer(deep_folder(tmp_path))]
    try:
        servers[0].start()
        first = servers[0].socket_path
        assert first is not None and first.parent.parent == temp
        assert first.parent.name.startswith("storyreel-") and not first.parent.is_symlink()
        assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
        assert list(elsewhere.iterdir()) == []
        seed_a_run(servers[0].uri)

        (temp / f"storyreel-{os.geteuid()}").unlink()
        (temp / f"storyreel-{os.geteuid()}").mkdir(mode=0o755)
        os.chmod(temp / f"storyreel-{os.geteuid()}", 0o755)  # open to others: not used
        servers.append(EmbeddedServer(deep_folder(tmp_path)))
        servers[1].start()
        second = servers[1].socket_path
        assert second is not None and second.parent.parent == temp
        assert second.parent != temp / f"storyreel-{os.geteuid()}"
        assert stat.S_IMODE(second.parent.stat().st_mode) == 0o700
    finally:
        for server in servers:
            server.stop()


async def test_the_address_is_not_logged_above_debug(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        store = await open_embedded(tmp_path / "db")
        try:
            await store.create_run(make_run(1))
            where = store.server.socket_path
        finally:
            await store.aclose()

    assert where is not None
    assert where.name not in caplog.text and "sock" not in caplog.text
    assert "127.0.0.1" not in caplog.text
