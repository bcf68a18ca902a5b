"""Settings from the environment, then ``.env`` files, then embedded defaults.

The process environment always wins. Then the file the person named with
``--env-file PATH`` (the CLI puts its absolute path in ``STORYREEL_ENV_FILE``),
then ``STORYREEL_HOME/.env`` (where the settings dialog saves). A ``.env`` in
the working directory is NOT read unless it is the named file: a downloaded
folder must never redirect a person's keys. ``STORYREEL_HOME`` itself comes
from the environment or the named file only. Files are read from explicit
paths with ``dotenv_values(path, interpolate=False)`` (``envfile.read_values``):
``${VAR}`` is kept as written, never expanded, so a file cannot pull another
secret of the environment into a URL.

Keys travel only over https, except to loopback hosts (``urls.is_private_transport``):
an http URL that would carry a key or a password to another host is a
``ConfigError`` naming the variable.

Nothing configured means the embedded default for that part. A bad value is a
``ConfigError`` that names the variable; secrets never appear in messages.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import platformdirs
from pydantic import SecretStr

from app.core.envfile import read_values
from app.core.errors import ConfigError
from app.core.urls import (
    display_host,
    host_names,
    is_loopback,
    is_private_transport,
    split_credentials,
)

log = logging.getLogger(__name__)

DEFAULT_RUNPOD_BASE = "https://api.runpod.ai/v2"
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_ATTEMPTS = 3
# The file named by `storyreel --env-file PATH`, read from the environment only.
ENV_FILE_VARIABLE = "STORYREEL_ENV_FILE"

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
    # User name and password that WRITER_BASE_URL carried (sent as HTTP Basic auth);
    # writer_base_url itself never holds them.
    writer_user: str | None = None
    writer_password: SecretStr | None = None
    r2_endpoint_url: str | None = None
    r2_access_key_id: str | None = None
    r2_secret_access_key: SecretStr | None = None
    r2_bucket: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    price_per_gpu_s: float | None = None  # USD per GPU second, for estimates; None: unknown
    sources: tuple[str, ...] = field(default=(), compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)  # for doctor and the log

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
            host = display_host(self.writer_base_url)
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
            host = display_host(self.mongodb_uri.get_secret_value())
            history = Part("history", "cloud", f"MongoDB {host} / {self.mongodb_db}")
        else:
            history = Part("history", "embedded", f"embedded ({self.db_dir})")
        return [writer, renderer, storage, history]

    def summary(self) -> str:
        return " · ".join(str(p) for p in self.parts())


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("storyreel", appauthor=False))


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | str | None = None
) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``) and the ``.env`` files.

    ``env_file`` (default: ``STORYREEL_ENV_FILE`` of ``environ``) is the file the
    person named; it must exist. The working directory's ``.env`` is never read
    otherwise.
    """
    env = dict(os.environ if environ is None else environ)
    named = env_file if env_file is not None else env.get(ENV_FILE_VARIABLE) or None
    sources = ["environment"]
    named_env: dict[str, str] = {}
    if named is not None:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"--env-file {path}: no such file")
        named_env = read_values(path)
        sources.append(f"{path} (--env-file)")
    home_value = env.get("STORYREEL_HOME") or named_env.get("STORYREEL_HOME")
    home = Path(home_value).expanduser() if home_value else default_home()
    home_env = read_values(home / ".env")
    if home_env:
        sources.append(str(home / ".env"))
    values: dict[str, str] = {}
    for layer in (home_env, named_env, env):
        values.update({k: v for k, v in layer.items() if v is not None})
    settings = parse(values, home=home, sources=tuple(sources))
    for warning in settings.warnings:
        log.warning("%s", warning)
    return settings


