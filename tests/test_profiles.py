"""Per-profile settings in the config file, --clear, --list, the SDK's AWS_PROFILE, clock skew, role chains."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import pytest
from conftest import DEVICE
from conftest import LONG_KEY
from conftest import LONG_SECRET
from conftest import LONG_TERM
from conftest import STUB_KEY
from conftest import STUB_SECRET
from conftest import STUB_TOKEN
from conftest import Home
from conftest import StubServer
from conftest import expires_in
from conftest import set_env
from conftest import stub_session
from conftest import valid_until
from test_refresh import run

import aws_mfa

FakeBin = Callable[[str, str], Path]
ROLE = "arn:aws:iam::123456789012:role/admin"
OTHER_ROLE = "arn:aws:iam::210987654321:role/deploy"
WORK_DEVICE = "arn:aws:iam::210987654321:mfa/alice-work"
WORK_LONG_TERM = f"""[work-long-term]
aws_access_key_id = AKIAEXAMPLEWORK00001
aws_secret_access_key = work/secret/0000000000000000000000000000
aws_mfa_device = {WORK_DEVICE}
"""
# An OTP program that logs its arguments and prints a fixed code.
OTP_PROGRAM = "open(os.environ['OTP_LOG'], 'a').write(' '.join(sys.argv[1:]) + '\\n')\nprint('424242')"


def params(body: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body))


def local(text: str) -> str:
    parsed = aws_mfa.parse_expiration(text)
    assert parsed is not None
    return aws_mfa.format_local(parsed)


def session(expiration: str, key: str = "ASIAOLD0000000000000", role: str | None = None) -> str:
    role_line = f"aws_mfa_role_arn = {role}\n" if role else ""
    return (
        f"aws_access_key_id = {key}\naws_secret_access_key = oldsecret\naws_session_token = oldtoken\n"
        f"aws_security_token = oldtoken\nexpiration = {expiration}\n{role_line}"
    )


@pytest.fixture
def otp_log(fake_bin: FakeBin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `otp` program on PATH that prints 424242 and logs its arguments to the returned file."""
    log = tmp_path / "otp.log"
    monkeypatch.setenv("OTP_LOG", str(log))
    fake_bin("otp", OTP_PROGRAM)
    return log


@pytest.fixture
def work(session_stub: StubServer, home: Home) -> StubServer:
    """Long-term keys for [default] and [work]."""
    home.credentials.write_text(f"{LONG_TERM}\n{WORK_LONG_TERM}")
    return session_stub


# --- settings from the config file ---------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected", "ran"),
    [
        pytest.param("[profile work]\naws_mfa_duration = 2h\n", {"DurationSeconds": "7200"}, None, id="duration"),
        pytest.param(
            "[profile work-long-term]\naws_mfa_duration = 1h30m\n",
            {"DurationSeconds": "5400"},
            None,
            id="duration-in-the-long-term-profile",
        ),
        pytest.param(
            "[profile work]\naws_mfa_duration = 2h\n[profile work-long-term]\naws_mfa_duration = 1h\n",
            {"DurationSeconds": "7200"},
            None,
            id="short-term-profile-before-long-term",
        ),
        pytest.param(
            f"[profile work]\naws_mfa_assume_role = {ROLE}\n",
            {"Action": "AssumeRole", "RoleArn": ROLE, "DurationSeconds": "3600"},
            None,
            id="assume-role",
        ),
        pytest.param(
            "[profile work]\naws_mfa_otp_command = otp --work\n", {"TokenCode": "424242"}, "--work\n", id="otp"
        ),
        pytest.param(
            "[profile work]\nregion = eu-west-1\nmfa_process = otp 'aws vault'\n",
            {"TokenCode": "424242"},
            "aws vault\n",
            id="aws-vault-mfa-process",
        ),
        pytest.param(
            "[profile work]\naws_mfa_otp_command = otp --work\nmfa_process = otp --vault\n",
            {"TokenCode": "424242"},
            "--work\n",
            id="aws-mfa-key-before-mfa-process",
        ),
    ],
)
def test_setting_from_the_config_file_is_used(
    work: StubServer,
    home: Home,
    otp_log: Path,
    capsys: pytest.CaptureFixture[str],
    config: str,
    expected: dict[str, str],
    ran: str | None,
) -> None:
    home.config.write_text(config)
    if "AssumeRole" in expected.values():
        work.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN, action="AssumeRole")

    # Nothing on stdin: a code can only come from the configured program (or --code below).
    argv = [] if ran else ["-t", "123456"]
    assert run(capsys, "-p", "work", *argv) == (0, "", valid_until("work"))

    sent = params(work.requests[0].body)
    assert {key: sent[key] for key in expected} == expected
    assert (otp_log.read_text() if otp_log.exists() else None) == ran


