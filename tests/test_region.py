"""Which region signs the STS call, and when the metadata service is asked."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from conftest import LONG_KEY
from conftest import LONG_TERM
from conftest import Answer
from conftest import Home
from conftest import StubServer
from conftest import set_env
from conftest import valid_until
from test_refresh import run

import aws_mfa


def signed_region(stub: StubServer) -> str:
    (request,) = stub.requests
    scope = request.headers["Authorization"].split("Credential=", 1)[1].split(",", 1)[0]
    key, _day, region, service, _ = scope.split("/")
    assert (key, service) == (LONG_KEY, "sts")
    return region


CONFIG = "[default]\nregion = eu-west-3\n\n[profile default-long-term]\nregion = eu-north-1\n"
SOURCES = [
    pytest.param({}, "", "", "us-east-1", id="none-global-endpoint"),
    pytest.param(
        {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}, CONFIG, "", "eu-west-1", id="AWS_REGION"
    ),
    pytest.param({"AWS_DEFAULT_REGION": "eu-west-2"}, CONFIG, "", "eu-west-2", id="AWS_DEFAULT_REGION"),
    pytest.param({}, CONFIG, "", "eu-north-1", id="config-long-term-profile"),
    pytest.param({}, "[default]\nregion = eu-west-3\n", "", "eu-west-3", id="config-default"),
    pytest.param({}, "[profile default]\nregion = sa-east-1\n", "", "sa-east-1", id="config-profile-default"),
    pytest.param({}, CONFIG, "region = ca-central-1\n", "ca-central-1", id="credentials-file-beats-config"),
]


@pytest.mark.parametrize(("env", "config", "extra", "region"), SOURCES)
def test_region_sources_in_order(
    home: Home,
    session_stub: StubServer,
    imds: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    config: str,
    extra: str,
    region: str,
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    set_env(monkeypatch, env)
    home.config.write_text(config)
    home.credentials.write_text(LONG_TERM + extra)

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    assert signed_region(session_stub) == region
    assert imds.requests == []


def test_metadata_region_when_nothing_is_configured(
    home: Home, session_stub: StubServer, imds: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    assert signed_region(session_stub) == "ap-southeast-2"
    assert [(r.method, r.path) for r in imds.requests] == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/placement/region"),
    ]
    assert imds.requests[0].headers["X-aws-ec2-metadata-token-ttl-seconds"] == "60"
    assert imds.requests[1].headers["X-aws-ec2-metadata-token"] == "TOKEN"


def test_metadata_is_not_asked_when_a_region_is_known(
    home: Home, session_stub: StubServer, imds: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(LONG_TERM)
    home.config.write_text("[profile default-long-term]\nregion = eu-south-1\n")

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    assert signed_region(session_stub) == "eu-south-1"
    assert imds.requests == []


@pytest.mark.parametrize(
    "routes",
    [
        pytest.param({("PUT", "/latest/api/token"): Answer(403, "forbidden")}, id="token-refused"),
        pytest.param(
            {
                ("PUT", "/latest/api/token"): Answer(200, "TOKEN"),
                ("GET", "/latest/meta-data/placement/region"): Answer(404, "not found"),
            },
            id="region-missing",
        ),
        pytest.param(
            {
                ("PUT", "/latest/api/token"): Answer(200, "TOKEN"),
                ("GET", "/latest/meta-data/placement/region"): Answer(200, "<html>oops</html>"),
            },
            id="region-garbage",
        ),
        pytest.param({("PUT", "/latest/api/token"): Answer(200, "", hang=True)}, id="hangs"),
    ],
)
def test_unhelpful_metadata_falls_back_to_global_endpoint_quickly(
    home: Home,
    session_stub: StubServer,
    imds: StubServer,
    capsys: pytest.CaptureFixture[str],
    routes: dict[tuple[str, str], Answer],
) -> None:
    imds.routes = routes
    home.credentials.write_text(LONG_TERM)
    started = time.monotonic()

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    assert signed_region(session_stub) == "us-east-1"
    assert time.monotonic() - started < 5  # the budget is IMDS_BUDGET; the rest is the refresh


@pytest.fixture
def silent_socket() -> Iterator[str]:
    """Accepts connections (the kernel does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_metadata_probe_is_bounded_by_its_budget(home: Home, silent_socket: str) -> None:
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": silent_socket}
    started = time.monotonic()

    assert aws_mfa.imds_region(env, budget=0.2) is None

    assert time.monotonic() - started < 0.5


def test_metadata_disabled_asks_nothing(imds: StubServer) -> None:
    assert (
        aws_mfa.imds_region({"AWS_EC2_METADATA_DISABLED": "TRUE", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
        is None
    )
    assert imds.requests == []


def test_metadata_endpoint_with_a_path(imds: StubServer) -> None:
    imds.routes = {
        ("PUT", "/prefix/latest/api/token"): Answer(200, "T"),
        ("GET", "/prefix/latest/meta-data/placement/region"): Answer(200, "me-south-1\n"),
    }
    assert aws_mfa.imds_region({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url + "/prefix/"}) == "me-south-1"


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        pytest.param({}, aws_mfa.IMDS_DEFAULT_ENDPOINT, id="ipv4"),
        pytest.param({"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"}, aws_mfa.IMDS_IPV6_ENDPOINT, id="ipv6"),
    ],
)
def test_metadata_default_endpoints(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], endpoint: str) -> None:
    asked: list[str] = []

    def fetch(url: str, timeout: float) -> str:
        asked.append(url)
        return "us-west-1"

    # Never contact the real metadata address from a test: record where it would go instead.
    monkeypatch.setattr(aws_mfa, "_imds_fetch_region", fetch)
    assert aws_mfa.imds_region(env) == "us-west-1"
    assert asked == [endpoint]


