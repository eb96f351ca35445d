"""aws-mfa --setup: the first run on a file laid out by `aws configure`, each followed by a real refresh."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

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
from conftest import stub_expiration
from conftest import stub_session
from conftest import valid_until
from test_modes import mfa_devices
from test_modes import params
from test_refresh import run
from test_surroundings import as_nobody
from test_surroundings import nobody_dir  # noqa: F401 (a fixture)
from test_surroundings import nobody_file

import aws_mfa

KEYS = f"aws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n"
CONFIGURED = f"[default]\n{KEYS}"  # what `aws configure` writes
SET_UP = f"[default-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[default]\n"
WORK = "[work]\naws_access_key_id = AKIAWORK000000000000\naws_secret_access_key = workSecret\n"
NEXT = "aws-mfa: next: run aws-mfa to put a session into [default]\n"


def moved(path: Path, device: str | None = DEVICE, short: str = "default", long: str = "default-long-term") -> str:
    with_device = f" with aws_mfa_device = {device}" if device else ""
    return f"aws-mfa: moved the long-term key of [{short}] to a new [{long}]{with_device} in {path}\n"


@pytest.fixture
def sts_stub(stub: StubServer) -> StubServer:
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    return stub


def refresh_signed_by_the_moved_keys(
    stub: StubServer, capsys: pytest.CaptureFixture[str], *argv: str, profile: str = "default"
) -> None:
    """A real refresh after --setup: the call is signed with the key that was moved, for the device."""
    stub.requests.clear()
    assert run(capsys, "-t", "123456", *argv) == (
        0,
        "",
        valid_until(profile),
    )
    (request,) = stub.requests
    assert params(request.body)["Action"] == "GetSessionToken"
    assert params(request.body)["SerialNumber"] == DEVICE
    assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")


EXPIRED = expires_in(timedelta(days=-1))

LAYOUTS = [
    pytest.param(
        CONFIGURED,
        ["--device", DEVICE],
        [],
        SET_UP,
        lambda: f"{SET_UP}{stub_session()}",
        id="aws-configure",
    ),
    pytest.param(
        f"# written by aws configure\n[default]\nregion = eu-west-1\nAWS_Access_Key_Id={LONG_KEY}\n"
        f"aws_secret_access_key : {LONG_SECRET}\n; note\n\n{WORK}".replace("\n", "\r\n"),
        [],
        [],
        f"# written by aws configure\n[default-long-term]\nAWS_Access_Key_Id={LONG_KEY}\n"
        f"aws_secret_access_key : {LONG_SECRET}\naws_mfa_device = {DEVICE}\n\n[default]\nregion = eu-west-1\n"
        f"; note\n\n{WORK}".replace("\n", "\r\n"),
        lambda: (
            f"# written by aws configure\n[default-long-term]\nAWS_Access_Key_Id={LONG_KEY}\n"
            f"aws_secret_access_key : {LONG_SECRET}\naws_mfa_device = {DEVICE}\n\n[default]\nregion = eu-west-1\n"
            f"{stub_session()}; note\n\n{WORK}".replace("\n", "\r\n")
        ),
        id="comments-crlf-region-other-profile-device-from-config",
    ),
    pytest.param(
        f"[default]\nregion = us-east-1\n\n[work]\nregion = eu-west-1\n{KEYS.rstrip()}",
        ["-p", "work"],
        ["-p", "work"],
        f"[default]\nregion = us-east-1\n\n[work-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[work]\n"
        "region = eu-west-1\n",
        lambda: (
            f"[default]\nregion = us-east-1\n\n[work-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[work]\n"
            f"region = eu-west-1\n{stub_session()}"
        ),
        id="named-profile-last-line-without-newline",
    ),
    pytest.param(
        f"[work]\n{KEYS}output = json\n",
        ["-p", "work", "--long-term-suffix=-lt", "--device", DEVICE],
        ["-p", "work", "--long-term-suffix=-lt"],
        f"[work-lt]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[work]\noutput = json\n",
        lambda: f"[work-lt]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[work]\noutput = json\n{stub_session()}",
        id="named-profile-and-suffix",
    ),
    pytest.param(
        # `aws configure` run over an old session: the key moves, the token stays for the refresh.
        f"[default]\n{KEYS}aws_session_token = leftover\nexpiration = {EXPIRED}\n",
        ["--device", DEVICE],
        [],
        f"{SET_UP}aws_session_token = leftover\nexpiration = {EXPIRED}\n",
        # The two lines left are changed where they stand, the others added after them.
        lambda: (
            f"{SET_UP}aws_session_token = {STUB_TOKEN}\nexpiration = {stub_expiration()}\n"
            f"aws_access_key_id = {STUB_KEY}\naws_secret_access_key = {STUB_SECRET}\n"
            f"aws_security_token = {STUB_TOKEN}\n"
        ),
        id="aws-configure-over-an-old-session",
    ),
]


@pytest.mark.parametrize(("before", "setup_argv", "refresh_argv", "after_setup", "after_refresh"), LAYOUTS)
def test_setup_moves_the_key_lines_and_a_refresh_uses_them(
    home: Home,
    sts_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    before: str,
    setup_argv: list[str],
    refresh_argv: list[str],
    after_setup: str,
    after_refresh: Callable[[], str],
) -> None:
    home.credentials.write_bytes(before.encode())
    home.config.write_text(f"[default]\nregion = eu-west-1\nmfa_serial = {DEVICE}\noutput = json\n")
    sts_stub.actions["ListMFADevices"] = mfa_devices(DEVICE)
    short = refresh_argv[1] if refresh_argv else "default"
    long = short + ("-lt" if len(refresh_argv) > 2 else "-long-term")
    command = " ".join(["aws-mfa", *refresh_argv])

    assert run(capsys, "--setup", *setup_argv) == (
        0,
        "",
        moved(home.credentials, short=short, long=long)
        + f"aws-mfa: next: run {command} to put a session into [{short}]\n",
    )

    assert home.credentials.read_bytes().decode() == after_setup
    assert [params(r.body)["Action"] for r in sts_stub.requests] == (
        ["ListMFADevices"] if short == "work" and "--device" not in setup_argv else []
    )
    refresh_signed_by_the_moved_keys(sts_stub, capsys, *refresh_argv, profile=short)
    assert home.credentials.read_bytes().decode() == after_refresh()


def test_setup_asks_iam_for_the_device_with_the_moved_keys(
    home: Home, sts_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(CONFIGURED)
    sts_stub.actions["ListMFADevices"] = mfa_devices("arn:aws:iam::1:u2f/root/key", DEVICE)

    assert run(capsys, "--setup") == (0, "", moved(home.credentials) + NEXT)

    (request,) = sts_stub.requests
    assert params(request.body)["Action"] == "ListMFADevices"
    assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")
    assert home.credentials.read_text() == SET_UP
    refresh_signed_by_the_moved_keys(sts_stub, capsys)


LATER = (
    "add 'aws_mfa_device = ARN' to [default-long-term] (IAM console, Security credentials) or pass --device on "
    "every run"
)


@pytest.mark.parametrize(
    ("answer", "warning"),
    [
        pytest.param(
            mfa_devices(),
            f"IAM lists no virtual or hardware MFA device for this key; once it has one, {LATER}",
            id="none",
        ),
        pytest.param(
            StubServer.error("AccessDenied", "not authorized to perform: iam:ListMFADevices"),
            f"no MFA device configured and IAM would not list them (AccessDenied); moving the keys without it: {LATER}",
            id="access-denied",
        ),
    ],
)
def test_setup_without_a_device_moves_the_keys_and_says_how_to_add_it(
    home: Home, sts_stub: StubServer, capsys: pytest.CaptureFixture[str], answer: object, warning: str
) -> None:
    home.credentials.write_text(CONFIGURED)
    sts_stub.actions["ListMFADevices"] = answer  # type: ignore[assignment]

    assert run(capsys, "--setup") == (
        0,
        "",
        f"aws-mfa: warning: {warning}\n" + moved(home.credentials, device=None) + NEXT,
    )

    assert home.credentials.read_text() == f"[default-long-term]\n{KEYS}\n[default]\n"
    refresh_signed_by_the_moved_keys(sts_stub, capsys, "--device", DEVICE)


def test_setup_with_several_devices_lists_them_and_writes_nothing(
    home: Home, sts_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(CONFIGURED)
    sts_stub.actions["ListMFADevices"] = mfa_devices("arn:aws:iam::1:mfa/a", "GAHT12345678")

    assert run(capsys, "--setup") == (
        1,
        "",
        "aws-mfa: error: several MFA devices: arn:aws:iam::1:mfa/a, GAHT12345678; run aws-mfa --setup --device SERIAL "
        "with one; nothing was written\n",
    )
    assert home.credentials.read_text() == CONFIGURED


def test_setup_twice_is_already_set_up(home: Home, sts_stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    home.credentials.write_text(CONFIGURED)
    assert run(capsys, "--setup", "--device", DEVICE)[0] == 0
    sts_stub.requests.clear()

    assert run(capsys, "--setup") == (
        0,
        "",
        f"aws-mfa: already set up: the long-term key comes from [default-long-term] of {home.credentials}; "
        "run aws-mfa\n",
    )
    assert home.credentials.read_text() == SET_UP
    assert sts_stub.requests == []
    refresh_signed_by_the_moved_keys(sts_stub, capsys)


@pytest.mark.parametrize(
    ("credentials", "warning"),
    [
        pytest.param(None, "", id="no-credentials-file"),
        pytest.param(
            CONFIGURED,
            "aws-mfa: warning: [default] in {path} still holds an access key; a refresh replaces it only if it is the "
            "key credential_process prints\n",
            id="aws-configure-keys-left",
        ),
    ],
)
def test_setup_with_a_key_program_is_already_set_up(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], credentials: str | None, warning: str
) -> None:
    home.config.write_text("[profile default-long-term]\ncredential_process = op inject -i aws.json\n")
    if credentials:
        home.credentials.write_text(credentials)

    assert run(capsys, "--setup") == (
        0,
        "",
        "aws-mfa: already set up: the long-term key comes from the config file's [profile default-long-term]; "
        "run aws-mfa\n" + warning.format(path=home.credentials),
    )
    assert stub.requests == []
    assert (home.credentials.read_text() if credentials else None) == credentials


REFUSALS = [
    pytest.param(
        f"{LONG_TERM}\n[default]\naws_access_key_id = AKIAANOTHERKEY000000\naws_secret_access_key = other\n",
        "[default] and [default-long-term] in {path} hold different long-term keys, and a refresh replaces only a "
        "copy of [default-long-term]'s; keep the key you use in [default-long-term] and move the other's lines into "
        "a section of their own (e.g. [default-old]), then run aws-mfa",
        id="different-keys",
    ),
    pytest.param(
        "[default]\nregion = eu-west-1\n",
        "no long-term key to set up: neither [default] nor [default-long-term] in {path} holds one. Add "
        "'[default-long-term]' with 'aws_access_key_id = AKIA...', 'aws_secret_access_key = ...' and "
        "'aws_mfa_device = arn:aws:iam::ACCOUNT:mfa/NAME' to {path}, or keep the key out of that file with "
        "'credential_process = ...' in [profile default-long-term] of the config file (see USAGE.md's key programs)",
        id="no-keys-anywhere",
    ),
    pytest.param(
        "[default]\naws_access_key_id = ASIAOLDSESSION000000\naws_secret_access_key = old\n"
        "aws_session_token = oldtoken\n",
        "no long-term key to set up: neither [default] nor [default-long-term] in {path} holds one. Add "
        "'[default-long-term]' with 'aws_access_key_id = AKIA...', 'aws_secret_access_key = ...' and "
        "'aws_mfa_device = arn:aws:iam::ACCOUNT:mfa/NAME' to {path}, or keep the key out of that file with "
        "'credential_process = ...' in [profile default-long-term] of the config file (see USAGE.md's key programs)",
        id="only-a-session",
    ),
    pytest.param(
        # A session key without its token: a broken session, no long-term key.
        "[default]\naws_access_key_id = ASIATEMPORARY0000000\naws_secret_access_key = x\n",
        "no long-term key to set up: neither [default] nor [default-long-term] in {path} holds one. Add "
        "'[default-long-term]' with 'aws_access_key_id = AKIA...', 'aws_secret_access_key = ...' and "
        "'aws_mfa_device = arn:aws:iam::ACCOUNT:mfa/NAME' to {path}, or keep the key out of that file with "
        "'credential_process = ...' in [profile default-long-term] of the config file (see USAGE.md's key programs)",
        id="temporary-key-without-token",
    ),
    pytest.param(
        f"[default]\naws_access_key_id = {LONG_KEY}\n",
        "[default] in {path} lacks aws_secret_access_key; add the long-term key",
        id="no-secret",
    ),
]


@pytest.mark.parametrize(("before", "message"), REFUSALS)
def test_setup_refusals_leave_the_file_untouched(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], before: str, message: str
) -> None:
    home.credentials.write_text(before)

    assert run(capsys, "--setup", "--device", DEVICE) == (
        1,
        "",
        f"aws-mfa: error: {message.format(path=home.credentials)}\n",
    )
    assert home.credentials.read_text() == before
    assert stub.requests == []


def test_setup_dry_run_prints_the_change_masked_and_writes_nothing(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = f"# mine\n{CONFIGURED}region = eu-west-1\n\n{WORK}"
    home.credentials.write_text(before)
    os.chmod(home.credentials, 0o644)

    assert run(capsys, "--setup", "--dry-run") == (
        0,
        f"--- {home.credentials}\n+++ {home.credentials} after aws-mfa --setup\n@@ -1,7 +1,9 @@\n # mine\n"
        f"-[default]\n+[default-long-term]\n aws_access_key_id = {LONG_KEY}\n aws_secret_access_key = ****\n+\n"
        "+[default]\n region = eu-west-1\n \n [work]\n"
        "aws_mfa_device: asked of IAM (ListMFADevices) when run without --dry-run\nmode: 644 -> 600\n",
        "",
    )
    os.chmod(home.credentials, 0o600)
    lines = run(capsys, "--setup", "--dry-run", "--device", DEVICE)[1].splitlines()
    assert lines[7:10] == [" aws_secret_access_key = ****", f"+aws_mfa_device = {DEVICE}", "+"]
    assert lines[-1] == " [work]"  # no mode line: the file is private already
    assert home.credentials.read_text() == before
    assert stub.requests == []


def test_setup_makes_a_readable_file_private_and_says_so(
    home: Home, sts_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(CONFIGURED)
    os.chmod(home.credentials, 0o644)

    assert run(capsys, "--setup", "--device", DEVICE) == (
        0,
        "",
        f"aws-mfa: {home.credentials} could be read by other users (mode 644); it is now 600\n"
        + moved(home.credentials)
        + NEXT,
    )
    assert stat.S_IMODE(home.credentials.stat().st_mode) == 0o600
    assert home.credentials.read_text() == SET_UP
    refresh_signed_by_the_moved_keys(sts_stub, capsys)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        pytest.param([], "aws-mfa --setup", id="default"),
        pytest.param(["-p", "my work"], "aws-mfa --setup -p 'my work'", id="named-profile"),
    ],
)
def test_refresh_on_an_aws_configure_file_names_setup(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], argv: list[str], command: str
) -> None:
    short = argv[1] if argv else "default"
    before = CONFIGURED.replace("[default]", f"[{short}]")
    home.credentials.write_text(before)

    assert run(capsys, "-t", "123456", *argv) == (
        1,
        "",
        f"aws-mfa: error: [{short}] in {home.credentials} holds long-term keys, as `aws configure` writes them, "
        f"and there is no [{short}-long-term]; run {command} to move them there\n",
    )
    assert home.credentials.read_text() == before
    assert stub.requests == []


# --clear --dry-run once cleared for real: the flag was accepted and not looked at.
@pytest.mark.parametrize("mode", ["--status", "--env", "--credential-process", "--clear", "--list"])
def test_dry_run_goes_with_a_refresh_or_setup_only(home: Home, capsys: pytest.CaptureFixture[str], mode: str) -> None:
    with pytest.raises(SystemExit) as exit:
        run(capsys, mode, "--dry-run")
    assert exit.value.code == 2
    assert capsys.readouterr().err.endswith(f"aws-mfa: error: argument --dry-run: not allowed with argument {mode}\n")


def test_aws_configure_then_setup_then_refresh_against_moto(
    home: Home, sts: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    home.credentials.write_text(CONFIGURED)
    home.config.write_text(f"[default]\nregion = us-east-1\noutput = json\nmfa_serial = {DEVICE}\n")

    assert run(capsys, "--setup") == (0, "", moved(home.credentials) + NEXT)
    assert run(capsys, stdin="123456\n") == (0, "", valid_until())

    (answered,) = sts.answered
    assert home.credentials.read_text() == SET_UP + stub_session(*answered)
    session = boto3.Session(profile_name="default")
    assert session.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_setup_with_a_copy_of_the_keys_in_both_sections_is_already_set_up(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = f"{LONG_TERM}\n{CONFIGURED}"
    home.credentials.write_text(before)

    assert run(capsys, "--setup") == (
        0,
        "",
        f"aws-mfa: already set up: the long-term key comes from [default-long-term] of {home.credentials}; "
        "run aws-mfa\n",
    )
    assert home.credentials.read_text() == before
    assert stub.requests == []


def test_setup_when_iam_answers_something_else_moves_the_keys_without_a_device(
    home: Home, sts_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(CONFIGURED)  # the stub answers ListMFADevices with an STS answer

    assert run(capsys, "--setup") == (
        0,
        "",
        f"aws-mfa: warning: no MFA device configured, and the answer from {sts_stub.url} is not an IAM response "
        f"(check proxies and AWS_ENDPOINT_URL_IAM); moving the keys without it: {LATER}\n"
        + moved(home.credentials, device=None)
        + NEXT,
    )
    assert home.credentials.read_text() == f"[default-long-term]\n{KEYS}\n[default]\n"


def test_setup_when_another_program_sets_up_meanwhile_writes_nothing(
    home: Home, sts_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home.credentials.write_text(CONFIGURED)
    by_hand = f"{LONG_TERM}\n{CONFIGURED}"
    sts_stub.actions["ListMFADevices"] = mfa_devices(DEVICE)
    ask_iam = aws_mfa.usable_devices

    def while_iam_is_asked(*args: Any) -> list[str]:
        home.credentials.write_text(by_hand)  # someone edits the file between the read and the write
        return ask_iam(*args)

    monkeypatch.setattr(aws_mfa, "usable_devices", while_iam_is_asked)

    assert run(capsys, "--setup") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} changed while aws-mfa set it up; nothing was written, run aws-mfa "
        "--setup again\n",
    )
    assert home.credentials.read_text() == by_hand


def test_mask_secrets_masks_values_and_their_continuation_lines() -> None:
    text = "[old]\naws_secret_access_key = s3cret\n  more\nAWS_SESSION_TOKEN:tok\r\nregion = x"

    assert aws_mfa.mask_secrets(text) == [
        "[old]",
        "aws_secret_access_key = ****",
        "  ****",
        "AWS_SESSION_TOKEN:****",
        "region = x",
    ]


def test_status_without_a_credentials_file(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--status", "-p", "work") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} does not exist; create it with a [work-long-term] section\n",
    )


def test_setup_on_a_file_of_another_user_is_refused_unchanged(
    nobody_dir: Path,  # noqa: F811 (the fixture imported above)
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, CONFIGURED, owner=0, mode=0o666)

    with as_nobody():
        result = run(capsys, "--setup", "--device", DEVICE)

    assert result == (
        1,
        "",
        f"aws-mfa: error: {credentials} belongs to uid 0, and a file written by this user would not; run aws-mfa "
        "as that user. The file is unchanged\n",
    )
    assert (credentials.read_text(), credentials.stat().st_uid) == (CONFIGURED, 0)
    assert stub.requests == []
