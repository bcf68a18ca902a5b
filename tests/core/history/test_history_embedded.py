"""The embedded nx-27017 server: a child process on a Unix socket only its user can reach
(127.0.0.1 on Windows), stopped cleanly, and never outliving the app that started it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from app.core.errors import HistoryError
from app.core.history.embedded import PROCESS_NAME, UNIX_SOCKETS, EmbeddedServer
from app.core.history.factory import EmbeddedHistory, open_embedded, open_history
from app.core.settings import Settings
from tests.core.history.test_history_contract import make_run, make_shot


def history_servers() -> list[BaseProcess]:
    """The embedded servers this process has running."""
    return [p for p in multiprocessing.active_children() if p.name == PROCESS_NAME]


def gone(pid: int) -> bool:
    """No such process any more (or only its exit status, waiting to be collected)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the system
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_until(check, *, within_s: float = 30.0) -> bool:
    """Poll ``check`` until it holds; a generous bound, so a slow machine does not fail."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def accepts(where: int | Path) -> bool:
    """Something listens at this port of 127.0.0.1, or at this socket path."""
    if isinstance(where, int):
        with socket.socket() as s:
            s.settimeout(1.0)
            return s.connect_ex(("127.0.0.1", where)) == 0
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(1.0)
        return s.connect_ex(str(where)) == 0


def address(server: EmbeddedServer) -> int | Path:
    return server.socket_path if server.unix else server.port


def tcp_socket_inodes(pid: int) -> set[str] | None:
    """The inodes of the TCP sockets process ``pid`` has open, from Linux's tables (None
    where there are no such tables)."""
    if not Path(f"/proc/{pid}/fd").exists() or not Path("/proc/net/tcp").exists():
        return None
    mine = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    tcp = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if Path(table).exists():
            tcp |= {line.split()[9] for line in Path(table).read_text().splitlines()[1:]}
    return mine & tcp


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


unix_only = pytest.mark.skipif(not UNIX_SOCKETS, reason="Windows serves on 127.0.0.1")


def listening_addresses(port: int) -> set[str] | None:
    """Local addresses with a listening socket on ``port``, from Linux's table (None
    where there is no such table)."""
    if not Path("/proc/net/tcp").exists():
        return None
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@unix_only
async def test_it_serves_on_a_private_unix_socket_and_stops_cleanly(tmp_path):
    server = EmbeddedServer(tmp_path / "db")
    await server.astart()
    pid = server.pid
    sock = server.socket_path
    try:
        assert pid is not None and pid != os.getpid()  # a process of its own: not our GIL
        assert sock is not None and sock.parent == tmp_path / "db"
        assert sock.name.startswith("history-") and sock.name.endswith(".sock")
        assert stat.S_ISSOCK(sock.stat().st_mode) and mode(sock) == 0o600
        assert mode(tmp_path / "db") == 0o700 and mode(tmp_path / "db" / "history.db") == 0o600
        assert server.uri == (f"mongodb://{str(sock).replace('/', '%2F')}"
                              "/?directConnection=true")
        assert tcp_socket_inodes(pid) in (None, set())  # no TCP port at all
        client: AsyncMongoClient = AsyncMongoClient(server.uri, serverSelectionTimeoutMS=2000)
        assert (await client.admin.command("ping"))["ok"] == 1
        await client.close()
        assert [p.pid for p in history_servers()] == [pid]
    finally:
        await server.astop()

    assert not sock.exists()  # the socket goes with its server
    assert history_servers() == [] and gone(pid) and server.pid is None
    await server.astop()  # stopping twice is harmless


async def test_on_tcp_as_on_windows_it_serves_on_loopback_on_a_free_port(tmp_path):
    server = EmbeddedServer(tmp_path / "db", unix=False)
    await server.astart()
    pid = server.pid
    try:
        assert server.host == "127.0.0.1" and server.port not in (0, 27017)
        assert accepts(server.port)
        addresses = listening_addresses(server.port)
        assert addresses is None or addresses == {"0100007F"}  # 127.0.0.1 only
        inodes = tcp_socket_inodes(pid)  # what the Unix test above finds empty
        assert inodes is None or len(inodes) == 1
        client: AsyncMongoClient = AsyncMongoClient(server.uri, serverSelectionTimeoutMS=2000)
        assert (await client.admin.command("ping"))["ok"] == 1
        await client.close()
        assert (tmp_path / "db" / "history.db").is_file()
    finally:
        await server.astop()

    assert not accepts(server.port)
    assert history_servers() == [] and pid is not None and gone(pid)


async def test_stopping_with_a_client_connected_hangs_up_on_it(tmp_path):
    server = EmbeddedServer(tmp_path / "db")
    await server.astart()
    client: AsyncMongoClient = AsyncMongoClient(server.uri, serverSelectionTimeoutMS=300)
    try:
        await client.admin.command("ping")
        await server.astop()
        assert history_servers() == []
        with pytest.raises(Exception, match=r"history-.*\.sock|127\.0\.0\.1"):
            await client.admin.command("ping")
    finally:
        await client.close()
        await server.astop()


async def test_history_survives_a_restart_and_clients_reconnect(tmp_path):
    store = await open_embedded(tmp_path / "db")
    try:
        run = make_run(1)
        await store.create_run(run)
        await store.upsert_shot(make_shot(run, 1, 1))
        where = store.server.uri

        await store.server.astop()
        await store.server.astart()

        assert store.server.uri == where
        assert len((await store.get_run(run.run_id)).shots) == 1
    finally:
        await store.aclose()
    assert history_servers() == []


async def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "db").write_text("not a folder")

    with pytest.raises(HistoryError, match="cannot create the history folder"):
        await EmbeddedServer(tmp_path / "db").astart()
    assert history_servers() == []


async def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedServer(tmp_path / "db", port=taken.getsockname()[1], unix=False)

        with pytest.raises(HistoryError, match=r"cannot start: .*address already in use"):
            await server.astart()
    assert history_servers() == []


async def test_open_history_without_a_uri_keeps_history_under_home_db(tmp_path):
    settings = Settings(home=tmp_path)

    store = await open_history(settings)
    try:
        assert isinstance(store, EmbeddedHistory)
        assert store.kind == f"embedded ({tmp_path / 'db'})"
        await store.create_run(make_run(1))
    finally:
        await store.aclose()
    assert history_servers() == []
    assert (tmp_path / "db" / "history.db").is_file()

    again = await open_history(settings)  # the next process finds it
    try:
        assert [r.run_id for r in await again.list_runs()] == [make_run(1).run_id]
    finally:
        await again.aclose()


async def test_two_apps_on_one_data_folder_see_each_others_runs(tmp_path):
    # The window and a `storyreel history` in a terminal: two servers, one SQLite file.
    window = await open_embedded(tmp_path / "db")
    terminal = await open_embedded(tmp_path / "db")
    try:
        assert window.server.uri != terminal.server.uri
        run = make_run(1)
        await window.create_run(run)
        await window.upsert_shot(make_shot(run, 1, 1))
        assert [r.run_id for r in await terminal.list_runs()] == [run.run_id]

        await terminal.update_run(run.run_id, {"title": "Renamed"})
        await terminal.upsert_shot(make_shot(run, 1, 2))
        got = await window.get_run(run.run_id)
    finally:
        await terminal.aclose()
        await window.aclose()

    assert got.title == "Renamed" and len(got.shots) == 2
    assert history_servers() == []


PARENT = """
import sys, time
from pathlib import Path
from app.core.history.embedded import EmbeddedServer

server = EmbeddedServer(Path(sys.argv[1]))
server.start()
print(server.pid, server.socket_path or server.port, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_the_server_ends_with_its_app_even_a_killed_one(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "db")],
                              cwd=Path(__file__).resolve().parents[3], text=True,
                              stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "the parent did not start its server"
        pid_text, where_text = line.split()
        pid = int(pid_text)
        where = int(where_text) if where_text.isdigit() else Path(where_text)
        assert accepts(where) and not gone(pid)

        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)

        assert wait_until(lambda: gone(pid)), "the server outlived its killed parent"
        assert not accepts(where)
        assert parent.stdout.read() == ""  # the server never writes to the app's stdout
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_server_that_cannot_open_its_database_says_why(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "history.db").write_bytes(b"not SQLite" * 500)

    with pytest.raises(HistoryError, match=r"server cannot start: .*file is not a database"):
        EmbeddedServer(tmp_path / "db").start()
    assert history_servers() == []


def test_a_server_that_died_is_started_again(tmp_path):
    server = EmbeddedServer(tmp_path / "db")
    server.start()
    try:
        first = server.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not server.running)

        server.start()

        assert server.pid not in (None, first) and accepts(address(server))
    finally:
        server.stop()
    assert history_servers() == []
