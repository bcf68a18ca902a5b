"""Settings from the environment, then ``.env`` files, then embedded defaults.

The process environment always wins. Then ``STORYREEL_HOME/.env`` (where the
settings dialog saves), then ``./.env`` in the working directory. Files are
read with python-dotenv's ``dotenv_values`` from explicit paths, which is
``load_dotenv(path, override=False)`` without touching ``os.environ``.

Nothing configured means the embedded default for that part. A bad value is a
``ConfigError`` that names the variable; secrets never appear in messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from dotenv import dotenv_values
from pydantic import SecretStr

from app.core.errors import ConfigError

DEFAULT_RUNPOD_BASE = "https://api.runpod.ai/v2"
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_ATTEMPTS = 3

# Every variable the app reads, in the order the settings dialog shows them.
VARIABLES = (
    "STORYREEL_HOME",
    "MONGODB_URI",
    "MONGODB_DB",
    "RUNPOD_API_KEY",
    "RUNPOD_ENDPOINT_BASE_URL",
    "RUNPOD_WRITER_ENDPOINT",
    "RUNPOD_SHOT_ENDPOINT",
    "WRITER_BASE_URL",
    "WRITER_API_KEY",
    "WRITER_MODEL",
    "R2_ENDPOINT_URL",
    "R2_ACCOUNT_ID",
    "R2_ACCESS_KEY_ID",
    "R2_SECRET_ACCESS_KEY",
    "R2_BUCKET",
    "STORYREEL_CONCURRENCY",
    "STORYREEL_MAX_ATTEMPTS",
    "STORYREEL_PRICE_PER_GPU_SECOND",
)
SECRET_VARIABLES = frozenset(
    {"RUNPOD_API_KEY", "WRITER_API_KEY", "R2_SECRET_ACCESS_KEY", "MONGODB_URI"}
)


@dataclass(frozen=True)
class Part:
    """How one part of the app runs: ``embedded`` or ``cloud``, and a readable detail."""

    name: str
    mode: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name.capitalize()}: {self.detail}"


@dataclass(frozen=True)
class Settings:
    home: Path
    mongodb_uri: SecretStr | None = None
    mongodb_db: str = "storyreel"
    runpod_api_key: SecretStr | None = None
    runpod_base_url: str = DEFAULT_RUNPOD_BASE
    runpod_writer_endpoint: str | None = None
    runpod_shot_endpoint: str | None = None
    writer_base_url: str | None = None
    writer_api_key: SecretStr | None = None
    writer_model: str | None = None
    r2_endpoint_url: str | None = None
    r2_access_key_id: str | None = None
    r2_secret_access_key: SecretStr | None = None
    r2_bucket: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    price_per_gpu_s: float | None = None  # USD per GPU second, for estimates; None: unknown
    sources: tuple[str, ...] = field(default=(), compare=False)

    # Folders of the data directory.
    @property
    def blobs_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def db_dir(self) -> Path:
        """The embedded history server's database folder."""
        return self.home / "db"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def r2_configured(self) -> bool:
        return self.r2_endpoint_url is not None

    def parts(self) -> list[Part]:
        """Which parts run embedded and which in the cloud, for status lines and doctor."""
        if self.runpod_writer_endpoint:
            writer = Part("writer", "cloud", f"RunPod vLLM {self.runpod_writer_endpoint}")
        elif self.writer_base_url:
            host = urlsplit(self.writer_base_url).netloc
            writer = Part("writer", "cloud", f"OpenAI-compatible {self.writer_model} at {host}")
        else:
            writer = Part("writer", "embedded", "draft (offline)")
        if self.runpod_shot_endpoint:
            renderer = Part("renderer", "cloud", f"RunPod {self.runpod_shot_endpoint}")
        else:
            renderer = Part("renderer", "embedded", "draft (offline)")
        if self.r2_configured:
            storage = Part("storage", "cloud", f"R2 bucket {self.r2_bucket}")
        else:
            storage = Part("storage", "embedded", f"local folder {self.blobs_dir}")
        if self.mongodb_uri is not None:
            host = _mongo_hosts(self.mongodb_uri.get_secret_value())
            history = Part("history", "cloud", f"MongoDB {host} / {self.mongodb_db}")
        else:
            history = Part("history", "embedded", f"embedded ({self.db_dir})")
        return [writer, renderer, storage, history]

    def summary(self) -> str:
        return " · ".join(str(p) for p in self.parts())


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("storyreel", appauthor=False))


