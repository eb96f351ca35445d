"""The write: atomic, locked, re-read under the lock, verified before it replaces anything."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEVICE
from conftest import LONG_TERM
from conftest import RELIABILITY
from conftest import STUB_KEY
from conftest import STUB_SECRET
from conftest import STUB_TOKEN
from conftest import Home
from conftest import StubServer
from conftest import meanwhile
from conftest import stub_session
from test_refresh import run

import aws_mfa


def test_new_file_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "credentials"

    aws_mfa.write_atomically(str(path), lambda text: text + "[a]\nk = v\n")

    assert path.read_text() == "[a]\nk = v\n"
    assert path.stat().st_mode & 0o777 == 0o600


def test_change_by_another_program_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("[a]\nk = 1\n")
    calls: list[str] = []

    def compose(text: str) -> str:
        calls.append(text)
        if len(calls) == 1:  # another program rewrites the file while we compose
            path.write_text("[a]\nk = 2\n")
        return text + "[b]\nk = 3\n"

    aws_mfa.write_atomically(str(path), compose)

    assert calls == ["[a]\nk = 1\n", "[a]\nk = 2\n"]
    assert path.read_text() == "[a]\nk = 2\n[b]\nk = 3\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "credentials.aws-mfa.lock"]


def test_file_that_never_settles_is_left_to_the_other_program(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("0")

    def compose(text: str) -> str:
        path.write_text(str(int(text) + 1))
        return "ours"

    with pytest.raises(aws_mfa.AwsMfaError, match="kept changing while aws-mfa wrote it; nothing was written"):
        aws_mfa.write_atomically(str(path), compose)

    assert path.read_text() == str(aws_mfa.WRITE_ATTEMPTS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "credentials.aws-mfa.lock"]


def test_held_lock_times_out_with_a_clear_error(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stub: StubServer
) -> None:
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    home.credentials.write_text(LONG_TERM)
    monkeypatch.setattr(aws_mfa, "LOCK_TIMEOUT", 0.2)
    lock = f"{home.credentials}.aws-mfa.lock"

    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = run(capsys, stdin="123456\n")

    assert result == (1, "", f"aws-mfa: error: another aws-mfa has held {lock} for 0.2 s; try again\n")
    assert home.credentials.read_text() == LONG_TERM


def test_lock_file_that_cannot_be_created(home: Home, capsys: pytest.CaptureFixture[str], stub: StubServer) -> None:
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    home.credentials.write_text(LONG_TERM)
    lock = Path(f"{home.credentials}.aws-mfa.lock")
    lock.mkdir()

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: lock file {lock} is not a regular file; remove it and run again\n",
    )
    assert home.credentials.read_text() == LONG_TERM


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("[a]\n")
    (tmp_path / ".credentials.aws-mfa-x1y2.tmp").write_text("half")
    (tmp_path / ".credentials.other.tmp").write_text("not ours")

    aws_mfa.write_atomically(str(path), lambda text: text)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".credentials.other.tmp",
        "credentials",
        "credentials.aws-mfa.lock",
    ]


@pytest.mark.parametrize(
    ("module", "failing", "code"),
    [
        pytest.param(os, "open", errno.ENOSPC, id="create-disk-full"),
        pytest.param(os, "stat", errno.EACCES, id="stat"),
        pytest.param(os, "fsync", errno.EIO, id="fsync"),
        pytest.param(os, "chmod", errno.EIO, id="chmod"),
        pytest.param(os, "replace", errno.EIO, id="replace"),
    ],
)
def test_failed_write_leaves_the_original_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: object, failing: str, code: int
) -> None:
    path = tmp_path / "credentials"
    path.write_text("[a]\nk = v\n")

    real = getattr(module, failing)

    def fail(*args: object, **kwargs: object) -> object:
        if sys._getframe(1).f_code.co_name != "write_atomically":  # the lock file's steps come first
            return real(*args, **kwargs)
        raise OSError(code, os.strerror(code))

    # A failing disk cannot be had on demand here: inject the error at the step.
    monkeypatch.setattr(module, failing, fail)

    with pytest.raises(aws_mfa.AwsMfaError) as error:
        aws_mfa.write_atomically(str(path), lambda text: text + "more = 1\n")

    assert str(error.value) == f"cannot write {path}: {os.strerror(code)}; the file is unchanged"
    assert path.read_text() == "[a]\nk = v\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "credentials.aws-mfa.lock"]


def test_composition_that_would_read_back_wrong_is_not_written(
    home: Home, capsys: pytest.CaptureFixture[str], stub: StubServer
) -> None:
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    # Keys added at column 0 would make the indented header below a continuation line.
    content = f"{LONG_TERM}[default]\n  region = eu-west-1\n  [other]\n  region = eu-west-2\n"
    home.credentials.write_text(content)

    assert run(capsys, stdin="123456\n") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials}: the updated file would not read back as expected around [default] "
        "(unusual indentation or [DEFAULT] keys?); nothing was written\n",
    )
    assert home.credentials.read_text() == content


ROLE = "arn:aws:iam::123456789012:role/admin"


@pytest.mark.parametrize(
    ("defaults", "argv", "keys"),
    [
        pytest.param(f"aws_mfa_role_arn = {ROLE}\n", ["-t", "123456"], "aws_mfa_role_arn", id="refresh-role"),
        pytest.param("expiration = x\n", ["--clear"], "expiration", id="clear-expiration"),
        pytest.param("aws_security_token = t\n", ["--clear"], "aws_security_token", id="clear-security-token"),
        pytest.param(f"aws_mfa_role_arn = {ROLE}\n", ["--clear"], "aws_mfa_role_arn", id="clear-role"),
        pytest.param(
            f"Expiration = x\naws_mfa_role_arn = {ROLE}\n",
            ["--clear"],
            "expiration and aws_mfa_role_arn",
            id="clear-two",
        ),
    ],
)
def test_a_key_default_gives_every_section_is_named_when_the_run_would_remove_it(
    home: Home, capsys: pytest.CaptureFixture[str], stub: StubServer, defaults: str, argv: list[str], keys: str
) -> None:
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    content = f"[DEFAULT]\n{defaults}{LONG_TERM}[default]\naws_access_key_id = {STUB_KEY}\naws_session_token = old\n"
    home.credentials.write_text(content)

    assert run(capsys, *argv) == (
        1,
        "",
        f"aws-mfa: error: [DEFAULT] in {home.credentials} sets {keys}, which every section inherits, so removing "
        "it from [default] changes nothing; move it into the sections that need it (nothing was written)\n",
    )
    assert home.credentials.read_text() == content
    assert stub.requests == []  # refused before the one-time code was spent


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        pytest.param("[p]\na = 1\nb = 2\nc = 3\n", {"b": None}, "[p]\na = 1\nc = 3\n", id="remove"),
        pytest.param("[p]\nb = 1\n  2\nc = 3\n", {"b": None}, "[p]\nc = 3\n", id="remove-with-continuation"),
        pytest.param("[p]\n", {"b": None}, "[p]\n", id="remove-missing"),
        pytest.param("", {"k": "v"}, "[p]\nk = v\n", id="empty-file"),
        pytest.param("# only a comment", {"k": "v"}, "# only a comment\n\n[p]\nk = v\n", id="only-comment"),
        pytest.param("[p]\n[q]\n", {"k": "v"}, "[p]\nk = v\n[q]\n", id="empty-section"),
        pytest.param("[p]\r\nk = 1", {"k": "2", "n": "3"}, "[p]\r\nk = 2\r\nn = 3\r\n", id="crlf-no-final-newline"),
        pytest.param("[p]\rk = 1\r", {"k": "2"}, "[p]\rk = 2\r", id="old-mac-endings"),
        pytest.param("[q]\nK = 1\n[p]\nK = 1\n", {"k": "2"}, "[q]\nK = 1\n[p]\nK = 2\n", id="other-section-same-key"),
        pytest.param("[p]\n\tk\t=\t1\t\n", {"k": "2"}, "[p]\n\tk\t=\t2\n", id="tabs"),
        pytest.param("[p]\nk = 100%\n", {"k": "50%"}, "[p]\nk = 50%\n", id="percent"),
        pytest.param("[my profile]\nk = 1\n", {"k": "2"}, "[my profile]\nk = 2\n", id="space-in-name"),
    ],
)
def test_splice_section(text: str, values: dict[str, str | None], expected: str) -> None:
    section = "my profile" if "my profile" in text else "p"
    assert aws_mfa.splice_section(text, section, values) == expected


def test_concurrent_runs_on_many_profiles_lose_nothing(home: Home, sts: StubServer) -> None:
    profiles = [f"p{n}" for n in range(6)]
    home.credentials.write_text(
        "# shared file\n"
        + "".join(
            f"[{name}-long-term]\naws_access_key_id = AKIALONGTERM{n:08d}\naws_secret_access_key = s{n}\n"
            f"aws_mfa_device = {DEVICE}\n\n"
            for n, name in enumerate(profiles)
        )
    )
    before = home.credentials.read_text()
    script = Path(sys.executable).with_name("aws-mfa")

    processes = [
        subprocess.Popen(
            [str(script), "--profile", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for name in profiles
    ]
    results = [process.communicate(b"123456\n", timeout=60) for process in processes]

    assert [process.returncode for process in processes] == [0] * len(profiles), results
    after = home.credentials.read_text()
    assert after.startswith(before)
    import configparser

    parser = configparser.RawConfigParser()
    parser.read_string(after)
    assert sorted(parser.sections()) == sorted(profiles + [f"{name}-long-term" for name in profiles])
    # Each profile holds a whole session STS answered, and each session is in one profile.
    answered = [[tuple(line.split(" = ")) for line in stub_session(*session).splitlines()] for session in sts.answered]
    assert sorted(parser.items(name) for name in profiles) == sorted(answered)


def test_sections_read_like_botocore_and_lazily() -> None:
    sections = aws_mfa.parse_ini("[DEFAULT]\nregion = r\n[a]\nk = 1\n[b]\n", "f")

    assert len(sections) == 3
    assert list(sections) == ["a", "b", "DEFAULT"]
    assert dict(sections) == {"a": {"region": "r", "k": "1"}, "b": {"region": "r"}, "DEFAULT": {"region": "r"}}
    assert "c" not in sections


def test_signal_right_after_the_temporary_is_made_leaves_none(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.open

    def open_then_terminated(path: str, flags: int, mode: int = 0o777) -> int:
        descriptor = real(path, flags, mode)
        if path.endswith(".tmp"):
            # The file exists and its descriptor is not yet returned: tempfile.mkstemp left it behind.
            signal.raise_signal(signal.SIGTERM)
        return descriptor

    monkeypatch.setattr(os, "open", open_then_terminated)
    RELIABILITY["hangs and unbounded work"] += 1

    assert run(capsys, "--code", "123456") == (143, "", "aws-mfa: stopped by SIGTERM\n")

    assert home.credentials.read_text() == LONG_TERM
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == [
        "credentials",
        "credentials.aws-mfa.lock",
    ]


def test_long_term_section_removed_by_another_program_before_the_call_is_one_error(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore reads the credentials file again for the client: the section it is told to use is gone."""
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    home.credentials.write_text(LONG_TERM)
    meanwhile(monkeypatch, lambda: home.credentials.write_text("[other]\n"))
    RELIABILITY["hostile inputs"] += 1

    assert run(capsys, "--code", "123456", "--device", DEVICE) == (
        1,
        "",
        f"aws-mfa: error: [default-long-term] is gone from {home.credentials} since aws-mfa read it; run again\n",
    )
    assert home.credentials.read_text() == "[other]\n"
    assert stub.requests == []


