"""The refresh end to end: what is written, what is kept, what is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import DEVICE
from conftest import LONG_KEY
from conftest import LONG_SECRET
from conftest import LONG_TERM
from conftest import RELIABILITY
from conftest import STUB_KEY
from conftest import STUB_SECRET
from conftest import STUB_TOKEN
from conftest import Home
from conftest import StubServer
from conftest import as_shown
from conftest import expires_in
from conftest import secrets_in
from conftest import set_env
from conftest import stub_expiration
from conftest import stub_session
from conftest import valid_until

import aws_mfa


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        read, write = os.pipe()
        os.write(write, stdin.encode())
        os.close(write)
        with open(read) as pipe:
            sys.stdin = pipe
            code = aws_mfa.main(list(argv))
    else:
        code = aws_mfa.main(list(argv))
    out, err = capsys.readouterr()
    assert not secrets_in(out + err)
    return code, out, err


PRESERVED = [
    pytest.param(
        f"# my AWS keys\n{LONG_TERM}\n; work account\n[Work]\nAWS_Access_Key_Id=AKIAWORK000000000000\n"
        "aws_secret_access_key:workSecret\nregion = eu-west-1\n",
        lambda: (
            f"# my AWS keys\n{LONG_TERM}\n; work account\n[Work]\nAWS_Access_Key_Id=AKIAWORK000000000000\n"
            f"aws_secret_access_key:workSecret\nregion = eu-west-1\n\n[default]\n{stub_session()}"
        ),
        id="comments-case-spacing-other-profiles-section-appended",
    ),
    pytest.param(
        f"{LONG_TERM}[other]\nregion = eu-west-1",
        lambda: f"{LONG_TERM}[other]\nregion = eu-west-1\n\n[default]\n{stub_session()}",
        id="no-trailing-newline",
    ),
    pytest.param(
        f"{LONG_TERM}\n".replace("\n", "\r\n") + "[other]\r\nregion = eu-west-1\r\n",
        lambda: f"{LONG_TERM}\n[other]\nregion = eu-west-1\n\n[default]\n{stub_session()}".replace("\n", "\r\n"),
        id="crlf",
    ),
    pytest.param(
        "[default]\nregion = us-west-2\naws_access_key_id = ASIAOLDSESSION000000\naws_secret_access_key = old\n"
        f"aws_session_token = oldtoken\nexpiration = {expires_in(timedelta(days=-1))}\n\n{LONG_TERM}",
        lambda: (
            "[default]\nregion = us-west-2\n"
            f"aws_access_key_id = {STUB_KEY}\naws_secret_access_key = {STUB_SECRET}\naws_session_token = {STUB_TOKEN}\n"
            f"expiration = {stub_expiration()}\naws_security_token = {STUB_TOKEN}\n\n{LONG_TERM}"
        ),
        id="existing-session-in-place-region-kept",
    ),
    pytest.param(
        "[default]\nAWS_ACCESS_KEY_ID=ASIAOLDSESSION000000\naws_secret_access_key  :  old\n"
        f"aws_session_token = oldtoken\n    continued\n# about the next one\n{LONG_TERM}",
        lambda: (
            f"[default]\nAWS_ACCESS_KEY_ID={STUB_KEY}\naws_secret_access_key  :  {STUB_SECRET}\n"
            f"aws_session_token = {STUB_TOKEN}\naws_security_token = {STUB_TOKEN}\nexpiration = {stub_expiration()}\n"
            f"# about the next one\n{LONG_TERM}"
        ),
        id="key-case-delimiters-continuation-line",
    ),
    pytest.param(
        f"{LONG_TERM}\n[default]\nregion = eu-central-1\noutput = json",
        lambda: f"{LONG_TERM}\n[default]\nregion = eu-central-1\noutput = json\n{stub_session()}",
        id="default-with-region-only-at-end-of-file",
    ),
    pytest.param(
        f"[DEFAULT]\nregion = eu-west-1\n\n{LONG_TERM}",
        lambda: f"[DEFAULT]\nregion = eu-west-1\n\n{LONG_TERM}\n[default]\n{stub_session()}",
        id="DEFAULT-section-with-a-region",
    ),
    pytest.param(
        f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n\n{LONG_TERM}",
        lambda: (
            f"[default]\naws_access_key_id = {STUB_KEY}\naws_secret_access_key = {STUB_SECRET}\n"
            f"aws_session_token = {STUB_TOKEN}\naws_security_token = {STUB_TOKEN}\nexpiration = {stub_expiration()}\n\n"
            f"{LONG_TERM}"
        ),
        id="default-holding-a-copy-of-the-long-term-keys",
    ),
]


@pytest.mark.parametrize(("before", "after"), PRESERVED)
def test_refresh_changes_only_the_session_keys(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], before: str, after: Callable[[], str]
) -> None:
    home.credentials.write_bytes(before.encode())

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    assert home.credentials.read_bytes().decode() == after()
    assert len(session_stub.requests) == 1


def test_request_carries_device_code_duration_and_long_term_key_only(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home.credentials.write_text(LONG_TERM)
    # None of these may reach the call: it signs with the long-term keys alone.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_MFA_PROFILE", "default")

    assert run(capsys, "-d", "1h30m", stdin=" 654321 \n") == (0, "", valid_until())

    (request,) = session_stub.requests
    assert request.body == (
        f"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=5400&SerialNumber={DEVICE.replace(':', '%3A')}"
        "&TokenCode=654321".replace("/", "%2F")
    )
    assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")
    assert "X-Amz-Security-Token" not in request.headers


def test_written_profile_works_with_botocore_and_moto(
    home: Home, sts: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    session = boto3.Session(profile_name="default", region_name="us-east-1")
    credentials = session.get_credentials()
    assert credentials is not None
    assert sts.answered == [(credentials.access_key, credentials.secret_key, credentials.token)]
    assert session.client("sts").get_caller_identity()["Account"] == "123456789012"
    # A later run keeps the session it wrote.
    assert run(capsys) == (
        0,
        "",
        f"aws-mfa: [default] is still valid until {as_shown(stub_expiration())} (59m left); --force refreshes\n",
    )
    assert len(sts.answered) == 1


def test_console_script_end_to_end(home: Home, sts: StubServer) -> None:
    home.credentials.write_text(LONG_TERM)
    script = Path(sys.executable).with_name("aws-mfa")

    result = subprocess.run([str(script)], input="123456\n", capture_output=True, text=True, check=False)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", valid_until())
    (answered,) = sts.answered
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session(*answered)}"
    # What it wrote, a second run keeps, --status shows and --clear removes.
    runs = [
        subprocess.run([str(script), *argv], capture_output=True, text=True, check=False)
        for argv in ([], ["--status"], ["--clear"])
    ]
    shown = as_shown(stub_expiration())
    assert [(result.returncode, result.stdout, result.stderr) for result in runs] == [
        (0, "", f"aws-mfa: [default] is still valid until {shown} (59m left); --force refreshes\n"),
        (0, f"[default] valid until {shown} (59m left)\n", ""),
        (0, "", f"aws-mfa: removed the session from [default] in {home.credentials}\n"),
    ]
    assert sts.answered == [answered]
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n"


def test_python_dash_m_runs_the_module(home: Home) -> None:
    result = subprocess.run([sys.executable, "-m", "aws_mfa", "--version"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"aws-mfa {aws_mfa.__version__}\n", "")


def test_symlink_stays_a_symlink_and_mode_is_kept(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    target = home.path / "dotfiles" / "aws-credentials"
    target.parent.mkdir()
    target.write_text(LONG_TERM)
    target.chmod(0o640)
    home.credentials.unlink()
    home.credentials.symlink_to(target)

    assert run(capsys, stdin="123456\n") == (
        0,
        "",
        f"aws-mfa: warning: {home.credentials} can be read by other users (mode 640); chmod 600 it\n{valid_until()}",
    )

    assert home.credentials.is_symlink()
    assert os.readlink(home.credentials) == str(target)
    assert target.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["aws-credentials", "aws-credentials.aws-mfa.lock"]


def test_credentials_path_flag_beats_environment(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(LONG_TERM)
    home.credentials.write_text("# untouched\n")

    assert run(capsys, "--credentials-path", str(elsewhere), stdin="123456\n") == (0, "", valid_until())

    assert elsewhere.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert home.credentials.read_text() == "# untouched\n"


def test_default_path_is_under_home(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_success_time_is_local_with_zone(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (0, "", valid_until())  # in Berlin's time: CET or CEST


REFUSED = [
    pytest.param(
        None,
        "{path} does not exist; run `aws configure`, then `aws-mfa --setup` "
        "(or create it with a [default-long-term] section)",
        id="no-file",
    ),
    pytest.param(
        "[other]\naws_access_key_id = AKIAOTHER00000000000\n",
        "{path} has no [default-long-term] section; put your long-term access key there "
        "(aws_access_key_id, aws_secret_access_key, aws_mfa_device)",
        id="no-long-term-section",
    ),
    pytest.param(
        f"[default-long-term]\naws_access_key_id = {LONG_KEY}\n",
        "[default-long-term] in {path} lacks aws_secret_access_key; add the long-term key",
        id="no-secret",
    ),
    pytest.param(
        "[default-long-term]\naws_mfa_device = x\n",
        "[default-long-term] in {path} lacks aws_access_key_id and aws_secret_access_key; add the long-term key",
        id="no-keys",
    ),
    pytest.param(
        f"aws_access_key_id = x\n{LONG_TERM}",
        "{path}: line 1: text before the first [section] header; fix the file, nothing was written",
        id="text-before-first-section",
    ),
    pytest.param(
        f"{LONG_TERM}[default-long-term]\n",
        "{path}: line 5: section [default-long-term] appears twice; fix the file, nothing was written",
        id="duplicate-section",
    ),
    pytest.param(
        f"{LONG_TERM}AWS_MFA_DEVICE = y\n",
        "{path}: line 5: key 'aws_mfa_device' appears twice in [default-long-term]; fix the file, nothing was written",
        id="duplicate-key-differing-in-case",
    ),
    pytest.param(
        f"{LONG_TERM}this is no key\n[x]\nnor this\n",
        "{path}: line 5, 7: not a 'key = value' line, [section] header or comment; fix the file, nothing was written",
        id="garbage-lines",
    ),
    pytest.param(
        f"[default-long-term]\naws_access_key_id = {LONG_KEY}\n  aws_secret_access_key = {LONG_SECRET}\n",
        "[default-long-term] in {path} lacks aws_secret_access_key; add the long-term key",
        id="indented-line-swallows-the-secret",
    ),
    pytest.param(
        f"[default-long-term]\naws_secret_access_key = {LONG_SECRET}\naws_access_key_id = {LONG_KEY}\n  more\n",
        "[default-long-term] in {path}: an indented line continues the value of aws_access_key_id; "
        "remove the indentation",
        id="indented-line-continues-the-key",
    ),
    pytest.param(
        f"[default-long-term]\naws_access_key_id = short\naws_secret_access_key = {LONG_SECRET}\n",
        "[default-long-term] in {path}: the access key id or secret is malformed",
        id="malformed-key-id",
    ),
    pytest.param(
        LONG_TERM.replace(LONG_KEY, "ASIATEMPORARY0000000"),
        "[default-long-term] in {path} holds temporary session credentials, not a long-term key; put your "
        "IAM user's access key (AKIA...) there",
        id="long-term-holds-asia-key",
    ),
    pytest.param(
        f"{LONG_TERM}aws_session_token = token\n",
        "[default-long-term] in {path} holds temporary session credentials, not a long-term key; put your "
        "IAM user's access key (AKIA...) there",
        id="long-term-holds-session-token",
    ),
    pytest.param(
        f"[default]\naws_access_key_id = AKIAOTHERLONGTERM000\naws_secret_access_key = other\n\n{LONG_TERM}",
        "[default] in {path} holds long-term keys without a session token; refusing to overwrite them. Move them "
        "into a section of their own (e.g. [default-old]) and run again",
        id="short-term-holds-other-long-term-keys",
    ),
    pytest.param(
        # `aws configure` run over an old session leaves its token beside the new AKIA key.
        f"[default]\naws_access_key_id = AKIAOTHERLONGTERM000\naws_secret_access_key = other\n"
        f"aws_session_token = stale\nexpiration = {expires_in(timedelta(days=-1))}\n\n{LONG_TERM}",
        "[default] in {path} holds long-term keys (an IAM user's AKIA key) beside a session token; refusing to "
        "overwrite them. Move them into a section of their own (e.g. [default-old]) and run again",
        id="short-term-holds-akia-key-beside-stale-token",
    ),
]


@pytest.mark.parametrize(("content", "message"), REFUSED)
def test_bad_file_is_refused_before_sts_and_left_alone(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    RELIABILITY["hostile inputs"] += 1
    if content is not None:
        home.credentials.write_text(content)

    code, out, err = run(capsys, stdin="123456\n")

    assert (code, out, err) == (1, "", f"aws-mfa: error: {message.format(path=home.credentials)}\n")
    assert stub.requests == []
    if content is None:
        assert not home.credentials.exists()
    else:
        assert home.credentials.read_text() == content


@pytest.mark.parametrize("argv", [pytest.param([], id="refresh"), pytest.param(["--dry-run"], id="dry-run")])
@pytest.mark.parametrize("key", ["aws_session_token", "aws_security_token"])
def test_a_token_in_default_is_blamed_on_default_not_on_the_long_term_section(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], argv: list[str], key: str
) -> None:
    # configparser, as botocore, gives [DEFAULT]'s keys to every section: [default-long-term] too.
    content = f"[DEFAULT]\n{key} = FOO\n\n{LONG_TERM}"
    home.credentials.write_text(content)

    assert run(capsys, *argv, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: [DEFAULT] in {home.credentials} sets {key}, which every section inherits, "
        "[default-long-term] too; move it into the sections that need it\n",
    )
    assert stub.requests == []
    assert home.credentials.read_text() == content


def test_no_file_with_a_profile_and_suffix_says_the_commands_for_them(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "-p", "work", "--long-term-suffix=-lt", "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} does not exist; run `aws configure --profile work`, then "
        "`aws-mfa --setup -p work --long-term-suffix=-lt` (or create it with a [work-lt] section)\n",
    )
    assert stub.requests == []
    assert not home.credentials.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"[default-long-term]\naws_access_key_id = \xff\n", "line 2 is not valid UTF-8", id="bad-utf8"),
        pytest.param(b"\xff\xfe[\x00d\x00", "line 1 is not valid UTF-8", id="utf16"),
    ],
)
def test_undecodable_file_is_refused(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    RELIABILITY["hostile inputs"] += 1
    home.credentials.write_bytes(content)

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials}: {message}; fix the file, nothing was written\n",
    )
    assert home.credentials.read_bytes() == content


def test_directory_as_credentials_path(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    RELIABILITY["hostile inputs"] += 1
    home.credentials.mkdir()

    assert run(capsys) == (1, "", f"aws-mfa: error: {home.credentials} is a directory, not a file\n")


def test_unreadable_file(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    RELIABILITY["hostile inputs"] += 1
    home.credentials.symlink_to(home.credentials)  # a loop: open() fails with ELOOP even for root

    assert run(capsys) == (
        1,
        "",
        f"aws-mfa: error: cannot read {home.credentials}: Too many levels of symbolic links\n",
    )


def test_malformed_config_file_is_reported(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    RELIABILITY["hostile inputs"] += 1
    home.credentials.write_text(LONG_TERM)
    home.config.write_text("region = eu-west-1\n")

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: {home.config}: line 1: text before the first [section] header; fix the file, "
        "nothing was written\n",
    )
    assert stub.requests == []


STS_ERRORS = [
    pytest.param(
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        "STS rejected the MFA code (wrong, expired or already used); wait for the next code and run again",
        id="wrong-code",
    ),
    pytest.param(
        "AccessDenied",
        "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number "
        "is valid and associated with this user.",
        f"STS does not accept MFA device {DEVICE} for this access key; check aws_mfa_device in [default-long-term]",
        id="wrong-device",
    ),
    pytest.param(
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        "STS does not know the access key in [default-long-term] (wrong, deleted or inactive); check it in IAM",
        id="invalid-key",
    ),
    pytest.param(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
        "the secret access key in [default-long-term] does not match its access key id; copy it again",
        id="wrong-secret",
    ),
    pytest.param(
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
        "[default-long-term] holds session credentials; STS needs the IAM user's long-term access key there",
        id="session-credentials",
    ),
    pytest.param(
        "ExpiredToken",
        "The security token included in the request is expired",
        "the credentials in [default-long-term] have expired; put a long-term access key there",
        id="expired",
    ),
    pytest.param(
        "Throttling", "Rate exceeded", "STS refused: Throttling: Rate exceeded", id="other-error-passed-through"
    ),
]


@pytest.mark.parametrize(("code", "message", "expected"), STS_ERRORS)
def test_sts_errors_are_translated_and_the_file_is_unchanged(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], code: str, message: str, expected: str
) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    home.credentials.write_text(LONG_TERM)
    stub.sts_error(code, message)

    assert run(capsys, stdin="123456\n") == (1, "", f"aws-mfa: error: {expected}\n")

    assert home.credentials.read_text() == LONG_TERM
    assert len(stub.requests) == 1


def test_server_error_is_not_retried(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    home.credentials.write_text(LONG_TERM)
    stub.sts_error("InternalFailure", "", status=500)

    assert run(capsys, stdin="123456\n") == (1, "", "aws-mfa: error: STS refused: InternalFailure: no message\n")
    assert len(stub.requests) == 1  # a retry would replay the one-time code
    assert home.credentials.read_text() == LONG_TERM


def test_unreachable_endpoint_names_the_url(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, closed_url: str
) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", closed_url)
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: could not reach STS at {closed_url}/ (EndpointConnectionError); "
        "check the network, region or AWS_ENDPOINT_URL_STS\n",
    )
    assert home.credentials.read_text() == LONG_TERM


def test_hanging_sts_times_out(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    from conftest import Answer

    monkeypatch.setattr(aws_mfa, "STS_READ_TIMEOUT", 0.5)
    stub.default = Answer(200, "", hang=True)
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: could not reach STS at {stub.url}/ (ReadTimeoutError); "
        "check the network, region or AWS_ENDPOINT_URL_STS\n",
    )
    assert home.credentials.read_text() == LONG_TERM


@pytest.mark.parametrize(
    ("argv", "env", "content", "config", "device"),
    [
        pytest.param(["--device", "GAHT12345678"], {"AWS_MFA_DEVICE": "env"}, LONG_TERM, "", "GAHT12345678", id="flag"),
        pytest.param(
            [], {"AWS_MFA_DEVICE": "arn:aws:iam::1:mfa/env"}, LONG_TERM, "", "arn:aws:iam::1:mfa/env", id="env"
        ),
        pytest.param([], {}, LONG_TERM, "", DEVICE, id="aws_mfa_device"),
        pytest.param(
            [], {}, LONG_TERM.replace("aws_mfa_device", "mfa_serial"), "", DEVICE, id="mfa_serial-in-credentials"
        ),
        pytest.param(
            [],
            {},
            LONG_TERM.replace(f"aws_mfa_device = {DEVICE}\n", ""),
            "[profile default-long-term]\nmfa_serial = arn:aws:iam::1:mfa/lt\n[default]\nmfa_serial = x\n",
            "arn:aws:iam::1:mfa/lt",
            id="config-long-term",
        ),
        pytest.param(
            [],
            {},
            LONG_TERM.replace(f"aws_mfa_device = {DEVICE}\n", ""),
            "[default]\nmfa_serial = arn:aws:iam::1:mfa/st\n",
            "arn:aws:iam::1:mfa/st",
            id="config-short-term",
        ),
    ],
)
def test_device_sources_in_order(
    home: Home,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    content: str,
    config: str,
    device: str,
) -> None:
    set_env(monkeypatch, env)
    home.credentials.write_text(content)
    home.config.write_text(config)

    assert run(capsys, *argv, stdin="123456\n") == (0, "", valid_until())

    (request,) = session_stub.requests
    assert f"SerialNumber={device}&".replace(":", "%3A").replace("/", "%2F") in request.body


def test_quiet_prints_nothing_on_success(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, "-q", stdin="123456\n") == (0, "", "")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_verbose_says_where_settings_came_from(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, "--verbose", stdin="123456\n") == (
        0,
        "",
        f"aws-mfa: MFA device: {DEVICE} (aws_mfa_device in [default-long-term])\n"
        "aws-mfa: region: eu-west-1 (AWS_DEFAULT_REGION)\n" + valid_until(),
    )


def test_quiet_and_verbose_exclude_each_other(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(["-q", "-v"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith(
        "aws-mfa: error: argument -v/--verbose: not allowed with argument -q/--quiet\n"
    )


def test_invalid_region_is_one_clear_error(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "not a region")
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (
        2,
        "",
        "aws-mfa: error: the region 'not a region' from AWS_REGION is not a region name such as eu-west-1\n",
    )
    assert stub.requests == []
    assert home.credentials.read_text() == LONG_TERM


def test_unparsable_sts_answer(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    from conftest import Answer

    stub.default = Answer(200, "<html>captive portal</html>")
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: the answer from {stub.url} is not an STS response; check proxies and AWS_ENDPOINT_URL_STS\n",
    )
    assert home.credentials.read_text() == LONG_TERM


def test_unparsable_sts_error(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    from conftest import Answer

    stub.default = Answer(200, "<unclosed")
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: the answer from {stub.url} is not an STS response; check proxies and AWS_ENDPOINT_URL_STS\n",
    )
    assert home.credentials.read_text() == LONG_TERM


def test_verify_splice_accepts_a_removal_and_refuses_garbage(tmp_path: Path) -> None:
    before = aws_mfa.parse_ini("[p]\na = 1\nb = 2\n", "f")
    aws_mfa.verify_splice(before, "[p]\na = 1\n", "p", {"b": None}, "f")
    with pytest.raises(aws_mfa.AwsMfaError, match="would not read back as expected"):
        aws_mfa.verify_splice(before, "[p]\na = 1\n[p]\n", "p", {"b": None}, "f")


def test_unreachable_proxy(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, closed_url: str
) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    proxy = closed_url
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    home.credentials.write_text(LONG_TERM)

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: could not reach STS at {stub.url} through the proxy {proxy}; check the proxy, "
        "HTTPS_PROXY and NO_PROXY\n",
    )
    assert stub.requests == []
    assert home.credentials.read_text() == LONG_TERM


def test_proxy_that_is_no_url(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    RELIABILITY["STS failures, file unchanged"] += 1
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "not a url")
    home.credentials.write_text(LONG_TERM)

    from importlib.metadata import version

    # urllib3 2 refuses the proxy URL itself; urllib3 1.26 (botocore's lower bound pins it)
    # sends the request through it and the connection closes.
    refused = (
        "STS call failed: An HTTP Client raised an unhandled exception: Failed to parse: Host 'not a url' "
        "contains invalid character ' '"
        if not version("urllib3").startswith("1.")
        else f"could not reach STS at {stub.url}/ (ConnectionClosedError); check the network, region or "
        "AWS_ENDPOINT_URL_STS"
    )
    assert run(capsys, stdin="123456\n") == (1, "", f"aws-mfa: error: {refused}\n")
    assert stub.requests == []
    assert home.credentials.read_text() == LONG_TERM
