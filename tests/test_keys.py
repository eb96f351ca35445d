"""Long-term keys from the config profile's credential_process instead of the credentials file."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import timedelta
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
from conftest import stub_session
from conftest import valid_until
from test_modes import existing
from test_modes import mfa_devices
from test_modes import params
from test_refresh import run

FakeBin = Callable[[str, str], Path]
PROGRAM = "credential_process of [profile default-long-term]"
KEYS = {"Version": 1, "AccessKeyId": LONG_KEY, "SecretAccessKey": LONG_SECRET}
OTHER = "[other]\nregion = eu-west-1\n"


@pytest.fixture
def sts_stub(stub: StubServer) -> StubServer:
    """The stub STS answering with a fixed session; no credentials file yet."""
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    return stub


def key_program(fake_bin: FakeBin, tmp_path: Path, answer: object = KEYS, extra: str = "") -> Path:
    """A program on the credential_process contract that records each run, its argv and its stdin."""
    runs = tmp_path / "runs"
    return fake_bin(
        "keys",
        f"open({str(runs)!r}, 'a').write(repr((sys.argv[1:], sys.stdin.read())) + '\\n')\n"
        f"{extra}\nprint({json.dumps(answer)!r})",
    )


def runs(tmp_path: Path) -> list[str]:
    path = tmp_path / "runs"
    return path.read_text().splitlines() if path.exists() else []


def configure(home: Home, command: str, device: bool = True) -> None:
    serial = f"mfa_serial = {DEVICE}\n" if device else ""
    home.config.write_text(
        f"[default]\nregion = eu-west-1\n\n[profile default-long-term]\ncredential_process = {command}\n{serial}"
    )


def test_keys_from_a_program_on_path_sign_the_call_and_are_never_written(
    home: Home, sts_stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_program(fake_bin, tmp_path)
    configure(home, "keys --vault 'AWS prod'")

    assert run(capsys, "-t", "123456") == (0, "", valid_until())

    assert runs(tmp_path) == [repr((["--vault", "AWS prod"], ""))]  # split like a shell; stdin closed
    (request,) = sts_stub.requests
    assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")
    assert params(request.body)["SerialNumber"] == DEVICE
    # The file did not exist: created 0600, holding the session only.
    assert home.credentials.read_text() == f"[default]\n{stub_session()}"
    assert stat.S_IMODE(home.credentials.stat().st_mode) == 0o600


def test_program_by_absolute_path_and_the_session_added_to_an_existing_file(
    home: Home, sts_stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = key_program(fake_bin, tmp_path)
    configure(home, str(program))
    home.credentials.write_text(OTHER)

    assert run(capsys, "-t", "123456") == (0, "", valid_until())

    assert len(runs(tmp_path)) == 1
    assert home.credentials.read_text() == f"{OTHER}\n[default]\n{stub_session()}"
    assert sts_stub.requests[0].headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")


def test_keys_in_the_credentials_file_win(
    home: Home, session_stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_program(fake_bin, tmp_path, {**KEYS, "AccessKeyId": "AKIAFROMTHEPROGRAM00"})
    configure(home, "keys")

    assert run(capsys, "-t", "123456") == (0, "", valid_until())

    assert runs(tmp_path) == []
    assert session_stub.requests[0].headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_program_not_run_on_skip_status_or_dry_run(
    home: Home, sts_stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_program(fake_bin, tmp_path)
    configure(home, "keys")
    valid = expires_in(timedelta(minutes=600))
    session = existing(valid).replace(LONG_TERM, "")
    home.credentials.write_text(session)

    assert run(capsys)[0] == 0
    assert run(capsys, "--status")[0] == 0
    code, out, err = run(capsys, "--dry-run", "-f")

    assert (code, err) == (0, "")
    assert out.splitlines()[2] == f"long-term keys: {PROGRAM} in the config file, run only when a refresh is due"
    assert runs(tmp_path) == []
    assert sts_stub.requests == []
    assert home.credentials.read_text() == session


FAILURES = [
    # op's error format; the time in it is text aws-mfa passes on, compared with no clock.
    pytest.param(
        "sys.stderr.write('[ERROR] 2026/11/28 13:00:00 You are not signed in.\\n'); sys.exit(1)",
        KEYS,
        f"{PROGRAM} failed (exit 1): [ERROR] 2026/11/28 13:00:00 You are not signed in.",
        id="non-zero-exit-with-stderr",
    ),
    pytest.param("sys.exit(3)", KEYS, f"{PROGRAM} failed (exit 3): no message", id="non-zero-exit-silent"),
    pytest.param(
        f"print('AccessKeyId={LONG_KEY} SecretAccessKey={LONG_SECRET}'); sys.exit()",
        KEYS,
        f"{PROGRAM} printed no JSON object (the credential_process format)",
        id="not-json",
    ),
    pytest.param("", [KEYS], f"{PROGRAM} printed no JSON object (the credential_process format)", id="json-list"),
    pytest.param(
        "", {**KEYS, "Version": 2}, f"{PROGRAM} printed Version 2; the credential_process format is Version 1", id="v2"
    ),
    pytest.param(
        "",
        {"AccessKeyId": LONG_KEY, "SecretAccessKey": LONG_SECRET},
        f"{PROGRAM} printed Version None; the credential_process format is Version 1",
        id="no-version",
    ),
    pytest.param("", {"Version": 1, "AccessKeyId": LONG_KEY}, f"{PROGRAM} printed no SecretAccessKey", id="no-secret"),
    pytest.param(
        "",
        {"Version": 1, "AccessKeyId": "", "SecretAccessKey": 5},
        f"{PROGRAM} printed no AccessKeyId and no SecretAccessKey",
        id="empty-and-not-a-string",
    ),
    pytest.param(
        "",
        {**KEYS, "SessionToken": "token"},
        f"{PROGRAM} printed temporary session credentials; GetSessionToken needs the IAM user's long-term access "
        "key (AKIA...), so make it print that, without a SessionToken",
        id="session-token",
    ),
    pytest.param(
        "",
        {**KEYS, "AccessKeyId": "ASIATEMPORARYKEY0000"},
        f"{PROGRAM} printed temporary session credentials; GetSessionToken needs the IAM user's long-term access "
        "key (AKIA...), so make it print that, without a SessionToken",
        id="asia-key",
    ),
    pytest.param(
        "",
        {**KEYS, "AccessKeyId": "AKIA KEY"},
        f"{PROGRAM} printed a malformed access key id or secret",
        id="malformed-key",
    ),
    pytest.param(
        "sys.stdout.write('x' * 200000); sys.exit()",
        KEYS,
        f"{PROGRAM} printed more than 64 KiB, which is no access key",
        id="flood",
    ),
    pytest.param("time.sleep(60)", KEYS, f"{PROGRAM} gave no access key within 5 s", id="hang-cut-off"),
]


@pytest.mark.parametrize(("extra", "answer", "message"), FAILURES)
def test_each_failure_is_one_error_nothing_called_file_untouched(
    home: Home,
    sts_stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: str,
    answer: object,
    message: str,
) -> None:
    key_program(fake_bin, tmp_path, answer, extra)
    configure(home, "keys")
    home.credentials.write_bytes(OTHER.encode())

    # Only the hang is meant to meet the timeout; the others have time on a loaded machine.
    timeout = "5" if "within 5 s" in message else "60"
    # The code is offered on stdin: a failing key program stops the run before it is read.
    assert run(capsys, "--otp-timeout", timeout, stdin="123456\n") == (1, "", f"aws-mfa: error: {message}\n")

    assert len(runs(tmp_path)) == 1
    assert sts_stub.requests == []
    assert home.credentials.read_bytes() == OTHER.encode()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        # cron and launchd search a short PATH: the message says which.
        pytest.param("no-such-program", f"{PROGRAM}: 'no-such-program' was not found on PATH={{path}}", id="missing"),
        pytest.param("keys 'unbalanced", f"{PROGRAM} is not a command line: no closing quotation", id="quote"),
    ],
)
def test_program_that_cannot_run(
    home: Home,
    sts_stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    message: str,
) -> None:
    key_program(fake_bin, tmp_path)
    configure(home, command)

    message = message.format(path=os.environ["PATH"])
    assert run(capsys, "-t", "123456") == (1, "", f"aws-mfa: error: {message}\n")
    assert sts_stub.requests == []
    assert not home.credentials.exists()


def test_runs_at_the_same_time_as_the_otp_program(
    home: Home, sts_stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each program waits until the other has started: run one after the other, both would time out.
    def waits_for(mine: str, other: str) -> str:
        return (
            f"open({str(tmp_path / mine)!r}, 'w').close()\n"
            f"deadline = time.monotonic() + 20\n"
            f"while not os.path.exists({str(tmp_path / other)!r}):\n"
            "    time.sleep(0.01)\n"
            "    if time.monotonic() > deadline: sys.exit(9)\n"
        )

    key_program(fake_bin, tmp_path, extra=waits_for("keys-started", "otp-started"))
    fake_bin("otp", waits_for("otp-started", "keys-started") + "print('123456')")
    configure(home, "keys")

    assert run(capsys, "--otp-command", "otp", "--otp-timeout", "30") == (0, "", valid_until())
    assert params(sts_stub.requests[0].body)["TokenCode"] == "123456"


def test_discovery_with_the_programs_keys(
    home: Home, sts_stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_program(fake_bin, tmp_path)
    configure(home, "keys", device=False)
    sts_stub.actions["ListMFADevices"] = mfa_devices(DEVICE)

    assert run(capsys, "-t", "123456") == (
        0,
        "",
        f"aws-mfa: using MFA device {DEVICE}; to skip this look-up, add 'mfa_serial = {DEVICE}' to "
        f"[profile default-long-term] of the config file\n{valid_until()}",
    )
    assert [params(r.body)["Action"] for r in sts_stub.requests] == ["ListMFADevices", "GetSessionToken"]
    for request in sts_stub.requests:
        assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")
    assert len(runs(tmp_path)) == 1


@pytest.mark.parametrize(
    ("short_term", "written"),
    [
        pytest.param(
            "[default]\naws_access_key_id = AKIAANOTHERKEY000000\naws_secret_access_key = another\n", False, id="other"
        ),
        pytest.param(
            f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n", True, id="same"
        ),
    ],
)
def test_short_term_section_holding_long_term_keys(
    home: Home,
    sts_stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    short_term: str,
    written: bool,
) -> None:
    key_program(fake_bin, tmp_path)
    configure(home, "keys")
    home.credentials.write_text(short_term)

    code, out, err = run(capsys, "-t", "123456")

    if written:  # a copy of the program's key may be replaced by the session
        assert (code, out, err) == (0, "", valid_until())
        assert home.credentials.read_text() == f"[default]\n{stub_session()}"
    else:
        assert (code, out, err) == (
            1,
            "",
            f"aws-mfa: error: [default] in {home.credentials} holds long-term keys without a session token; refusing "
            "to overwrite them. Move them into a section of their own (e.g. [default-old]) and run again\n",
        )
        assert sts_stub.requests == []
        assert home.credentials.read_text() == short_term


def test_no_keys_anywhere_names_the_section(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.config.write_text("[profile default-long-term]\nmfa_serial = x\n")
    home.credentials.write_text(OTHER)

    assert run(capsys, "-t", "123456") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} has no [default-long-term] section; put your long-term access key there "
        "(aws_access_key_id, aws_secret_access_key, aws_mfa_device)\n",
    )


# --- USAGE.md's key programs, run with stand-ins for op, security and pass ---------------

USAGE = Path(__file__).resolve().parent.parent / "USAGE.md"
STAND_INS = {
    "op": f"""
