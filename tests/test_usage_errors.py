"""Usage errors name where the bad value came from; settings that contradict each other are said or refused."""

from __future__ import annotations

import pytest
from conftest import LONG_TERM
from conftest import STUB_KEY
from conftest import STUB_SECRET
from conftest import STUB_TOKEN
from conftest import Home
from conftest import StubServer
from conftest import set_env
from conftest import valid_until
from test_refresh import run

import aws_mfa

ROLE = "arn:aws:iam::123456789012:role/admin"

# --- 19: a bad value in an environment variable names the variable, not the flag -------------

BAD_VARIABLES = [
    pytest.param(
        "AWS_SESSION_DURATION",
        "forever",
        "'forever' is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)",
        "--duration",
        "1h",
        id="duration",
    ),
    pytest.param(
        "AWS_SESSION_DURATION", "99", "99 is 99 s; STS accepts 900 to 129600 s (15m to 36h)", "-d", "1h", id="short"
    ),
    pytest.param(
        "AWS_MFA_MIN_REMAINING", "40h", "40h is longer than any session (36h)", "--min-remaining", "5m", id="min"
    ),
    pytest.param(
        "AWS_MFA_OTP_TIMEOUT",
        "soon",
        "'soon' is not a number of seconds above 0 and at most 3600",
        "--otp-timeout",
        "5",
        id="otp-timeout",
    ),
    pytest.param(
        "AWS_MFA_ASSUME_ROLE",
        "admin",
        "'admin' is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        "--assume-role",
        ROLE,
        id="role",
    ),
    pytest.param(
        "AWS_MFA_OTP_COMMAND",
        "'unclosed",
        "not a command line: no closing quotation",
        "--otp-command",
        "true",
        id="otp-command",
    ),
    pytest.param(
        "AWS_MFA_LONG_TERM_SUFFIX",
        " -lt",
        "' -lt' is not a usable suffix: it must be non-empty, one line, without brackets or outer spaces",
        "--long-term-suffix=-lt",
        None,
        id="suffix",
    ),
    pytest.param("AWS_MFA_PROFILE", "a]b", "'a]b' is not a usable profile name", "-p", "work", id="profile"),
    pytest.param(
        "AWS_MFA_DEVICE",
        "bob",
        "'bob' is not an MFA device ARN or serial number",
        "--device",
        "GAHT12345678",
        id="device",
    ),
    pytest.param(
        "AWS_MFA_UPDATER_OP_ITEM_NAME",
        "AWS\nprod",
        "'AWS\\nprod' is not a one-line value",
        "--op-item-name",
        "AWS prod",
        id="op-item-name",
    ),
    pytest.param("AWS_MFA_UPDATER_OP_ITEM_NAME", "  ", "'  ' is blank", "--op-item-name", "AWS", id="blank"),
    pytest.param(
        "AWS_MFA_UPDATER_OP_ACCOUNT", "a\nb", "'a\\nb' is not a one-line value", "--op-account", "my", id="op-account"
    ),
]


@pytest.mark.parametrize(("variable", "value", "message", "flag", "good"), BAD_VARIABLES)
def test_a_bad_value_in_a_variable_names_the_variable(
    home: Home,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
    flag: str,
    good: str | None,
) -> None:
    home.credentials.write_text(LONG_TERM)
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--status"])

    out, err = capsys.readouterr()
    assert (exit_info.value.code, out) == (2, "")
    assert err.startswith("usage: aws-mfa ")
    assert err.endswith(f"aws-mfa: error: {variable}: {message}\n")
    assert stub.requests == []
    # The flag overrules the variable, whose value is then not looked at.
    code = aws_mfa.main(["--status", flag, *([good] if good else [])])
    assert code == 1
    assert "error" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        pytest.param("--op-item-name", "AWS\nprod", "is not a one-line value", id="op-item-name"),
        pytest.param("--op-item-name", " ", "is blank", id="blank"),
        pytest.param("--op-account", "a\nb", "is not a one-line value", id="op-account"),
    ],
)
def test_a_bad_1password_flag_is_a_usage_error_too(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], flag: str, value: str, said: str
) -> None:
    home.credentials.write_text(LONG_TERM)

    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--op-item-name", "AWS", flag, value, "-t", "123456"])

    out, err = capsys.readouterr()
    assert (exit_info.value.code, out) == (2, "")
    assert err.startswith("usage: aws-mfa ")
    assert err.endswith(f"aws-mfa: error: argument {flag}: {value!r} {said}\n")
    assert stub.requests == []
    assert home.credentials.read_text() == LONG_TERM


