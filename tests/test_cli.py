"""Flags, environment defaults and their precedence, help and version."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Home
from conftest import StubServer
from conftest import set_env
from conftest import valid_until
from test_refresh import run

import aws_mfa


def sent_duration(stub: StubServer) -> int:
    (request,) = stub.requests
    return int(request.body.split("DurationSeconds=", 1)[1].split("&", 1)[0])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("43200", 43200, id="seconds"),
        pytest.param("900", 900, id="minimum"),
        pytest.param("129600", 129600, id="maximum"),
        pytest.param("15m", 900, id="minutes"),
        pytest.param("12h", 43200, id="hours"),
        pytest.param("1h30m", 5400, id="hours-minutes"),
        pytest.param("36h", 129600, id="36h"),
        pytest.param("1h0m30s", 3630, id="with-seconds"),
        pytest.param(" 2H ", 7200, id="case-and-space"),
    ],
)
def test_duration_forms(text: str, seconds: int) -> None:
    assert aws_mfa.parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("899", "899 is 899 s; STS accepts 900 to 129600 s (15m to 36h)", id="too-short"),
        pytest.param("37h", "37h is 133200 s; STS accepts 900 to 129600 s (15m to 36h)", id="too-long"),
        pytest.param(
            "99999999999999999999",
            "99999999999999999999 is 99999999999999999999 s; STS accepts 900 to 129600 s (15m to 36h)",
            id="absurd",
        ),
        pytest.param("", "'' is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)", id="empty"),
        pytest.param("12 h", "'12 h' is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)", id="inner-space"),
        pytest.param("-900", "'-900' is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)", id="negative"),
        pytest.param("1d", "'1d' is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)", id="days"),
        pytest.param("m", "'m' is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)", id="unit-only"),
        pytest.param("٩٠٠", "'٩٠٠' is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)", id="arabic"),
    ],
)
def test_bad_duration_is_a_usage_error(
    session_stub: StubServer, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--duration", text])

    out, err = capsys.readouterr()
    assert (exit_info.value.code, out) == (2, "")
    assert err.endswith(f"aws-mfa: error: argument -d/--duration: {message}\n")
    assert err.startswith("usage: aws-mfa ")
    assert session_stub.requests == []


@pytest.mark.parametrize(
    ("argv", "env", "seconds"),
    [
        pytest.param([], None, 43200, id="default"),
        pytest.param([], "8h", 28800, id="environment"),
        pytest.param(["-d", "1h"], "8h", 3600, id="flag-beats-environment"),
        pytest.param(["--duration=1800"], None, 1800, id="long-flag"),  # 900 would warn: not above --min-remaining
    ],
)
def test_duration_precedence(
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: str | None,
    seconds: int,
) -> None:
    if env is not None:
        monkeypatch.setenv("AWS_SESSION_DURATION", env)

    assert run(capsys, *argv, stdin="123456\n") == (0, "", valid_until())
    assert sent_duration(session_stub) == seconds


def test_bad_duration_in_the_environment_is_a_usage_error(
    session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_DURATION", "forever")

    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main([])

    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith(
        "aws-mfa: error: AWS_SESSION_DURATION: 'forever' is not a duration (use seconds like 43200, or 15m, "
        "12h, 1h30m)\n"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["-V"])
    assert exit_info.value.code == 0
    assert capsys.readouterr() == (f"aws-mfa {aws_mfa.__version__}\n", "")


def test_help_shows_environment_and_effective_defaults(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_DURATION", "8h")
    monkeypatch.setenv("AWS_MFA_UPDATER_OP_ITEM_NAME", "AWS prod")
    monkeypatch.setenv("COLUMNS", "200")

    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--help"])

    out, err = capsys.readouterr()
    assert (exit_info.value.code, err) == (0, "")
    flat = " ".join(out.split())
    for options, text in [
        (
            "-c, --credentials-path PATH",
            f"the credentials file (env AWS_SHARED_CREDENTIALS_FILE; default: {home.credentials})",
        ),
        (
            "-d, --duration DURATION",
            "session length, in seconds or as 15m, 12h, 1h30m; 15m to 36h (env AWS_SESSION_DURATION; default: 8h)",
        ),
        (
            "--op-account ACCOUNT",
            "1Password account, e.g. my.1password.com (env AWS_MFA_UPDATER_OP_ACCOUNT; default: None)",
        ),
        (
            "--op-item-name ITEM",
            "1Password item whose one-time password is the MFA code; without one the code is asked for (env "
            "AWS_MFA_UPDATER_OP_ITEM_NAME; default: AWS prod)",
        ),
        (
            "--otp-timeout SECONDS",
            "how long 1Password, the OTP command or the long-term key's credential_process may take (env "
            "AWS_MFA_OTP_TIMEOUT; default: 60)",
        ),
        ("-v, --verbose", "also say where the MFA device and the region came from (with --dry-run, every setting)"),
        ("-V, --version", "show program's version number and exit"),
    ]:
        assert any(f"{listed} {text}" in flat for listed in as_listed(options)), options


def test_help_ends_with_where_the_reference_is(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--help"])

    out, err = capsys.readouterr()
    assert (exit_info.value.code, err) == (0, "")
    assert " ".join(out.split()).endswith(
        "-V, --version show program's version number and exit "
        "Every option, the config file, recipes and exit codes: see USAGE.md."
    )
    assert Path(__file__).resolve().parent.parent.joinpath("USAGE.md").is_file()


def as_listed(options: str) -> set[str]:
    """How argparse lists `-c, --credentials-path PATH`: so from 3.13, as `-c PATH, --credentials-path PATH` before."""
    short, _, long = options.rpartition(", ")
    metavar = long.partition(" ")[2]
    return {options, f"{short} {metavar}, {long}"} if short and metavar else {options}


@pytest.mark.parametrize(
    ("variables", "texts"),
    [
        pytest.param(
            {
                "AWS_MFA_DEVICE": "arn:aws:iam::123456789012:mfa/bob",
                "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_MFA_ASSUME_ROLE": "arn:aws:iam::123456789012:role/admin",
                "AWS_MFA_OTP_COMMAND": "oathtool --totp -b JBSWY3DPEHPK3PXP",
            },
            [
                "(env AWS_SESSION_DURATION; default: 3600, for the role in AWS_MFA_ASSUME_ROLE)",
                "STS region (default: eu-west-1 from AWS_DEFAULT_REGION; else AWS_REGION, AWS_DEFAULT_REGION, the "
                "profiles' region, instance metadata, else the global endpoint)",
                "MFA device ARN or hardware serial (env AWS_MFA_DEVICE; default: arn:aws:iam::123456789012:mfa/bob "
                "from AWS_MFA_DEVICE; else aws_mfa_device or mfa_serial of the profile, else the one device IAM lists)",
                # Only the program: the arguments may hold the TOTP seed.
                "(env AWS_MFA_OTP_COMMAND; default: oathtool ...)",
            ],
            id="values",
        ),
        pytest.param(
            # argparse %-formats every help text: a % from the environment once ended in a traceback.
            {
                "AWS_SESSION_DURATION": "5%d",
                "AWS_REGION": "eu%(prog)s",
                "AWS_MFA_DEVICE": "serial%",
                "AWS_MFA_PROFILE": "a%sb",
            },
            [
                "(env AWS_SESSION_DURATION; default: 5%d)",
                "STS region (default: eu%(prog)s from AWS_REGION; else",
                "(env AWS_MFA_DEVICE; default: serial% from AWS_MFA_DEVICE; else",
                "except with --credential-process; default: a%sb from AWS_MFA_PROFILE; else default)",
            ],
            id="percent-signs",
        ),
    ],
)
def test_help_shows_the_values_the_environment_sets(
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    texts: list[str],
) -> None:
    set_env(monkeypatch, {**variables, "COLUMNS": "200"})

    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--help"])

    out, err = capsys.readouterr()
    assert (exit_info.value.code, err) == (0, "")
    flat = " ".join(out.split())
    for text in texts:
        assert text in flat
    assert "JBSWY3DPEHPK3PXP" not in out


@pytest.mark.parametrize("variable", ["AWS_MFA_PROFILE", "AWS_PROFILE"])
@pytest.mark.parametrize("name", [" x", "a]b", "DEFAULT", "x\ny"])
def test_bad_profile_name_from_the_environment_names_the_variable(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str, name: str
) -> None:
    monkeypatch.setenv(variable, name)
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--status"])
    assert exit_info.value.code == 2
    assert f"aws-mfa: error: {variable}: " in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", " x", "a]b", "DEFAULT", "x\ny"])
def test_bad_profile_name_is_a_usage_error(home: Home, capsys: pytest.CaptureFixture[str], name: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--profile", name])
    assert exit_info.value.code == 2
    assert "aws-mfa: error: argument -p/--profile: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("columns", "terminal", "expected"),
    [
        pytest.param("120", None, 120, id="COLUMNS"),
        pytest.param("wide", None, 80, id="bad-COLUMNS-no-terminal"),
        pytest.param(None, (33, 100), 100, id="terminal-size"),
        pytest.param(None, (0, 0), 80, id="terminal-without-size"),
    ],
)
def test_help_width_without_shutil(
    monkeypatch: pytest.MonkeyPatch, columns: str | None, terminal: tuple[int, int] | None, expected: int
) -> None:
    import fcntl
    import os
    import pty
    import struct
    import sys
    import termios

    monkeypatch.delenv("COLUMNS", raising=False)
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    master, slave = pty.openpty()
    try:
        if terminal is not None:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", terminal[0], terminal[1], 0, 0))
            with open(slave, "w", closefd=False) as tty:
                monkeypatch.setattr(sys, "__stdout__", tty)
                assert aws_mfa._terminal_columns() == expected
        else:
            monkeypatch.setattr(sys, "__stdout__", None)
            assert aws_mfa._terminal_columns() == expected
    finally:
        os.close(master)
        os.close(slave)


def test_help_is_wrapped_to_the_width(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    with pytest.raises(SystemExit):
        aws_mfa.main(["--help"])
    lines = capsys.readouterr().out.splitlines()
    # argparse keeps 2 columns free. Up to 3.12 it never breaks a bracketed group of the usage
    # line, so a group wider than the room left stands alone on its line; 3.13 breaks it.
    too_wide = [line for line in lines if len(line) > 58]
    assert [line for line in too_wide if not lone_usage_group(line)] == []
    usage = " ".join(" ".join(lines[: lines.index("")]).split())
    assert usage.startswith("usage: aws-mfa [-h] [-c PATH] [-p PROFILE] ")
    assert "[--status | --env | --credential-process | --setup | --clear | --list] [--dry-run] [-q | -v] [-V]" in usage
    assert "profiles and files:" in lines


def lone_usage_group(line: str) -> bool:
    group = line.strip()
    return line.startswith(" ") and group.startswith("[") and group.endswith("]") and group.count("[") == 1