def test_a_session_goes_only_where_the_keys_that_made_it_are(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program (or a user who may write the directory) puts other long-term keys in place while the
    code is typed: the session of the first keys is not written beside the second."""
    stub.sts_session(STUB_KEY, STUB_SECRET, STUB_TOKEN)
    home.credentials.write_text(LONG_TERM)
    other = "[default-long-term]\naws_access_key_id = AKIAOTHERUSER0000001\naws_secret_access_key = theirs\n"
    meanwhile(monkeypatch, lambda: home.credentials.write_text(other))
    RELIABILITY["data loss and lock-out"] += 1

    assert run(capsys, "--code", "123456", "--device", DEVICE) == (
        1,
        "",
        f"aws-mfa: error: the long-term key in [default-long-term] of {home.credentials} changed while aws-mfa "
        "ran; nothing was written, run again\n",
    )
    assert home.credentials.read_text() == other


def test_the_file_replaced_by_a_link_loop_after_the_read_is_one_error(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program replaces the file after it was read: the owner to keep cannot be known."""
    home.credentials.write_text(LONG_TERM)

    def looped() -> None:
        home.credentials.unlink()
        home.credentials.symlink_to(home.credentials.name)

    meanwhile(monkeypatch, looped)
    RELIABILITY["tracebacks"] += 1

    assert run(capsys, "--code", "123456", "--device", DEVICE) == (
        1,
        "",
        f"aws-mfa: error: cannot write {home.credentials}: Too many levels of symbolic links; the file is unchanged\n",
    )
    assert stub.requests == []
