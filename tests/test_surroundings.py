"""The second campaign: hostile surroundings and answers (owners, umasks, FIFOs, signals, closed
streams, odd STS and IAM answers). Each case failed before its fix."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import DEVICE
from conftest import LONG_TERM
from conftest import RELIABILITY
from conftest import STUB_KEY
from conftest import STUB_SECRET
from conftest import STUB_TOKEN
from conftest import Answer
from conftest import Home
from conftest import StubServer
from conftest import as_shown
from conftest import expires_in
from conftest import stub_expiration
from conftest import stub_session
from conftest import valid_until
from test_refresh import run

import aws_mfa

FakeBin = Callable[[str, str], Path]
SCRIPT = Path(sys.executable).with_name("aws-mfa")
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        aws_mfa.main(list(argv))
    out, err = capsys.readouterr()
    assert (exit_info.value.code, out) == (2, "")
    assert err.startswith("usage: aws-mfa ")
    return err.splitlines()[-1]


# --- data loss and lock-out ----------------------------------------------------------------


def test_empty_suffix_never_overwrites_the_long_term_keys(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = LONG_TERM.replace("[default-long-term]", "[default]")
    home.credentials.write_text(keys)
    RELIABILITY["data loss and lock-out"] += 1

    assert usage_error(capsys, "-t", "123456", "--long-term-suffix", "") == (
        "aws-mfa: error: argument --long-term-suffix: '' is not a usable suffix: it must be non-empty, one line, "
        "without brackets or outer spaces"
    )
    assert home.credentials.read_text() == keys
    assert stub.requests == []


@pytest.mark.parametrize("suffix", ["x]", "[x", "a\nb", " -lt", "\udcff"])
def test_unusable_suffixes_are_usage_errors(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    home.credentials.write_text(LONG_TERM)
    RELIABILITY["data loss and lock-out"] += 1

    assert usage_error(capsys, f"--long-term-suffix={suffix}").startswith(
        f"aws-mfa: error: argument --long-term-suffix: {suffix!r} is not a usable suffix"
    )
    monkeypatch.setenv("AWS_MFA_LONG_TERM_SUFFIX", suffix)
    assert usage_error(capsys).startswith(f"aws-mfa: error: AWS_MFA_LONG_TERM_SUFFIX: {suffix!r} is not")
    assert home.credentials.read_text() == LONG_TERM


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--long-term-suffix", "-lt"], id="as-USAGE-writes-it"),
        pytest.param(["--long-term-suffix=-lt"], id="with-equals"),
        pytest.param(["--long-term", "-lt"], id="abbreviated"),
        pytest.param(["-q", "--long-term-suffix", "-lt", "-t", "123456"], id="among-others"),
    ],
)
def test_suffix_starting_with_a_dash(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    content = LONG_TERM.replace("default-long-term", "default-lt")
    home.credentials.write_text(content)

    code, out, err = run(capsys, *argv, stdin="123456\n")

    assert (code, out) == (0, "")
    assert err in ("", valid_until())
    assert home.credentials.read_text() == f"{content}\n[default]\n{stub_session()}"


def test_nothing_after_a_double_dash_is_joined(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(capsys, "--code", "123456", "--", "--long-term-suffix", "-lt")
    # Python 3.13 leaves the "--" out of the message; earlier ones show it.
    assert error in (
        "aws-mfa: error: unrecognized arguments: --long-term-suffix -lt",
        "aws-mfa: error: unrecognized arguments: -- --long-term-suffix -lt",
    )


def test_a_dash_value_is_not_taken_for_an_option_name(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    # --long-term-suffix followed by a real option stays argparse's business.
    assert usage_error(capsys, "--long-term-suffix", "--force") == (
        "aws-mfa: error: argument --long-term-suffix: expected one argument"
    )


@as_root
def test_root_keeps_the_owner_of_the_file_and_lock(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chown(home.credentials, 4242, 4343)
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (0, "", valid_until())

    lock = home.credentials.with_name("credentials.aws-mfa.lock")
    written = home.credentials.stat()
    assert (written.st_uid, written.st_gid, stat.S_IMODE(written.st_mode)) == (4242, 4343, 0o600)
    assert (lock.stat().st_uid, lock.stat().st_gid, stat.S_IMODE(lock.stat().st_mode)) == (4242, 4343, 0o600)
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_umask_that_drops_owner_write_still_leaves_a_usable_lock(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    RELIABILITY["data loss and lock-out"] += 1
    previous = os.umask(0o277)
    try:
        assert run(capsys, "--code", "123456") == (0, "", valid_until())
    finally:
        os.umask(previous)
    lock = home.credentials.with_name("credentials.aws-mfa.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.credentials.stat().st_mode) == 0o600


@contextlib.contextmanager
def user_dir(monkeypatch: pytest.MonkeyPatch, uid: int) -> Iterator[Path]:
    """A directory that belongs to an ordinary user, with the test's files in it."""
    if os.geteuid() != 0:
        pytest.skip("becoming another user needs root")
    directory = Path(tempfile.mkdtemp(prefix="aws-mfa-user-"))
    os.chown(directory, uid, uid)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(directory / "config"))
    yield directory
    os.chmod(directory, 0o700)
    for entry in directory.iterdir():
        entry.unlink()
    directory.rmdir()


