"""URLs as text a person may see, and the rules for where a key may travel.

``display_url`` is the one way a URL becomes text: scheme, host and port, and
nothing else (no user name, password, path, query or fragment, any of which
can carry a secret). ``redact`` does the same to every URL inside free text,
such as an error message from aiohttp that embeds the full address.

The user information is found by the LAST ``@`` before the path, so a password
that holds an unescaped ``/``, ``@`` or ``:`` (``mongodb://bob:p/w@host``) is
never mistaken for the host. When the address itself is ambiguous the display
may name the wrong host, but it never shows what came before that ``@``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import unquote, urlsplit

# A URL inside free text: a scheme, ``://``, then anything up to white space or
# a quote or bracket (yarl's ``URL('...')`` repr, "<...>", JSON strings).
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
_TRAILING = ".,;:!?)]}"


def _authority(url: str) -> tuple[str, str, str]:
    """(scheme, user information or "", hosts) of ``url``; scheme "" when it has none."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", ""
    head = re.split(r"[?#]", rest, maxsplit=1)[0]
    userinfo = ""
    if "@" in head:
        userinfo, _, head = head.rpartition("@")
    hosts = head.split("/", 1)[0]
    return scheme.lower(), userinfo, hosts


def userinfo(url: str) -> str:
    """The user information of ``url`` as written (``user:password``), or ""; split at the
    last ``@`` before the query, so a ``/`` or ``@`` in the password stays in it."""
    return _authority(url)[1]


def _split_host(host: str) -> tuple[str, str]:
    """(name, port) of one ``host[:port]``; port "" when absent or not a number."""
    if host.startswith("["):  # [IPv6]:port
        end = host.find("]")
        name, port = (host[: end + 1], host[end + 2:]) if end > 0 else (host, "")
    elif host.count(":") == 1:
        name, port = host.split(":")
    else:
        name, port = host, ""
    return name.lower(), port if port.isdigit() else ""


def _host_port(host: str) -> str:
    name, port = _split_host(host)
    return f"{name}:{port}" if port else name


def display_url(url: str) -> str:
    """``url`` as ``scheme://host[:port]``: what may be shown, logged or stored.

    Several hosts (a MongoDB replica set) are kept, comma-separated. Text that
    is not a URL at all gives ``"?"``: it may be a secret pasted in the wrong field.
    """
    scheme, _, hosts = _authority(str(url).strip())
    if not scheme:
        return "?"
    shown = ",".join(_host_port(h) for h in hosts.split(",") if h)
    return f"{scheme}://{shown or '?'}"


def display_host(url: str) -> str:
    """``host[:port]`` of ``url`` (the ``display_url`` without its scheme)."""
    return display_url(url).split("://", 1)[-1]


def redact(text: str) -> str:
    """``text`` with every URL in it replaced by its ``display_url``."""
    def shorten(match: re.Match[str]) -> str:
        found = match.group()
        kept = found.rstrip(_TRAILING)
        return display_url(kept) + found[len(kept):]

    return _URL_IN_TEXT.sub(shorten, str(text))


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its user information, and the (user, password) it carried, decoded.

    ``http://bob:p%40ss@host/v1`` gives ``("http://host/v1", ("bob", "p@ss"))``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None
    query = re.search(r"[?#]", rest)
    head, tail = (rest[: query.start()], rest[query.start():]) if query else (rest, "")
    if "@" not in head:
        return url, None
    userinfo, _, location = head.rpartition("@")
    user, _, password = userinfo.partition(":")
    return f"{scheme}://{location}{tail}", (unquote(user), unquote(password))


def host_of(url: str) -> str:
    """The host ``url`` connects to, as the HTTP client parses it (lower case, no brackets)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: addresses that never leave this machine."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_private_transport(url: str) -> bool:
    """Whether a secret sent to ``url`` stays private: https, or a loopback host.

    Every host named in the URL counts: a URL whose parsing is ambiguous (an
    unescaped ``@`` in a password) is private only if each reading of it is.
    """
    if _authority(url)[0] == "https":
        return True
    names = [host_of(url), *host_names(url)]
    return all(names) and all(is_loopback(n) for n in names)


def host_names(url: str) -> list[str]:
    """Every host name in ``url``'s authority (several for a MongoDB replica set)."""
    return [_split_host(h)[0].strip("[]") for h in _authority(url)[2].split(",") if h]


class RedactingFilter(logging.Filter):
    """A handler filter that passes every log line (and its traceback) through ``redact``.

    Added to a handler, it covers records of every logger, including libraries'
    (aiohttp, botocore, pymongo) that the core's own messages never see.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Add a ``RedactingFilter`` to every handler of ``logger`` (default: the root)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
