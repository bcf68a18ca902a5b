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
        ({"WRITER_BASE_URL": "http://[::1:8000/v1", "WRITER_MODEL": "m"},
         "WRITER_BASE_URL must be an http:// or https:// URL with a host"),
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


def test_environment_wins_over_the_named_file_over_home_env(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    folder.mkdir()
    (folder / "storyreel.env").write_text(
        f"STORYREEL_HOME={home}\nMONGODB_DB=from_named\nSTORYREEL_CONCURRENCY=3\n")
    (home / ".env").write_text("MONGODB_DB=from_home\nSTORYREEL_CONCURRENCY=4\n"
                               "STORYREEL_MAX_ATTEMPTS=5\n")
    s = load_settings({"STORYREEL_CONCURRENCY": "6"}, env_file=folder / "storyreel.env")
    assert s.home == home  # STORYREEL_HOME itself may come from the named file
    assert s.concurrency == 6
    assert s.mongodb_db == "from_named"
    assert s.max_attempts == 5
    assert s.sources == ("environment", f"{folder / 'storyreel.env'} (--env-file)",
                         str(home / ".env"))


def test_the_named_file_may_come_from_the_environment(tmp_path):
    named = tmp_path / "named.env"
    named.write_text("MONGODB_DB=named\n")
    s = load_settings({"STORYREEL_HOME": str(tmp_path / "home"),
                       "STORYREEL_ENV_FILE": str(named)})
    assert s.mongodb_db == "named"
    assert f"{named} (--env-file)" in s.sources


def test_a_named_file_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"--env-file .*nope\.env: no such file"):
        load_settings({"STORYREEL_HOME": str(tmp_path)}, env_file=tmp_path / "nope.env")


def test_the_working_directory_env_is_not_read(tmp_path, monkeypatch):
    """A downloaded folder's .env must not redirect the keys of the data folder's .env."""
    home, folder = tmp_path / "home", tmp_path / "downloaded"
    home.mkdir()
    folder.mkdir()
    (home / ".env").write_text("RUNPOD_API_KEY=rpa_SECRET\n")
    (folder / ".env").write_text(f"STORYREEL_HOME={tmp_path / 'elsewhere'}\n"
                                 "RUNPOD_ENDPOINT_BASE_URL=https://evil.example/v2\n"
                                 "MONGODB_URI=mongodb://evil.example\n")
    monkeypatch.chdir(folder)
    s = load_settings({"STORYREEL_HOME": str(home)})
    assert s.runpod_base_url == "https://api.runpod.ai/v2"
    assert s.mongodb_uri is None
    assert s.sources == ("environment", str(home / ".env"))
    monkeypatch.delenv("STORYREEL_HOME", raising=False)
    assert load_settings({}).home != tmp_path / "elsewhere"


def test_env_files_do_not_expand_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_SECRET")
    (tmp_path / ".env").write_text("WRITER_BASE_URL=https://x.example/${GITHUB_TOKEN}/v1\n"
                                   "WRITER_MODEL=m\n")
    s = load_settings({"STORYREEL_HOME": str(tmp_path), "GITHUB_TOKEN": "ghp_SECRET"})
    assert s.writer_base_url == "https://x.example/${GITHUB_TOKEN}/v1"


def test_missing_env_files_are_fine(tmp_path):
    s = load_settings({"STORYREEL_HOME": str(tmp_path / "nowhere")})
    assert s.home == tmp_path / "nowhere"
    assert s.blobs_dir == tmp_path / "nowhere" / "blobs"
    assert s.sources == ("environment",)


def test_a_bad_value_in_an_env_file_names_the_variable(tmp_path):
    (tmp_path / ".env").write_text("STORYREEL_CONCURRENCY=lots\n")
    with pytest.raises(ConfigError, match="STORYREEL_CONCURRENCY must be a whole number"):
        load_settings({"STORYREEL_HOME": str(tmp_path)})


R2 = {"R2_ACCESS_KEY_ID": "AKID", "R2_SECRET_ACCESS_KEY": "r2-secret", "R2_BUCKET": "reels"}


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"RUNPOD_API_KEY": "k", "RUNPOD_ENDPOINT_BASE_URL": "http://evil.example/v2"},
         "RUNPOD_ENDPOINT_BASE_URL"),
        ({"RUNPOD_API_KEY": "k", "RUNPOD_ENDPOINT_BASE_URL": "http://10.0.0.5:8000/v2"},
         "RUNPOD_ENDPOINT_BASE_URL"),
        ({"WRITER_BASE_URL": "http://gpu.lan:8000/v1", "WRITER_MODEL": "m",
          "WRITER_API_KEY": "k"}, "WRITER_BASE_URL"),
        ({"WRITER_BASE_URL": "http://bob:pw@gpu.lan:8000/v1", "WRITER_MODEL": "m"},
         "WRITER_BASE_URL"),
        # an unescaped @ in the password: every reading of the host must be loopback
        ({"WRITER_BASE_URL": "http://bob:p@127.0.0.1@evil.example/v1", "WRITER_MODEL": "m"},
         "WRITER_BASE_URL"),
        ({"R2_ENDPOINT_URL": "http://minio.lan:9000", **R2}, "R2_ENDPOINT_URL"),
    ],
)
def test_keys_are_refused_over_plain_http_to_another_host(tmp_path, values, name):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, **values)
    message = str(info.value)
    assert message.startswith(f"{name} is plain http:// to another computer")
    for value in values.values():
        if value not in ("m", "k"):
            assert value not in message


