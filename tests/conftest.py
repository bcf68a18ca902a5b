"""Shared fixtures. Every test gets its own STORYREEL_HOME and no cloud settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.settings import VARIABLES


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    for name in (*VARIABLES, "STORYREEL_ENV_FILE"):  # the last: what --env-file sets
        monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("STORYREEL_HOME", str(home))
    yield


@pytest.fixture
def home() -> str:
    return os.environ["STORYREEL_HOME"]


REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "resources" / "samples"