@pytest.fixture
def nobody_dir(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with user_dir(monkeypatch, NOBODY) as directory:
        yield directory


@contextlib.contextmanager
def as_nobody() -> Iterator[None]:
    # The interpreter's own library lies under /root (0700) on these machines, where nobody cannot
    # import from it; a real user's Python is readable by that user. So what a refresh imports is
    # imported while still root, as an earlier test in the same run would have (alone, it failed).
    import botocore.session

    botocore.session.Session().create_client(
        "sts", region_name="us-east-1", aws_access_key_id="AKIAWARM", aws_secret_access_key="warm"
    )
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def nobody_file(path: Path, text: str, mode: int = 0o600, owner: int = NOBODY) -> None:
    path.write_text(text)
    os.chown(path, owner, owner)
    os.chmod(path, mode)


# A user no process on this machine runs as, so that its process count is this test's alone.
LIMITED_UID = 54321
# The console script run by that user, who may have `limit` processes (each thread counts as
# one). What a refresh imports is imported while still root: this interpreter's library lies
# under /root (0700) here, where the user cannot read; a real user's Python is readable by
# that user. The real uid changes too, as the kernel counts by it; the saved uid stays root
# only so that coverage can save its data at the exit.
LIMITED = """
import atexit, os, resource, sys
import botocore.session, concurrent.futures, encodings.idna, fcntl, signal, subprocess, tempfile, threading
import aws_mfa
botocore.session.Session().create_client(
    "sts", region_name="us-east-1", aws_access_key_id="AKIAWARM", aws_secret_access_key="warm"
)
os.setgroups([])
os.setresgid({uid}, {uid}, {uid})
os.setresuid({uid}, {uid}, 0)
atexit.register(os.seteuid, 0)
resource.setrlimit(resource.RLIMIT_NPROC, ({limit}, {limit}))
sys.argv[1:] = {argv!r}
aws_mfa.cli()
"""


def run_limited(limit: int, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    program = LIMITED.format(uid=LIMITED_UID, limit=limit, argv=list(argv))
    result = subprocess.run([sys.executable, "-c", program], input=stdin, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout, result.stderr


def test_no_thread_to_start_the_refresh_works_without(
    session_stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    RELIABILITY["hangs and unbounded work"] += 1
    with user_dir(monkeypatch, LIMITED_UID) as directory:
        credentials = directory / "credentials"
        nobody_file(credentials, LONG_TERM, owner=LIMITED_UID)

        # One process: no thread can be started, nor any program.
        result = run_limited(1, "--code", "123456")

        assert result == (0, "", valid_until())
        assert credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
        assert len(session_stub.requests) == 1


@pytest.mark.parametrize(
    ("limit", "why"),
    [
        pytest.param(1, "cannot run 'otp': Resource temporarily unavailable", id="no-process"),
        pytest.param(2, "no thread could be started to wait for it (too many processes)", id="no-thread"),
    ],
)
def test_no_thread_for_the_otp_command_falls_back_to_the_prompt(
    session_stub: StubServer, monkeypatch: pytest.MonkeyPatch, limit: int, why: str
) -> None:
    RELIABILITY["hangs and unbounded work"] += 1
    with user_dir(monkeypatch, LIMITED_UID) as directory:
        credentials = directory / "credentials"
        nobody_file(credentials, LONG_TERM, owner=LIMITED_UID)
        otp = directory / "otp"
        nobody_file(otp, "#!/bin/sh\necho 123456\n", mode=0o700, owner=LIMITED_UID)
        monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")

        # Two processes: the program starts, and no thread to read its output can.
        result = run_limited(limit, "--otp-command", "otp", stdin="654321\n")

        assert result == (
            0,
            "",
            f"aws-mfa: warning: the OTP command: {why}; asking for the code instead\n{valid_until()}",
        )
        assert credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
        assert [urllib.parse.parse_qs(request.body)["TokenCode"] for request in session_stub.requests] == [["654321"]]


def test_read_only_lock_file_left_by_an_old_release_is_mended(
    nobody_dir: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, LONG_TERM)
    nobody_file(nobody_dir / "credentials.aws-mfa.lock", "", mode=0o400)
    RELIABILITY["data loss and lock-out"] += 1

    with as_nobody():
        result = run(capsys, "--code", "123456")

    assert result == (0, "", valid_until())
    assert stat.S_IMODE((nobody_dir / "credentials.aws-mfa.lock").stat().st_mode) == 0o600
    assert credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert credentials.stat().st_uid == NOBODY


def test_lock_file_of_another_user_is_one_clear_error(
    nobody_dir: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, LONG_TERM)
    nobody_file(nobody_dir / "credentials.aws-mfa.lock", "", owner=0)
    RELIABILITY["data loss and lock-out"] += 1

    with as_nobody():
        result = run(capsys, "--code", "123456")

    assert result == (1, "", f"aws-mfa: error: cannot open lock file {credentials}.aws-mfa.lock: Permission denied\n")
    assert credentials.read_text() == LONG_TERM
    assert session_stub.requests == []


def test_file_of_another_user_is_not_taken_over(
    nobody_dir: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, LONG_TERM, mode=0o666, owner=0)
    RELIABILITY["data loss and lock-out"] += 1

    with as_nobody():
        result = run(capsys, "-q", "--code", "123456")

    assert result == (
        1,
        "",
        f"aws-mfa: warning: {credentials} can be read and changed by other users (mode 666); chmod 600 it\n"
        f"aws-mfa: error: {credentials} belongs to uid 0, and a file written by this user would not; run aws-mfa "
        "as that user. The file is unchanged\n",
    )
    assert (credentials.read_text(), credentials.stat().st_uid) == (LONG_TERM, 0)
    assert sorted(path.name for path in nobody_dir.iterdir()) == ["credentials"]
    assert session_stub.requests == []  # found before the one-time code was spent


def test_directory_without_read_permission_still_gets_its_write(
    nobody_dir: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, LONG_TERM)
    os.chmod(nobody_dir, 0o300)  # write and search, no listing: fsync of the directory cannot open it
    RELIABILITY["data loss and lock-out"] += 1

    with as_nobody():
        result = run(capsys, "--code", "123456")

    assert result == (0, "", valid_until())
    assert credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_directory_the_user_cannot_write_in_is_refused_before_sts(
    nobody_dir: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, LONG_TERM)
    nobody_file(nobody_dir / "credentials.aws-mfa.lock", "")  # left by an earlier run
    os.chmod(nobody_dir, 0o500)  # no write: the temporary copy cannot be made beside the file
    RELIABILITY["data loss and lock-out"] += 1

    with as_nobody():
        result = run(capsys, "--code", "123456")

    assert result == (
        1,
        "",
        f"aws-mfa: error: cannot write in {nobody_dir}: permission denied; make it writable, the file is unchanged\n",
    )
    assert credentials.read_text() == LONG_TERM
    assert session_stub.requests == []  # refused before the one-time code was spent


def test_file_in_a_group_the_user_is_not_in_stays_the_users(
    nobody_dir: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = nobody_dir / "credentials"
    nobody_file(credentials, LONG_TERM)
    os.chown(credentials, NOBODY, 0)  # group root: nobody may not give a file to it
    RELIABILITY["data loss and lock-out"] += 1

    with as_nobody():
        result = run(capsys, "--code", "123456")

    assert result == (0, "", valid_until())
    assert (credentials.stat().st_uid, credentials.stat().st_gid) == (NOBODY, NOBODY)
    assert credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_dangling_symlink_at_the_lock_path_is_not_followed(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "planted"
    lock = home.credentials.with_name("credentials.aws-mfa.lock")
    lock.symlink_to(target)
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: lock file {lock} is a symbolic link; remove it and run again\n",
    )
    assert not target.exists()
    assert home.credentials.read_text() == LONG_TERM


def test_fifo_at_the_lock_path_is_refused_at_once(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = home.credentials.with_name("credentials.aws-mfa.lock")
    os.mkfifo(lock)
    RELIABILITY["hangs and unbounded work"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: lock file {lock} is not a regular file; remove it and run again\n",
    )
    assert home.credentials.read_text() == LONG_TERM


# --- hangs and unbounded work --------------------------------------------------------------


def test_fifo_as_the_credentials_file_is_refused_without_waiting(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(home.credentials)
    RELIABILITY["hangs and unbounded work"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} is not a regular file (a FIFO, device or socket); point to a file\n",
    )
    assert stub.requests == []


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_config_that_is_no_regular_file_is_read_as_none_without_waiting(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import botocore.session

    config = {"fifo": home.config, "directory": home.config, "device": Path("/dev/zero")}[kind]
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "directory":
        config.mkdir()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    RELIABILITY["hangs and unbounded work"] += 1
    # botocore, the oracle, reads no config from it (and does not stop).
    assert botocore.session.Session().full_config["profiles"].keys() == {"default-long-term"}

    assert run(capsys, "--code", "123456") == (
        0,
        "",
        f"aws-mfa: warning: {config} is not a regular file; going on without it, as the AWS CLI does\n" + valid_until(),
    )
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_file_that_fails_to_read(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    # A regular file whose read fails (EIO): what a failing disk gives, here from /proc.
    assert run(capsys, "-c", "/proc/self/mem", "--status") == (
        1,
        "",
        "aws-mfa: error: cannot read /proc/self/mem: Input/output error\n",
    )


def test_character_device_is_not_read(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    RELIABILITY["hangs and unbounded work"] += 1

    assert run(capsys, "-c", "/dev/zero", "--status") == (
        1,
        "",
        "aws-mfa: error: /dev/zero is not a regular file (a FIFO, device or socket); point to a file\n",
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            "x" + " " * 40_000 + "y",
            "line 6: not a 'key = value' line, [section] header or comment",
            id="no-delimiter",
        ),
        pytest.param(
            "x" + " " * 40_000 + "y = 1",
            "line 6: a key with 16 or more spaces in its name, which botocore takes minutes to read",
            id="key-with-a-long-gap",
        ),
    ],
)
def test_long_runs_of_spaces_are_refused_in_linear_time(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    content = f"{LONG_TERM}[x]\n{line}\n"
    home.credentials.write_text(content)
    RELIABILITY["hangs and unbounded work"] += 1
    started = time.monotonic()

    result = run(capsys, "--code", "123456")

    assert result == (1, "", f"aws-mfa: error: {home.credentials}: {message}; fix the file, nothing was written\n")
    assert time.monotonic() - started < 5  # configparser's own pattern takes 17 s here
    assert home.credentials.read_text() == content


def test_spaces_before_the_delimiter_and_in_values_are_fine(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    spaced = "[x]\nregion" + " " * 40_000 + "= eu-west-1\nnote = a" + " " * 40_000 + "b\nshort  gap = 1\n"
    home.credentials.write_text(LONG_TERM + spaced)

    assert run(capsys, "--code", "123456") == (0, "", valid_until())
    assert home.credentials.read_text() == f"{LONG_TERM}{spaced}\n[default]\n{stub_session()}"


def test_the_linear_option_pattern_reads_lines_as_configparser_does() -> None:
    import configparser
    import random

    chance = random.Random(12)
    for _ in range(5000):
        line = "".join(chance.choice(" \t=:ab\u00a0#;[]") for _ in range(chance.randint(1, 14))).strip()
        theirs = configparser.RawConfigParser.OPTCRE.match(line)
        ours = aws_mfa._Parser.OPTCRE.match(line)
        assert (theirs is None) == (ours is None), line
        if theirs and ours:
            assert (theirs["option"].rstrip(), theirs["vi"], theirs["value"]) == (
                ours["option"].rstrip(),
                ours["vi"],
                ours["value"],
            ), line


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that does not reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until_dead(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


WRAPPER = """
import subprocess
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
open(os.environ['PIDS'], 'w').write(f'{os.getpid()} {child.pid}')
child.wait()
"""


def test_otp_command_whose_child_hangs_is_ended_whole_at_its_timeout(
    session_stub: StubServer,
    fake_bin: FakeBin,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    fake_bin("wrapper", WRAPPER)
    RELIABILITY["hangs and unbounded work"] += 1
    started = time.monotonic()

    result = run(capsys, "--otp-command", "wrapper", "--otp-timeout", "2", stdin="123456\n")

    assert result == (
        0,
        "",
        "aws-mfa: warning: the OTP command gave no code within 2 s; asking for the code instead\n" + valid_until(),
    )
    assert time.monotonic() - started < 3.5  # was 4.2 s: two pipe readers waited a second each
    assert not [pid for pid in map(int, (tmp_path / "pids").read_text().split()) if not wait_until_dead(pid)]


@pytest.mark.parametrize(
    ("sent", "code", "message"),
    [
        pytest.param(signal.SIGTERM, 143, "aws-mfa: stopped by SIGTERM\n", id="SIGTERM"),
        pytest.param(signal.SIGHUP, 129, "aws-mfa: stopped by SIGHUP\n", id="SIGHUP"),
        pytest.param(signal.SIGINT, 130, "aws-mfa: interrupted\n", id="SIGINT"),
    ],
)
def test_helpers_die_with_aws_mfa(
    session_stub: StubServer,
    home: Home,
    fake_bin: FakeBin,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sent: signal.Signals,
    code: int,
    message: str,
) -> None:
    pids = tmp_path / "pids"
    monkeypatch.setenv("PIDS", str(pids))
    fake_bin("wrapper", WRAPPER)
    RELIABILITY["hangs and unbounded work"] += 1
    process = subprocess.Popen(
        [str(SCRIPT), "--otp-command", "wrapper"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    while not (pids.exists() and len(pids.read_text().split()) == 2):
        assert time.monotonic() < deadline
        assert process.poll() is None
        time.sleep(0.05)

    sent_at = time.monotonic()
    process.send_signal(sent)
    _, err = process.communicate(timeout=20)

    assert (process.returncode, err) == (code, message)
    assert time.monotonic() - sent_at < 1.9  # was 2.5 s: the program's pipes were awaited before it was ended
    assert not [pid for pid in map(int, pids.read_text().split()) if not wait_until_dead(pid)]
    assert home.credentials.read_text() == LONG_TERM
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == [
        "credentials",
        "credentials.aws-mfa.lock",
    ]


def test_sigterm_during_the_write_leaves_no_temporary(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.fsync

    def fsync_then_terminated(descriptor: int) -> None:
        real(descriptor)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives between the temporary's fsync and the replace

    monkeypatch.setattr(os, "fsync", fsync_then_terminated)
    RELIABILITY["hangs and unbounded work"] += 1

    assert run(capsys, "--code", "123456") == (143, "", "aws-mfa: stopped by SIGTERM\n")
    assert home.credentials.read_text() == LONG_TERM
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == [
        "credentials",
        "credentials.aws-mfa.lock",
    ]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is gone with the run


# --- tracebacks where one error line is promised -------------------------------------------

FAR = "9999-12-31T23:59:59-05:00"  # a parsing case: past datetime's last day in UTC
EXPIRED = expires_in(timedelta(days=-1))
TOO_FAR = expires_in(timedelta(days=30))  # later than the longest session STS gives (36 h)


@pytest.mark.parametrize("expiration", [FAR, "9999-12-31T23:59:59Z", "0001-01-01T00:30:00+01:00"])
def test_expiration_at_the_edge_of_time_is_no_session(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], expiration: str
) -> None:
    old = "[default]\naws_access_key_id = ASIAOLD0000000000000\naws_secret_access_key = oldsecret\n"
    old += f"aws_session_token = oldtoken\nexpiration = {expiration}\n"
    home.credentials.write_text(f"{LONG_TERM}\n{old}")
    RELIABILITY["tracebacks"] += 1

    assert run(capsys, "--status") == (1, "[default] has no session\n", "")
    assert run(capsys, "--code", "123456") == (0, "", valid_until())
    assert home.credentials.read_text() == (
        f"{LONG_TERM}\n[default]\naws_access_key_id = {STUB_KEY}\naws_secret_access_key = {STUB_SECRET}\n"
        f"aws_session_token = {STUB_TOKEN}\nexpiration = {stub_expiration()}\naws_security_token = {STUB_TOKEN}\n"
    )


@pytest.mark.parametrize("mode", ["--env", "--credential-process"])
@pytest.mark.prints_secrets
def test_expiration_at_the_edge_of_time_in_output_modes(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    old = "[default]\naws_access_key_id = ASIAOLD0000000000000\naws_secret_access_key = oldsecret\n"
    home.credentials.write_text(f"{LONG_TERM}\n{old}aws_session_token = oldtoken\nexpiration = {FAR}\n")
    RELIABILITY["tracebacks"] += 1

    assert aws_mfa.main([mode, "--code", "123456"]) == 0
    out, err = capsys.readouterr()
    assert (STUB_TOKEN in out, err) == (True, "")


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"])
def test_endpoint_that_is_no_url(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    home.credentials.write_text(LONG_TERM)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv(variable, "not a url")
    RELIABILITY["tracebacks"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        "aws-mfa: error: cannot set up the STS client: Invalid endpoint: not a url; check the region, "
        "AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL\n",
    )
    assert home.credentials.read_text() == LONG_TERM


def test_iam_endpoint_that_is_no_url(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home.credentials.write_text(LONG_TERM.replace(f"aws_mfa_device = {DEVICE}\n", ""))
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", "::")
    RELIABILITY["tracebacks"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        "aws-mfa: error: cannot set up the IAM client: Invalid endpoint: ::; check the region, "
        "AWS_ENDPOINT_URL_IAM and AWS_ENDPOINT_URL\n",
    )


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        pytest.param("oathtool 'abc", "no closing quotation", id="open-quote"),
        pytest.param(" ", "it is empty", id="blank"),
        pytest.param("oathtool \\", "no escaped character", id="trailing-backslash"),
    ],
)
def test_otp_command_that_is_no_command_line(
    home: Home,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    problem: str,
) -> None:
    home.credentials.write_text(LONG_TERM)
    RELIABILITY["tracebacks"] += 1
    # Not the command itself: its arguments may hold a TOTP seed.
    expected = f"aws-mfa: error: argument --otp-command: not a command line: {problem}"

    assert usage_error(capsys, "--otp-command", command) == expected
    assert usage_error(capsys, "--otp-command", command, "--code", "123456") == expected
    monkeypatch.setenv("AWS_MFA_OTP_COMMAND", command)
    # The value came from the variable: the error names it, not the flag.
    assert (
        usage_error(capsys, "--code", "123456") == f"aws-mfa: error: AWS_MFA_OTP_COMMAND: not a command line: {problem}"
    )
    assert stub.requests == []


def sts_answer(key: str, secret: str, token: str, expiration: str | None = None) -> Answer:
    server = StubServer.__new__(StubServer)
    server.sts_session(key, secret, token, expiration=expiration)
    return server.default


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param(
            Answer(403, "<html><body><h1>Forbidden</h1></body></html>"),
            "the answer from {url} is not an STS response (HTTP 403); check proxies and AWS_ENDPOINT_URL_STS",
            id="html-403",
        ),
        pytest.param(
            sts_answer(STUB_KEY, STUB_SECRET, STUB_TOKEN, "not-a-date"),
            "the answer from {url} is not an STS response; check proxies and AWS_ENDPOINT_URL_STS",
            id="expiration-not-a-date",
        ),
        pytest.param(
            sts_answer(STUB_KEY, STUB_SECRET, STUB_TOKEN, FAR),
            "the answer from {url} is not an STS response; check proxies and AWS_ENDPOINT_URL_STS",
            id="expiration-past-datetime",
        ),
        pytest.param(
            sts_answer(STUB_KEY, "", STUB_TOKEN),
            "STS at {url} answered with credentials that cannot be used: the secret access key is empty",
            id="empty-secret",
        ),
        pytest.param(
            sts_answer(STUB_KEY, STUB_SECRET, ""),
            "STS at {url} answered with credentials that cannot be used: the session token is empty",
            id="empty-token",
        ),
        pytest.param(
            sts_answer("ASIA STUB", STUB_SECRET, "tok&#10;en"),
            "STS at {url} answered with credentials that cannot be used: the access key id is malformed; "
            "the session token is malformed",
            id="space-and-line-break",
        ),
        pytest.param(
            sts_answer(STUB_KEY, "sécret", STUB_TOKEN),
            "STS at {url} answered with credentials that cannot be used: the secret access key is malformed",
            id="not-ascii",
        ),
        pytest.param(
            sts_answer(STUB_KEY, STUB_SECRET, STUB_TOKEN, EXPIRED),
            "STS at {url} answered with credentials that cannot be used: it expired at {expired} by "
            "this machine's clock",
            id="expired",
        ),
        pytest.param(
            sts_answer(STUB_KEY, STUB_SECRET, STUB_TOKEN, TOO_FAR),
            "STS at {url} answered with credentials that cannot be used: it expires at {too_far}, "
            "later than any session",
            id="too-far",
        ),
        pytest.param(
            # What moto's GetSessionToken answers: a later run would refuse it as an IAM user's key.
            sts_answer("AKIAIOSFODNN7EXAMPLE", STUB_SECRET, STUB_TOKEN),
            "STS at {url} answered with credentials that cannot be used: the access key id is a long-term one "
            "(AKIA...), which a session never has",
            id="long-term-key-id",
        ),
    ],
)
def test_sts_answer_is_checked_before_it_is_written(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], answer: Answer, problem: str
) -> None:
    home.credentials.write_text(LONG_TERM)
    stub.default = answer
    RELIABILITY["tracebacks"] += 1

    message = problem.format(url=stub.url, expired=as_shown(EXPIRED), too_far=as_shown(TOO_FAR))
    assert run(capsys, "--code", "123456") == (1, "", f"aws-mfa: error: {message}\n")
    assert home.credentials.read_text() == LONG_TERM


def iam_devices(*entries: str) -> Answer:
    members = "".join(f"<member>{entry}</member>" for entry in entries)
    return Answer(
        200,
        '<ListMFADevicesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListMFADevicesResult>'
        f"<MFADevices>{members}</MFADevices><IsTruncated>false</IsTruncated></ListMFADevicesResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListMFADevicesResponse>",
    )


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param(
            Answer(200, "<html>Welcome to the hotel wifi</html>"),
            "no MFA device configured, and the answer from {url} is not an IAM response (check proxies and "
            "AWS_ENDPOINT_URL_IAM)",
            id="captive-portal",
        ),
        pytest.param(
            iam_devices("<UserName>alice</UserName>"),
            "no MFA device configured, and the answer from {url} is not an IAM response (check proxies and "
            "AWS_ENDPOINT_URL_IAM)",
            id="device-without-serial",
        ),
        pytest.param(
            iam_devices("<SerialNumber></SerialNumber><UserName>alice</UserName>"),
            "no MFA device configured, and the answer from {url} is not an IAM response (check proxies and "
            "AWS_ENDPOINT_URL_IAM)",
            id="device-with-an-empty-serial",
        ),
        pytest.param(
            Answer(403, "<html>Forbidden</html>"),
            "no MFA device configured and IAM would not list them (HTTP 403)",
            id="html-403",
        ),
    ],
)
def test_odd_iam_answers_in_discovery(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], answer: Answer, problem: str
) -> None:
    home.credentials.write_text(LONG_TERM.replace(f"aws_mfa_device = {DEVICE}\n", ""))
    stub.actions["ListMFADevices"] = answer
    RELIABILITY["tracebacks"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: {problem.format(url=stub.url)}; pass --device or add aws_mfa_device to [default-long-term]\n",
    )
    assert [request.body.split("&")[0] for request in stub.requests] == ["Action=ListMFADevices"]


def test_code_that_is_not_utf8_on_stdin(home: Home, stub: StubServer) -> None:
    home.credentials.write_text(LONG_TERM)
    RELIABILITY["tracebacks"] += 1

    result = subprocess.run(
        [str(SCRIPT)], input=b"\xff\xfe12\n", capture_output=True, env={**os.environ, "PYTHONIOENCODING": "utf-8"}
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        b"",
        b"aws-mfa: error: standard input gave something that is not a six-digit code\n",
    )
    assert stub.requests == []


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        pytest.param("--device", "is not an MFA device ARN or serial number", id="device"),
        pytest.param("--assume-role", "is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)", id="role"),
        pytest.param(
            "--role-session-name", "is not a role session name (2 to 64 of A-Z a-z 0-9 _+=,.@-)", id="session-name"
        ),
        pytest.param("--external-id", "is not an external id (2 to 1224 of A-Z a-z 0-9 _+=,.@:/-)", id="external-id"),
        pytest.param("--profile", "is not a usable profile name", id="profile"),
    ],
)
def test_undecodable_bytes_on_the_command_line(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], flag: str, message: str
) -> None:
    home.credentials.write_text(LONG_TERM)
    value = "arn:aws:iam::123456789012:mfa/\udcff"  # how Python hands over the byte 0xff
    RELIABILITY["tracebacks"] += 1

    assert usage_error(capsys, flag, value, "--code", "123456") == (
        f"aws-mfa: error: argument {'-p/' if flag == '--profile' else ''}{flag}: {value!r} {message}"
    )
    assert stub.requests == []


def test_undecodable_device_from_the_environment(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home.credentials.write_text(LONG_TERM)
    monkeypatch.setenv("AWS_MFA_DEVICE", "arn:aws:iam::123456789012:mfa/\udcff")
    RELIABILITY["tracebacks"] += 1

    # A usage error naming the variable, as for a bad value of any other variable (it was exit 1).
    assert usage_error(capsys, "--code", "123456") == (
        "aws-mfa: error: AWS_MFA_DEVICE: 'arn:aws:iam::123456789012:mfa/\\udcff' is not an MFA device ARN or serial "
        "number"
    )
    assert stub.requests == []


def test_malformed_device_in_the_file_is_refused_before_any_request(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The flag's and the variable's values are usage errors; one from a file is refused as the run starts.
    content = LONG_TERM.replace(f"aws_mfa_device = {DEVICE}", "aws_mfa_device = my phone")
    home.credentials.write_text(content)
    RELIABILITY["hostile inputs"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        "aws-mfa: error: the MFA device 'my phone' (aws_mfa_device in [default-long-term]) is not an MFA device ARN "
        "or serial number\n",
    )
    assert stub.requests == []
    assert home.credentials.read_text() == content


# --- streams -------------------------------------------------------------------------------


def sh(command: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False, **options)  # type: ignore[call-overload, no-any-return]


@pytest.mark.prints_secrets
def test_env_with_stderr_closed_prints_only_the_exports(home: Home, session_stub: StubServer) -> None:
    os.chmod(home.credentials, 0o644)  # a warning is due
    RELIABILITY["streams"] += 1

    result = sh(f"{SCRIPT} --env --code 123456 2>&-")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == aws_mfa.env_lines(
        aws_mfa.SessionCredentials(STUB_KEY, STUB_SECRET, STUB_TOKEN, aws_mfa.parse_expiration(stub_expiration()))  # type: ignore[arg-type]
    )
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


@pytest.mark.parametrize("mode", ["--env", "--credential-process", "--status", "--dry-run"])
def test_closed_stdout_is_an_error_before_anything_is_done(home: Home, session_stub: StubServer, mode: str) -> None:
    RELIABILITY["streams"] += 1

    result = sh(f"{SCRIPT} {mode} --code 123456 >&-")

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "aws-mfa: error: standard output is closed, so there is nowhere to print to\n",
    )
    assert session_stub.requests == []
    assert home.credentials.read_text() == LONG_TERM


def test_reader_that_goes_away_is_one_error_line(home: Home, session_stub: StubServer) -> None:
    RELIABILITY["streams"] += 1
    read, write = os.pipe()
    os.close(read)  # `aws-mfa --env | head -c0`: nobody reads
    try:
        result = subprocess.run(
            [str(SCRIPT), "--env", "--code", "123456"], stdout=write, stderr=subprocess.PIPE, text=True, check=False
        )
    finally:
        os.close(write)

    assert (result.returncode, result.stderr) == (1, "aws-mfa: error: cannot write to standard output: Broken pipe\n")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


@pytest.mark.prints_secrets
def test_env_replaces_a_stale_security_token_that_botocore_would_prefer(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert aws_mfa.main(["--env", "--code", "123456"]) == 0
    exports = capsys.readouterr().out
    RELIABILITY["streams"] += 1
    probe = (
        "import botocore.session; c = botocore.session.Session().get_credentials(); "
        "print(c.access_key, c.token, sep='|')"
    )
    clean = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}

    result = sh(
        f'AWS_SECURITY_TOKEN=stale; export AWS_SECURITY_TOKEN\n{exports}\n"{sys.executable}" -c "{probe}"',
        env={**clean, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"},
    )

    assert (result.returncode, result.stdout) == (0, f"{STUB_KEY}|{STUB_TOKEN}\n"), result.stderr


def test_usage_env_recipe_sees_a_failure(home: Home, stub: StubServer) -> None:
    home.credentials.write_text(LONG_TERM)
    RELIABILITY["streams"] += 1

    result = sh(f'creds=$({SCRIPT} --env </dev/null) && eval "$creds" && echo evaluated')

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("aws-mfa: error: no MFA code")


def test_unprintable_path_in_the_plan_is_one_error_line(home: Home, tmp_path: Path) -> None:
    credentials = os.fsencode(tmp_path) + b"/cr\xffdentials"
    Path(os.fsdecode(credentials)).write_text(LONG_TERM)
    RELIABILITY["streams"] += 1

    # With PYTHONIOENCODING=utf-8 (as some setups have) stdout refuses undecodable bytes.
    locale = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [os.fsencode(SCRIPT), b"--dry-run", b"-c", credentials], capture_output=True, check=False, env=locale
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        b"",
        b"aws-mfa: error: cannot print this in the encoding of standard output (utf-8)\n",
    )


# --- what USAGE.md says, checked word by word -------------------------------------------


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        pytest.param(0o620, "changed", id="620"),
        pytest.param(0o604, "read", id="604"),
        pytest.param(0o666, "read and changed", id="666"),
    ],
)
def test_warning_names_what_others_can_do(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], mode: int, words: str
) -> None:
    os.chmod(home.credentials, mode)

    assert run(capsys, "--code", "123456") == (
        0,
        "",
        f"aws-mfa: warning: {home.credentials} can be {words} by other users (mode {mode:o}); chmod 600 it\n"
        + valid_until(),
    )


def test_verbose_says_when_metadata_is_off(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "-v", "--code", "123456")

    assert (code, out) == (0, "")
    assert "aws-mfa: region: none, the global endpoint (instance metadata is off: AWS_EC2_METADATA_DISABLED)\n" in err


def test_dry_run_keeps_an_otp_seed_to_itself(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    home.credentials.write_text(LONG_TERM)

    code, out, err = run(capsys, "--dry-run", "--otp-command", "oathtool --totp -b JBSWY3DPEHPK3PXP")

    assert (code, err) == (0, "")
    assert "code: the OTP command: oathtool ... (the prompt if it fails)\n" in out
    assert "JBSWY3DPEHPK3PXP" not in out


# --- found by the adversarial review of this campaign ------------------------------------


def test_mode_is_set_through_the_descriptor_never_by_name(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # By name, root's chmod would follow a link the directory's owner swapped in for the temporary file.
    os.chmod(home.credentials, 0o640)
    real = os.chmod
    targets: list[object] = []

    def recording_chmod(target: object, mode: int, **options: object) -> None:
        targets.append(target)
        real(target, mode, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "chmod", recording_chmod)
    RELIABILITY["data loss and lock-out"] += 1

    code, _, _ = run(capsys, "--code", "123456")

    assert (code, [type(target) for target in targets]) == (0, [int])
    assert stat.S_IMODE(home.credentials.stat().st_mode) == 0o640


@as_root
def test_hard_link_at_the_lock_path_is_refused(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.write_text("root's\n")
    os.chmod(shared, 0o666)  # noqa: S103 (the victim an attacker would pick)
    lock = home.credentials.with_name("credentials.aws-mfa.lock")
    os.link(shared, lock)
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: lock file {lock} has other names (hard links); remove it and run again\n",
    )
    assert (stat.S_IMODE(shared.stat().st_mode), shared.stat().st_uid) == (0o666, 0)
    assert session_stub.requests == []


def test_socket_as_the_credentials_file(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(home.credentials))
        RELIABILITY["hangs and unbounded work"] += 1

        assert run(capsys, "--status") == (
            1,
            "",
            f"aws-mfa: error: {home.credentials} is not a regular file (a FIFO, device or socket); point to a file\n",
        )


class Trickle:
    """An HTTP server on 127.0.0.1 that sends its headers, then one byte of body every 0.2 s."""

    def __init__(self) -> None:
        import socket
        import threading

        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        with contextlib.suppress(OSError):
            connection, _ = self.server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not self.stop.wait(0.2):
                    connection.sendall(b" ")

    def close(self) -> None:
        self.stop.set()
        self.server.close()


@pytest.mark.parametrize("service", ["STS", "IAM"])
def test_an_answer_that_trickles_in_is_cut_off(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    home.credentials.write_text(
        LONG_TERM if service == "STS" else LONG_TERM.replace(f"aws_mfa_device = {DEVICE}\n", "")
    )
    trickle = Trickle()
    monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", trickle.url)
    monkeypatch.setattr(aws_mfa, "ANSWER_DEADLINE", 1.5)  # 20 s in use; each read alone is within 15 s
    RELIABILITY["hangs and unbounded work"] += 1
    started = time.monotonic()
    try:
        result = run(capsys, "--code", "123456")
    finally:
        trickle.close()

    # A slow IAM is one that did not say which devices there are, as when it refuses.
    assert result == (
        1,
        "",
        "aws-mfa: error: STS did not finish answering within 1.5 s; check the network, proxy and endpoint\n"
        if service == "STS"
        else "aws-mfa: error: no MFA device configured and IAM did not finish answering within 1.5 s; pass --device "
        "or add aws_mfa_device to [default-long-term]\n",
    )
    assert time.monotonic() - started < 5
    assert home.credentials.read_text().startswith("[default-long-term]")


def test_endless_stdin_is_read_one_short_line(home: Home, stub: StubServer) -> None:
    home.credentials.write_text(LONG_TERM)
    RELIABILITY["hangs and unbounded work"] += 1

    with open("/dev/zero", "rb") as zeros:
        result = subprocess.run([str(SCRIPT)], stdin=zeros, capture_output=True, text=True, check=False, timeout=30)

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "aws-mfa: error: standard input gave something that is not a six-digit code\n",
    )
    assert stub.requests == []


def test_prompt_on_a_full_stderr_still_takes_the_code() -> None:
    import io

    full = open("/dev/full", "w")  # noqa: SIM115 (its close fails too: nothing can be written there)
    try:
        assert aws_mfa._ask(io.StringIO("123456\n"), full, DEVICE) == "123456"
    finally:
        with contextlib.suppress(OSError):
            full.close()


def test_end_of_input_at_the_prompt_says_so() -> None:
    import io

    with pytest.raises(aws_mfa.AwsMfaError) as error:
        aws_mfa._ask(io.StringIO(""), io.StringIO(), DEVICE)
    assert str(error.value) == "no MFA code: the input ended (Ctrl-D) before a code was typed"


def test_program_killed_by_a_signal_says_so(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_bin("op", "import signal; os.kill(os.getpid(), signal.SIGKILL)")

    assert run(capsys, "--op-item-name", "AWS", stdin="123456\n") == (
        0,
        "",
        "aws-mfa: warning: 1Password failed (killed by signal 9): no message; asking for the code instead\n"
        + valid_until(),
    )


def test_sts_error_with_a_line_break_is_one_line(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(LONG_TERM)
    stub.sts_error("Odd&#10;Code", "first&#10;second")

    assert run(capsys, "--code", "123456") == (1, "", "aws-mfa: error: STS refused: Odd Code: first second\n")


def test_iam_serial_with_a_line_break_is_not_used(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    home.credentials.write_text(LONG_TERM.replace(f"aws_mfa_device = {DEVICE}\n", ""))
    stub.actions["ListMFADevices"] = iam_devices(f"<SerialNumber>{DEVICE}&#10;x = y</SerialNumber>")

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: no MFA device configured, and the answer from {stub.url} is not an IAM response (check "
        "proxies and AWS_ENDPOINT_URL_IAM); pass --device or add aws_mfa_device to [default-long-term]\n",
    )