@pytest.mark.parametrize(
    "values",
    [
        {"RUNPOD_API_KEY": "k", "RUNPOD_ENDPOINT_BASE_URL": "http://127.0.0.2:8000/v2"},
        {"RUNPOD_API_KEY": "k", "RUNPOD_ENDPOINT_BASE_URL": "https://proxy.example/v2"},
        {"RUNPOD_ENDPOINT_BASE_URL": "http://evil.example/v2"},  # no key: nothing to send
        {"WRITER_BASE_URL": "http://localhost:11434/v1", "WRITER_MODEL": "m",
         "WRITER_API_KEY": "k"},
        {"WRITER_BASE_URL": "http://[::1]:11434/v1", "WRITER_MODEL": "m", "WRITER_API_KEY": "k"},
        {"WRITER_BASE_URL": "http://gpu.lan:8000/v1", "WRITER_MODEL": "m"},  # no key
        {"R2_ENDPOINT_URL": "http://127.0.0.1:9000", **R2},
    ],
)
def test_plain_http_is_accepted_to_loopback_or_without_a_key(tmp_path, values):
    settings(tmp_path, **values)


def test_url_credentials_are_kept_apart_from_the_writer_url(tmp_path):
    s = settings(tmp_path, WRITER_BASE_URL="https://bob:p%40ss%2Fw@llm.example:8443/v1",
                 WRITER_MODEL="qwen")
    assert s.writer_base_url == "https://llm.example:8443/v1"
    assert s.writer_user == "bob"
    assert s.writer_password.get_secret_value() == "p@ss/w"
    assert s.parts()[0].detail == "OpenAI-compatible qwen at llm.example:8443"
    assert "p%40ss" not in repr(s) and "p@ss" not in repr(s)


def test_url_credentials_and_a_writer_key_together_are_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, WRITER_BASE_URL="https://bob:hunter2@llm.example/v1",
                 WRITER_MODEL="qwen", WRITER_API_KEY="sk-SECRET")
    message = str(info.value)
    assert "WRITER_BASE_URL holds a user name and password and WRITER_API_KEY is set" in message
    assert "hunter2" not in message and "sk-SECRET" not in message


@pytest.mark.parametrize("name", ["RUNPOD_ENDPOINT_BASE_URL", "R2_ENDPOINT_URL"])
def test_credentials_in_other_urls_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match=f"{name} must not hold a user name or password"):
        settings(tmp_path, **{name: "https://bob:hunter2@host.example", **R2})


@pytest.mark.parametrize("password", ["pa/ss", "pa@ss", "pa:ss", "p/a@s:s"])
def test_mongodb_passwords_never_reach_the_summary(tmp_path, password):
    s = settings(tmp_path, MONGODB_URI=f"mongodb://bob:{password}@db1.example:27017,"
                                       f"db2.example/?tls=true&replicaSet=rs0")
    assert s.parts()[3].detail == "MongoDB db1.example:27017,db2.example / storyreel"
    assert password not in s.summary()
    assert "bob" not in s.summary()


@pytest.mark.parametrize(
    ("uri", "warned"),
    [
        ("mongodb://bob:pw@db.example:27017/", True),
        ("mongodb://bob:pw@db.example/?tls=false", True),
        ("mongodb+srv://bob:pw@cluster0.example.net/?tls=false", True),
        ("mongodb://bob:pw@db.example/?tls=true", False),
        ("mongodb://bob:pw@db.example/?ssl=true", False),
        ("mongodb+srv://bob:pw@cluster0.example.net/", False),
        ("mongodb://bob:pw@127.0.0.1:27017,localhost:27018/", False),
        ("mongodb://db.example:27017/", False),  # no login
    ],
)
def test_mongodb_logins_without_tls_to_another_host_are_warned_about(tmp_path, uri, warned):
    s = settings(tmp_path, MONGODB_URI=uri)
    assert bool(s.warnings) == warned
    assert all("pw" not in w and "bob" not in w for w in s.warnings)


def test_a_plain_text_mongodb_login_without_tls_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"authMechanism=PLAIN .* without TLS"):
        settings(tmp_path, MONGODB_URI="mongodb://bob:pw@db.example/?authMechanism=PLAIN")