def test_1password_settings_from_the_config_file(
    work: StubServer,
    home: Home,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_bin("op", "import json\nopen(os.environ['OP_LOG'], 'w').write(json.dumps(sys.argv[1:]))\nprint('135790')")
    monkeypatch.setenv("OP_LOG", str(tmp_path / "op.json"))
    home.config.write_text("[profile work]\naws_mfa_op_item_name = AWS work\naws_mfa_op_account = my.1password.com\n")

    assert run(capsys, "-p", "work") == (0, "", valid_until("work"))

    assert json.loads((tmp_path / "op.json").read_text()) == [
        "item", "get", "AWS work", "--otp", "--account", "my.1password.com"
    ]  # fmt: skip
    assert params(work.requests[0].body)["TokenCode"] == "135790"


def test_min_remaining_from_the_config_file_decides_the_skip(
    work: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    # 60 minutes left: the default 15m keeps it; the profile's 2h refreshes it.
    before = f"{LONG_TERM}\n{WORK_LONG_TERM}\n[work]\n{session(expires_in(timedelta(minutes=60)))}"
    home.credentials.write_text(before)
    home.config.write_text("[profile other]\naws_mfa_min_remaining = 2h\n")
    code, out, err = run(capsys, "-p", "work")
    assert (code, out, work.requests) == (0, "", [])
    assert err.startswith("aws-mfa: [work] is still valid until")

    home.config.write_text("# refresh early at work\n[profile work]\naws_mfa_min_remaining = 2h\n")
    assert run(capsys, "-p", "work", "-t", "123456") == (0, "", valid_until("work"))
    assert home.credentials.read_text() == f"{LONG_TERM}\n{WORK_LONG_TERM}\n[work]\n{stub_session()}"


def test_assume_role_from_the_config_file_decides_the_skip(
    work: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(
        f"{LONG_TERM}\n{WORK_LONG_TERM}\n[work]\n{session(expires_in(timedelta(minutes=600)), role=ROLE)}"
    )
    home.config.write_text(f"[profile work]\naws_mfa_assume_role = {ROLE}\n")
    code, out, err = run(capsys, "-p", "work")
    assert (code, out, work.requests) == (0, "", [])
    assert err.startswith("aws-mfa: [work] is still valid until")

    home.config.write_text(f"[profile work]\naws_mfa_assume_role = {OTHER_ROLE}\n")
    work.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN, action="AssumeRole")
    assert run(capsys, "-p", "work", "-t", "123456") == (0, "", valid_until("work"))
    assert params(work.requests[0].body)["RoleArn"] == OTHER_ROLE


# For each setting: its value in the config file, in its variable, on the command line, and
# how --dry-run -v shows the flag's (durations as seconds, as argparse has read them).
PRECEDENCE = {
    "duration": ("7200", "3h", "4h", "14400"),
    "min_remaining": ("1h", "2h", "3h", "10800"),
    "assume_role": (ROLE, OTHER_ROLE, "arn:aws:iam::333333333333:role/ops", "arn:aws:iam::333333333333:role/ops"),
    "otp_command": ("otp --config", "otp --env", "otp --flag", "otp ..."),
    "op_item_name": ("AWS config", "AWS env", "AWS flag", "AWS flag"),
    "op_account": ("config.1password.com", "env.1password.com", "flag.1password.com", "flag.1password.com"),
}


@pytest.mark.parametrize("setting", aws_mfa.SETTINGS, ids=lambda setting: setting.dest)
@pytest.mark.parametrize("given", ["config", "env-beats-config", "flag-beats-env"])
def test_flag_beats_environment_beats_config_file(
    work: StubServer,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setting: aws_mfa.Setting,
    given: str,
) -> None:
    in_config, in_env, on_command_line, shown = PRECEDENCE[setting.dest]
    home.config.write_text(f"[profile work]\n{setting.keys[0]} = {in_config}\n")
    if given != "config":
        monkeypatch.setenv(setting.variable, in_env)
    flag = [setting.flag, on_command_line] if given == "flag-beats-env" else []

    code, out, err = run(capsys, "-p", "work", "--dry-run", "-v", *flag)

    if setting.dest == "otp_command":  # only the program is shown: the arguments may hold a TOTP seed
        in_config = in_env = shown
    expected = {
        "config": f"{in_config} ({setting.keys[0]} in [profile work] of {home.config})",
        "env-beats-config": f"{in_env} ({setting.variable})",
        "flag-beats-env": f"{shown} ({setting.flag})",
    }[given]
    assert (code, err, work.requests) == (0, "", [])
    assert f"{setting.flag}: {expected}" in out.splitlines()


def test_dry_run_verbose_says_where_every_setting_came_from(
    work: StubServer, home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home.config.write_text(
        "[profile work]\nregion = eu-west-1\nmfa_process = otp --vault\naws_mfa_op_item_name = AWS\n"
        f"[profile work-long-term]\naws_mfa_assume_role = {ROLE}\naws_mfa_min_remaining = 1h\n"
    )
    monkeypatch.setenv("AWS_MFA_UPDATER_OP_ACCOUNT", "team.1password.com")

    code, out, err = run(capsys, "-p", "work", "--dry-run", "-v", "-d", "2h")

    config = home.config
    assert (code, err) == (0, "")
    assert out == (
        f"credentials file: {home.credentials}\n"
        "profiles: [work-long-term] -> [work]\n"
        "long-term keys: [work-long-term] of the credentials file\n"
        f"MFA device: {WORK_DEVICE} (aws_mfa_device in [work-long-term])\n"
        "region: eu-west-1 (config [profile work])\n"
        # The command's arguments may hold a TOTP seed: only the program is shown.
        "code: the OTP command: otp ... (the prompt if it fails)\n"
        f"call: AssumeRole {ROLE} as {aws_mfa._role_session_name()} for 7200 s\n"
        "refresh: due\n"
        "--duration: 7200 (--duration)\n"
        f"--min-remaining: 1h (aws_mfa_min_remaining in [profile work-long-term] of {config})\n"
        f"--assume-role: {ROLE} (aws_mfa_assume_role in [profile work-long-term] of {config})\n"
        f"--otp-command: otp ... (mfa_process in [profile work] of {config})\n"
        f"--op-item-name: AWS (aws_mfa_op_item_name in [profile work] of {config})\n"
        "--op-account: team.1password.com (AWS_MFA_UPDATER_OP_ACCOUNT)\n"
    )


def test_dry_run_verbose_shows_the_defaults(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--dry-run", "-v")

    assert (code, err) == (0, "")
    assert out.splitlines()[-6:] == [
        "--duration: 43200, 3600 with a role (built-in default)",
        "--min-remaining: 15m (built-in default)",
        "--assume-role: none (built-in default)",
        "--otp-command: none (built-in default)",
        "--op-item-name: none (built-in default)",
        "--op-account: op's default account (built-in default)",
    ]


@pytest.mark.parametrize(
    ("config", "flags", "code_line"),
    [
        pytest.param(
            "aws_mfa_otp_command = otp\naws_mfa_op_item_name = AWS\n",
            [],
            "code: the OTP command: otp ... (the prompt if it fails)",
            id="both-in-config-otp-command-first",
        ),
        pytest.param(
            "aws_mfa_otp_command = otp\n",
            ["--op-item-name", "AWS"],
            "code: 1Password: op item get AWS --otp (the prompt if it fails)",
            id="1password-flag-beats-configured-command",
        ),
        pytest.param(
            "aws_mfa_op_item_name = AWS\n",
            ["--otp-command", "otp"],
            "code: the OTP command: otp ... (the prompt if it fails)",
            id="command-flag-beats-configured-1password",
        ),
    ],
)
def test_the_more_directly_set_code_source_wins(
    work: StubServer,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    config: str,
    flags: list[str],
    code_line: str,
) -> None:
    home.config.write_text(f"[profile work]\n{config}")

    code, out, err = run(capsys, "-p", "work", "--dry-run", *flags)

    assert (code, err) == (0, "")
    assert code_line in out.splitlines()


BAD_VALUES = [
    pytest.param(
        "aws_mfa_duration = forever",
        "aws_mfa_duration in [profile work] of {config}: 'forever' is not a duration (use seconds like 43200, "
        "or 15m, 12h, 1h30m)",
        id="duration-not-a-duration",
    ),
    pytest.param(
        "aws_mfa_duration = 10m",
        "aws_mfa_duration in [profile work] of {config}: 10m is 600 s; STS accepts 900 to 129600 s (15m to 36h)",
        id="duration-too-short",
    ),
    pytest.param(
        # int() refuses more than 4300 digits: once a traceback.
        "aws_mfa_duration = " + "1" * 5000,
        "aws_mfa_duration in [profile work] of {config}: '1111111111111111'... is too long for a duration (at most "
        "36h)",
        id="duration-thousands-of-digits",
    ),
    pytest.param(
        "aws_mfa_min_remaining = 40h",
        "aws_mfa_min_remaining in [profile work] of {config}: 40h is longer than any session (36h)",
        id="min-remaining-too-long",
    ),
    pytest.param(
        "aws_mfa_assume_role = admin",
        "aws_mfa_assume_role in [profile work] of {config}: 'admin' is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        id="role-not-an-arn",
    ),
    pytest.param(
        "aws_mfa_otp_command = otp 'unfinished",
        # Not the command's text: its arguments may hold a TOTP seed (oathtool -b SEED).
        "aws_mfa_otp_command in [profile work] of {config}: not a command line: no closing quotation",
        id="command-unbalanced-quote",
    ),
    pytest.param(
        "mfa_process =",
        "mfa_process in [profile work] of {config}: not a command line: it is empty",
        id="mfa-process-empty",
    ),
    pytest.param(
        "aws_mfa_op_item_name =",
        "aws_mfa_op_item_name in [profile work] of {config}: '' is blank",
        id="op-item-empty",
    ),
]


@pytest.mark.parametrize(("line", "message"), BAD_VALUES)
@pytest.mark.parametrize("state", ["refresh-due", "session-valid"])
def test_bad_value_in_the_config_file_names_file_section_and_key(
    work: StubServer,
    home: Home,
    otp_log: Path,
    capsys: pytest.CaptureFixture[str],
    line: str,
    message: str,
    state: str,
) -> None:
    if state == "session-valid":
        home.credentials.write_text(
            f"{LONG_TERM}\n{WORK_LONG_TERM}\n[work]\n{session(expires_in(timedelta(minutes=600)))}"
        )
    before = home.credentials.read_bytes()
    home.config.write_text(f"# work account\n[profile work]\nregion = eu-west-1\n{line}\n")

    result = run(capsys, "-p", "work", "-t", "123456")

    expected = message.format(config=home.config)
    assert result == (1, "", f"aws-mfa: error: {expected}; nothing was run\n")
    assert (work.requests, otp_log.exists(), home.credentials.read_bytes()) == ([], False, before)


@pytest.mark.parametrize(
    ("config", "duration", "region"),
    [
        pytest.param(
            "[profile default]\naws_mfa_duration = 2h\n[default]\nregion = eu-west-1\n",
            "--duration: 43200, 3600 with a role (built-in default)",
            "region: eu-west-1 (config [default])",
            id="default-later",
        ),
        pytest.param(
            "[default]\nregion = eu-west-1\n[profile default]\naws_mfa_duration = 2h\n",
            "--duration: 2h (aws_mfa_duration in [profile default] of {config})",
            "region: none configured: the global endpoint (instance metadata is off: AWS_EC2_METADATA_DISABLED)",
            id="profile-default-later",
        ),
    ],
)
def test_of_default_and_profile_default_the_later_section_counts_whole(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str], config: str, duration: str, region: str
) -> None:
    # As botocore reads them: one of the two sections, the later, and none of the other's keys.
    home.credentials.write_text(LONG_TERM)
    home.config.write_text(config)

    code, out, err = run(capsys, "--dry-run", "-v")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert (duration.format(config=home.config) in lines, region in lines) == (True, True)


def test_a_flag_overrules_a_bad_code_source_in_the_config_file(
    work: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the source in effect is checked: the flag's 1Password item beats the file's command.
    home.config.write_text('[profile work]\naws_mfa_otp_command = oathtool --totp -b JBSWY3DPEHPK3PXP "unclosed\n')

    code, out, err = run(capsys, "-p", "work", "--dry-run", "-v", "--op-item-name", "AWS")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "code: 1Password: op item get AWS --otp (the prompt if it fails)" in lines
    assert f"--otp-command: (not a command line) (aws_mfa_otp_command in [profile work] of {home.config})" in lines
    assert "JBSWY3DPEHPK3PXP" not in out


def test_config_file_dev_null_is_no_config_file(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for the aws CLI; /dev/null is a device, which aws-mfa otherwise refuses as a config file.
    valid = expires_in(timedelta(minutes=600))
    home.credentials.write_text(f"{LONG_TERM}\n[default]\n{session(valid)}")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)

    assert run(capsys) == (
        0,
        "",
        f"aws-mfa: [default] is still valid until {local(valid)} (9h59m left); --force refreshes\n",
    )


def test_settings_in_the_credentials_file_are_named_as_not_read(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    # Beside aws_mfa_device is where people would put them first.
    text = f"{LONG_TERM}aws_mfa_otp_command = otp\nmfa_process = otp\n\n[default]\naws_mfa_duration = 1h\n"
    home.credentials.write_text(text)

    assert run(capsys, "-t", "123456") == (
        0,
        "",
        "aws-mfa: warning: aws_mfa_duration in [default], aws_mfa_otp_command in [default-long-term], mfa_process in "
        f"[default-long-term] of {home.credentials} is not read: aws-mfa's settings go in the config file, "
        "[profile default] or [profile default-long-term]\n" + valid_until(),
    )
    assert params(session_stub.requests[0].body)["DurationSeconds"] == "43200"


def test_malformed_config_file_is_reported_with_its_line(
    work: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    home.config.write_text("[profile work]\naws_mfa_duration 2h\n")

    assert run(capsys, "-p", "work", "-t", "123456") == (
        1,
        "",
        f"aws-mfa: error: {home.config}: line 2: not a 'key = value' line, [section] header or comment; "
        "fix the file, nothing was written\n",
    )
    assert work.requests == []


# --- --clear ----------------------------------------------------------------------------


# A file with comments, two pairs, key case, ':' and '=' spacing, and CRLF in [work].
CLEAR_HEAD = f"# my keys\n{LONG_TERM}\n; the session aws-mfa writes\n[default]\nregion = eu-west-1\n"
DEFAULT_SESSION = session(expires_in(timedelta(hours=10)))
CLEAR_MIDDLE = f"output=json\n\n{WORK_LONG_TERM}\n[work]\r\nRegion: us-east-2\r\n"
WORK_SESSION = (
    "AWS_ACCESS_KEY_ID = ASIAWORK000000000000\r\naws_secret_access_key=oldsecret\r\naws_session_token = oldtoken\r\n"
    f"expiration = {expires_in(timedelta(hours=-1))}\r\naws_mfa_role_arn = {ROLE}\r\n"
)
CLEAR_TAIL = "# kept\r\n"


@pytest.mark.parametrize(
    ("profile", "after"),
    [
        pytest.param(
            "work",
            CLEAR_HEAD + DEFAULT_SESSION + CLEAR_MIDDLE + CLEAR_TAIL,
            id="work-with-role-crlf-and-key-case",
        ),
        pytest.param("default", CLEAR_HEAD + CLEAR_MIDDLE + WORK_SESSION + CLEAR_TAIL, id="default"),
    ],
)
def test_clear_removes_the_session_and_keeps_every_other_byte(
    home: Home, capsys: pytest.CaptureFixture[str], closed_url: str, profile: str, after: str
) -> None:
    home.credentials.write_bytes((CLEAR_HEAD + DEFAULT_SESSION + CLEAR_MIDDLE + WORK_SESSION + CLEAR_TAIL).encode())

    result = run(capsys, "--clear", "-p", profile)

    assert result == (0, "", f"aws-mfa: removed the session from [{profile}] in {home.credentials}\n")
    assert home.credentials.read_bytes() == after.encode()
    assert run(capsys, "--clear", "-p", profile) == (
        0,
        "",
        f"aws-mfa: [{profile}] in {home.credentials} holds no session; nothing to clear\n",
    )
    assert home.credentials.read_bytes() == after.encode()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(None, id="no-file"),
        pytest.param(LONG_TERM, id="no-section"),
        pytest.param(f"{LONG_TERM}\n[default]\nregion = eu-west-1\n", id="section-without-session"),
    ],
)
def test_clear_with_nothing_to_clear(home: Home, capsys: pytest.CaptureFixture[str], text: str | None) -> None:
    if text is not None:
        home.credentials.write_text(text)

    assert run(capsys, "--clear") == (
        0,
        "",
        f"aws-mfa: [default] in {home.credentials} holds no session; nothing to clear\n",
    )
    assert (home.credentials.read_text() if text is not None else None) == text
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == (["credentials"] if text else [])


def test_clear_refuses_long_term_keys(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    text = f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n"
    home.credentials.write_text(text)

    assert run(capsys, "--clear") == (
        1,
        "",
        f"aws-mfa: error: [default] in {home.credentials} holds long-term keys without a session token; "
        "--clear removes only a session, never a long-term key: to use them with aws-mfa, run aws-mfa --setup to "
        "move them to [default-long-term]\n",
    )
    assert home.credentials.read_text() == text


def test_clear_refuses_an_akia_key_beside_a_leftover_token(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    # `aws configure` over an old session: the new long-term key, the old token. The secret
    # of an AKIA key cannot be had from AWS again, so it is never cleared as a session.
    text = (
        "# after aws configure\n[default]\n"
        f"aws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\naws_session_token = leftover\n"
    )
    home.credentials.write_text(text)

    assert run(capsys, "--clear") == (
        1,
        "",
        f"aws-mfa: error: [default] in {home.credentials} holds long-term keys (an IAM user's AKIA key) beside a "
        "session token; --clear removes only a session, never a long-term key: to use them with aws-mfa, run "
        "aws-mfa --setup to move them to [default-long-term]\n",
    )
    assert home.credentials.read_text() == text


def test_clear_removes_a_session_key_without_its_token(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    # A broken session (ASIA... without its token) is no long-term key: it may be removed.
    home.credentials.write_text(
        f"{LONG_TERM}\n[default]\naws_access_key_id = ASIAOLD0000000000000\naws_secret_access_key = x\n"
    )

    assert run(capsys, "--clear") == (0, "", f"aws-mfa: removed the session from [default] in {home.credentials}\n")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n"


@pytest.mark.prints_secrets
def test_an_akia_key_beside_a_token_is_no_session_to_keep(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    # `aws configure` over an old session, with the long-term key: not a valid session, so
    # neither --status nor the skip path gives the long-term secret out with the old token.
    valid = expires_in(timedelta(minutes=600))
    text = f"{LONG_TERM}\n[default]\n{session(valid, key=LONG_KEY).replace('oldsecret', LONG_SECRET)}"
    home.credentials.write_text(text)

    assert run(capsys, "--status") == (1, "[default] has no session\n", "")
    code, out, err = aws_mfa.main(["--env", "-t", "123456"]), *capsys.readouterr()
    assert (code, err) == (0, "")
    assert f"export AWS_ACCESS_KEY_ID={STUB_KEY}\n" in out
    assert LONG_SECRET not in out


def test_clear_refuses_long_term_keys_written_meanwhile(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the first read and the locked write, someone put long-term keys into [default].
    home.credentials.write_text(f"[default]\n{session(expires_in(timedelta(hours=10)))}")
    replaced = f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n"
    original = aws_mfa.write_atomically

    def racing(path: str, compose: Callable[[str], str]) -> None:
        home.credentials.write_text(replaced)
        original(path, compose)

    monkeypatch.setattr(aws_mfa, "write_atomically", racing)
    code, out, err = run(capsys, "--clear")

    assert (code, out) == (1, "")
    assert "holds long-term keys without a session token; --clear removes only a session, never" in err
    assert home.credentials.read_text() == replaced


# --- --list -----------------------------------------------------------------------------


def test_list_shows_every_pair_without_secrets(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    valid, expired = expires_in(timedelta(minutes=185)), expires_in(timedelta(days=-1))
    home.credentials.write_text(
        "# keys\n"
        f"{LONG_TERM}\n"
        f"[default]\n{session(valid)}\n"
        f"{WORK_LONG_TERM}\n"
        f"[work]\n{session(expired, role=ROLE)}\n"
        "[test-long-term]\naws_access_key_id = AKIATEST000000000000\naws_secret_access_key = t\n\n"
        "[unrelated]\nregion = eu-west-1\n"
    )
    home.config.write_text("[profile test]\nmfa_serial = arn:aws:iam::333333333333:mfa/tester\n")
    before = home.credentials.read_bytes()

    code, out, err = run(capsys, "--list")

    credentials = home.credentials
    assert (code, err) == (0, "")
    assert out == (
        f"default: keys in [default-long-term] of {credentials}; device {DEVICE}; "
        f"session valid until {local(valid)} (3h04m left)\n"
        f"work: keys in [work-long-term] of {credentials}; device {WORK_DEVICE}; "
        f"session expired at {local(expired)}; role {ROLE}\n"
        f"test: keys in [test-long-term] of {credentials}; device arn:aws:iam::333333333333:mfa/tester; "
        "session none\n"
    )
    assert home.credentials.read_bytes() == before


def test_list_with_another_suffix_and_no_device(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.credentials.write_text(f"[ci.long]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = s\n")

    assert run(capsys, "--list", "--long-term-suffix", ".long") == (
        0,
        f"ci: keys in [ci.long] of {home.credentials}; device not set (asked of IAM); session none\n",
        "",
    )


def test_list_shows_keys_from_a_config_credential_process(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    valid = expires_in(timedelta(minutes=65))
    home.credentials.write_text(
        f"{LONG_TERM}\n"
        # Only a device here: the keys come from the config profile's program, as in a refresh.
        "[ci-long-term]\naws_mfa_device = arn:aws:iam::444444444444:mfa/ci\n\n"
        f"[ci]\n{session(valid)}"
    )
    home.config.write_text(
        # The credentials file's keys win over a program, as in botocore and in a refresh.
        "[profile default-long-term]\ncredential_process = never-run default\n\n"
        "[profile ci-long-term]\ncredential_process = never-run ci\n\n"
        "[profile ops-long-term]\ncredential_process = never-run ops\n"
        "mfa_serial = arn:aws:iam::555555555555:mfa/ops\n\n"
        # Not a long-term profile, and a long-term profile without a program: no pairs.
        "[profile mfa]\ncredential_process = aws-mfa --credential-process\n\n"
        "[profile qa-long-term]\nregion = eu-west-1\n"
    )

    code, out, err = run(capsys, "--list")

    credentials, config = home.credentials, home.config
    assert (code, err) == (0, "")
    assert out == (
        f"default: keys in [default-long-term] of {credentials}; device {DEVICE}; session none\n"
        f"ci: keys in credential_process of [profile ci-long-term] in {config}; "
        f"device arn:aws:iam::444444444444:mfa/ci; session valid until {local(valid)} (1h04m left)\n"
        f"ops: keys in credential_process of [profile ops-long-term] in {config}; "
        "device arn:aws:iam::555555555555:mfa/ops; session none\n"
    )


def test_list_shows_only_usable_pairs_and_no_raw_control_characters(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = f"aws_access_key_id = {LONG_KEY}\naws_secret_access_key = s\n"
    home.credentials.write_text(
        # An escape sequence would reach the terminal; a bracket makes a name -p refuses.
        f"[x\x1b]0;PWNED\x07-long-term]\n{keys}\n"
        f"[bell\x07-long-term]\n{keys}\n"
        f"[z-long-term]\n{keys}aws_mfa_device = arn:aws:iam::1:mfa/a\n  more\n"
    )
    # botocore reads two spaces after `profile` as one, and so does aws-mfa (issue 21, item 9).
    home.config.write_text("[profile  y-long-term]\ncredential_process = never-run\n")

    code, out, err = run(capsys, "--list")

    assert (code, err) == (0, "")
    assert out == (
        f"bell\\x07: keys in [bell\\x07-long-term] of {home.credentials}; device not set (asked of IAM); "
        "session none\n"
        f"z: keys in [z-long-term] of {home.credentials}; device malformed (aws_mfa_device in [z-long-term]); "
        "session none\n"
        f"y: keys in credential_process of [profile  y-long-term] in {home.config}; device not set (asked of IAM); "
        "session none\n"
    )


@pytest.mark.parametrize("text", [None, "[default]\nregion = eu-west-1\n"], ids=["no-file", "no-pairs"])
def test_list_without_pairs(home: Home, capsys: pytest.CaptureFixture[str], text: str | None) -> None:
    if text is not None:
        home.credentials.write_text(text)

    assert run(capsys, "--list") == (
        0,
        "",
        f"aws-mfa: no profile pairs in {home.credentials} or {home.config} (long-term keys in "
        "[NAME-long-term] or a credential_process in [profile NAME-long-term], the session in [NAME])\n",
    )


# --- under an SDK: AWS_PROFILE ------------------------------------------------------------


@pytest.mark.prints_secrets
@pytest.mark.parametrize(
    ("argv", "env", "written"),
    [
        pytest.param([], {"AWS_PROFILE": "mfa"}, "default", id="aws-profile-ignored"),
        pytest.param([], {"AWS_PROFILE": "mfa", "AWS_MFA_PROFILE": "work"}, "work", id="aws-mfa-profile"),
        pytest.param(["-p", "work"], {"AWS_PROFILE": "mfa"}, "work", id="flag"),
        # Not even checked: botocore takes [profile DEFAULT], which aws-mfa could never write.
        pytest.param([], {"AWS_PROFILE": "DEFAULT"}, "default", id="unusable-aws-profile-ignored"),
    ],
)
def test_credential_process_is_not_steered_by_the_sdks_aws_profile(
    work: StubServer,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    written: str,
) -> None:
    set_env(monkeypatch, env)

    code, out, err = aws_mfa.main(["--credential-process", "-t", "123456", *argv]), *capsys.readouterr()

    assert (code, err) == (0, "")
    assert json.loads(out)["AccessKeyId"] == STUB_KEY
    pairs = f"{LONG_TERM}\n{WORK_LONG_TERM}"
    assert home.credentials.read_text() == f"{pairs}\n[{written}]\n{stub_session()}"


@pytest.mark.prints_secrets
def test_credential_process_says_when_aws_profile_names_another_pair(
    work: StubServer, home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A script, not an SDK: `AWS_PROFILE=work aws-mfa --credential-process` gets [default].
    monkeypatch.setenv("AWS_PROFILE", "work")

    code, out, err = aws_mfa.main(["--credential-process", "-t", "123456"]), *capsys.readouterr()

    assert (code, json.loads(out)["AccessKeyId"]) == (0, STUB_KEY)
    assert err == (
        "aws-mfa: warning: AWS_PROFILE=work does not choose the profile with --credential-process (an SDK passes "
        "its environment on, where AWS_PROFILE names the SDK's profile); this is [default]; pass -p work for [work]\n"
    )
    assert home.credentials.read_text() == f"{LONG_TERM}\n{WORK_LONG_TERM}\n[default]\n{stub_session()}"


def test_plain_run_still_follows_aws_profile(
    work: StubServer, home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "work")

    assert run(capsys, "-t", "123456") == (0, "", valid_until("work"))


def test_person_notices_stay_on_stderr_without_a_terminal(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As under cron: no controlling terminal (the suite itself may run under one, so the
    # terminal's name is pointed at a path that cannot open).
    monkeypatch.setattr(aws_mfa, "CONTROLLING_TERMINAL", "/nonexistent/tty")
    messages = aws_mfa._Messages(1, to_terminal=True)
    messages.notice("a hint")
    messages.notice("waiting for nothing", watched_only=True)
    aws_mfa._Messages(0, to_terminal=True).notice("quiet")
    assert capsys.readouterr() == ("", "aws-mfa: a hint\n")


# --- a skewed clock -----------------------------------------------------------------------


CLOCK = (
    ": codes from programs on this machine and request signatures depend on the clock; set it right (turn on NTP) "
    "and run again"
)
REJECTED = "AccessDenied: MultiFactorAuthentication failed with invalid MFA one time pass code."
# STS's message text only: no clock is compared with the time in it.
EXPIRED = "SignatureDoesNotMatch: Signature expired: 20261128T130000Z is now earlier than ..."


@pytest.mark.parametrize(
    ("offset", "error", "argv", "message"),
    [
        pytest.param(
            300,
            REJECTED,
            ["--otp-command", "otp"],
            # With the clock off, waiting for the program's next code would not help: no retry.
            f"This machine's clock is about 5 min behind STS's{CLOCK} (STS refused: {REJECTED})",
            id="program-code-rejected-clock-behind",
        ),
        pytest.param(
            300,
            REJECTED,
            ["-t", "123456"],
            # A typed code comes from a phone's clock: the code first, the clock said too.
            "STS rejected the MFA code (wrong, expired or already used); wait for the next code and run again. "
            f"This machine's clock is about 5 min behind STS's{CLOCK}",
            id="typed-code-rejected-clock-behind",
        ),
        pytest.param(
            -400,
            EXPIRED,
            ["-t", "123456"],
            f"This machine's clock is about 7 min ahead of STS's{CLOCK} (STS refused: {EXPIRED})",
            id="signature-clock-ahead-beyond-5-min",
        ),
        pytest.param(
            -60,
            EXPIRED,
            ["-t", "123456"],
            # STS takes signatures up to 5 minutes off: the secret is the likelier cause.
            "the secret access key in [default-long-term] does not match its access key id; copy it again. "
            # The Date has whole seconds, and the answer takes a moment: 60 or 61 s.
            "This machine's clock is {s} s ahead of STS's" + CLOCK,
            id="signature-clock-ahead-within-5-min",
        ),
    ],
)
def test_skewed_clock_is_named(
    session_stub: StubServer,
    home: Home,
    fake_bin: FakeBin,
    capsys: pytest.CaptureFixture[str],
    offset: float,
    error: str,
    argv: list[str],
    message: str,
) -> None:
    fake_bin("otp", "print('123456')")
    error_code, text = error.split(": ", 1)
    session_stub.default = StubServer.error(error_code, text)
    session_stub.clock_offset = offset

    code, out, err = run(capsys, *argv)

    assert (code, out) == (1, "")
    assert err in {f"aws-mfa: error: {message.format(s=seconds)}\n" for seconds in (60, 61)}
    assert len(session_stub.requests) == 1
    assert home.credentials.read_text() == LONG_TERM


def test_clock_within_30_seconds_is_not_blamed(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    session_stub.default = StubServer.error("SignatureDoesNotMatch", "The request signature we calculated ...")
    session_stub.clock_offset = 20

    assert run(capsys, "-t", "123456") == (
        1,
        "",
        "aws-mfa: error: the secret access key in [default-long-term] does not match its access key id; "
        "copy it again\n",
    )


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        pytest.param("Sat, 28 Nov 2026 13:00:00 GMT", 45.0, id="rfc-7231"),
        pytest.param("not a date", None, id="unreadable"),
        # Beyond what a datetime holds: once an OverflowError and a traceback.
        pytest.param("Sat, 28 Nov 99999999999999999999 16:00:00 GMT", None, id="year-overflows"),
        pytest.param("Sat, 28 Nov 2026 16:00:00 +99999999999999999999", None, id="offset-overflows"),
        # No zone is still UTC, whatever this machine's local time.
        pytest.param("Sat, 28 Nov 2026 13:00:00 -0000", 45.0, id="no-zone"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_clock_skew_from_a_date_header(
    date: str | None, expected: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A parsing case: the Date texts above and this "now" are compared with each other only.
    now = datetime(2026, 11, 28, 13, 0, 45, tzinfo=timezone.utc).timestamp()
    # A local time an hour off UTC, so that a Date read as local time shows.
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert aws_mfa.clock_skew(date, now) == expected
    finally:
        monkeypatch.undo()
        time.tzset()
    assert aws_mfa.describe_skew(-45.4).startswith("This machine's clock is 45 s behind STS's: ")
    assert aws_mfa.describe_skew(3599).startswith("This machine's clock is about 60 min ahead of STS's: ")
    assert aws_mfa.describe_skew(-56 * 365 * 86400).startswith("This machine's clock is about 20440 days behind")
    assert aws_mfa.describe_skew(36 * 3600).startswith("This machine's clock is about 36 h ahead")


def test_person_notices_go_to_the_terminal_when_stderr_is_captured(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    master, terminal = pty.openpty()
    monkeypatch.setattr(aws_mfa, "CONTROLLING_TERMINAL", os.ttyname(terminal))
    messages = aws_mfa._Messages(1, to_terminal=True)
    messages.notice("waiting for the OTP command", watched_only=True)
    messages.notice("a hint")
    aws_mfa._Messages(1).notice("not under an SDK: stderr")

    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once everything written has been read
        while chunk := os.read(master, 1000):
            shown += chunk
    os.close(master)
    assert shown == b"aws-mfa: waiting for the OTP command\r\naws-mfa: a hint\r\n"
    assert capsys.readouterr() == ("", "aws-mfa: not under an SDK: stderr\n")


def test_otp_command_by_a_path_that_does_not_exist(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    home.config.write_text("[default]\naws_mfa_otp_command = /opt/yubico/ykman oath accounts code -s aws\n")

    assert run(capsys, stdin="123456\n") == (
        0,
        "",
        "aws-mfa: warning: the OTP command: '/opt/yubico/ykman' does not exist; asking for the code instead\n"
        + valid_until(),
    )
