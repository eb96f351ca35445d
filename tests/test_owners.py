"""The third campaign (issue 21), lock-outs and owners: what aws-mfa creates is usable by the owner
of the directory it is made in, whatever the umask, and a run as root never writes through a link
a user planted to a file that user does not own. Each case failed before its fix."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import botocore.session
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
from conftest import meanwhile
from conftest import stub_session
from conftest import valid_until
from test_refresh import run
from test_surroundings import NOBODY
from test_surroundings import as_nobody

KEYS = json.dumps({"Version": 1, "AccessKeyId": LONG_KEY, "SecretAccessKey": LONG_SECRET})


def owner_and_mode(path: Path) -> tuple[int, int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


@pytest.fixture
def nobody_home(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An ordinary user's HOME without ~/.aws; the long-term keys come from a program of that user."""
    if os.geteuid() != 0:
        pytest.skip("becoming another user needs root")
    # What a refresh imports, imported while root may still read the interpreter's library.
    botocore.session.Session().create_client("sts", "us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    directory = Path(tempfile.mkdtemp(prefix="aws-mfa-home-"))
    program = directory / "keys"
    # A shell script: the interpreter of the tests lives where this user may not look.
    program.write_text(f"#!/bin/sh\nprintf '%s' '{KEYS}'\n")
    program.chmod(0o755)
    config = directory / "config"
    config.write_text(f"[profile default-long-term]\ncredential_process = {program}\nmfa_serial = {DEVICE}\n")
    for path in (directory, program, config):
        os.chown(path, NOBODY, NOBODY)
    monkeypatch.setenv("HOME", str(directory))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    yield directory
    shutil.rmtree(directory)


# --- item 4: a umask never locks the owner out --------------------------------------------------


@pytest.mark.parametrize("umask", [0o277, 0o477, 0o777], ids=["0277", "0477", "0777"])
def test_first_run_under_a_tight_umask_leaves_a_usable_aws_directory(
    nobody_home: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str], umask: int
) -> None:
    RELIABILITY["data loss and lock-out"] += 1
    aws = nobody_home / ".aws"

    with as_nobody():
        previous = os.umask(umask)
        try:
            first = run(capsys, "--code", "123456")
            second = run(capsys, "--code", "123456", "--force")
        finally:
            os.umask(previous)

    assert first == second == (0, "", valid_until())
    assert owner_and_mode(aws) == (NOBODY, NOBODY, 0o700)
    assert owner_and_mode(aws / "credentials") == (NOBODY, NOBODY, 0o600)
    assert owner_and_mode(aws / "credentials.aws-mfa.lock") == (NOBODY, NOBODY, 0o600)
    assert sorted(path.name for path in aws.iterdir()) == ["credentials", "credentials.aws-mfa.lock"]
    assert (aws / "credentials").read_text() == f"[default]\n{stub_session()}"


