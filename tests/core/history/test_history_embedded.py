"""The embedded nx-27017 server: in this process, on 127.0.0.1, stopped cleanly."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from app.core.errors import HistoryError
from app.core.history.embedded import EmbeddedServer
from app.core.history.factory import EmbeddedHistory, open_embedded, open_history
from app.core.settings import Settings
from tests.core.history.test_history_contract import make_run, make_shot


def history_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "storyreel-history-db"]


def accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


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


async def test_it_serves_on_loopback_on_a_free_port_and_stops_cleanly(tmp_path):
    server = EmbeddedServer(tmp_path / "db")
    await server.astart()
    try:
        assert server.host == "127.0.0.1" and server.port not in (0, 27017)
        assert accepts(server.port)
        addresses = listening_addresses(server.port)
        assert addresses is None or addresses == {"0100007F"}  # 127.0.0.1 only
        client: AsyncMongoClient = AsyncMongoClient(server.uri, serverSelectionTimeoutMS=2000)
        assert (await client.admin.command("ping"))["ok"] == 1
        await client.close()
        assert (tmp_path / "db" / "history.db").is_file()
        assert len(history_threads()) == 1
    finally:
        await server.astop()

    assert not accepts(server.port)
    assert history_threads() == []
    await server.astop()  # stopping twice is harmless


async def test_stopping_with_a_client_connected_hangs_up_on_it(tmp_path):
    server = EmbeddedServer(tmp_path / "db")
    await server.astart()
    client: AsyncMongoClient = AsyncMongoClient(server.uri, serverSelectionTimeoutMS=300)
    try:
        await client.admin.command("ping")
        await server.astop()
        assert history_threads() == []
        with pytest.raises(Exception, match=r"127\.0\.0\.1"):
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
        port = store.server.port

        await store.server.astop()
        await store.server.astart()

        assert store.server.port == port
        assert len((await store.get_run(run.run_id)).shots) == 1
    finally:
        await store.aclose()
    assert history_threads() == []


async def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "db").write_text("not a folder")

    with pytest.raises(HistoryError, match="cannot create the history folder"):
        await EmbeddedServer(tmp_path / "db").astart()
    assert history_threads() == []


async def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedServer(tmp_path / "db", port=taken.getsockname()[1])

        with pytest.raises(HistoryError, match=r"cannot start: .*address already in use"):
            await server.astart()
    assert history_threads() == []


async def test_open_history_without_a_uri_keeps_history_under_home_db(tmp_path):
    settings = Settings(home=tmp_path)

    store = await open_history(settings)
    try:
        assert isinstance(store, EmbeddedHistory)
        assert store.kind == f"embedded ({tmp_path / 'db'})"
        await store.create_run(make_run(1))
    finally:
        await store.aclose()
    assert history_threads() == []
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
        assert window.server.port != terminal.server.port
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
    assert history_threads() == []
