"""The data folder is private: folders 0700 and the log 0600, whatever the umask, and
folders an older version made looser are tightened at start."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from app.core.files import PrivateRotatingFileHandler, secure_home
from app.core.services import open_services
from app.core.settings import load_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_open_services_makes_the_data_folders_private(home, loose_umask, monkeypatch):
    root = Path(home) / "fresh"
    monkeypatch.setenv("STORYREEL_HOME", str(root))
    services = await open_services(load_settings())
    try:
        await services.store.check()
    finally:
        await services.aclose()
    for folder in (root, root / "blobs", root / "cache", root / "logs", root / "db"):
        assert mode(folder) == 0o700, folder


def test_loose_folders_and_logs_from_before_are_tightened(tmp_path, loose_umask):
    for name in ("blobs", "cache", "logs", "db"):
        (tmp_path / name).mkdir(mode=0o755)
    log = tmp_path / "logs" / "storyreel.log"
    log.write_text("old")
    log.chmod(0o644)
    tmp_path.chmod(0o755)
    secure_home(tmp_path)
    for name in ("blobs", "cache", "logs", "db"):
        assert mode(tmp_path / name) == 0o700, name
    assert mode(tmp_path) == 0o700
    assert mode(log) == 0o600


def test_the_log_and_its_rollovers_are_0600(tmp_path, loose_umask):
    handler = PrivateRotatingFileHandler(tmp_path / "storyreel.log", maxBytes=200, backupCount=2)
    logger = logging.getLogger("test.private.log")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for n in range(20):
            logger.warning("line %d with a title in it", n)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(tmp_path.glob("storyreel.log*"))
    assert len(files) == 3
    assert {mode(f) for f in files} == {0o600}