# --- 20: --min-remaining >= --duration is said, with where each came from ----------------------


OVERLAPS = [
    pytest.param(
        ["--min-remaining", "12h"],
        {},
        "",
        "--min-remaining (43200 s, from the command line) is not shorter than --duration (43200 s, the default): "
        "a new session is never kept, every run refreshes",
        id="flag-against-default",
    ),
    pytest.param(
        ["-d", "1h"],
        {"AWS_MFA_MIN_REMAINING": "90m"},
        "",
        "--min-remaining (5400 s, from AWS_MFA_MIN_REMAINING) is not shorter than --duration (3600 s, from the "
        "command line): a new session is never kept, every run refreshes",
        id="env-against-flag",
    ),
    pytest.param(
        [],
        {"AWS_MFA_ASSUME_ROLE": ROLE},
        "[profile default]\naws_mfa_min_remaining = 1h\n",
        "--min-remaining (3600 s, from aws_mfa_min_remaining in [profile default] of {config}) is not shorter than "
        "--duration (3600 s, the default with a role): a new session is never kept, every run refreshes",
        id="config-against-role-default",
    ),
    pytest.param(
        [],
        {},
        "[profile default]\naws_mfa_min_remaining = 2h\naws_mfa_duration = 2h\n",
        "--min-remaining (7200 s, from aws_mfa_min_remaining in [profile default] of {config}) is not shorter than "
        "--duration (7200 s, from aws_mfa_duration in [profile default] of {config}): a new session is never kept, "
        "every run refreshes",
        id="both-in-config",
    ),
    pytest.param(
        ["-d", "1h", "--min-remaining", "60m"],
        {},
        "",
        "--min-remaining (3600 s, from the command line) is not shorter than --duration (3600 s, from the command "
        "line): a new session is never kept, every run refreshes",
        id="both-flags",
    ),
]


@pytest.mark.parametrize(("argv", "env", "config", "warning"), OVERLAPS)
def test_min_remaining_not_shorter_than_the_session_is_said_and_the_run_goes_on(
    session_stub: StubServer,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    config: str,
    warning: str,
) -> None:
    set_env(monkeypatch, env)
    home.config.write_text(config)
    if "AWS_MFA_ASSUME_ROLE" in env:
        session_stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN, action="AssumeRole")
    warned = f"aws-mfa: warning: {warning.format(config=home.config)}\n"

    assert run(capsys, "-t", "123456", *argv) == (0, "", warned + valid_until())
    assert run(capsys, "-t", "123456", *argv) == (0, "", warned + valid_until())
    assert len(session_stub.requests) == 2


def test_min_remaining_shorter_than_the_session_says_nothing(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "-t", "123456", "--min-remaining", "11h59m") == (0, "", valid_until())


# --- 21: AssumeRole takes at most 12 hours: a longer --duration is refused before any request ----


@pytest.mark.parametrize(
    ("argv", "env", "config", "origin"),
    [
        pytest.param(["--assume-role", ROLE, "-d", "13h"], {}, "", "46800 s, from the command line", id="flags"),
        pytest.param(
            [],
            {"AWS_MFA_ASSUME_ROLE": ROLE, "AWS_SESSION_DURATION": "129600"},
            "",
            "129600 s, from AWS_SESSION_DURATION",
            id="variables",
        ),
        pytest.param(
            ["--assume-role", ROLE],
            {},
            "[profile default]\naws_mfa_duration = 36h\n",
            "129600 s, from aws_mfa_duration in [profile default] of {config}",
            id="config-file",
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["run", "dry-run"])
def test_a_role_session_longer_than_12_hours_is_refused_locally(
    session_stub: StubServer,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    config: str,
    origin: str,
    dry_run: list[str],
) -> None:
    set_env(monkeypatch, env)
    home.config.write_text(config)

    code, out, err = run(capsys, "-t", "123456", *argv, *dry_run)

    assert (code, out, err) == (
        2,
        "",
        f"aws-mfa: error: --duration ({origin.format(config=home.config)}) is longer than AssumeRole allows "
        f"(43200 s, 12h); pass a --duration of at most 12h for {ROLE}\n",
    )
    assert session_stub.requests == []
    assert home.credentials.read_text() == LONG_TERM


def test_a_role_session_of_12_hours_is_asked_for(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    session_stub.sts_session("ASIASTUBSESSION00001", "stub/secret", "STUBTOKEN", action="AssumeRole")

    assert run(capsys, "-t", "123456", "--assume-role", ROLE, "-d", "12h") == (0, "", valid_until())
    assert "DurationSeconds=43200" in session_stub.requests[0].body
