"""Every run is contained: no chain of nested runs, no helper left running, bounded reads, and a
failed or stopped run leaves HOME, the credentials file and the output as a person expects."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
from conftest import stub_session
from conftest import valid_until
from test_recipes import AWS_CLI
from test_refresh import run
from test_surroundings import as_nobody
from test_surroundings import wait_until_dead

import aws_mfa

FakeBin = Callable[[str, str], Path]
SCRIPT = Path(sys.executable).with_name("aws-mfa")
KEYS = {"Version": 1, "AccessKeyId": LONG_KEY, "SecretAccessKey": LONG_SECRET}
PROGRAM = "credential_process of [profile default-long-term]"


def nested_refusal(pid: int) -> str:
    return (
        f"aws-mfa: error: this run was started by a helper program of aws-mfa (PID {pid}) and would start the "
        "next without end: a key program or OTP command must not run aws-mfa"
    )


# A helper that runs aws-mfa again (its argv after the script's name). DEPTH counts the runs of
# this helper down the chain, so that the code without the refusal ends the chain too.
LOOP = """
depth = int(os.environ.get('LOOP_DEPTH', '0')) + 1
open(os.environ['LOOP_LOG'], 'a').write(f'{depth}\\n')
if depth > 3:
    sys.exit('the chain went on')
os.environ['LOOP_DEPTH'] = str(depth)
os.execv(sys.argv[1], sys.argv[1:])
"""


@pytest.fixture
def loop(fake_bin: FakeBin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The LOOP helper on PATH as `loop`; its log of depths reached."""
    log = tmp_path / "loop.log"
    monkeypatch.setenv("LOOP_LOG", str(log))
    fake_bin("loop", LOOP)
    return log


def session_lines(expiration: str) -> str:
    """A session as an earlier run wrote it into [default]."""
    return (
        "aws_access_key_id = ASIAOLDSESSION000000\naws_secret_access_key = oldsecret\naws_session_token = oldtoken\n"
        f"expiration = {expiration}\n"
    )


SESSION = session_lines(expires_in(timedelta(hours=-1)))


# --- nested runs ------------------------------------------------------------------------------