values = {{"op://Private/AWS/access key id": {LONG_KEY!r}, "op://Private/AWS/secret access key": {LONG_SECRET!r}}}
if os.environ.get("OP_SIGNED_OUT"):  # op's error format; its time is compared with no clock
    sys.exit(sys.stderr.write("[ERROR] 2026/11/28 13:00:00 You are not currently signed in.\\n") and 1)
if sys.argv[1:3] == ["inject", "--in-file"]:
    text = open(sys.argv[3]).read()
    for reference, value in values.items():
        text = text.replace("{{{{ " + reference + " }}}}", value)
    sys.stdout.write(text)
else:
    assert sys.argv[1] == "read"
    print(values[sys.argv[2]])
""",
    "security": f"""
assert sys.argv[1:] == ["find-generic-password", "-s", "aws-long-term", "-a", {LONG_KEY!r}, "-w"], sys.argv
print({LONG_SECRET!r})
""",
    "pass": f"""
assert sys.argv[1:] == ["show", "aws/secret-access-key"], sys.argv
print({LONG_SECRET!r})
""",
}


def usage_recipes() -> list[str]:
    section = USAGE.read_text().split("\n## Long-term keys from a program\n")[1].split("\n## ")[0]
    return [block for block in section.split("```ini\n")[1:] if "credential_process" in block.split("```")[0]]


def recipe_config(block: str, tmp_path: Path) -> str:
    template = USAGE.read_text().split("```json\n")[1].split("```")[0]
    (tmp_path / "aws-keys.json").write_text(template)
    return block.split("```")[0].replace("/Users/alice/.aws/aws-keys.json", str(tmp_path / "aws-keys.json"))


@pytest.mark.parametrize("index", range(4), ids=["op-inject", "op-read", "keychain", "pass"])
def test_usage_recipes(
    home: Home, sts_stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str], index: int
) -> None:
    recipes = usage_recipes()
    assert len(recipes) == 4
    for name, body in STAND_INS.items():
        fake_bin(name, body)
    (tmp_path / "bin" / "sh").symlink_to("/bin/sh")
    home.config.write_text(recipe_config(recipes[index], tmp_path))

    assert run(capsys, "-t", "123456") == (0, "", valid_until())

    (request,) = sts_stub.requests
    assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={LONG_KEY}/")
    assert params(request.body)["SerialNumber"] == DEVICE
    assert home.credentials.read_text() == f"[default]\n{stub_session()}"


@pytest.mark.parametrize("index", range(2), ids=["op-inject", "op-read"])
def test_usage_recipes_pass_ops_error_through(
    home: Home,
    sts_stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index: int,
) -> None:
    fake_bin("op", STAND_INS["op"])
    (tmp_path / "bin" / "sh").symlink_to("/bin/sh")
    home.config.write_text(recipe_config(usage_recipes()[index], tmp_path))
    monkeypatch.setenv("OP_SIGNED_OUT", "1")

    assert run(capsys, "-t", "123456") == (
        1,
        "",
        f"aws-mfa: error: {PROGRAM} failed (exit 1): [ERROR] 2026/11/28 13:00:00 You are not currently signed in.\n",
    )
    assert sts_stub.requests == []
    assert not home.credentials.exists()


def test_a_missing_directory_is_created_for_the_first_session(
    home: Home,
    sts_stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_program(fake_bin, tmp_path)
    configure(home, "keys")
    credentials = tmp_path / "new" / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))

    assert run(capsys, "-t", "123456") == (0, "", valid_until())

    assert credentials.read_text() == f"[default]\n{stub_session()}"
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_a_directory_that_cannot_be_created_is_one_error(
    home: Home,
    sts_stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_program(fake_bin, tmp_path)
    configure(home, "keys")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no" / "such" / "credentials"))

    assert run(capsys, "-t", "123456") == (
        1,
        "",
        f"aws-mfa: error: cannot create {tmp_path / 'no' / 'such'}: No such file or directory\n",
    )
