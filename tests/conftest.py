"""Fixtures: a clean AWS environment, moto's STS on 127.0.0.1, a stub server, fake helpers."""

from __future__ import annotations

import builtins
import collections
import email.utils
import http.client
import http.server
import itertools
import logging
import os
import stat
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from typing import Any
from typing import NamedTuple

import pytest

LONG_KEY = "AKIAEXAMPLELONGTERM1"
LONG_SECRET = "long/term+secret0000000000000000000000SECRET"
DEVICE = "arn:aws:iam::123456789012:mfa/alice"
# How the secret and token of every session the sts fixture answers with begin.
SESSION_SECRET = "sts/session/secret/"
SESSION_TOKEN = "STSTOKEN+session/"
LONG_TERM = f"""[default-long-term]
aws_access_key_id = {LONG_KEY}
aws_secret_access_key = {LONG_SECRET}
aws_mfa_device = {DEVICE}
"""

# What the stub STS answers once session_stub has set it up.
STUB_KEY = "ASIASTUBSESSION00001"
STUB_SECRET = "stub/session/secret/0000000000000000000000"
STUB_TOKEN = "STUBTOKEN+session/token=="


# --- every time in the suite is computed from now ----------------------------------------
# The tests pass on any date: an expiry is now + a span, never a literal date. A literal time
# stays only where a test is about parsing that text and compares it with no clock.


def moment_in(span: timedelta) -> datetime:
    """now + span in UTC, to the second (a negative span is in the past)."""
    return (datetime.now(timezone.utc) + span).replace(microsecond=0)


def expires_in(span: timedelta) -> str:
    """now + span, as aws-mfa writes an expiry: RFC 3339 in UTC, to the second."""
    return moment_in(span).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_shown(expiration: str) -> str:
    """An expiry as aws-mfa shows it to people: local time with the zone's name."""
    moment = datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


_stub_expiration: list[str] = []  # the current test's, set when it starts


@pytest.fixture(autouse=True)
def _stub_expires_in_an_hour() -> Iterator[None]:
    _stub_expiration[:] = [expires_in(timedelta(hours=1))]
    yield
    _stub_expiration.clear()


def stub_expiration() -> str:
    """When the session the stub STS answers with expires: one hour after the current test began."""
    if not _stub_expiration:
        raise RuntimeError("stub_expiration() is per test: call it inside one, not when the module loads")
    return _stub_expiration[0]


def stub_session(key: str = STUB_KEY, secret: str = STUB_SECRET, token: str = STUB_TOKEN) -> str:
    """The [default] lines a refresh writes from the stub's answer (or these credentials), in aws-mfa's order."""
    return (
        f"aws_access_key_id = {key}\naws_secret_access_key = {secret}\naws_session_token = {token}\n"
        f"aws_security_token = {token}\nexpiration = {stub_expiration()}\n"
    )


def valid_until(profile: str = "default") -> str:
    """The line a refresh ends with, for the stub's session."""
    return f"aws-mfa: [{profile}] is valid until {as_shown(stub_expiration())}\n"


class Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: str


class Answer(NamedTuple):
    status: int
    body: str | Callable[[], str]  # a callable is called when the request comes
    hang: bool = False