@pytest.mark.parametrize(
    ("region", "url"),
    [
        pytest.param(None, "https://sts.amazonaws.com", id="global"),
        pytest.param("eu-west-1", "https://sts.eu-west-1.amazonaws.com", id="regional"),
        pytest.param("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn", id="china"),
        pytest.param("us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com", id="govcloud"),
    ],
)
def test_endpoint_follows_the_region_and_its_partition(
    home: Home, monkeypatch: pytest.MonkeyPatch, region: str | None, url: str
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    home.credentials.write_text(LONG_TERM)
    keys = aws_mfa.LongTermKeys(LONG_KEY, "secret")

    client = aws_mfa.aws_client("sts", lambda: keys, region, "default-long-term", str(home.credentials))

    assert client.meta.endpoint_url == url  # no request is made: the client is only built


def test_metadata_refused_connection_is_no_region(home: Home, closed_url: str) -> None:
    assert aws_mfa.imds_region({"AWS_EC2_METADATA_SERVICE_ENDPOINT": closed_url}) is None


@pytest.mark.parametrize(
    ("argv", "env", "extra", "origin", "code"),
    [
        # A bad value on the command line or in a variable is a usage error, as any other flag's: exit 2.
        pytest.param(["--region", "eu-west-1\n"], {}, "", "--region", 2, id="flag"),
        pytest.param(["--region", "us-east-1/../x"], {}, "", "--region", 2, id="flag-path"),
        pytest.param(["--region", "eu-west-1\udcff"], {}, "", "--region", 2, id="flag-undecodable"),
        pytest.param([], {"AWS_REGION": "us-east-1\n"}, "", "AWS_REGION", 2, id="variable"),
        pytest.param([], {"AWS_DEFAULT_REGION": "us east"}, "", "AWS_DEFAULT_REGION", 2, id="space"),
        pytest.param([], {"AWS_REGION": "bad region!"}, "", "AWS_REGION", 2, id="variable-punctuation"),
        # A file is not usage: its bad value is an error like any other in it, exit 1.
        pytest.param([], {}, "region = us east\n", "credentials [default-long-term]", 1, id="file"),
    ],
)
def test_a_region_that_is_no_region_name_is_one_error_before_sts(
    session_stub: StubServer,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    extra: str,
    origin: str,
    code: int,
) -> None:
    # botocore's own check lets a trailing line break through; the signed request then failed
    # with the access key id and signing headers in the message.
    set_env(monkeypatch, env)
    home.credentials.write_text(LONG_TERM + extra)
    region = argv[1] if argv else next(iter(env.values()), "us east")

    assert run(capsys, *argv, "--code", "123456") == (
        code,
        "",
        f"aws-mfa: error: the region {region!r} from {origin} is not a region name such as eu-west-1\n",
    )
    assert home.credentials.read_text() == LONG_TERM + extra
    assert session_stub.requests == []
