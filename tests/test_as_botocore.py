"""The third campaign (issue 21), reading the files as botocore does: profile names in the config
file, keys split between the file and a program, unreadable and empty paths, --list. botocore is
the oracle: each test checks that it reads the same files the same way. Each case failed before its fix."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from conftest import DEVICE
from conftest import LONG_KEY
from conftest import LONG_SECRET
from conftest import RELIABILITY
from conftest import Home
from conftest import StubServer
from test_refresh import run
from test_surroundings import as_nobody
from test_surroundings import nobody_dir  # noqa: F401 (a fixture)
from test_surroundings import nobody_file
from test_surroundings import usage_error

FakeBin = Callable[[str, str], Path]
WORK_KEYS = f"[work-long-term]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n"
OTHER_DEVICE = "arn:aws:iam::210987654321:mfa/other"


def botocore_profiles() -> dict[str, dict[str, Any]]:
    """The profiles botocore reads from the files the environment names, config and credentials merged."""
    profiles: dict[str, dict[str, Any]] = botocore.session.Session().full_config["profiles"]
    return profiles


def dry_run(*, keys: str, device: str, region: str, duration: str) -> str:
    return (
        f"credentials file: {os.environ['AWS_SHARED_CREDENTIALS_FILE']}\n"
        "profiles: [work-long-term] -> [work]\n"
        f"long-term keys: {keys}\n"
        f"MFA device: {device}\n"
        f"region: {region}\n"
        "code: one line from standard input\n"
        f"call: GetSessionToken for {duration}\n"
        "refresh: due\n"
    )


# --- item 9: profile names in the config file, as botocore splits them ----------------------------

SPELLINGS = [
    pytest.param('[profile "work"]', '[profile "work-long-term"]', id="quoted"),
    pytest.param("[profile  work]", "[profile   work-long-term]", id="two-spaces"),
    pytest.param("[profile\twork]", "[profile 'work-long-term']", id="tab-and-single-quotes"),
    pytest.param("[profile  'work' ]", '[profile "work-"long-term]', id="quotes-inside-a-word"),
]


@pytest.mark.parametrize(("short", "long"), SPELLINGS)
def test_config_sections_are_found_under_every_spelling_botocore_reads(
    home: Home, capsys: pytest.CaptureFixture[str], short: str, long: str
) -> None:
    home.credentials.write_text(WORK_KEYS)
    home.config.write_text(
        f"{short}\nregion = eu-west-1\naws_mfa_duration = 2h\n\n{long}\nmfa_serial = {DEVICE}\n"
        # Not profiles to botocore: a name of three words, an unclosed quote.
        "[profile work -long-term]\nmfa_serial = arn:aws:iam::1:mfa/x\n\n[profile 'work]\nregion = us-west-1\n"
    )
    RELIABILITY["read as botocore reads"] += 1

    profiles = botocore_profiles()
    assert (profiles["work"]["region"], profiles["work-long-term"]["mfa_serial"]) == ("eu-west-1", DEVICE)

    assert run(capsys, "-p", "work", "--dry-run") == (
        0,
        dry_run(
            keys="[work-long-term] of the credentials file",
            device=f"{DEVICE} (mfa_serial in config [{long[1:-1]}])",
            region=f"eu-west-1 (config [{short[1:-1]}])",
            duration="7200 s",
        ),
        "",
    )


def test_of_two_spellings_of_a_profile_the_later_is_read_whole(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.credentials.write_text(WORK_KEYS)
    home.config.write_text(
        "[profile work]\nregion = eu-west-1\naws_mfa_duration = 2h\n\n"
        '[profile "work"]\nregion = eu-central-1\n\n'
        f"[profile work-long-term]\nmfa_serial = {OTHER_DEVICE}\n\n[profile  work-long-term]\nregion = us-east-2\n"
    )
    RELIABILITY["read as botocore reads"] += 1

    profiles = botocore_profiles()
    assert profiles["work"] == {"region": "eu-central-1"}
    assert "mfa_serial" not in profiles["work-long-term"]

    assert run(capsys, "-p", "work", "--dry-run") == (
        0,
        dry_run(
            keys="[work-long-term] of the credentials file",
            device="ask IAM (ListMFADevices)",
            region="us-east-2 (config [profile  work-long-term])",
            duration="43200 s",
        ),
        "",
    )


def test_a_name_botocore_drops_runs_no_program(
    home: Home, stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = tmp_path / "ran"
    fake_bin("keys", f"open({str(ran)!r}, 'w').write('ran')\nprint('{{}}')")
    # Three words to botocore: no profile `my work-long-term`; the quoted one is profile `my`.
    home.config.write_text(
        f"[profile my work-long-term]\ncredential_process = keys\nmfa_serial = {DEVICE}\n\n"
        '[profile "my work"]\nregion = eu-west-1\n'
    )
    RELIABILITY["read as botocore reads"] += 1

    assert "my work-long-term" not in botocore_profiles()

    assert run(capsys, "-p", "my work", "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} does not exist; run `aws configure --profile 'my work'`, then "
        "`aws-mfa --setup -p 'my work'` (or create it with a [my work-long-term] section)\n",
    )
    assert not ran.exists()
    assert stub.requests == []


def test_list_finds_the_programs_botocore_finds(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.config.write_text(
        '[profile "ci-long-term"]\ncredential_process = never-run ci\n\n'
        "[profile  y-long-term]\ncredential_process = never-run y\n\n"
        # Dropped by botocore (three words), and replaced whole by a later spelling without a program.
        "[profile a b-long-term]\ncredential_process = never-run a\n\n"
        "[profile x-long-term]\ncredential_process = never-run x\n\n"
        "[profile 'x-long-term']\nregion = eu-west-1\n\n"
        # Not a profile at all in the config file: no "profile" before the name.
        "[w-long-term]\ncredential_process = never-run w\n"
    )
    RELIABILITY["read as botocore reads"] += 1

    programs = sorted(name for name, values in botocore_profiles().items() if "credential_process" in values)
    assert programs == ["ci-long-term", "y-long-term"]

    assert run(capsys, "--list") == (
        0,
        f'ci: keys in credential_process of [profile "ci-long-term"] in {home.config}; device not set (asked of '
        "IAM); session none\n"
        f"y: keys in credential_process of [profile  y-long-term] in {home.config}; device not set (asked of IAM); "
        "session none\n",
        "",
    )


# --- item 10: keys split between the credentials file and a program --------------------------------

PROGRAM_KEY = "AKIAPROGRAMKEY000001"


def botocore_keys() -> str:
    """The access key botocore signs with for work-long-term, or the error it stops with."""
    try:
        credentials = botocore.session.Session(profile="work-long-term").get_credentials()
    except botocore.exceptions.PartialCredentialsError as error:
        return f"partial: {error.kwargs['cred_var']}"
    assert credentials is not None
    return credentials.access_key or "empty"


@pytest.mark.parametrize(
    ("section", "oracle", "error"),
    [
        pytest.param(
            "aws_secret_access_key = filesecret\n", PROGRAM_KEY, None, id="secret-only-the-program-supplies-both"
        ),
        pytest.param(f"aws_mfa_device = {DEVICE}\n", PROGRAM_KEY, None, id="no-key-the-program-supplies-both"),
        pytest.param(
            "aws_access_key_id =\n",
            "partial: aws_secret_access_key",
            "lacks aws_access_key_id and aws_secret_access_key; add the long-term key",
            id="empty-key-id-the-file-supplies-and-fails",
        ),
        pytest.param(
            f"aws_access_key_id = {LONG_KEY}\n",
            "partial: aws_secret_access_key",
            "lacks aws_secret_access_key; add the long-term key",
            id="key-id-only-the-file-supplies-and-fails",
        ),
        pytest.param(
            "aws_access_key_id =\naws_secret_access_key = filesecret\n",
            "empty",
            "lacks aws_access_key_id; add the long-term key",
            id="empty-key-id-and-a-secret",
        ),
    ],
)
def test_keys_come_from_the_file_or_the_program_as_botocore_decides(
    home: Home,
    stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    section: str,
    oracle: str,
    error: str | None,
) -> None:
    from conftest import STUB_KEY
    from conftest import STUB_SECRET
    from conftest import STUB_TOKEN
    from conftest import stub_session
    from conftest import valid_until

    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    ran = tmp_path / "ran"
    answer = json.dumps({"Version": 1, "AccessKeyId": PROGRAM_KEY, "SecretAccessKey": LONG_SECRET})
    fake_bin("keys", f"open({str(ran)!r}, 'a').write('ran\\n')\nprint({answer!r})")
    text = f"[work-long-term]\n{section}"
    home.credentials.write_text(text)
    home.config.write_text(f"[profile work-long-term]\ncredential_process = keys\nmfa_serial = {DEVICE}\n")
    RELIABILITY["read as botocore reads"] += 1

    assert botocore_keys() == oracle
    ran.unlink(missing_ok=True)  # botocore's own run of the program

    result = run(capsys, "-p", "work", "--code", "123456")

    if error is None:
        assert result == (0, "", valid_until("work"))
        (request,) = stub.requests
        assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={PROGRAM_KEY}/")
        assert home.credentials.read_text() == f"{text}\n[work]\n{stub_session()}"
    else:
        assert result == (1, "", f"aws-mfa: error: [work-long-term] in {home.credentials} {error}\n")
        assert not ran.exists()
        assert stub.requests == []
        assert home.credentials.read_text() == text


# --- item 11: unreadable and empty paths -----------------------------------------------------------


def unreadable_by_a_loop(home: Home) -> str:
    home.config.symlink_to(home.config)
    return "Too many levels of symbolic links"


def unreadable_below_a_file(home: Home) -> str:
    os.environ["AWS_CONFIG_FILE"] = str(home.credentials / "config")
    return "Not a directory"


@pytest.mark.parametrize("make", [unreadable_by_a_loop, unreadable_below_a_file], ids=["link-loop", "below-a-file"])
def test_unreadable_config_is_absent_as_for_botocore(
    home: Home,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Home], str],
) -> None:
    from conftest import LONG_TERM
    from conftest import stub_session
    from conftest import valid_until

    monkeypatch.setenv("AWS_CONFIG_FILE", os.environ["AWS_CONFIG_FILE"])  # restored after the test
    reason = make(home)
    config = os.environ["AWS_CONFIG_FILE"]
    RELIABILITY["read as botocore reads"] += 1

    assert botocore.session.Session().full_config["profiles"] == botocore_profiles()  # no error from botocore
    assert set(botocore_profiles()) == {"default-long-term"}  # the credentials file's only

    warning = f"aws-mfa: warning: cannot read {config}: {reason}; going on without it, as the AWS CLI does\n"
    assert run(capsys, "--list") == (
        0,
        f"default: keys in [default-long-term] of {home.credentials}; device {DEVICE}; session none\n",
        warning,
    )
    assert run(capsys, "--code", "123456") == (0, "", warning + valid_until())
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_config_the_user_may_not_read_is_absent_as_for_botocore(
    nobody_dir: Path,  # noqa: F811 (the fixture imported above)
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    credentials, config = nobody_dir / "credentials", nobody_dir / "config"
    nobody_file(credentials, "[default-long-term]\nregion = eu-west-1\n")
    nobody_file(config, "[profile default-long-term]\nregion = eu-west-1\n", mode=0o000, owner=0)
    RELIABILITY["read as botocore reads"] += 1

    with as_nobody():
        profiles = botocore_profiles()
        result = run(capsys, "--list")

    assert profiles == {"default-long-term": {"region": "eu-west-1"}}
    assert result == (
        0,
        "",
        f"aws-mfa: warning: cannot read {config}: Permission denied; going on without it, as the AWS CLI does\n"
        f"aws-mfa: no profile pairs in {credentials} or {config} (long-term keys in [NAME-long-term] or a "
        "credential_process in [profile NAME-long-term], the session in [NAME])\n",
    )


@pytest.mark.parametrize("variable", ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"])
def test_an_empty_path_variable_names_no_file_as_for_botocore(
    home: Home,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    from conftest import LONG_TERM

    monkeypatch.setenv("HOME", str(home.path))
    monkeypatch.setenv(variable, "")
    # What the empty variable would otherwise have meant: the default path, ~/.aws/...
    home.config.write_text(f"[profile default-long-term]\nregion = eu-west-1\nmfa_serial = {DEVICE}\n")
    RELIABILITY["read as botocore reads"] += 1

    profile = botocore_profiles()["default-long-term"]
    if variable == "AWS_SHARED_CREDENTIALS_FILE":
        assert "aws_access_key_id" not in profile  # no credentials file at all
        assert usage_error(capsys, "--code", "123456") == (
            "aws-mfa: error: the credentials file path is empty (-c or AWS_SHARED_CREDENTIALS_FILE), which the AWS "
            "SDKs take for no credentials file; name a file, or unset AWS_SHARED_CREDENTIALS_FILE"
        )
        assert session_stub.requests == []
        assert home.credentials.read_text() == LONG_TERM
    else:
        assert "region" not in profile  # no config file at all
        assert run(capsys, "--dry-run") == (
            0,
            f"credentials file: {home.credentials}\n"
            "profiles: [default-long-term] -> [default]\n"
            "long-term keys: [default-long-term] of the credentials file\n"
            f"MFA device: {DEVICE} (aws_mfa_device in [default-long-term])\n"
            "region: none configured: the global endpoint (instance metadata is off: AWS_EC2_METADATA_DISABLED)\n"
            "code: one line from standard input\n"
            "call: GetSessionToken for 43200 s\n"
            "refresh: due\n",
            "",
        )


# --- item 12: --list shows a pair only where the keys are ------------------------------------------


def test_list_shows_no_pair_for_a_section_without_keys(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.credentials.write_text(
        "[empty-long-term]\n\n"
        f"[device-only-long-term]\naws_mfa_device = {DEVICE}\n\n"
        f"[secret-only-long-term]\naws_secret_access_key = {LONG_SECRET}\n\n"
        f"[ok-long-term]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n\n"
        f"[program-long-term]\naws_mfa_device = {DEVICE}\n"
    )
    home.config.write_text("[profile program-long-term]\ncredential_process = never-run\n")
    RELIABILITY["read as botocore reads"] += 1

    # Where botocore would find each profile's keys: the credentials file, a program, or nowhere.
    profiles = botocore_profiles()
    sources = {
        name: "file" if "aws_access_key_id" in values else "program" if "credential_process" in values else None
        for name, values in profiles.items()
    }
    assert sources == {
        "program-long-term": "program",
        "empty-long-term": None,
        "device-only-long-term": None,
        "secret-only-long-term": None,
        "ok-long-term": "file",
    }

    assert run(capsys, "--list") == (
        0,
        f"ok: keys in [ok-long-term] of {home.credentials}; device not set (asked of IAM); session none\n"
        f"program: keys in credential_process of [profile program-long-term] in {home.config}; device {DEVICE}; "
        "session none\n",
        "",
    )
