"""The settings dialog's .env file: changes only what it is asked to, reads back exactly."""

from __future__ import annotations

import os
import stat
import sys

import pytest
from dotenv import dotenv_values

from app.core import envfile
from app.core.errors import ConfigError
from app.core.settings import load_settings

TRICKY = [
    "plain",
    "with spaces  inside ",
    "quote ' and \" both",
    r"back\slash and \n not a newline \\ two",
    "hash # not a comment",
    "ünïcödé ✓ 字",
    "=equals=",
    "$HOME and $ alone",
    "mongodb+srv://user:p@ss'w\"ord@cluster0.example.net/?retryWrites=true&w=majority",
]


@pytest.mark.parametrize("value", TRICKY)
def test_values_read_back_exactly_through_dotenv(tmp_path, value):
    path = tmp_path / ".env"
    envfile.update(path, {"WRITER_API_KEY": value})
    assert dotenv_values(path)["WRITER_API_KEY"] == value
    assert envfile.read_values(path) == {"WRITER_API_KEY": value}


def test_unknown_lines_comments_and_order_are_kept(tmp_path):
    path = tmp_path / ".env"
    original = (
        "# my settings\n"
        "OTHER_TOOL=keep me   # trailing comment\n"
        "\n"
        "export RUNPOD_API_KEY=old\n"
        "this line is not valid dotenv\n"
        "R2_BUCKET=gone\n"
        "RUNPOD_API_KEY=duplicate-would-win\n"
        "LAST=1"
    )
    path.write_text(original, encoding="utf-8")
    envfile.update(path, {"RUNPOD_API_KEY": "new-key", "R2_BUCKET": None, "MONGODB_DB": "reels"})
    text = path.read_text(encoding="utf-8")
    assert text == (
        "# my settings\n"
        "OTHER_TOOL=keep me   # trailing comment\n"
        "\n"
        "RUNPOD_API_KEY='new-key'\n"
        "this line is not valid dotenv\n"
        "LAST=1\n"
        "MONGODB_DB='reels'\n"
    )
    values = dotenv_values(path)
    assert values["OTHER_TOOL"] == "keep me"
    assert values["RUNPOD_API_KEY"] == "new-key"
    assert "R2_BUCKET" not in values


def test_empty_value_removes_the_variable(tmp_path):
    path = tmp_path / ".env"
    envfile.update(path, {"WRITER_MODEL": "llama", "WRITER_BASE_URL": "http://127.0.0.1:1/v1"})
    envfile.update(path, {"WRITER_MODEL": "", "WRITER_BASE_URL": None})
    assert envfile.read_values(path) == {}


def test_missing_folder_is_created_and_the_file_is_private(tmp_path):
    path = tmp_path / "new" / "home" / ".env"
    envfile.update(path, {"RUNPOD_API_KEY": "secret"})
    assert path.is_file()
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != ".env"]  # no temp file left


def test_settings_see_what_the_dialog_saved(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("STORYREEL_HOME", str(home))
    envfile.update(home / ".env", {"STORYREEL_CONCURRENCY": "3", "MONGODB_DB": "reels"})
    settings = load_settings()
    assert settings.concurrency == 3
    assert settings.mongodb_db == "reels"


@pytest.mark.parametrize("value", ["two\nlines", "nul\x00", "expand ${HOME}"])
def test_values_that_cannot_round_trip_are_refused_without_showing_them(tmp_path, value):
    path = tmp_path / ".env"
    with pytest.raises(ConfigError) as caught:
        envfile.update(path, {"RUNPOD_API_KEY": value})
    assert "RUNPOD_API_KEY" in str(caught.value)
    assert value not in str(caught.value)
    assert not path.exists()


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ConfigError):
        envfile.update(tmp_path / ".env", {"NOT VALID": "x"})


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("KEEP=1\n", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="No space left"):
        envfile.update(path, {"MONGODB_DB": "x"})
    assert path.read_text(encoding="utf-8") == "KEEP=1\n"
    assert [p.name for p in tmp_path.iterdir()] == [".env"]


def test_reading_a_missing_file_gives_nothing(tmp_path):
    assert envfile.read_values(tmp_path / ".env") == {}
