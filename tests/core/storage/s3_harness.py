"""A moto S3 server on 127.0.0.1 for tests and benchmarks, with a little theatre.

``S3TestServer`` runs moto's WSGI app in a threaded werkzeug server (plain HTTP,
or HTTPS with a throwaway certificate authority) and wraps it in a middleware
that can add latency, answer with injected faults (503 SlowDown, 500, a hung
response), record what each request looked like, and count requests in flight.

It is also runnable on its own, so a benchmark can keep moto in another
process (its own GIL): ``python s3_harness.py --latency-ms 50`` prints
``PORT <n>`` and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key-never-print-me"


@dataclass
class Fault:
    """Answer ``count`` matching requests with an error instead of passing them on."""

    status: int
    code: str
    count: int = 1
    method: str | None = None
    query_contains: str | None = None
    delay: float = 0.0  # sleep this long first (a hung server)
    truncate: bool = False  # answer 200 but send half the promised bytes, then hang up

    def matches(self, method: str, query: str) -> bool:
        if self.count <= 0:
            return False
        if self.method and self.method != method:
            return False
        return not (self.query_contains and self.query_contains not in query)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    client_port: int


@dataclass
class _State:
    latency: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    records: list[RequestRecord] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Middleware:
    def __init__(self, app: Callable, state: _State) -> None:
        self.app = app
        self.state = state

    def __call__(self, environ, start_response):
        s = self.state
        method = environ["REQUEST_METHOD"]
        query = environ.get("QUERY_STRING", "")
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        for k in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(k):
                headers[k.replace("_", "-").lower()] = environ[k]
        record = RequestRecord(method, environ.get("PATH_INFO", ""), query, headers,
                               int(environ.get("REMOTE_PORT") or 0))
        with s.lock:
            s.records.append(record)
            s.in_flight += 1
            s.peak_in_flight = max(s.peak_in_flight, s.in_flight)
            fault = next((f for f in s.faults if f.matches(method, query)), None)
            if fault is not None:
                fault.count -= 1
        try:
            if s.latency:
                time.sleep(s.latency)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.truncate:
                    start_response("200 OK", [("Content-Type", "image/png"),
                                              ("Content-Length", "4096")])
                    return [b"\x89PNG" + b"\0" * 2044]
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
                    f"{fault.code}</Code><Message>injected {fault.code}</Message></Error>"
                ).encode()
                start_response(f"{fault.status} Injected", [
                    ("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
                return [body]
            return self.app(environ, _without_server_header(start_response))
        finally:
            with s.lock:
                s.in_flight -= 1


def _without_server_header(start_response: Callable) -> Callable:
    """moto sets ``Server`` and werkzeug adds its own; aiohttp's strict parser
    (used under ``python -X dev``) refuses a response with two."""

    def start(status, headers, exc_info=None):
        headers = [(k, v) for k, v in headers if k.lower() != "server"]
        return start_response(status, headers, exc_info)

    return start


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1 / localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storyreel test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files


class S3TestServer:
    """moto's S3 (and IAM) on 127.0.0.1, on a free port, in a background thread."""

    def __init__(self, *, tls: TlsFiles | None = None, latency: float = 0.0) -> None:
        self.tls = tls
        self._state = _State(latency=latency)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle
    def start(self) -> S3TestServer:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: object) -> None:  # one line per request is noise
                pass

        app = _Middleware(DomainDispatcherApplication(create_backend_app), self._state)
        ssl_context = (str(self.tls.cert), str(self.tls.key)) if self.tls else None
        self._server = make_server("127.0.0.1", 0, app, threaded=True,
                                   request_handler=QuietHandler, ssl_context=ssl_context)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="moto-s3")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> S3TestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Facts
    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    @property
    def endpoint_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def records(self) -> list[RequestRecord]:
        with self._state.lock:
            return list(self._state.records)

    @property
    def peak_in_flight(self) -> int:
        return self._state.peak_in_flight

    # Theatre
    def set_latency(self, seconds: float) -> None:
        self._state.latency = seconds

    def inject(self, fault: Fault) -> Fault:
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def reset(self) -> None:
        """Forget faults, records, latency and the peak (moto's data stays)."""
        with self._state.lock:
            self._state.faults.clear()
            self._state.records.clear()
            self._state.latency = 0.0
            self._state.peak_in_flight = self._state.in_flight


def _serve_forever(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    with S3TestServer(latency=args.latency_ms / 1000) as server:
        print(f"PORT {server.port}", flush=True)
        sys.stdin.read()  # serve until the parent closes our standard input


if __name__ == "__main__":
    _serve_forever(sys.argv[1:])