def test_root_under_a_tight_umask_makes_the_aws_directory_0700(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    RELIABILITY["data loss and lock-out"] += 1
    credentials = home.path / "new" / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    home.config.write_text(
        f"[profile default-long-term]\ncredential_process = printf %s '{KEYS}'\nmfa_serial = {DEVICE}\n"
    )
    previous = os.umask(0o277)
    try:
        result = run(capsys, "--code", "123456")
    finally:
        os.umask(previous)

    assert result == (0, "", valid_until())
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert credentials.read_text() == f"[default]\n{stub_session()}"


# --- item 5: what root creates in a user's HOME is that user's -------------------------------------


def test_root_run_in_a_users_home_leaves_everything_it_creates_to_that_user(
    nobody_home: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    RELIABILITY["data loss and lock-out"] += 1
    aws = nobody_home / ".aws"
    previous = os.umask(0o022)
    try:
        assert run(capsys, "--code", "123456") == (0, "", valid_until())
    finally:
        os.umask(previous)

    assert owner_and_mode(aws) == (NOBODY, NOBODY, 0o700)
    assert owner_and_mode(aws / "credentials") == (NOBODY, NOBODY, 0o600)
    assert owner_and_mode(aws / "credentials.aws-mfa.lock") == (NOBODY, NOBODY, 0o600)
    assert (aws / "credentials").read_text() == f"[default]\n{stub_session()}"
    with as_nobody():  # and the user's own runs go on from there
        assert run(capsys, "--code", "123456", "--force") == (0, "", valid_until())


def test_failed_root_run_in_a_users_home_leaves_nothing_of_roots(
    nobody_home: Path, stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.sts_error("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
    aws = nobody_home / ".aws"
    RELIABILITY["data loss and lock-out"] += 1

    code, out, err = run(capsys, "--code", "123456")

    assert (code, out) == (1, "")
    assert err.startswith("aws-mfa: error: ")
    # Whatever a failed run leaves in the user's HOME is the user's: a later run of theirs is not locked out.
    left = [aws, *aws.iterdir()] if aws.exists() else []
    assert [(path.name, path.lstat().st_uid, path.lstat().st_gid) for path in left] == [
        (path.name, NOBODY, NOBODY) for path in left
    ]
    with as_nobody():
        stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
        assert run(capsys, "--code", "123456") == (0, "", valid_until())


# --- item 6: root does not write through a user's link to a file that user does not own ------------


@pytest.fixture
def roots_file(tmp_path: Path) -> Path:
    """A file of root's, in a directory of root's, that reads as a credentials file."""
    if os.geteuid() != 0:
        pytest.skip("a run as root needs root")
    directory = tmp_path / "roots"
    directory.mkdir(mode=0o700)
    target = directory / "credentials"
    target.write_text(LONG_TERM)
    target.chmod(0o600)
    return target


def planted_home(nobody_home: Path) -> Path:
    aws = nobody_home / ".aws"
    aws.mkdir(mode=0o700)
    os.chown(aws, NOBODY, NOBODY)
    return aws


def plant(link: Path, target: Path) -> None:
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)


def refused(real: Path, verb: str = "read") -> str:
    end = "; the file is unchanged" if verb == "write" else ""
    return (
        f"aws-mfa: error: cannot {verb} {real}: permission denied (as root, aws-mfa reads and writes in uid "
        f"{NOBODY}'s directories with uid {NOBODY}'s permissions){end}\n"
    )


@pytest.mark.parametrize("argv", [["--code", "123456"], ["--clear"], ["--setup"]], ids=["refresh", "clear", "setup"])
def test_root_does_not_write_through_a_planted_link_to_roots_file(
    nobody_home: Path,
    roots_file: Path,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    link = planted_home(nobody_home) / "credentials"
    text = {
        "--clear": f"{LONG_TERM}\n[default]\n{stub_session()}",
        "--setup": f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n",
    }.get(argv[0], LONG_TERM)
    roots_file.write_text(text)
    plant(link, roots_file)
    (nobody_home / "config").write_text("")  # the keys are the file's
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, *argv, "--device", DEVICE) == (1, "", refused(roots_file))

    assert roots_file.read_text() == text
    assert owner_and_mode(roots_file) == (0, 0, 0o600)
    assert sorted(path.name for path in roots_file.parent.iterdir()) == ["credentials"]
    assert session_stub.requests == []  # refused before the one-time code was spent


def test_root_does_not_follow_a_planted_aws_directory(
    nobody_home: Path, roots_file: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = nobody_home / ".aws"
    plant(aws, roots_file.parent)
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (1, "", refused(roots_file))

    assert roots_file.read_text() == LONG_TERM
    assert sorted(path.name for path in roots_file.parent.iterdir()) == ["credentials"]
    assert session_stub.requests == []


def test_root_reads_a_users_file_as_that_user_so_a_link_swapped_back_gets_no_session_of_roots_keys(
    nobody_home: Path,
    roots_file: Path,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The user's link points at root's keys while the file is read, and at the user's own file from the
    check before the write on: a race no test can time, so the swap is made at that moment by hand."""
    link = planted_home(nobody_home) / "credentials"
    own = nobody_home / "own"
    mine = "[default-long-term]\naws_access_key_id = AKIAOTHERUSER0000001\naws_secret_access_key = theirs\n"
    own.write_text(mine)
    os.chown(own, NOBODY, NOBODY)
    plant(link, roots_file)
    (nobody_home / "config").write_text("")

    def swapped_back() -> None:
        link.unlink()
        plant(link, own)

    meanwhile(monkeypatch, swapped_back)
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456", "--device", DEVICE) == (1, "", refused(roots_file))

    assert session_stub.requests == []  # root's keys never signed a request
    assert own.read_text() == mine
    assert roots_file.read_text() == LONG_TERM


def test_root_does_not_create_a_file_where_a_dangling_planted_link_points(
    nobody_home: Path, roots_file: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    link = planted_home(nobody_home) / "credentials"
    target = roots_file.parent / "new" / "credentials"  # neither the file nor its directory exists
    plant(link, target)
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (1, "", refused(target))

    assert sorted(path.name for path in roots_file.parent.iterdir()) == ["credentials"]
    assert session_stub.requests == []


def test_root_writes_through_a_users_link_to_that_users_file(
    nobody_home: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    link = planted_home(nobody_home) / "credentials"
    target = nobody_home / "keys.ini"
    target.write_text(LONG_TERM)
    os.chown(target, NOBODY, NOBODY)
    plant(link, Path("..") / "keys.ini")
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (0, "", valid_until())

    assert link.is_symlink()
    assert target.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert owner_and_mode(target) == (NOBODY, NOBODY, 0o600)


def test_a_link_swapped_while_it_is_followed_is_one_error(
    nobody_home: Path,
    roots_file: Path,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A user racing renames can turn the link into a file between lstat and readlink: EINVAL.
    # The race cannot be won on purpose in a test, so readlink fails as it then does (a mock).
    link = planted_home(nobody_home) / "credentials"
    roots_file.write_text(LONG_TERM)
    plant(link, roots_file)

    def swapped(path: str) -> str:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "readlink", swapped)
    RELIABILITY["data loss and lock-out"] += 1

    # Before Python 3.13, realpath lets readlink's error through; from 3.13 on it takes the link as it
    # is, and the read, made as the user, is refused.
    said = (
        f"aws-mfa: error: {link} changed while aws-mfa followed it; run again. The file is unchanged\n"
        if sys.version_info < (3, 13)
        else refused(link)
    )
    assert run(capsys, "--code", "123456", "--device", DEVICE) == (1, "", said)
    assert roots_file.read_text() == LONG_TERM
    assert session_stub.requests == []


# --- a root run in a user's HOME writes as that user (issue 21) -----------------------------------


def test_a_users_aws_directory_swapped_for_a_link_to_roots_never_gets_roots_file_written(
    nobody_home: Path,
    roots_file: Path,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The user swaps ~/.aws between a directory of theirs and a link to root's directory while root
    # runs: whatever root checked before it wrote, the kernel now refuses what the user could not do.
    text = f"{LONG_TERM}\n[default]\n{stub_session()}"
    roots_file.write_text(text)
    aws = planted_home(nobody_home)
    (aws / "credentials").write_text(text)
    os.chown(aws / "credentials", NOBODY, NOBODY)
    spare, link = nobody_home / "spare", nobody_home / "link"
    plant(link, roots_file.parent)
    # The keys are the file's; the profile named here, botocore finds it while ~/.aws is away.
    (nobody_home / "config").write_text("[profile default-long-term]\n")
    stop = threading.Event()

    real = aws.stat().st_ino

    def swap() -> None:
        while not stop.is_set():
            for old, new in ((aws, spare), (link, aws), (aws, link), (spare, aws)):
                with contextlib.suppress(OSError):
                    if new == aws and aws.lstat().st_ino != real:  # a run made ~/.aws while it was away
                        shutil.rmtree(aws)
                with contextlib.suppress(OSError):
                    os.rename(old, new)

    monkeypatch.setattr(sys, "getswitchinterval", sys.getswitchinterval)  # restored below
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # the swapping thread runs between the run's steps
    swapper = threading.Thread(target=swap)
    swapper.start()
    results = []
    try:
        for n in range(RACE_RUNS):
            argv = ["--clear"] if n % 2 else ["--force", "--code", "123456"]
            results.append(run(capsys, *argv))
    finally:
        stop.set()
        swapper.join()
        sys.setswitchinterval(interval)
    RELIABILITY["data loss and lock-out"] += RACE_RUNS

    assert {code for code, _, _ in results} <= {0, 1}
    assert all(out == "" and err.count("\n") <= 1 for _, out, err in results), results
    assert roots_file.read_text() == text
    assert owner_and_mode(roots_file) == (0, 0, 0o600)
    assert sorted(path.name for path in roots_file.parent.iterdir()) == ["credentials"]


RACE_RUNS = 200


@pytest.fixture
def nameless_home(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A HOME of a uid without a passwd entry, and a group of its own."""
    if os.geteuid() != 0:
        pytest.skip("a run as root needs root")
    directory = Path(tempfile.mkdtemp(prefix="aws-mfa-home-"))
    os.chown(directory, 4242, 4343)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / ".aws" / "credentials"))
    home.config.write_text(
        f"[profile default-long-term]\ncredential_process = printf %s '{KEYS}'\nmfa_serial = {DEVICE}\n"
    )
    yield directory
    shutil.rmtree(directory)


def test_root_run_in_the_home_of_a_uid_without_a_name_leaves_what_it_makes_to_that_uid(
    nameless_home: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = nameless_home / ".aws"
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (0, "", valid_until())

    assert owner_and_mode(aws) == (4242, 4343, 0o700)
    assert owner_and_mode(aws / "credentials") == (4242, 4343, 0o600)
    assert owner_and_mode(aws / "credentials.aws-mfa.lock") == (4242, 4343, 0o600)
    assert sorted(path.name for path in aws.iterdir()) == ["credentials", "credentials.aws-mfa.lock"]
    assert (aws / "credentials").read_text() == f"[default]\n{stub_session()}"


@pytest.mark.parametrize("argv", [["--code", "123456"], ["--clear"], ["--setup"]], ids=["refresh", "clear", "setup"])
def test_root_refuses_a_path_through_two_users_directories(
    nobody_home: Path,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    shared = nobody_home / "shared"
    shared.mkdir(mode=0o700)
    os.chown(shared, 4242, 4242)
    credentials = shared / "credentials"
    text = {
        "--clear": f"{LONG_TERM}\n[default]\n{stub_session()}",
        "--setup": f"[default]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = {LONG_SECRET}\n",
    }.get(argv[0], LONG_TERM)
    credentials.write_text(text)
    os.chown(credentials, 4242, 4242)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    (nobody_home / "config").write_text("")  # the keys are the file's
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, *argv, "--device", DEVICE) == (
        1,
        "",
        f"aws-mfa: error: the way to {credentials} passes through directories or links of uid {NOBODY} and of uid "
        "4242; run aws-mfa as one of them. The file is unchanged\n",
    )
    assert credentials.read_text() == text
    assert owner_and_mode(credentials) == (4242, 4242, 0o600)
    assert sorted(path.name for path in shared.iterdir()) == ["credentials"]
    assert session_stub.requests == []


def test_roots_link_into_a_users_home_is_followed_as_that_user(
    nobody_home: Path,
    roots_file: Path,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Root's own link leads into the user's HOME, where the user planted ~/.aws -> root's directory.
    aws = nobody_home / ".aws"
    plant(aws, roots_file.parent)
    link = roots_file.parent.parent / "credentials-link"
    link.symlink_to(aws / "credentials")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(link))
    (nobody_home / "config").write_text("")  # the keys are the file's
    RELIABILITY["data loss and lock-out"] += 1

    # The user may not even look in the directory of root's link: the message names the link.
    assert run(capsys, "--code", "123456") == (1, "", refused(link))

    assert roots_file.read_text() == LONG_TERM
    assert sorted(path.name for path in roots_file.parent.iterdir()) == ["credentials"]
    assert session_stub.requests == []


def test_root_does_not_keep_writing_roots_file_in_a_users_aws_directory(
    nobody_home: Path, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Left by a root run of an older release: the user could swap it for anything of root's.
    credentials = planted_home(nobody_home) / "credentials"
    credentials.write_text(LONG_TERM)
    (nobody_home / "config").write_text("")  # the keys are the file's
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456") == (1, "", refused(credentials))

    assert credentials.read_text() == LONG_TERM
    assert owner_and_mode(credentials) == (0, 0, 0o600)
    assert sorted(path.name for path in credentials.parent.iterdir()) == ["credentials"]
    assert session_stub.requests == []


def test_root_that_may_not_act_as_the_user_says_so_in_one_line(nobody_home: Path, tmp_path: Path) -> None:
    """A container's bounding set without CAP_SETUID and CAP_SETGID: root cannot become the user."""
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux)")
    aws = planted_home(nobody_home)
    (aws / "credentials").write_text(LONG_TERM)
    os.chown(aws / "credentials", NOBODY, NOBODY)
    script = str(Path(sys.executable).parent / "aws-mfa")
    RELIABILITY["tracebacks"] += 1

    result = subprocess.run(
        ["setpriv", "--bounding-set=-setuid,-setgid", "--", script, "--status"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"aws-mfa: error: {aws / 'credentials'} is on the way of uid {NOBODY}, and this root may not act as uid "
        f"{NOBODY} (no CAP_SETUID or CAP_SETGID); run aws-mfa as uid {NOBODY}. The file is unchanged\n",
    )
    assert (aws / "credentials").read_text() == LONG_TERM


def test_a_relative_path_from_a_removed_working_directory_is_one_error(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only a run as root looks at who owns the way to the file")
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    RELIABILITY["tracebacks"] += 1

    assert run(capsys, "-c", "credentials", "--status") == (
        1,
        "",
        "aws-mfa: error: cannot find credentials from the working directory: No such file or directory\n",
    )


def test_root_reads_a_users_config_as_that_user(
    nobody_home: Path,
    roots_file: Path,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user's link to root's config would have root's key program make the session for the user's file."""
    roots_config = roots_file.parent / "config"
    roots_config.write_text("[profile default-long-term]\ncredential_process = /bin/false\n")
    roots_config.chmod(0o600)
    link = planted_home(nobody_home) / "config"
    plant(link, roots_config)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(link))
    credentials = nobody_home / ".aws" / "credentials"
    credentials.write_text("[default-long-term]\n")
    os.chown(credentials, NOBODY, NOBODY)
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456", "--device", DEVICE) == (
        1,
        "",
        f"aws-mfa: warning: cannot read {roots_config}: permission denied (as root, aws-mfa reads and writes in "
        f"uid {NOBODY}'s directories with uid {NOBODY}'s permissions); going on without it, as the AWS CLI "
        "does\n"
        f"aws-mfa: error: [default-long-term] in {credentials} lacks aws_access_key_id and aws_secret_access_key; "
        "add the long-term key\n",
    )
    assert session_stub.requests == []
    assert credentials.read_text() == "[default-long-term]\n"
