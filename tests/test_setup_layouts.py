"""--setup and --clear on the layouts a hostile review found: what the user recorded is used, never advised away."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import DEVICE
from conftest import LONG_KEY
from conftest import LONG_SECRET
from conftest import LONG_TERM
from conftest import Home
from conftest import StubServer
from conftest import stub_session
from conftest import valid_until
from test_modes import mfa_devices
from test_modes import params
from test_refresh import run
from test_setup import KEYS
from test_setup import LATER
from test_setup import NEXT
from test_setup import moved
from test_setup import sts_stub  # noqa: F401 (a fixture)
from test_surroundings import NOBODY
from test_surroundings import Trickle
from test_surroundings import as_nobody
from test_surroundings import nobody_dir  # noqa: F401 (a fixture)
from test_surroundings import nobody_file

import aws_mfa

OTHER_DEVICE = "arn:aws:iam::123456789012:mfa/not-this-one"
SESSION = "aws_access_key_id = ASIAOLD0000000000000\naws_secret_access_key = oldsecret\naws_session_token = oldtoken\n"


# --- 13: a device already recorded in [PROFILE] is the one used ------------------------------


@pytest.mark.parametrize("key", ["mfa_serial", "aws_mfa_device"])
def test_setup_takes_the_device_recorded_in_the_profile_and_asks_no_iam(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    key: str,
) -> None:
    home.credentials.write_text(f"[default]\n{KEYS}{key} = {DEVICE}\n")
    sts_stub.actions["ListMFADevices"] = mfa_devices(OTHER_DEVICE)
    after = f"[default-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[default]\n{key} = {DEVICE}\n"

    # difflib pairs the device line of [default] with the new one when both are aws_mfa_device.
    tail = (
        f"+aws_mfa_device = {DEVICE}\n+\n+[default]\n {key} = {DEVICE}\n"
        if key == "mfa_serial"
        else f" aws_mfa_device = {DEVICE}\n+\n+[default]\n+aws_mfa_device = {DEVICE}\n"
    )
    assert run(capsys, "--setup", "--dry-run") == (
        0,
        f"--- {home.credentials}\n+++ {home.credentials} after aws-mfa --setup\n@@ -1,4 +1,7 @@\n-[default]\n"
        f"+[default-long-term]\n aws_access_key_id = {LONG_KEY}\n aws_secret_access_key = ****\n{tail}",
        "",
    )
    assert run(capsys, "--setup") == (0, "", moved(home.credentials) + NEXT)

    assert home.credentials.read_text() == after
    assert sts_stub.requests == []
    assert run(capsys, "-t", "123456") == (0, "", valid_until())
    (request,) = sts_stub.requests
    assert params(request.body)["SerialNumber"] == DEVICE
    assert home.credentials.read_text() == f"{after}{stub_session()}"


@pytest.mark.parametrize("key", ["mfa_serial", "aws_mfa_device"])
def test_refresh_list_and_dry_run_take_the_device_recorded_in_the_short_term_profile(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    key: str,
) -> None:
    # botocore reads a credentials section as part of the profile of that name: mfa_serial there
    # is the profile's mfa_serial, as it would be in the config file.
    before = f"[default-long-term]\n{KEYS}\n[default]\n{key} = {DEVICE}\n"
    home.credentials.write_text(before)
    sts_stub.actions["ListMFADevices"] = mfa_devices(OTHER_DEVICE)

    assert run(capsys, "--list") == (
        0,
        f"default: keys in [default-long-term] of {home.credentials}; device {DEVICE}; session none\n",
        "",
    )
    code, out, err = run(capsys, "--dry-run")
    assert (code, err) == (0, "")
    assert f"MFA device: {DEVICE} ({key} in [default])\n" in out
    assert run(capsys, "-t", "123456") == (0, "", valid_until())
    (request,) = sts_stub.requests
    assert params(request.body)["Action"] == "GetSessionToken"
    assert params(request.body)["SerialNumber"] == DEVICE
    assert home.credentials.read_text() == f"{before}{stub_session()}"


def test_the_long_term_profiles_device_wins_over_the_short_term_profiles(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = f"[default-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[default]\nmfa_serial = {OTHER_DEVICE}\n"
    home.credentials.write_text(before)

    assert run(capsys, "-t", "123456") == (0, "", valid_until())
    (request,) = sts_stub.requests
    assert params(request.body)["SerialNumber"] == DEVICE
    assert LONG_SECRET in home.credentials.read_text()


# --- 15: partial [PROFILE-long-term] sections get a correct move or a refusal that says what to fix


PARTIAL = [
    pytest.param(
        f"[default-long-term]\naws_mfa_device = {DEVICE}\n\n[default]\n{KEYS}",
        [],
        0,
        "aws-mfa: moved the long-term key of [default] to [default-long-term] in {path}\n" + NEXT,
        f"[default-long-term]\naws_mfa_device = {DEVICE}\n{KEYS}\n[default]\n",
        id="device-only-long-term-section-gets-the-keys",
    ),
    pytest.param(
        f"[default]\n# mine\n{KEYS}region = eu-west-1\n\n[default-long-term]\nmfa_serial = {DEVICE}\n",
        ["--device", OTHER_DEVICE],
        0,
        "aws-mfa: moved the long-term key of [default] to [default-long-term] in {path}\n" + NEXT,
        f"[default]\n# mine\nregion = eu-west-1\n\n[default-long-term]\nmfa_serial = {DEVICE}\n{KEYS}",
        id="long-term-section-after-keeps-its-device-over-a-flag",
    ),
    pytest.param(
        f"[default]\n{KEYS}[default-long-term]",
        ["--device", DEVICE],
        0,
        "aws-mfa: moved the long-term key of [default] to [default-long-term] with aws_mfa_device = "
        f"{DEVICE} in {{path}}\n" + NEXT,
        f"[default]\n[default-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n",
        id="empty-long-term-section-last-without-newline",
    ),
    pytest.param(
        f"[default-long-term]\naws_access_key_id = {LONG_KEY}\n\n[default]\nregion = eu-west-1\n",
        [],
        1,
        "aws-mfa: error: [default-long-term] in {path} lacks aws_secret_access_key; add the long-term key\n",
        None,
        id="key-id-only-is-not-set-up",
    ),
    pytest.param(
        "[default-long-term]\naws_access_key_id = ASIATEMPORARY0000000\naws_secret_access_key = x\n"
        "aws_session_token = oldtoken\n",
        [],
        1,
        "aws-mfa: error: [default-long-term] in {path} holds temporary session credentials, not a long-term key; "
        "put your IAM user's access key (AKIA...) there\n",
        None,
        id="session-in-long-term-section-is-not-set-up",
    ),
    pytest.param(
        f"[default-long-term]\naws_secret_access_key = {LONG_SECRET}\n\n[default]\n{KEYS}",
        [],
        1,
        "aws-mfa: error: [default-long-term] in {path} lacks aws_access_key_id; add the long-term key. [default] "
        "holds a long-term key: if [default-long-term] is meant to hold that one, give it both its lines, then run "
        "aws-mfa\n",
        None,
        id="secret-only-long-term-section-beside-keys",
    ),
    pytest.param(
        f"[default-long-term]\naws_mfa_device = {DEVICE}\n\n[default]\nregion = eu-west-1\n",
        [],
        1,
        "aws-mfa: error: no long-term key to set up: neither [default] nor [default-long-term] in {path} holds one. "
        "Add 'aws_access_key_id = AKIA...' and 'aws_secret_access_key = ...' to [default-long-term] in {path}, or "
        "keep the key out of that file with 'credential_process = ...' in [profile default-long-term] of the config "
        "file (see USAGE.md's key programs)\n",
        None,
        id="device-only-long-term-section-and-no-key",
    ),
    pytest.param(
        f"[default-long-term]\naws_session_token = oldtoken\n\n[default]\n{KEYS}",
        [],
        1,
        "aws-mfa: error: [default-long-term] in {path} holds a session token but no access key, and a long-term "
        "section holds no token; take the token out of it (it was only a session's), then run aws-mfa --setup "
        "again\n",
        None,
        id="token-only-long-term-section",
    ),
    pytest.param(
        f"[DEFAULT]\naws_session_token = FOO\n\n[default-long-term]\naws_mfa_device = {DEVICE}\n\n[default]\n{KEYS}",
        [],
        1,
        "aws-mfa: error: [DEFAULT] in {path} sets aws_session_token, which every section inherits, "
        "[default-long-term] too; move it into the sections that need it\n",
        None,
        id="token-in-default-inherited-by-the-long-term-section",
    ),
    pytest.param(
        f"[DEFAULT]\naws_session_token = FOO\n\n{LONG_TERM}\n[default]\n{KEYS}",
        [],
        1,
        "aws-mfa: error: [DEFAULT] in {path} sets aws_session_token, which every section inherits, "
        "[default-long-term] too; move it into the sections that need it\n",
        None,
        id="token-in-default-beside-a-set-up-long-term-section",
    ),
]


@pytest.mark.parametrize(("before", "argv", "code", "err", "after"), PARTIAL)
def test_setup_on_a_partial_long_term_section(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    before: str,
    argv: list[str],
    code: int,
    err: str,
    after: str | None,
) -> None:
    home.credentials.write_text(before)
    sts_stub.actions["ListMFADevices"] = mfa_devices(OTHER_DEVICE)

    assert run(capsys, "--setup", *argv) == (code, "", err.format(path=home.credentials))

    assert home.credentials.read_text() == (after or before)
    assert sts_stub.requests == []
    if code == 0:
        assert run(capsys, "-t", "123456") == (0, "", valid_until())
        (request,) = sts_stub.requests
        assert params(request.body)["SerialNumber"] == DEVICE
        assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")


def test_setup_with_a_device_only_long_term_section_and_a_key_program_names_the_program(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = f"[default-long-term]\naws_mfa_device = {DEVICE}\n"
    home.credentials.write_text(before)
    home.config.write_text("[profile default-long-term]\ncredential_process = op inject -i aws.json\n")

    assert run(capsys, "--setup") == (
        0,
        "",
        "aws-mfa: already set up: the long-term key comes from the config file's [profile default-long-term]; "
        "run aws-mfa\n",
    )
    assert home.credentials.read_text() == before
    assert stub.requests == []


# --- 14 and 18: a dry run refuses as the real run does; local refusals come before IAM is asked


UNREADABLE_BACK = (
    "aws-mfa: error: {path}: the updated file would not read back as expected around [default-long-term] "
    "(unusual indentation or [DEFAULT] keys?); nothing was written\n"
)


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(f" [default]\n{KEYS}", id="indented-section-header"),
        pytest.param(f"[DEFAULT]\n{KEYS}\n[default]\nregion = eu-west-1\n", id="keys-in-DEFAULT"),
    ],
)
@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry-run", "real"])
def test_setup_refuses_a_layout_it_cannot_write_before_asking_iam_dry_run_or_not(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    before: str,
    dry_run: list[str],
) -> None:
    home.credentials.write_text(before)
    sts_stub.actions["ListMFADevices"] = mfa_devices(DEVICE)

    assert run(capsys, "--setup", *dry_run) == (1, "", UNREADABLE_BACK.format(path=home.credentials))
    assert home.credentials.read_text() == before
    assert sts_stub.requests == []
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == ["credentials"]


@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry-run", "real"])
def test_setup_on_a_file_of_another_user_is_refused_before_iam_dry_run_or_not(
    nobody_dir: Path,  # noqa: F811 (the fixture imported above)
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    dry_run: list[str],
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, f"[default]\n{KEYS}", owner=0, mode=0o666)
    sts_stub.actions["ListMFADevices"] = mfa_devices(DEVICE)

    with as_nobody():
        result = run(capsys, "--setup", *dry_run)

    assert result == (
        1,
        "",
        f"aws-mfa: error: {credentials} belongs to uid 0, and a file written by this user would not; run aws-mfa "
        "as that user. The file is unchanged\n",
    )
    assert (credentials.read_text(), credentials.stat().st_uid) == (f"[default]\n{KEYS}", 0)
    assert sts_stub.requests == []


# --- 16: --clear never removes a long-term key, nor advises deleting one ------------------------


CLEAR_REFUSALS = [
    pytest.param(
        f"{LONG_TERM}\n[default]\n{SESSION}",
        ["-p", "default-long-term"],
        "[default-long-term] in {path} holds long-term keys without a session token; --clear removes only a "
        "session, never a long-term key: it is the long-term section of [default], whose session aws-mfa --clear "
        "removes",
        id="the-long-term-section",
    ),
    pytest.param(
        f"[work-lt]\n{KEYS}\n[work]\n{SESSION}",
        ["-p", "work-lt", "--long-term-suffix=-lt"],
        "[work-lt] in {path} holds long-term keys without a session token; --clear removes only a session, never "
        "a long-term key: it is the long-term section of [work], whose session aws-mfa --clear -p work "
        "--long-term-suffix=-lt removes",
        id="a-named-long-term-section",
    ),
    pytest.param(
        f"[default]\n{KEYS}",
        [],
        "[default] in {path} holds long-term keys without a session token; --clear removes only a session, never "
        "a long-term key: to use them with aws-mfa, run aws-mfa --setup to move them to [default-long-term]",
        id="aws-configure-keys",
    ),
    pytest.param(
        f"{LONG_TERM}\n[default]\naws_access_key_id = AKIAANOTHERKEY000000\naws_secret_access_key = other\n",
        [],
        "[default] in {path} holds long-term keys without a session token; --clear removes only a session, never "
        "a long-term key: [default] holds no session to remove",
        id="another-key-beside-the-long-term-section",
    ),
]


@pytest.mark.parametrize(("before", "argv", "message"), CLEAR_REFUSALS)
def test_clear_refuses_long_term_keys_without_advice_to_delete_them(
    home: Home, capsys: pytest.CaptureFixture[str], before: str, argv: list[str], message: str
) -> None:
    home.credentials.write_text(before)

    assert run(capsys, "--clear", *argv) == (1, "", f"aws-mfa: error: {message.format(path=home.credentials)}\n")
    assert home.credentials.read_text() == before
    assert "delete" not in message


# --- 17: a slow IAM is treated like one that refuses: bounded, and the keys are moved ---------


def test_setup_with_a_trickling_iam_answer_moves_the_keys_without_a_device_in_bounded_time(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home.credentials.write_text(f"[default]\n{KEYS}")
    trickle = Trickle()  # one byte every 0.2 s: no read ever times out
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", trickle.url)
    monkeypatch.setattr(aws_mfa, "ANSWER_DEADLINE", 1.5)
    started = time.monotonic()
    try:
        result = run(capsys, "--setup")
    finally:
        trickle.close()

    assert result == (
        0,
        "",
        "aws-mfa: warning: no MFA device configured and IAM did not finish answering within 1.5 s; moving the keys "
        f"without it: {LATER}\n" + moved(home.credentials, device=None) + NEXT,
    )
    assert time.monotonic() - started < 5
    assert home.credentials.read_text() == f"[default-long-term]\n{KEYS}\n[default]\n"


# --- 18: messages that say what really happens ------------------------------------------------


@pytest.mark.parametrize("mode", [0o755, 0o4755, 0o2755, 0o1755, 0o640, 0o604])
def test_setup_makes_a_file_others_can_use_0600_as_it_says(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    mode: int,
) -> None:
    home.credentials.write_text(f"[default]\n{KEYS}")
    os.chmod(home.credentials, mode)

    assert run(capsys, "--setup", "--dry-run", "--device", DEVICE)[1].endswith(f"mode: {mode & 0o777:o} -> 600\n")
    assert run(capsys, "--setup", "--device", DEVICE) == (
        0,
        "",
        f"aws-mfa: {home.credentials} could be read by other users (mode {mode & 0o777:o}); it is now 600\n"
        + moved(home.credentials)
        + NEXT,
    )
    assert stat.S_IMODE(home.credentials.stat().st_mode) == 0o600
    assert home.credentials.read_text() == f"[default-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[default]\n"


def test_refresh_into_a_missing_file_in_another_users_directory_names_the_directory(
    nobody_dir: Path,  # noqa: F811 (the fixture imported above)
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `sudo aws configure` once made ~/.aws root's; the credentials file does not exist yet.
    os.chown(nobody_dir, 0, 0)
    os.chmod(nobody_dir, 0o755)  # noqa: S103 (a directory anyone may read, as ~/.aws often is)
    nobody_file(nobody_dir / "config", "[profile default-long-term]\ncredential_process = keys-program\n", owner=0)
    os.chmod(nobody_dir / "config", 0o644)

    with as_nobody():
        result = run(capsys, "-t", "123456", "--device", DEVICE)

    assert result == (
        1,
        "",
        f"aws-mfa: error: {nobody_dir} belongs to uid 0, and {nobody_dir / 'credentials'} does not exist: a file "
        "made there by this user would not belong to uid 0 as the directory does; run aws-mfa as that user, or give "
        "the directory to this user. Nothing was written\n",
    )
    assert sorted(path.name for path in nobody_dir.iterdir()) == ["config"]
    assert sts_stub.requests == []


def test_setup_when_the_file_changes_owner_while_iam_is_asked_writes_nothing(
    nobody_dir: Path,  # noqa: F811 (the fixture imported above)
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, f"[default]\n{KEYS}")
    sts_stub.actions["ListMFADevices"] = mfa_devices(DEVICE)
    ask_iam = aws_mfa.usable_devices

    def while_iam_is_asked(*args: Any) -> list[str]:
        os.seteuid(0)  # root gives the file away between the checks and the write
        os.chown(credentials, 0, 0)
        os.chmod(credentials, 0o644)
        os.seteuid(NOBODY)
        return ask_iam(*args)

    monkeypatch.setattr(aws_mfa, "usable_devices", while_iam_is_asked)
    with as_nobody():
        result = run(capsys, "--setup")

    assert result == (
        1,
        "",
        f"aws-mfa: error: {credentials} belongs to uid 0, and a file written by this user would not; run aws-mfa "
        "as that user. The file is unchanged\n",
    )
    assert (credentials.read_text(), credentials.stat().st_uid) == (f"[default]\n{KEYS}", 0)