def parse(values: Mapping[str, str], *, home: Path, sources: tuple[str, ...] = ()) -> Settings:
    """Validate raw values (empty strings count as unset)."""
    v = {k: s.strip() for k, s in values.items() if isinstance(s, str) and s.strip()}

    warnings: list[str] = []
    mongodb_uri = v.get("MONGODB_URI")
    if mongodb_uri and not mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigError("MONGODB_URI must start with mongodb:// or mongodb+srv://")
    if mongodb_uri:
        warnings.extend(_mongo_transport(mongodb_uri))

    runpod_key = v.get("RUNPOD_API_KEY")
    runpod_base = _url(v, "RUNPOD_ENDPOINT_BASE_URL", credentials=False) or DEFAULT_RUNPOD_BASE
    if runpod_key and not is_private_transport(runpod_base):
        raise ConfigError(_PLAIN_HTTP.format(name="RUNPOD_ENDPOINT_BASE_URL",
                                             what="RUNPOD_API_KEY"))
    for name in ("RUNPOD_WRITER_ENDPOINT", "RUNPOD_SHOT_ENDPOINT"):
        if name in v:
            _endpoint_id(v, name)
            if not runpod_key:
                raise ConfigError(f"{name} is set but RUNPOD_API_KEY is not")

    writer_base = _url(v, "WRITER_BASE_URL")
    if writer_base and not v.get("WRITER_MODEL"):
        raise ConfigError("WRITER_BASE_URL is set but WRITER_MODEL is not: name the model to use")
    writer_credentials = None
    if writer_base:
        if not is_private_transport(writer_base) and (
                "WRITER_API_KEY" in v or split_credentials(writer_base)[1]):
            raise ConfigError(_PLAIN_HTTP.format(
                name="WRITER_BASE_URL", what="WRITER_API_KEY or the password in the URL"))
        writer_base, writer_credentials = split_credentials(writer_base)
        if writer_credentials and "WRITER_API_KEY" in v:
            raise ConfigError(
                "WRITER_BASE_URL holds a user name and password and WRITER_API_KEY is set "
                "too: a request carries one of them, so keep either the key or the "
                "user:password@ in the URL")

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
        writer_user=writer_credentials[0] if writer_credentials else None,
        writer_password=SecretStr(writer_credentials[1]) if writer_credentials else None,
        r2_endpoint_url=r2_endpoint,
        r2_access_key_id=v.get("R2_ACCESS_KEY_ID") if r2_endpoint else None,
        r2_secret_access_key=SecretStr(v["R2_SECRET_ACCESS_KEY"]) if r2_endpoint else None,
        r2_bucket=v.get("R2_BUCKET") if r2_endpoint else None,
        concurrency=_int(v, "STORYREEL_CONCURRENCY", DEFAULT_CONCURRENCY, 1, 256),
        max_attempts=_int(v, "STORYREEL_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, 20),
        price_per_gpu_s=_price(v, "STORYREEL_PRICE_PER_GPU_SECOND"),
        sources=sources,
        warnings=tuple(warnings),
    )


_PLAIN_HTTP = ("{name} is plain http:// to another computer, which would send {what} "
               "unencrypted: use https:// (plain http is accepted only for localhost, "
               "127.0.0.1 and ::1)")


def _url(v: Mapping[str, str], name: str, *, credentials: bool = True) -> str | None:
    """The URL ``v[name]``; ``credentials=False`` refuses a user:password@ in it."""
    value = v.get(name)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed [ of an IPv6 address
        usable = False
    if not usable:
        raise ConfigError(f"{name} must be an http:// or https:// URL with a host")
    if not credentials and split_credentials(value)[1]:
        raise ConfigError(f"{name} must not hold a user name or password: the key variables "
                          "carry the credentials")
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
    endpoint = _url(v, "R2_ENDPOINT_URL", credentials=False)
    if endpoint and not is_private_transport(endpoint):
        raise ConfigError(_PLAIN_HTTP.format(name="R2_ENDPOINT_URL",
                                             what="requests signed with the R2 keys"))
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


def _mongo_transport(uri: str) -> list[str]:
    """Warnings about a MongoDB URI that logs in to another computer without TLS.

    Warn, do not refuse, for the default SCRAM login: unlike the Bearer keys of
    the http services, SCRAM never sends the password itself (a challenge and a
    salted proof cross the wire), and a MongoDB on a trusted home or office
    network without TLS is a common, deliberate setup that refusing would break.
    The history's contents do travel in clear, which is what the warning says.
    Refuse ``authMechanism=PLAIN`` (LDAP), which does send the password as is.
    Loopback hosts, ``mongodb+srv://`` (TLS by default) and ``tls=true`` /
    ``ssl=true`` are private; ``tls=false`` turns even ``+srv`` off.
    """
    scheme, _, rest = uri.partition("://")
    userinfo, at, after = rest.rpartition("@")
    if not at or not userinfo:
        return []
    query = after.partition("?")[2]
    options = {k.lower(): val.lower() for k, val in parse_qsl(query)}
    tls = options.get("tls", options.get("ssl", "true" if scheme == "mongodb+srv" else "false"))
    names = host_names(uri)
    if tls == "true" or (names and all(is_loopback(n) for n in names)):
        return []
    if options.get("authmechanism") == "plain":
        raise ConfigError("MONGODB_URI logs in with authMechanism=PLAIN to another computer "
                          "without TLS, which would send the password unencrypted: add "
                          "tls=true to the URI")
    return ["MONGODB_URI logs in to another computer without TLS: the password is not sent "
            "as is (SCRAM), but the history travels unencrypted; add tls=true to the URI "
            "if the server supports it"]