def test_key_program_that_runs_aws_mfa_is_refused_at_once(
    home: Home, stub: StubServer, loop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home.config.write_text(
        f"[profile default-long-term]\ncredential_process = loop {SCRIPT} --credential-process\nmfa_serial = {DEVICE}\n"
    )
    RELIABILITY["hangs and unbounded work"] += 1

    assert run(capsys, "-t", "123456") == (
        1,
        "",
        f"aws-mfa: error: {PROGRAM} failed (exit 1): {nested_refusal(os.getpid())}\n",
    )
    assert loop.read_text() == "1\n"
    assert stub.requests == []


@pytest.mark.skipif(AWS_CLI is None, reason="the `aws` CLI is needed: `make test` builds .venv-awscli")
def test_key_program_that_runs_aws_mfa_through_the_aws_cli_is_refused(
    home: Home, stub: StubServer, loop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The keys come from `aws`, whose profile's credential_process is aws-mfa itself.
    home.config.write_text(
        f"[profile default-long-term]\ncredential_process = {AWS_CLI} sts get-caller-identity --profile loop\n"
        f"mfa_serial = {DEVICE}\n\n[profile loop]\ncredential_process = loop {SCRIPT} --credential-process\n"
    )
    RELIABILITY["hangs and unbounded work"] += 1
    started = time.monotonic()

    code, out, err = run(capsys, "-t", "123456")

    assert (code, out) == (1, "")
    assert err.startswith(f"aws-mfa: error: {PROGRAM} failed (exit 255): ")
    assert err.count("\n") == 1
    assert "this run was started by a helper program of aws-mfa" in err
    assert loop.read_text() == "1\n"
    assert time.monotonic() - started < 20
    assert stub.requests == []


@pytest.mark.parametrize(
    ("variable", "name", "what"),
    [
        pytest.param("AWS_MFA_OTP_COMMAND", "otp", "the OTP command", id="otp-command"),
        pytest.param("AWS_MFA_UPDATER_OP_ITEM_NAME", "op", "1Password", id="op"),
    ],
)
def test_code_helper_that_runs_aws_mfa_is_refused_and_the_code_asked(
    session_stub: StubServer,
    home: Home,
    fake_bin: FakeBin,
    loop: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    name: str,
    what: str,
) -> None:
    # From the environment, so that the code without the refusal would run the helper again.
    fake_bin(name, f"os.execvp('loop', ['loop', {str(SCRIPT)!r}])")
    monkeypatch.setenv(variable, "otp" if name == "otp" else "AWS")
    RELIABILITY["hangs and unbounded work"] += 1

    assert run(capsys, stdin="123456\n") == (
        0,
        "",
        f"aws-mfa: warning: {what} failed (exit 1): {nested_refusal(os.getpid())}; asking for the code instead\n"
        + valid_until(),
    )
    assert loop.read_text() == "1\n"
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_nested_run_is_refused_in_every_mode(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(LONG_TERM)
    refused = (1, "", nested_refusal(4321) + "\n")

    monkeypatch.setenv("AWS_MFA_HELPER_OF", "4321:a1b2c3d4")

    for argv in (["--status"], ["--list"], ["--clear"], ["--setup"], ["--env"], ["--dry-run"], ["-t", "123456"]):
        assert run(capsys, *argv) == refused, argv
    assert home.credentials.read_text() == LONG_TERM


# --- a helper's whole tree ends with it -----------------------------------------------------

# A helper that hangs: a child in its group, and a grandchild in a session (and group) of its
# own, as a daemon would start it. Each records its pid, and whether SIGTERM reached it.
TREE = """
import signal, subprocess
def terminated(number, frame):
    open(os.environ['TERMINATED'], 'a').write(f'{os.getpid()}\\n')
    sys.exit(0)
signal.signal(signal.SIGTERM, terminated)
sleeper = [sys.executable, '-c', 'import time; time.sleep(60)']
child = subprocess.Popen(sleeper)
grandchild = subprocess.Popen(sleeper, start_new_session=True)
open(os.environ['PIDS'], 'w').write(f'{os.getpid()} {child.pid} {grandchild.pid}')
while True:
    time.sleep(1)
"""


@pytest.fixture
def tree(fake_bin: FakeBin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    pids, terminated = tmp_path / "pids", tmp_path / "terminated"
    monkeypatch.setenv("PIDS", str(pids))
    monkeypatch.setenv("TERMINATED", str(terminated))
    fake_bin("tree", TREE)
    return pids, terminated


def recorded(pids: Path) -> list[int]:
    return [int(pid) for pid in pids.read_text().split()]


def test_timed_out_helper_is_ended_with_its_whole_tree(
    session_stub: StubServer, home: Home, tree: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pids, terminated = tree
    RELIABILITY["hangs and unbounded work"] += 1
    started = time.monotonic()

    assert run(capsys, "--otp-command", "tree", "--otp-timeout", "2", stdin="123456\n") == (
        0,
        "",
        "aws-mfa: warning: the OTP command gave no code within 2 s; asking for the code instead\n" + valid_until(),
    )
    assert time.monotonic() - started < 4
    helper = recorded(pids)[0]
    assert [pid for pid in recorded(pids) if not wait_until_dead(pid)] == []
    assert terminated.read_text() == f"{helper}\n"  # SIGTERM first: it could clean up


def test_key_program_that_ignores_sigterm_is_killed_with_its_tree(
    home: Home, stub: StubServer, fake_bin: FakeBin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pids = tmp_path / "pids"
    fake_bin(
        "keys",
        "import signal, subprocess\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "grandchild = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'], start_new_session=True)\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{grandchild.pid}}')\ntime.sleep(60)",
    )
    home.config.write_text(f"[profile default-long-term]\ncredential_process = keys\nmfa_serial = {DEVICE}\n")
    RELIABILITY["hangs and unbounded work"] += 1
    started = time.monotonic()

    assert run(capsys, "-t", "123456", "--otp-timeout", "1") == (
        1,
        "",
        f"aws-mfa: error: {PROGRAM} gave no access key within 1 s\n",
    )
    assert time.monotonic() - started < 4
    assert [pid for pid in recorded(pids) if not wait_until_dead(pid)] == []
    assert stub.requests == []


@pytest.mark.parametrize(
    ("sent", "code", "message"),
    [
        pytest.param(signal.SIGTERM, 143, "aws-mfa: stopped by SIGTERM\n", id="SIGTERM"),
        pytest.param(signal.SIGINT, 130, "aws-mfa: interrupted\n", id="SIGINT"),
    ],
)
def test_stopped_run_ends_its_helpers_whole_tree(
    session_stub: StubServer, home: Home, tree: tuple[Path, Path], sent: signal.Signals, code: int, message: str
) -> None:
    pids, _ = tree
    RELIABILITY["hangs and unbounded work"] += 1
    process = subprocess.Popen(
        [str(SCRIPT), "--otp-command", "tree"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    while not (pids.exists() and len(pids.read_text().split()) == 3):
        assert time.monotonic() < deadline
        assert process.poll() is None
        time.sleep(0.05)

    process.send_signal(sent)
    _, err = process.communicate(timeout=20)

    assert (process.returncode, err) == (code, message)
    assert [pid for pid in recorded(pids) if not wait_until_dead(pid)] == []
    assert home.credentials.read_text() == LONG_TERM


# --- reading files with [DEFAULT] and empty values stays linear ------------------------------


def default_heavy(count: int) -> str:
    """~200 KB for 10,000: [DEFAULT] with an empty value and many keys, then many sections."""
    defaults = "".join(f"k{number} = v\n" for number in range(count))
    sections = "".join(f"[p{number}]\n" for number in range(count))
    return f"[DEFAULT]\nempty =\n{defaults}{sections}"


@pytest.mark.parametrize("hostile", ["credentials", "config"])
@pytest.mark.parametrize(
    ("argv", "out", "err"),
    [
        pytest.param(["--status"], "[default] {state}\n", "", id="status"),
        pytest.param(["--list"], "default: keys in [default-long-term] of {path}; {pair}\n", "", id="list"),
        pytest.param([], "", "aws-mfa: [default] is still {state}; --force refreshes\n", id="skip-path"),
    ],
)
def test_default_section_with_an_empty_value_is_read_in_linear_time(
    home: Home, capsys: pytest.CaptureFixture[str], argv: list[str], out: str, err: str, hostile: str
) -> None:
    expiration = expires_in(timedelta(hours=2))
    credentials = f"{LONG_TERM}[default]\n{session_lines(expiration)}"
    config = "[default]\nregion = eu-west-1\n"
    if hostile == "credentials":
        credentials = default_heavy(10_000) + credentials
    else:
        config = default_heavy(10_000) + config
    home.credentials.write_text(credentials)
    home.config.write_text(config)
    RELIABILITY["hostile inputs"] += 1
    started = time.monotonic()

    result = run(capsys, *argv)

    took = time.monotonic() - started
    state = f"valid until {as_shown(expiration)} (1h59m left)"
    pair = f"device {DEVICE}; session {state}"
    assert result == (0, out.format(state=state, pair=pair, path=home.credentials), err.format(state=state))
    assert took < 3, f"{took:.1f} s: quadratic again?"
    assert home.credentials.read_text() == credentials


@pytest.mark.parametrize(
    ("before", "argv", "err", "after", "limit"),
    [
        pytest.param(
            f"{LONG_TERM}[default]\n{SESSION}",
            ["--clear"],
            "aws-mfa: removed the session from [default] in {path}\n",
            f"{LONG_TERM}[default]\n",
            5,
            id="clear",
        ),
        pytest.param(
            f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n",
            ["--setup", "--device", DEVICE],
            f"aws-mfa: moved the long-term key of [default] to a new [default-long-term] with aws_mfa_device = "
            f"{DEVICE} in {{path}}\naws-mfa: next: run aws-mfa to put a session into [default]\n",
            f"{LONG_TERM}\n[default]\n",
            10,  # the file is read and checked twice: before IAM would be asked, and under the lock
            id="setup",
        ),
    ],
)
def test_default_heavy_file_is_written_back_in_linear_time(
    home: Home, capsys: pytest.CaptureFixture[str], before: str, argv: list[str], err: str, after: str, limit: float
) -> None:
    # The read-back check of the write compares [DEFAULT] once, not once more for every section.
    heavy = default_heavy(10_000)
    home.credentials.write_text(heavy + before)
    os.chmod(home.credentials, 0o600)
    RELIABILITY["hangs and unbounded work"] += 1
    started = time.monotonic()

    result = run(capsys, *argv)

    took = time.monotonic() - started
    assert result == (0, "", err.format(path=home.credentials))
    assert took < limit, f"{took:.1f} s: quadratic again?"
    assert home.credentials.read_text() == heavy + after


def test_nested_value_in_default_is_still_refused_as_botocore_does(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"[DEFAULT]\nregion =\n  eu-west-1\n{LONG_TERM}"
    home.credentials.write_text(text)

    assert run(capsys, "--status") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials}: [DEFAULT] region: an indented line below it has no '=' (botocore "
        "reads such lines as nested keys); fix the file, nothing was written\n",
    )
    assert home.credentials.read_text() == text


# --- a failed run on a fresh HOME leaves it as it was -----------------------------------------


def listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.mark.parametrize(
    ("program", "stdin", "message"),
    [
        pytest.param(
            "sys.exit('[ERROR] vault locked')",
            None,
            f"aws-mfa: error: {PROGRAM} failed (exit 1): [ERROR] vault locked\n",
            id="key-program-fails",
        ),
        pytest.param(
            "print('no json')",
            None,
            f"aws-mfa: error: {PROGRAM} printed no JSON object (the credential_process format)\n",
            id="key-program-prints-no-json",
        ),
        pytest.param("time.sleep(30)", None, f"aws-mfa: error: {PROGRAM} gave no access key within 1 s\n", id="hangs"),
        pytest.param(
            f"print({json.dumps(json.dumps(KEYS))})",
            "",
            "aws-mfa: error: no MFA code: no terminal to ask on and nothing on standard input; pass --code, set "
            "--otp-command, or set the 1Password item with --op-item-name (and --op-account)\n",
            id="no-code",
        ),
        pytest.param(
            f"print({json.dumps(json.dumps(KEYS))})",
            "123456\n",
            "aws-mfa: error: STS rejected the MFA code (wrong, expired or already used); wait for the next code and "
            "run again\n",
            id="sts-refuses",
        ),
    ],
)
@pytest.mark.parametrize("aws_directory", [False, True], ids=["no-aws-directory", "aws-directory-with-config"])
def test_failed_run_on_a_fresh_home_leaves_it_as_it_was(
    home: Home,
    stub: StubServer,
    fake_bin: FakeBin,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    program: str,
    stdin: str | None,
    message: str,
    aws_directory: bool,
) -> None:
    fake_bin("keys", program)
    stub.sts_error("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
    config = home.config if aws_directory else tmp_path / "config"
    if not aws_directory:
        home.config.parent.rmdir()
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    config.write_text(f"[profile default-long-term]\ncredential_process = keys\nmfa_serial = {DEVICE}\n")
    before = listing(home.path)
    RELIABILITY["hostile inputs"] += 1

    code, out, err = run(capsys, "--otp-timeout", "1", *(["--code", "123456"] if stdin is None else []), stdin=stdin)

    assert (code, out, err) == (1, "", message)
    assert listing(home.path) == before


def test_first_run_in_another_users_directory_is_refused_creating_nothing(
    stub: StubServer, fake_bin: FakeBin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("becoming another user needs root")
    directory = Path(tempfile.mkdtemp(prefix="aws-mfa-root-"))  # root's, 0755
    directory.chmod(0o755)
    credentials, config = directory / "credentials", directory / "config"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    config.write_text(f"[profile default-long-term]\ncredential_process = keys\nmfa_serial = {DEVICE}\n")
    config.chmod(0o644)
    fake_bin("keys", f"print({json.dumps(json.dumps(KEYS))})")
    try:
        with as_nobody():
            result = run(capsys, "--code", "123456")
        assert result == (
            1,
            "",
            f"aws-mfa: error: {directory} belongs to uid 0, and {credentials} does not exist: a file made there by "
            "this user would not belong to uid 0 as the directory does; run aws-mfa as that user, or give the "
            "directory to this user. Nothing was written\n",
        )
        assert listing(directory) == ["config"]
        assert stub.requests == []
    finally:
        shutil.rmtree(directory)


def test_lock_left_without_a_file_is_opened_as_before(
    home: Home, stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = home.path / ".aws" / "credentials.aws-mfa.lock"
    lock.mkdir()  # a directory where the lock goes: found before the key program runs
    home.config.write_text("[profile default-long-term]\ncredential_process = keys\n")
    fake_bin("keys", "sys.exit('never run')")

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: lock file {lock} is not a regular file; remove it and run again\n",
    )


def test_first_run_that_succeeds_still_creates_the_directory_and_file(
    home: Home, stub: StubServer, fake_bin: FakeBin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    fake_bin("keys", f"print({json.dumps(json.dumps(KEYS))})")
    home.config.parent.rmdir()
    config = tmp_path / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    config.write_text(f"[profile default-long-term]\ncredential_process = keys\nmfa_serial = {DEVICE}\n")

    assert aws_mfa.main(["--code", "123456"]) == 0
    assert listing(home.path) == [".aws", ".aws/credentials", ".aws/credentials.aws-mfa.lock"]
    assert (home.path / ".aws").stat().st_mode & 0o777 == 0o700
    assert home.credentials.read_text() == f"[default]\n{stub_session()}"


# --- a signal during any writing mode leaves no temporary file --------------------------------

# aws-mfa as the console script runs it, with a signal sent to itself right after the
# temporary copy is fsynced: the moment it holds the whole new text, secrets included.
SIGNALLED = """
import os, sys
import aws_mfa
fsync = os.fsync
def fsync_then_signalled(descriptor):
    fsync(descriptor)
    os.kill(os.getpid(), {signal})
os.fsync = fsync_then_signalled
sys.argv[1:] = {argv!r}
raise SystemExit(aws_mfa.main())
"""

CONFIGURED = f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n"


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        pytest.param(["--code", "123456"], LONG_TERM, id="refresh"),
        pytest.param(["--setup", "--device", DEVICE], CONFIGURED, id="setup"),
        pytest.param(["--clear"], f"{LONG_TERM}\n[default]\n{SESSION}", id="clear"),
    ],
)
@pytest.mark.parametrize(
    ("sent", "code", "message"),
    [
        pytest.param(signal.SIGTERM, 143, "aws-mfa: stopped by SIGTERM\n", id="SIGTERM"),
        pytest.param(signal.SIGHUP, 129, "aws-mfa: stopped by SIGHUP\n", id="SIGHUP"),
        pytest.param(signal.SIGINT, 130, "aws-mfa: interrupted\n", id="SIGINT"),
    ],
)
def test_signal_during_the_write_of_every_writing_mode_leaves_no_copy(
    home: Home, session_stub: StubServer, argv: list[str], text: str, sent: signal.Signals, code: int, message: str
) -> None:
    home.credentials.write_text(text)
    RELIABILITY["hangs and unbounded work"] += 1

    result = subprocess.run(
        [sys.executable, "-c", SIGNALLED.format(signal=int(sent), argv=argv)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stdout, result.stderr) == (code, "", message)
    assert home.credentials.read_text() == text
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == [
        "credentials",
        "credentials.aws-mfa.lock",
    ]


# The same, with a second signal just as the first has the temporary copy removed.
SIGNALLED_TWICE = """
import os, sys
import aws_mfa
fsync, unlink = os.fsync, os.unlink
def fsync_then_signalled(descriptor):
    fsync(descriptor)
    os.kill(os.getpid(), {signal})
def signalled_then_unlink(path, **options):
    os.kill(os.getpid(), {signal})
    unlink(path, **options)
os.fsync, os.unlink = fsync_then_signalled, signalled_then_unlink
sys.argv[1:] = {argv!r}
raise SystemExit(aws_mfa.main())
"""


@pytest.mark.parametrize(
    ("sent", "code", "message"),
    [
        pytest.param(signal.SIGTERM, 143, "aws-mfa: stopped by SIGTERM\n", id="SIGTERM"),
        pytest.param(signal.SIGINT, 130, "aws-mfa: interrupted\n", id="SIGINT"),
    ],
)
def test_second_signal_during_the_clean_up_still_leaves_no_copy(
    home: Home, sent: signal.Signals, code: int, message: str
) -> None:
    text = f"{LONG_TERM}\n[default]\n{SESSION}"
    home.credentials.write_text(text)
    RELIABILITY["hangs and unbounded work"] += 1

    result = subprocess.run(
        [sys.executable, "-c", SIGNALLED_TWICE.format(signal=int(sent), argv=["--clear"])],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stdout, result.stderr) == (code, "", message)
    assert home.credentials.read_text() == text
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == [
        "credentials",
        "credentials.aws-mfa.lock",
    ]


# --- output that cannot be written ------------------------------------------------------------


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--version"], id="version"),
        pytest.param(["--help"], id="help"),
        pytest.param(["--status"], id="status"),
        pytest.param(["--list"], id="list"),
        pytest.param(["--env"], id="env"),
        pytest.param(["--dry-run"], id="dry-run"),
    ],
)
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_full_stdout_is_one_error_line_and_a_failure(
    home: Home, monkeypatch: pytest.MonkeyPatch, argv: list[str], unbuffered: bool
) -> None:
    text = f"{LONG_TERM}\n[default]\n{session_lines(expires_in(timedelta(hours=2)))}"
    home.credentials.write_text(text)
    if unbuffered:
        monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    else:
        monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    RELIABILITY["streams"] += 1

    with open("/dev/full", "w") as full:
        result = subprocess.run([str(SCRIPT), *argv], stdout=full, stderr=subprocess.PIPE, text=True, check=False)

    assert (result.returncode, result.stderr) == (
        1,
        "aws-mfa: error: cannot write to standard output: No space left on device\n",
    )
    assert home.credentials.read_text() == text


@pytest.mark.parametrize("argv", [["--version"], ["--help"]], ids=["version", "help"])
def test_closed_stdout_is_one_error_line_for_help_and_version_too(argv: list[str]) -> None:
    RELIABILITY["streams"] += 1

    # A shell's `>&-`: the process starts without file descriptor 1, so sys.stdout is None.
    result = subprocess.run(
        ["/bin/sh", "-c", '"$0" "$@" >&-', str(SCRIPT), *argv], stderr=subprocess.PIPE, text=True, check=False
    )

    assert (result.returncode, result.stderr) == (
        1,
        "aws-mfa: error: standard output is closed, so there is nowhere to print to\n",
    )
