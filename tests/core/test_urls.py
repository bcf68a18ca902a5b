import io
import logging

import pytest

from app.core.errors import RemoteError, RenderError, StageError
from app.core.urls import (
    display_host,
    display_url,
    is_private_transport,
    redact,
    redact_logs,
    split_credentials,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bob:pw@host.example:8080/v1?key=SECRET#frag", "http://host.example:8080"),
        ("HTTPS://API.Example.com/v2", "https://api.example.com"),
        ("http://[::1]:11434/v1", "http://[::1]:11434"),
        ("mongodb://bob:p/ss@db1.example:27017,db2.example/db?tls=true",
         "mongodb://db1.example:27017,db2.example"),
        ("mongodb://bob:p@ss@db.example", "mongodb://db.example"),
        ("mongodb://bob:p:ss@db.example:27017", "mongodb://db.example:27017"),
        ("mongodb+srv://ada:hunter2@cluster0.example.net/?retryWrites=true",
         "mongodb+srv://cluster0.example.net"),
        ("http://host.example/path/with@sign", "http://sign"),  # ambiguous: never the path
        ("sk-not-a-url-at-all", "?"),
        ("http://host:notaport/", "http://host"),
    ],
)
def test_display_url_keeps_scheme_host_and_port_only(url, shown):
    assert display_url(url) == shown
    assert display_host(url) == shown.split("://", 1)[-1]


def test_redact_reduces_every_url_in_free_text():
    text = ("ClientResponseError: 500, message='x', url=URL('http://bob:pw@llm.example/v1/"
            "models?key=SECRET'); then (see https://u:p@other.example:8443/a/b).")
    assert redact(text) == ("ClientResponseError: 500, message='x', url=URL('http://llm.example');"
                            " then (see https://other.example:8443).")
    assert redact("no address here") == "no address here"


def test_split_credentials_decodes_and_removes_them():
    assert split_credentials("http://bob:p%40ss%2F@host:1/v1?q=1") == (
        "http://host:1/v1?q=1", ("bob", "p@ss/"))
    assert split_credentials("http://bob:p@ss@host/v1") == ("http://host/v1", ("bob", "p@ss"))
    assert split_credentials("https://host/v1") == ("https://host/v1", None)


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("https://anything.example/v1", True),
        ("http://127.0.0.1:8000", True),
        ("http://127.9.9.9", True),
        ("http://localhost:11434/v1", True),
        ("http://LOCALHOST./v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://10.0.0.5:8000", False),
        ("http://localhost.evil.example", False),
        ("http://127.0.0.1.evil.example", False),
        ("http://bob:p@127.0.0.1@evil.example/v1", False),
        ("ftp://127.0.0.1", True),  # only the scheme check is not this function's job
    ],
)
def test_private_transport_is_https_or_loopback(url, private):
    assert is_private_transport(url) is private


def test_remote_errors_keep_only_the_display_form():
    err = RemoteError(500, "http://bob:hunter2@llm.example:8000/v1/chat/completions",
                      "upstream http://bob:hunter2@llm.example:8000/v1 failed")
    assert err.url == "http://llm.example:8000"
    assert "hunter2" not in str(err) and "/v1" not in str(err)
    assert str(err) == "http://llm.example:8000 (500): upstream http://llm.example:8000 failed"
    assert str(RemoteError(None, "RunPod endpoint abc", "boom")) == "RunPod endpoint abc: boom"


def test_every_core_error_text_is_redacted():
    err = StageError("the model server answered: see https://u:hunter2@llm.example/v1?k=SECRET")
    assert str(err) == "the model server answered: see https://llm.example"
    assert str(RenderError("job at http://a:b@gpu.example:81/x failed", retryable=False)) == \
        "job at http://gpu.example:81 failed"


def test_log_lines_and_tracebacks_are_redacted():
    stream = io.StringIO()
    logger = logging.getLogger("tests.urls.redacted")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        redact_logs(logger)
        logger.warning("GET %s failed", "http://bob:hunter2@llm.example:8000/v1/models")
        try:
            raise ValueError("bad URL http://bob:hunter2@llm.example:8000/v1")
        except ValueError:
            logger.exception("closing failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "GET http://llm.example:8000 failed" in text
    assert "ValueError: bad URL http://llm.example:8000" in text
    assert "hunter2" not in text and "bob" not in text
