"""Skip while valid, --status, --env, --credential-process, --dry-run, assume-role, discovery, OTP commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
from conftest import Answer
from conftest import Home
from conftest import StubServer
from conftest import expires_in
from conftest import moment_in
from conftest import set_env
from conftest import stub_expiration
from conftest import stub_session
from conftest import valid_until
from test_refresh import run

import aws_mfa

FakeBin = Callable[[str, str], Path]
ROLE = "arn:aws:iam::123456789012:role/admin"


def params(request_body: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request_body))


def existing(expiration: str, role: str | None = None) -> str:
    role_line = f"aws_mfa_role_arn = {role}\n" if role else ""
    return (
        f"{LONG_TERM}\n[default]\naws_access_key_id = ASIAOLD0000000000000\naws_secret_access_key = oldsecret\n"
        f"aws_session_token = oldtoken\nexpiration = {expiration}\n{role_line}"
    )


def local(moment: datetime) -> str:
    return aws_mfa.format_local(moment)


# --- skip while valid ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "minutes", "form"),
    [
        pytest.param([], {}, 60, "rfc3339", id="an-hour-left"),
        pytest.param([], {}, 60, "naive", id="naive-utc-form"),
        pytest.param([], {}, 60, "offset", id="offset-form"),
        pytest.param(["--min-remaining", "5m"], {}, 10, "rfc3339", id="min-remaining-flag"),
        pytest.param([], {"AWS_MFA_MIN_REMAINING": "5m"}, 10, "rfc3339", id="min-remaining-env"),
    ],
)
def test_valid_session_is_kept_without_asking_or_calling(
    session_stub: StubServer,
    home: Home,
    fake_bin: FakeBin,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    env: dict[str, str],
    minutes: int,
    form: str,
) -> None:
    expires = moment_in(timedelta(minutes=minutes))
    text = {
        "rfc3339": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "naive": expires.strftime("%Y-%m-%d %H:%M:%S"),
        "offset": expires.astimezone(timezone(timedelta(hours=2))).isoformat(),
    }[form]
    home.credentials.write_text(existing(text))
    fake_bin("op", f"open({str(tmp_path / 'ran')!r}, 'w').close()")
    set_env(monkeypatch, env)

    code, out, err = run(capsys, "--op-item-name", "AWS", *argv)

    assert (code, out) == (0, "")
    assert (
        err == f"aws-mfa: [default] is still valid until {local(expires)} ({minutes - 1}m left); --force refreshes\n"
        or (err == f"aws-mfa: [default] is still valid until {local(expires)} (1h00m left); --force refreshes\n")
    )
    assert session_stub.requests == []
    assert not (tmp_path / "ran").exists()
    assert home.credentials.read_text() == existing(text)


@pytest.mark.parametrize(
    ("argv", "before"),
    [
        pytest.param(["--force"], existing(expires_in(timedelta(minutes=600))), id="force"),
        pytest.param([], existing(expires_in(timedelta(minutes=10))), id="within-min-remaining"),
        pytest.param([], existing(expires_in(timedelta(days=-1))), id="expired"),
        pytest.param([], existing("soon"), id="unreadable-expiration"),
        pytest.param(
            [], existing(moment_in(timedelta(minutes=600)).isoformat()).replace("expiration", "exp"), id="no-expiration"
        ),
    ],
)
def test_refresh_when_due(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str], argv: list[str], before: str
) -> None:
    home.credentials.write_text(before)

    assert run(capsys, *argv, stdin="123456\n") == (0, "", valid_until())
    assert len(session_stub.requests) == 1


def test_skip_path_imports_no_boto(home: Home) -> None:
    home.credentials.write_text(existing(expires_in(timedelta(minutes=600))))
    probe = (
        "import sys, aws_mfa; code = aws_mfa.main(['-q']); print(code, sorted(m for m in sys.modules if 'boto' in m))"
    )

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)

    assert (result.stdout, result.stderr) == ("0 []\n", "")


# --- --status --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code", "line"),
    [
        pytest.param(existing("{valid}"), 0, "[default] valid until {valid_local} (9h59m left)", id="valid"),
        pytest.param(existing("{expired}"), 1, "[default] expired at {expired_local}", id="expired"),
        pytest.param(LONG_TERM, 1, "[default] has no session", id="missing"),
    ],
)
def test_status(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], content: str, code: int, line: str
) -> None:
    valid, expired = moment_in(timedelta(minutes=600)), moment_in(timedelta(days=-1))
    rfc3339 = "%Y-%m-%dT%H:%M:%SZ"
    home.credentials.write_text(content.format(valid=valid.strftime(rfc3339), expired=expired.strftime(rfc3339)))

    expected = line.format(valid_local=local(valid), expired_local=local(expired))
    assert run(capsys, "--status") == (code, expected + "\n", "")
    assert stub.requests == []


# --- --code, --otp-command, --otp-timeout ---------------------------------------


def test_code_flag(session_stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-t", "024680") == (0, "", valid_until())
    assert params(session_stub.requests[0].body)["TokenCode"] == "024680"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--code", "12345"], "argument -t/--code: the MFA code is six digits", id="short-code"),
        pytest.param(
            ["--otp-timeout", "0"],
            "argument --otp-timeout: '0' is not a number of seconds above 0 and at most 3600",
            id="zero",
        ),
        pytest.param(
            ["--otp-timeout", "nan"],
            "argument --otp-timeout: 'nan' is not a number of seconds above 0 and at most 3600",
            id="nan",
        ),
        pytest.param(
            ["--otp-timeout", "1e9"],
            "argument --otp-timeout: '1e9' is not a number of seconds above 0 and at most 3600",
            id="huge",
        ),
        pytest.param(
            ["--min-remaining", "37h"],
            "argument --min-remaining: 37h is longer than any session (36h)",
            id="min-remaining",
        ),
        pytest.param(["--status", "--env"], "argument --env: not allowed with argument --status", id="two-modes"),
    ],
)
def test_usage_errors(home: Home, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith(f"aws-mfa: error: {message}\n")


def test_otp_command_is_split_without_a_shell_and_beats_1password(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "argv.json"
    fake_bin("otp", f"import json\njson.dump(sys.argv[1:], open({str(log)!r}, 'w'))\nprint('  112233  ')")
    fake_bin("op", "print('999999')")

    assert run(capsys, "--otp-command", "otp --name 'my aws' $HOME;echo", "--op-item-name", "AWS") == (
        0,
        "",
        valid_until(),
    )

    assert json.loads(log.read_text()) == ["--name", "my aws", "$HOME;echo"]
    assert params(session_stub.requests[0].body)["TokenCode"] == "112233"


def test_otp_command_from_environment_with_timeout(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bin("otp", "time.sleep(30)")
    monkeypatch.setenv("AWS_MFA_OTP_COMMAND", "otp")
    monkeypatch.setenv("AWS_MFA_OTP_TIMEOUT", "0.3")

    assert run(capsys, stdin="445566\n") == (
        0,
        "",
        f"aws-mfa: warning: the OTP command gave no code within 0.3 s; asking for the code instead\n{valid_until()}",
    )
    assert params(session_stub.requests[0].body)["TokenCode"] == "445566"


def test_rejected_automatic_code_is_fetched_once_more(
    session_stub: StubServer,
    fake_bin: FakeBin,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    counter = tmp_path / "count"
    fake_bin(
        "otp",
        f"p = {str(counter)!r}\nn = int(open(p).read()) + 1 if os.path.exists(p) else 1\n"
        "open(p, 'w').write(str(n))\nprint(f'{n:06d}')",
    )
    monkeypatch.setattr(aws_mfa, "TOTP_PERIOD", 0.2)
    session_stub.queue.append(
        StubServer.error("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
    )

    code, out, err = run(capsys, "--otp-command", "otp")

    assert (code, out) == (0, "")
    assert err == f"aws-mfa: STS rejected the code from the OTP command; trying the next one in 1 s\n{valid_until()}"
    assert [params(r.body)["TokenCode"] for r in session_stub.requests] == ["000001", "000002"]


@pytest.mark.parametrize("argv", [["--code", "123456"], []], ids=["code-flag", "stdin"])
def test_rejected_typed_code_is_not_retried(
    session_stub: StubServer, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    session_stub.sts_error("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")

    assert run(capsys, *argv, stdin="123456\n") == (1, "", f"aws-mfa: error: {aws_mfa.CODE_REJECTED}\n")
    assert len(session_stub.requests) == 1


# --- --assume-role ---------------------------------------------------------------


def test_assume_role_sends_mfa_and_records_the_role(
    stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN, action="AssumeRole")
    home.credentials.write_text(LONG_TERM)

    result = run(
        capsys, "--assume-role", ROLE, "--role-session-name", "alice@laptop", "--external-id", "x-1", "-t", "123456"
    )

    assert result == (0, "", valid_until())
    assert params(stub.requests[0].body) == {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": ROLE,
        "RoleSessionName": "alice@laptop",
        "DurationSeconds": "3600",
        "SerialNumber": DEVICE,
        "TokenCode": "123456",
        "ExternalId": "x-1",
    }
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}aws_mfa_role_arn = {ROLE}\n"


def test_role_from_environment_with_default_session_name(
    stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN, action="AssumeRole")
    monkeypatch.setenv("AWS_MFA_ASSUME_ROLE", ROLE)
    monkeypatch.setenv("AWS_SESSION_DURATION", "2h")
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, "-t", "123456") == (0, "", valid_until())

    sent = params(stub.requests[0].body)
    assert (sent["RoleSessionName"], sent["DurationSeconds"]) == (f"aws-mfa-{getpass.getuser()}", "7200")
    assert "ExternalId" not in sent


def test_other_role_forces_refresh_and_plain_session_drops_the_role(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    valid = expires_in(timedelta(minutes=600))
    home.credentials.write_text(existing(valid, role=ROLE))

    assert run(capsys, "-t", "123456") == (0, "", valid_until())

    assert params(session_stub.requests[0].body)["Action"] == "GetSessionToken"
    assert home.credentials.read_text() == (
        f"{LONG_TERM}\n[default]\naws_access_key_id = {STUB_KEY}\naws_secret_access_key = {STUB_SECRET}\n"
        f"aws_session_token = {STUB_TOKEN}\nexpiration = {stub_expiration()}\naws_security_token = {STUB_TOKEN}\n"
    )


def test_role_duration_too_long_is_explained(stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    stub.sts_error(
        "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", 400
    )
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, "--assume-role", ROLE, "-d", "12h", "-t", "123456") == (
        1,
        "",
        "aws-mfa: error: the role allows shorter sessions than asked; pass a shorter --duration (e.g. 1h) or raise "
        "its maximum\n",
    )
    assert home.credentials.read_text() == LONG_TERM


# --- device discovery ------------------------------------------------------------


def mfa_devices(*serials: str) -> Answer:
    members = "".join(
        f"<member><UserName>alice</UserName><SerialNumber>{serial}</SerialNumber>"
        "<EnableDate>2026-01-01T00:00:00Z</EnableDate></member>"  # not compared with any clock
        for serial in serials
    )
    return Answer(
        200,
        '<ListMFADevicesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListMFADevicesResult>'
        f"<MFADevices>{members}</MFADevices><IsTruncated>false</IsTruncated></ListMFADevicesResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListMFADevicesResponse>",
    )


NO_DEVICE = f"[default-long-term]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n"
WHERE = "pass --device or add aws_mfa_device to [default-long-term]"


def test_discovery_uses_the_one_usable_device(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(NO_DEVICE)
    session_stub.actions["ListMFADevices"] = mfa_devices("arn:aws:iam::1:u2f/root/key", DEVICE)

    assert run(capsys, "-t", "123456") == (
        0,
        "",
        f"aws-mfa: using MFA device {DEVICE}; to skip this look-up, add 'aws_mfa_device = {DEVICE}' to "
        f"[default-long-term]\n{valid_until()}",
    )
    assert [params(r.body)["Action"] for r in session_stub.requests] == ["ListMFADevices", "GetSessionToken"]
    assert session_stub.requests[0].headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")
    assert params(session_stub.requests[1].body)["SerialNumber"] == DEVICE


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            mfa_devices("arn:aws:iam::1:mfa/a", "GAHT00000001"),
            f"several MFA devices: arn:aws:iam::1:mfa/a, GAHT00000001; choose one: {WHERE}",
            id="several",
        ),
        pytest.param(
            mfa_devices("arn:aws:iam::1:u2f/root/key"),
            f"no MFA device configured, and the user has no virtual or hardware MFA device; {WHERE}",
            id="u2f-only",
        ),
        pytest.param(
            mfa_devices(),
            f"no MFA device configured, and the user has no virtual or hardware MFA device; {WHERE}",
            id="none",
        ),
        pytest.param(
            StubServer.error("AccessDenied", "not authorized to perform: iam:ListMFADevices"),
            f"no MFA device configured and IAM would not list them (AccessDenied); {WHERE}",
            id="access-denied",
        ),
    ],
)
def test_discovery_failures(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str], answer: Answer, message: str
) -> None:
    home.credentials.write_text(NO_DEVICE)
    session_stub.actions["ListMFADevices"] = answer

    assert run(capsys, "-t", "123456") == (1, "", f"aws-mfa: error: {message}\n")
    assert [params(r.body)["Action"] for r in session_stub.requests] == ["ListMFADevices"]
    assert home.credentials.read_text() == NO_DEVICE


def test_discovery_unreachable(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.credentials.write_text(NO_DEVICE)

    assert run(capsys, "-t", "123456") == (
        1,
        "",
        "aws-mfa: error: no MFA device configured and IAM could not be asked: Could not connect to the endpoint "
        f'URL: "http://127.0.0.1:9/"; {WHERE}\n',
    )


# --- --env and --credential-process ---------------------------------------------


@pytest.mark.prints_secrets
def test_env_output_evaluated_by_sh(session_stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = aws_mfa.main(["--env", "-t", "123456"]), *capsys.readouterr()

    assert (code, err) == (0, "")
    shell = subprocess.run(
        [
            "sh",
            "-c",
            f'{out}\nprintf "%s|" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" '
            '"$AWS_CREDENTIAL_EXPIRATION"',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == f"{STUB_KEY}|{STUB_SECRET}|{STUB_TOKEN}|{stub_expiration()}|"


def test_env_quotes_hostile_values(capsys: pytest.CaptureFixture[str]) -> None:
    session = aws_mfa.SessionCredentials("A", "it's $(rm -rf ~)", "`x`", moment_in(timedelta(hours=1)))
    shell = subprocess.run(
        ["sh", "-c", aws_mfa.env_lines(session) + 'printf "%s|" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == "it's $(rm -rf ~)|`x`|"


@pytest.mark.prints_secrets
def test_env_with_a_valid_session_prints_it_without_refreshing(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    valid = expires_in(timedelta(minutes=600))
    home.credentials.write_text(existing(valid))

    assert aws_mfa.main(["--env"]) == 0
    assert capsys.readouterr() == (
        "export AWS_ACCESS_KEY_ID=ASIAOLD0000000000000\nexport AWS_SECRET_ACCESS_KEY=oldsecret\n"
        f"export AWS_SESSION_TOKEN=oldtoken\nexport AWS_SECURITY_TOKEN=oldtoken\n"
        f"export AWS_CREDENTIAL_EXPIRATION={valid}\n",
        "",
    )
    assert session_stub.requests == []


def test_credential_process_consumed_by_botocore(home: Home, sts: StubServer) -> None:
    import boto3

    home.credentials.write_text(LONG_TERM)
    script = Path(sys.executable).with_name("aws-mfa")
    home.config.write_text(f"[profile mfa]\ncredential_process = {script} --credential-process --code 123456\n")

    session = boto3.Session(profile_name="mfa", region_name="us-east-1")
    credentials = session.get_credentials()

    assert credentials is not None
    frozen = credentials.get_frozen_credentials()
    assert sts.answered == [(frozen.access_key, frozen.secret_key, frozen.token)]
    assert session.client("sts").get_caller_identity()["Account"] == "123456789012"
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session(*sts.answered[0])}"


def test_credential_process_without_terminal_fails_clearly(session_stub: StubServer, home: Home) -> None:
    script = Path(sys.executable).with_name("aws-mfa")

    # A new session has no controlling terminal, as under an SDK started by cron.
    result = subprocess.run(
        [str(script), "--credential-process"],
        input="123456\n",
        capture_output=True,
        text=True,
        start_new_session=True,
        check=False,
    )

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("aws-mfa: error: no MFA code: no terminal")
    assert session_stub.requests == []


@pytest.mark.prints_secrets
def test_credential_process_prompts_on_the_controlling_terminal(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pty

    master, slave = pty.openpty()
    monkeypatch.setattr(aws_mfa, "CONTROLLING_TERMINAL", os.ttyname(slave))
    os.write(master, b"123456\n")

    code, out, err = aws_mfa.main(["--credential-process"]), *capsys.readouterr()

    prompt = os.read(master, 1000).decode()
    os.close(master)
    os.close(slave)
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "Version": 1,
        "AccessKeyId": STUB_KEY,
        "SecretAccessKey": STUB_SECRET,
        "SessionToken": STUB_TOKEN,
        "Expiration": stub_expiration(),
    }
    assert prompt.endswith(f"MFA code for {DEVICE}: ")


# --- --dry-run -------------------------------------------------------------------


def test_dry_run_touches_nothing(
    session_stub: StubServer,
    home: Home,
    fake_bin: FakeBin,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    fake_bin("op", f"open({str(tmp_path / 'ran')!r}, 'w').close()")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    assert run(capsys, "--dry-run", "--op-item-name", "AWS prod", "--assume-role", ROLE, "--external-id", "x1") == (
        0,
        f"credentials file: {home.credentials}\nprofiles: [default-long-term] -> [default]\n"
        "long-term keys: [default-long-term] of the credentials file\n"
        f"MFA device: {DEVICE} (aws_mfa_device in [default-long-term])\nregion: eu-west-1 (AWS_REGION)\n"
        "code: 1Password: op item get 'AWS prod' --otp (the prompt if it fails)\n"
        f"call: AssumeRole {ROLE} as aws-mfa-{__import__('getpass').getuser()} with an "
        "external id for 3600 s\nrefresh: due\n",
        "",
    )
    assert session_stub.requests == []
    assert not (tmp_path / "ran").exists()
    assert home.credentials.read_text() == LONG_TERM


@pytest.mark.parametrize(
    ("argv", "code_line"),
    [
        pytest.param(["-t", "123456"], "--code", id="code"),
        pytest.param([], "one line from standard input", id="stdin"),
    ],
)
def test_dry_run_code_sources_and_a_kept_session(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str], argv: list[str], code_line: str
) -> None:
    valid = moment_in(timedelta(minutes=600))
    home.credentials.write_text(existing(valid.strftime("%Y-%m-%dT%H:%M:%SZ")))
    home.config.write_text("[profile default-long-term]\nregion = eu-north-1\n")

    code, out, err = run(capsys, "--dry-run", *argv)

    assert (code, err) == (0, "")
    assert out.splitlines()[4:] == [
        "region: eu-north-1 (config [profile default-long-term])",
        f"code: {code_line}",
        "call: GetSessionToken for 43200 s",
        f"refresh: not due: valid until {local(valid)} (9h59m left)",
    ]
    assert session_stub.requests == []


@pytest.mark.parametrize(
    ("metadata", "region"),
    [
        pytest.param(True, "none configured: instance metadata, else the global endpoint", id="metadata-on"),
        # A refresh then never asks instance metadata: the line says what it will do.
        pytest.param(
            False,
            "none configured: the global endpoint (instance metadata is off: AWS_EC2_METADATA_DISABLED)",
            id="metadata-off",
        ),
    ],
)
def test_dry_run_without_device_or_region(
    home: Home, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, metadata: bool, region: str
) -> None:
    imds: StubServer | None = request.getfixturevalue("imds") if metadata else None
    home.credentials.write_text(NO_DEVICE)

    code, out, err = run(capsys, "--dry-run", "--duration", "1h")

    assert out.splitlines()[3:5] == [
        "MFA device: ask IAM (ListMFADevices)",
        f"region: {region}",
    ]
    assert (code, err) == (0, "")
    assert imds is None or imds.requests == []


def test_region_flag_beats_environment(
    session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    assert run(capsys, "--region", "ap-northeast-1", "-t", "123456") == (0, "", valid_until())
    assert "/ap-northeast-1/sts/" in session_stub.requests[0].headers["Authorization"]


def test_otp_timeout_must_be_a_number(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["--otp-timeout", "soon"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith(
        "aws-mfa: error: argument --otp-timeout: 'soon' is not a number of seconds above 0 and at most 3600\n"
    )


def test_slow_helper_without_a_terminal_is_waited_for_silently(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_bin("otp", "time.sleep(1.3)\nprint('778899')")

    assert run(capsys, "--otp-command", "otp", "--otp-timeout", "10") == (0, "", valid_until())
    assert params(session_stub.requests[0].body)["TokenCode"] == "778899"


def test_slow_helper_says_what_it_waits_for_on_a_terminal(
    session_stub: StubServer, home: Home, fake_bin: FakeBin
) -> None:
    import pty

    fake_bin("otp", "time.sleep(1.3)\nprint('778899')")
    master, slave = pty.openpty()
    script = Path(sys.executable).with_name("aws-mfa")

    process = subprocess.run(
        [str(script), "--otp-command", "otp", "--otp-timeout", "10"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        check=False,
        timeout=30,
    )

    os.close(slave)
    shown = os.read(master, 10000).decode()
    os.close(master)
    assert (process.returncode, process.stdout) == (0, b"")
    assert shown == (
        "aws-mfa: waiting for the OTP command (approve the request if it asks)...\r\n"
        + valid_until().replace("\n", "\r\n")
    )


def test_dry_run_with_a_terminal_on_stdin(
    session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pty

    master, slave = pty.openpty()
    with open(slave) as terminal:
        monkeypatch.setattr(sys, "stdin", terminal)
        code, out, err = aws_mfa.main(["--dry-run"]), *capsys.readouterr()
    os.close(master)

    assert (code, err) == (0, "")
    assert "code: a prompt on the terminal\n" in out


def test_role_session_name_for_a_user_without_a_name(
    session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pwd

    def unknown(uid: int) -> None:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    # A uid with no passwd entry and no USER/LOGNAME, as in some containers; the venv's
    # interpreter is not reachable by another uid here, so the user database is what fails.
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unknown)

    code, out, err = run(capsys, "--dry-run", "--assume-role", ROLE)

    assert (code, err) == (0, "")
    assert f"call: AssumeRole {ROLE} as aws-mfa-user for 3600 s\n" in out
