import pytest

from app.core.errors import ConfigError
from app.core.settings import load_settings, parse


def settings(tmp_path, **values):
    return parse(values, home=tmp_path)


def test_nothing_configured_means_every_part_embedded(tmp_path):
    s = settings(tmp_path)
    assert [p.mode for p in s.parts()] == ["embedded"] * 4
    assert s.concurrency == 8
    assert s.mongodb_db == "storyreel"
    assert s.runpod_base_url == "https://api.runpod.ai/v2"


def test_empty_values_count_as_unset(tmp_path):
    s = settings(tmp_path, MONGODB_URI="  ", R2_BUCKET="", RUNPOD_API_KEY="")
    assert [p.mode for p in s.parts()] == ["embedded"] * 4


def test_cloud_parts_are_described_without_secrets(tmp_path):
    s = settings(
        tmp_path,
        MONGODB_URI="mongodb+srv://ada:hunter2@cluster0.example.net/?retryWrites=true",
        RUNPOD_API_KEY="rpa_SECRETKEY",
        RUNPOD_SHOT_ENDPOINT="abc123shots",
        RUNPOD_WRITER_ENDPOINT="vllm-xyz",
        R2_ACCOUNT_ID="0123abcd",
        R2_ACCESS_KEY_ID="AKID",
        R2_SECRET_ACCESS_KEY="r2-secret-value",
        R2_BUCKET="storyreel",
    )
    summary = s.summary()
    assert summary == (
        "Writer: RunPod vLLM vllm-xyz · Renderer: RunPod abc123shots · "
        "Storage: R2 bucket storyreel · History: MongoDB cluster0.example.net / storyreel")
    for secret in ("hunter2", "ada:", "SECRETKEY", "r2-secret-value"):
        assert secret not in summary
        assert secret not in repr(s)
    assert s.r2_endpoint_url == "https://0123abcd.r2.cloudflarestorage.com"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"STORYREEL_CONCURRENCY": "eight"}, "STORYREEL_CONCURRENCY must be a whole number"),
        ({"STORYREEL_CONCURRENCY": "0"}, "STORYREEL_CONCURRENCY must be between 1 and 256"),
        ({"WRITER_BASE_URL": "localhost:11434", "WRITER_MODEL": "m"},
         "WRITER_BASE_URL must be an http:// or https:// URL with a host"),
        ({"WRITER_BASE_URL": "http://127.0.0.1:11434/v1"}, "WRITER_MODEL is not"),
        ({"RUNPOD_ENDPOINT_BASE_URL": "ftp://x"}, "RUNPOD_ENDPOINT_BASE_URL must be an http"),
        ({"RUNPOD_SHOT_ENDPOINT": "abc"}, "RUNPOD_SHOT_ENDPOINT is set but RUNPOD_API_KEY is not"),
        ({"RUNPOD_API_KEY": "k", "RUNPOD_SHOT_ENDPOINT": "https://api.runpod.ai/v2/abc"},
         "RUNPOD_SHOT_ENDPOINT must be a RunPod endpoint id"),
        ({"MONGODB_URI": "localhost:27017"}, "MONGODB_URI must start with mongodb://"),
        ({"MONGODB_DB": "my.db"}, "MONGODB_DB must be a plain database name"),
        ({"R2_BUCKET": "b-1"}, "R2 is partly configured: R2_ENDPOINT_URL or R2_ACCOUNT_ID, "
                               "R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY missing"),
        ({"R2_ENDPOINT_URL": "https://x.example", "R2_ACCESS_KEY_ID": "a",
          "R2_SECRET_ACCESS_KEY": "s", "R2_BUCKET": "Bad_Bucket"},
         "R2_BUCKET must be 3 to 63 lowercase letters"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, values, message):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, **values)
    assert message in str(info.value)


def test_secret_values_never_reach_config_errors(tmp_path):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, MONGODB_URI="postgres://user:pa55word@host")
    assert "pa55word" not in str(info.value)


def test_environment_wins_over_home_env_over_working_directory_env(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    (cwd / ".env").write_text(
        f"STORYREEL_HOME={home}\nMONGODB_DB=from_cwd\nSTORYREEL_CONCURRENCY=3\n"
        "STORYREEL_MAX_ATTEMPTS=5\n")
    (home / ".env").write_text("MONGODB_DB=from_home\nSTORYREEL_CONCURRENCY=4\n")
    s = load_settings({"STORYREEL_CONCURRENCY": "6"}, cwd=cwd)
    assert s.home == home  # STORYREEL_HOME itself may come from ./.env
    assert s.concurrency == 6
    assert s.mongodb_db == "from_home"
    assert s.max_attempts == 5


def test_missing_env_files_are_fine(tmp_path):
    s = load_settings({"STORYREEL_HOME": str(tmp_path / "nowhere")}, cwd=tmp_path)
    assert s.home == tmp_path / "nowhere"
    assert s.blobs_dir == tmp_path / "nowhere" / "blobs"


def test_a_bad_value_in_an_env_file_names_the_variable(tmp_path):
    (tmp_path / ".env").write_text("STORYREEL_CONCURRENCY=lots\n")
    with pytest.raises(ConfigError, match="STORYREEL_CONCURRENCY must be a whole number"):
        load_settings({"STORYREEL_HOME": str(tmp_path)}, cwd=tmp_path)