class StubServer:
    """A real HTTP server on 127.0.0.1 that answers what a test tells it and records requests."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.routes: dict[tuple[str, str], Answer] = {}
        self.actions: dict[str, Answer] = {}
        self.queue: list[Answer] = []  # answered first, one request each
        self.default = Answer(500, "no answer set")
        self.release = threading.Event()
        self.clock_offset = 0.0  # seconds added to the Date header: a server whose clock is off
        self.upstream = ""  # where a request no answer was set for is relayed (moto), if anywhere
        self.answered: list[tuple[str, str, str]] = []  # the sessions sts_sessions() answered with
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                stub.requests.append(Request(self.command, self.path, dict(self.headers), body))
                action = dict(urllib.parse.parse_qsl(body)).get("Action", "")
                answer = (
                    (stub.queue.pop(0) if stub.queue else None)
                    or stub.actions.get(action)
                    or stub.routes.get((self.command, self.path))
                    or (stub.relayed(self.command, self.path, dict(self.headers), body) if stub.upstream else None)
                    or stub.default
                )
                if answer.hang:
                    stub.release.wait(30)
                    return
                data = (answer.body() if callable(answer.body) else answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.formatdate(time.time() + stub.clock_offset, usegmt=True)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def relayed(self, method: str, path: str, headers: dict[str, str], body: str) -> Answer:
        """What the upstream server answers to this request."""
        headers.pop("Host", None)
        connection = http.client.HTTPConnection(urllib.parse.urlsplit(self.upstream).netloc, timeout=30)
        try:
            connection.request(method, path, body.encode(), headers)
            response = connection.getresponse()
            return Answer(response.status, response.read().decode())
        finally:
            connection.close()

    def sts_sessions(self) -> None:
        """Answer GetSessionToken with a new session each time, as STS does, and record it in answered."""
        counter = itertools.count(1)

        def body() -> str:
            number = next(counter)
            session = (f"ASIASESSION{number:09d}", f"{SESSION_SECRET}{number:022d}", f"{SESSION_TOKEN}{number:04d}==")
            self.answered.append(session)
            return self.session_xml(*session, stub_expiration(), "GetSessionToken")

        self.actions["GetSessionToken"] = Answer(200, body)

    def sts_error(self, code: str, message: str, status: int = 403) -> None:
        self.default = self.error(code, message, status)

    @staticmethod
    def error(code: str, message: str, status: int = 403) -> Answer:
        return Answer(
            status,
            f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>",
        )

    def sts_session(
        self, key: str, secret: str, token: str, *, expiration: str | None = None, action: str = "GetSessionToken"
    ) -> None:
        """Answer with these credentials; without an expiration, with stub_expiration() when asked."""
        self.default = Answer(
            200, lambda: self.session_xml(key, secret, token, expiration or stub_expiration(), action)
        )

    @staticmethod
    def session_xml(key: str, secret: str, token: str, expiration: str, action: str) -> str:
        extra = "<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId><Arn>arn:aws:sts::1:assumed-role/r/x</Arn>"
        return (
            f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
            f"<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
            f"<SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration>"
            "</Credentials>"
            + (extra + "</AssumedRoleUser>" if action == "AssumeRole" else "")
            + f"</{action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"
        )

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Home(NamedTuple):
    path: Path
    credentials: Path
    config: Path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """A temporary HOME with no AWS_* variable of the machine's left, stdin at /dev/null, TZ=UTC."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # A net under every test: a call no test pointed anywhere goes to a closed loopback port, never to AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    credentials = home / ".aws" / "credentials"
    config = home / ".aws" / "config"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    umask = os.umask(0o077)  # files the tests write are 0600, as a careful user's are
    with open(os.devnull) as devnull:
        monkeypatch.setattr(sys, "stdin", devnull)
        yield Home(home, credentials, config)
    monkeypatch.undo()
    time.tzset()
    os.umask(umask)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sts(stub: StubServer, moto_url: str) -> StubServer:
    """moto's STS and IAM, reached the way a user overrides endpoints, but for GetSessionToken.

    moto answers GetSessionToken with an IAM user's key id (AKIA...), which aws-mfa refuses: the
    stub answers it with a new session each time (stub.answered) and relays the rest to moto.
    """
    stub.upstream = moto_url
    stub.sts_sessions()
    return stub


@pytest.fixture
def stub(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    server = StubServer()
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", server.url)
    yield server
    server.close()


@pytest.fixture
def session_stub(stub: StubServer, home: Home) -> StubServer:
    """The stub STS answering with a fixed session, and a credentials file with the long-term keys."""
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    home.credentials.write_text(LONG_TERM)
    return stub


@pytest.fixture
def imds(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    """A stub metadata service on 127.0.0.1 that knows a region."""
    server = StubServer()
    server.routes[("PUT", "/latest/api/token")] = Answer(200, "TOKEN")
    server.routes[("GET", "/latest/meta-data/placement/region")] = Answer(200, "ap-southeast-2")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url + "/")
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    yield server
    server.close()


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """Writes an executable Python script onto a PATH that holds nothing else."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))

    def write(name: str, body: str) -> Path:
        script = directory / name
        script.write_text(f"#!{sys.executable}\nimport sys, os, time\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return script

    return write


@pytest.fixture
def closed_url() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{unused.getsockname()[1]}"


def clock_env() -> dict[str, str]:
    """What a clean environment built by a test still carries under `make test-dates`: the moved clock."""
    names = ("TEST_CLOCK", "PYTHONPATH") if "TEST_CLOCK" in os.environ else ()
    return {name: os.environ[name] for name in names}


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def secrets_in(text: str) -> list[str]:
    secrets = (LONG_SECRET, SESSION_SECRET, SESSION_TOKEN, STUB_SECRET, STUB_TOKEN, "oldsecret", "oldtoken")
    return [secret for secret in secrets if secret in text]


# What the reliability campaign ran, summed over the session and printed at its end, so the
# figures in DEVELOPMENT.md come from a run of the suite rather than from prose.
RELIABILITY: collections.Counter[str] = collections.Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RELIABILITY:
        figures = ", ".join(f"{name}: {count}" for name, count in sorted(RELIABILITY.items()))
        terminalreporter.write_line(f"reliability figures: {figures}")


@pytest.fixture(autouse=True)
def no_secret_printed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails a test in which aws-mfa printed a secret, outside --env and --credential-process."""
    import aws_mfa

    printed: list[str] = []

    def recording_print(*values: object, **options: Any) -> None:
        printed.append(" ".join(str(value) for value in values))
        builtins.print(*values, **options)

    # A module global shadows the builtin for every print() in aws_mfa, errors included.
    monkeypatch.setattr(aws_mfa, "print", recording_print, raising=False)
    yield
    if request.node.get_closest_marker("prints_secrets") is None:
        leaked = [text for text in printed if secrets_in(text)]
        assert leaked == [], "aws-mfa printed a secret"


def meanwhile(monkeypatch: pytest.MonkeyPatch, change: Callable[[], object]) -> None:
    """change() runs after aws-mfa read the file, right before its check that precedes STS: a race no
    test can time, made at that moment by hand (what another program or user could do while a code is typed)."""
    import aws_mfa

    check_writable = aws_mfa.check_writable

    def changed(path: str) -> None:
        change()
        check_writable(path)

    monkeypatch.setattr(aws_mfa, "check_writable", changed)