def load_settings(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``) and the ``.env`` files."""
    env = dict(os.environ if environ is None else environ)
    cwd = Path.cwd() if cwd is None else Path(cwd)
    sources = ["environment"]
    cwd_env = _read_env_file(cwd / ".env")
    home_value = env.get("STORYREEL_HOME") or cwd_env.get("STORYREEL_HOME")
    home = Path(home_value).expanduser() if home_value else default_home()
    home_env = _read_env_file(home / ".env")
    values: dict[str, str] = {}
    for layer, name in ((cwd_env, str(cwd / ".env")), (home_env, str(home / ".env")), (env, "")):
        if layer and name:
            sources.append(name)
        values.update({k: v for k, v in layer.items() if v is not None})
    return parse(values, home=home, sources=tuple(sources))


def parse(values: Mapping[str, str], *, home: Path, sources: tuple[str, ...] = ()) -> Settings:
    """Validate raw values (empty strings count as unset)."""
    v = {k: s.strip() for k, s in values.items() if isinstance(s, str) and s.strip()}

    mongodb_uri = v.get("MONGODB_URI")
    if mongodb_uri and not mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigError("MONGODB_URI must start with mongodb:// or mongodb+srv://")

    runpod_key = v.get("RUNPOD_API_KEY")
    runpod_base = _url(v, "RUNPOD_ENDPOINT_BASE_URL") or DEFAULT_RUNPOD_BASE
    for name in ("RUNPOD_WRITER_ENDPOINT", "RUNPOD_SHOT_ENDPOINT"):
        if name in v:
            _endpoint_id(v, name)
            if not runpod_key:
                raise ConfigError(f"{name} is set but RUNPOD_API_KEY is not")

    writer_base = _url(v, "WRITER_BASE_URL")
    if writer_base and not v.get("WRITER_MODEL"):
        raise ConfigError("WRITER_BASE_URL is set but WRITER_MODEL is not: name the model to use")

    r2_endpoint = _r2_endpoint(v)

    return Settings(
        home=home,
        mongodb_uri=SecretStr(mongodb_uri) if mongodb_uri else None,
        mongodb_db=_name(v, "MONGODB_DB", "storyreel"),
        runpod_api_key=SecretStr(runpod_key) if runpod_key else None,
        runpod_base_url=runpod_base.rstrip("/"),
        runpod_writer_endpoint=v.get("RUNPOD_WRITER_ENDPOINT"),
        runpod_shot_endpoint=v.get("RUNPOD_SHOT_ENDPOINT"),
        writer_base_url=writer_base.rstrip("/") if writer_base else None,
        writer_api_key=SecretStr(v["WRITER_API_KEY"]) if "WRITER_API_KEY" in v else None,
        writer_model=v.get("WRITER_MODEL"),
        r2_endpoint_url=r2_endpoint,
        r2_access_key_id=v.get("R2_ACCESS_KEY_ID") if r2_endpoint else None,
        r2_secret_access_key=SecretStr(v["R2_SECRET_ACCESS_KEY"]) if r2_endpoint else None,
        r2_bucket=v.get("R2_BUCKET") if r2_endpoint else None,
        concurrency=_int(v, "STORYREEL_CONCURRENCY", DEFAULT_CONCURRENCY, 1, 256),
        max_attempts=_int(v, "STORYREEL_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, 20),
        price_per_gpu_s=_price(v, "STORYREEL_PRICE_PER_GPU_SECOND"),
        sources=sources,
    )


def _url(v: Mapping[str, str], name: str) -> str | None:
    value = v.get(name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL with a host")
    return value


def _endpoint_id(v: Mapping[str, str], name: str) -> str:
    value = v[name]
    if not value.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{name} must be a RunPod endpoint id (letters and digits), not a URL")
    return value


def _r2_endpoint(v: Mapping[str, str]) -> str | None:
    names = ("R2_ENDPOINT_URL", "R2_ACCOUNT_ID", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY",
             "R2_BUCKET")
    if not any(n in v for n in names):
        return None
    endpoint = _url(v, "R2_ENDPOINT_URL")
    if endpoint is None and "R2_ACCOUNT_ID" in v:
        account = v["R2_ACCOUNT_ID"]
        if not account.isalnum():
            raise ConfigError("R2_ACCOUNT_ID must be the hexadecimal id of a Cloudflare account")
        endpoint = f"https://{account}.r2.cloudflarestorage.com"
    missing = [n for n in ("R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_BUCKET") if n not in v]
    if endpoint is None:
        missing.insert(0, "R2_ENDPOINT_URL or R2_ACCOUNT_ID")
    if missing:
        raise ConfigError(f"R2 is partly configured: {', '.join(missing)} missing")
    bucket = v["R2_BUCKET"]
    if not (3 <= len(bucket) <= 63) or not all(c.islower() or c.isdigit() or c == "-"
                                               for c in bucket):
        raise ConfigError("R2_BUCKET must be 3 to 63 lowercase letters, digits or hyphens")
    return endpoint.rstrip("/")


def _int(v: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    if name not in v:
        return default
    try:
        value = int(v[name])
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {v[name]!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _price(v: Mapping[str, str], name: str) -> float | None:
    if name not in v:
        return None
    try:
        value = float(v[name].removeprefix("$"))
    except ValueError:
        raise ConfigError(f"{name} must be a price in US dollars per GPU second, such as "
                          f"0.00044, got {v[name]!r}") from None
    if not 0 <= value <= 1 or value != value:
        raise ConfigError(f"{name} must be between 0 and 1 dollar per GPU second, got {value:g}")
    return value


def _name(v: Mapping[str, str], name: str, default: str) -> str:
    value = v.get(name, default)
    if any(c in value for c in '/\\. "$') or len(value) > 63:
        raise ConfigError(f"{name} must be a plain database name (no / \\ . \" $ or spaces)")
    return value


def _mongo_hosts(uri: str) -> str:
    """The host part of a MongoDB URI, without user name or password."""
    rest = uri.split("://", 1)[-1]
    hosts = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return hosts or "?"


def _read_env_file(path: Path) -> dict[str, str | None]:
    try:
        if not path.is_file():
            return {}
        return dict(dotenv_values(path))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
