"""The promise: whatever happens, the file is exactly as before or the old file plus the new session."""

from __future__ import annotations

import errno
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.configloader
import botocore.exceptions
import pytest
from conftest import LONG_KEY
from conftest import LONG_TERM
from conftest import RELIABILITY
from conftest import STUB_KEY
from conftest import STUB_SECRET
from conftest import STUB_TOKEN
from conftest import Home
from conftest import StubServer
from conftest import stub_expiration
from conftest import stub_session
from conftest import valid_until
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_refresh import run

import aws_mfa

FakeBin = Callable[[str, str], Path]
# The keys a refresh sets (and aws_mfa_role_arn, which it removes without a role).
SESSION_KEYS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "expiration",
    "aws_mfa_role_arn",
)


def written_values() -> dict[str, str]:
    """What botocore reads in the short-term section after a refresh from the stub."""
    return {
        "aws_access_key_id": STUB_KEY,
        "aws_secret_access_key": STUB_SECRET,
        "aws_session_token": STUB_TOKEN,
        "aws_security_token": STUB_TOKEN,
        "expiration": stub_expiration(),
    }


# --- generated files that botocore accepts ------------------------------------------

NAME = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. ", min_size=1, max_size=12).filter(
    lambda name: name.strip() == name and name != "DEFAULT"
)
KEY = st.sampled_from(
    [
        "region",
        "output",
        "Region",
        "AWS_ACCESS_KEY_ID",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_security_token",
        "Expiration",
        "aws_mfa_role_arn",
        "mfa_serial",
        "x",
        "ca_bundle",
        "duration_seconds",
    ]
)
VALUE = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF).filter(lambda c: c != "\x7f"), max_size=20).map(
    lambda text: text.replace("%", "%%") if text.endswith("%") else text
)
COMMENT = st.builds(lambda mark, text: f"{mark}{text}", st.sampled_from(["#", ";", "  #", "\t;"]), VALUE)


@st.composite
def option_lines(draw: st.DrawFn) -> list[str]:
    """The lines of one section's options: any key case, = or : with any spacing, continuation lines."""
    keys = draw(st.lists(KEY, unique_by=str.lower, max_size=5))
    lines: list[str] = []
    for key in keys:
        before, after = draw(st.sampled_from(["", " ", "  ", "\t"])), draw(st.sampled_from(["", " ", "\t"]))
        value = draw(VALUE.filter(bool))  # an empty first line with continuations is botocore's nested form
        lines.append(f"{key}{before}{draw(st.sampled_from(['=', ':']))}{after}{value}")
        for continuation in draw(st.lists(VALUE.filter(lambda v: bool(v) and v[0] not in "#;"), max_size=2)):
            lines.append(f"{draw(st.sampled_from(['  ', '    ', chr(9)]))}{continuation}")
        lines.extend(draw(st.lists(st.one_of(COMMENT, st.just("")), max_size=2)))
    return lines


@st.composite
def credentials_files(draw: st.DrawFn) -> str:
    names = draw(st.lists(NAME.filter(lambda n: n not in ("default", "default-long-term")), unique=True, max_size=4))
    sections = [(name, draw(option_lines())) for name in names]
    long_term = LONG_TERM.splitlines()
    sections.insert(draw(st.integers(0, len(sections))), (long_term[0][1:-1], long_term[1:]))
    if draw(st.booleans()):  # an existing short-term section: other keys, maybe an old session
        lines = draw(option_lines())
        starts = [line.lower()[:17] for line in lines]
        if "aws_access_key_id" in starts and not {"aws_session_token", "aws_security_toke"} & set(starts):
            lines.append("aws_session_token = old")  # a session, not long-term keys
        sections.insert(draw(st.integers(0, len(sections))), ("default", lines))
    head = draw(st.lists(st.one_of(COMMENT, st.just("")), max_size=2))
    lines = head + [line for name, body in sections for line in [f"[{name}]", *body]]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    return text + newline if draw(st.booleans()) else text


def botocore_reads(text: str) -> dict[str, dict[str, str]]:
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False, newline="") as file:
        file.write(text)
    try:
        return botocore.configloader.raw_config_parse(file.name)
    finally:
        os.unlink(file.name)


def kept_lines(text: str) -> str:
    """Every line but the short-term section's credential lines (and their continuations)."""
    lines = aws_mfa.split_lines(text)
    return "".join(
        line
        for line, info in zip(lines, aws_mfa._classify(lines), strict=True)
        if not (info.section == "default" and info.key in SESSION_KEYS)
    )


def check_splice(before: str, after: str) -> None:
    """The campaign's promise, checked with botocore as the independent reader."""
    old_kept, new_kept = kept_lines(before), kept_lines(after)
    assert new_kept.startswith(old_kept)
    assert re.fullmatch(r"(\r?\n)*(\[default\]\r?\n)?", new_kept[len(old_kept) :])
    old, new = botocore_reads(before), botocore_reads(after)
    assert {n: s for n, s in new.items() if n != "default"} == {n: s for n, s in old.items() if n != "default"}
    others = {k: v for k, v in old.get("default", {}).items() if k not in SESSION_KEYS}
    assert new["default"] == {**others, **written_values()}


@settings(max_examples=400, deadline=None)
@given(credentials_files())
def test_splice_keeps_every_other_byte(text: str) -> None:
    RELIABILITY["property examples (splice)"] += 1
    values = aws_mfa.session_values(
        aws_mfa.SessionCredentials(STUB_KEY, STUB_SECRET, STUB_TOKEN, aws_mfa.parse_expiration(stub_expiration())),  # type: ignore[arg-type]
        None,
    )
    try:
        before = aws_mfa.parse_ini(text, "generated")
    except aws_mfa.AwsMfaError:
        with pytest.raises(botocore.exceptions.ConfigParseError):
            botocore_reads(text)
        RELIABILITY["property examples rejected, as botocore rejects them"] += 1
        return
    after = aws_mfa.splice_section(text, "default", values)
    try:
        aws_mfa.verify_splice(before, after, "default", values, "generated")
    except aws_mfa.AwsMfaError:
        # Refusing is allowed (nothing is written); writing something wrong is not.
        RELIABILITY["property examples refused by the read-back check"] += 1
        return
    check_splice(text, after)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=credentials_files())
def test_refresh_of_generated_files(
    text: str, home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    RELIABILITY["property examples (whole refresh)"] += 1
    home.credentials.write_bytes(text.encode())

    code, out, err = run(capsys, "--force", "--code", "123456")

    if code == 0:
        assert (out, err) == ("", valid_until())
        check_splice(text, home.credentials.read_bytes().decode())
    else:
        assert (code, out) == (1, "")
        assert err.startswith("aws-mfa: error: ")
        assert err.count("\n") == 1
        assert home.credentials.read_bytes() == text.encode()


# --- crashes --------------------------------------------------------------------------


def test_sigkill_at_random_moments_leaves_old_or_new(home: Home, session_stub: StubServer) -> None:
    script = Path(sys.executable).with_name("aws-mfa")
    original = f"# mine\n{LONG_TERM}\n[work]\nregion = eu-west-1\n"
    complete = f"# mine\n{LONG_TERM}\n[work]\nregion = eu-west-1\n\n[default]\n{stub_session()}"
    # Killed runs are not measured: one killed while coverage writes its data file would
    # leave half a file, which `coverage combine` then reports as an error.
    unmeasured = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    # The kills spread over what a whole run (start, STS call, write) takes on this machine
    # now: a fixed span misses the write on a slow or loaded one.
    home.credentials.write_text(original)
    started = time.monotonic()
    subprocess.run([str(script), "-f", "--code", "123456"], capture_output=True, env=unmeasured, check=True)
    span = 1.2 * (time.monotonic() - started)
    chance = random.Random(20261128)
    seen = set()
    # One timed run can be quicker than the forty after it (load comes and goes on a shared
    # machine; once, at the lower bounds, no kill reached the write): a round that saw no run
    # get to the write is followed by one over a span half as long again, three at most.
    for _ in range(3):
        for _ in range(40):
            home.credentials.write_text(original)
            process = subprocess.Popen(
                [str(script), "-f", "--code", "123456"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=unmeasured,
            )
            time.sleep(chance.uniform(0.0, span))
            process.send_signal(signal.SIGKILL)
            process.wait()
            RELIABILITY["SIGKILL runs"] += 1
            content = home.credentials.read_text()
            assert content in (original, complete)
            seen.add((process.returncode, content == complete))
        if (0, True) in seen or (-signal.SIGKILL, True) in seen:
            break
        span *= 1.5
    # The next run cleans up after the killed ones.
    result = subprocess.run([str(script), "-f", "--code", "123456"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert home.credentials.read_text() == complete
    assert sorted(p.name for p in home.credentials.parent.iterdir()) == ["credentials", "credentials.aws-mfa.lock"]
    assert (-signal.SIGKILL, False) in seen  # some runs were killed before they wrote
    assert (0, True) in seen or (-signal.SIGKILL, True) in seen  # and some got to write


STEPS = [
    ("os", "open"),  # the temporary file made
    ("os", "stat"),
    ("aws_mfa", "open"),  # the write of the new text into the temporary file
    ("os", "fsync"),
    ("os", "chmod"),
    ("os", "replace"),
]


class FailingWrites:
    """The temporary file as a full or broken disk gives it: open works, write fails."""

    def __init__(self, descriptor: int, code: int) -> None:
        self.descriptor, self.code = descriptor, code

    def __enter__(self) -> FailingWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.descriptor)

    def write(self, data: bytes) -> int:
        raise OSError(self.code, os.strerror(self.code))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EIO], ids=["ENOSPC", "EACCES", "EIO"])
@pytest.mark.parametrize(("module", "step"), STEPS, ids=[f"{module}.{step}" for module, step in STEPS])
def test_fault_at_each_write_step(
    home: Home,
    session_stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    step: str,
    code: int,
) -> None:
    original = f"{LONG_TERM}[other]\nk = v\n"
    home.credentials.write_text(original)
    real: Any = getattr(sys.modules[module], step, open)
    modes: list[int] = []

    def fail(*args: object, **kwargs: object) -> object:
        if sys._getframe(1).f_code.co_name != "write_atomically":  # botocore stats files too
            return real(*args, **kwargs)
        if step == "fsync":
            modes.append(os.fstat(args[0]).st_mode & 0o777)  # type: ignore[arg-type]
        if module == "aws_mfa":
            if not isinstance(args[0], int):  # reading the file back is not the step
                return real(*args, **kwargs)
            modes.append(os.fstat(args[0]).st_mode & 0o777)
            return FailingWrites(args[0], code)
        raise OSError(code, os.strerror(code))

    # A disk that fails on demand cannot be had here: the error is injected at the step.
    monkeypatch.setattr(sys.modules[module], step, fail, raising=False)
    RELIABILITY["injected faults"] += 1

    result = run(capsys, "--code", "123456")

    assert result == (
        1,
        "",
        f"aws-mfa: error: cannot write {home.credentials}: {os.strerror(code)}; the file is unchanged\n",
    )
    assert home.credentials.read_text() == original
    assert sorted(p.name for p in home.credentials.parent.iterdir()) == ["credentials", "credentials.aws-mfa.lock"]
    assert modes in ([], [0o600])  # the temporary file was private from its first byte


def test_directory_fsync_refused_still_writes(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat as stat_module

    real = os.fsync

    def fsync(descriptor: int) -> None:
        if stat_module.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        real(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    RELIABILITY["injected faults"] += 1

    assert run(capsys, "--code", "123456") == (0, "", valid_until())
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


# --- concurrency ------------------------------------------------------------------------


def test_a_dozen_runs_at_once_on_one_file(home: Home, session_stub: StubServer) -> None:
    profiles = [f"team {n}" for n in range(12)]
    original = "".join(
        f"; profile {n}\n[{name}-long-term]\naws_access_key_id = AKIALONGTERM{n:08d}\naws_secret_access_key = s{n}\n"
        f"aws_mfa_device = arn:aws:iam::1:mfa/u{n}\n\n"
        for n, name in enumerate(profiles)
    )
    home.credentials.write_text(original)
    script = Path(sys.executable).with_name("aws-mfa")

    processes = [
        subprocess.Popen([str(script), "-p", name, "--code", "123456"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name in profiles
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    RELIABILITY["concurrent runs"] += len(processes)

    assert [process.returncode for process in processes] == [0] * len(profiles), outputs
    written = home.credentials.read_text()
    assert written.startswith(original)
    read = botocore_reads(written)
    assert sorted(read) == sorted([*profiles, *(f"{name}-long-term" for name in profiles)])
    for name in profiles:
        assert read[name] == written_values()


# --- hostile input ---------------------------------------------------------------------

HOSTILE = [
    pytest.param(
        f"{LONG_TERM}[x]\nregion =\n  eu-west-1\n".encode(),
        "{path}: [x] region: an indented line below it has no '=' (botocore reads such lines as nested keys); fix "
        "the file, nothing was written",
        id="nested-value-botocore-rejects",
    ),
    pytest.param(
        b"",
        "{path} has no [default-long-term] section; put your long-term access key there "
        "(aws_access_key_id, aws_secret_access_key, aws_mfa_device)",
        id="empty",
    ),
    pytest.param(
        b"# nothing\n; here\n",
        "{path} has no [default-long-term] section; put your long-term access key "
        "there (aws_access_key_id, aws_secret_access_key, aws_mfa_device)",
        id="only-comments",
    ),
    pytest.param(
        b"\xef\xbb\xbf" + LONG_TERM.encode(),
        "{path} starts with a byte-order mark, which botocore cannot read; save it as UTF-8 without BOM",
        id="utf8-bom",
    ),
    pytest.param(
        LONG_TERM.replace(LONG_KEY, "AKIA\x00EXAMPLE0000000").encode(),
        "[default-long-term] in {path}: the access key id or secret is malformed",
        id="nul-in-key",
    ),
    pytest.param(
        f"[DEFAULT]\naws_session_token = leaks\n{LONG_TERM}".encode(),
        "[DEFAULT] in {path} sets aws_session_token, which every section inherits, [default-long-term] too; "
        "move it into the sections that need it",
        id="DEFAULT-leaks-a-token",
    ),
    pytest.param(
        f"[default-long-term]\naws_access_key_id = {LONG_KEY}\naws_secret_access_key = a b\n".encode(),
        "[default-long-term] in {path}: the access key id or secret is malformed",
        id="space-in-secret",
    ),
    pytest.param(
        f"{LONG_TERM}[default]\naws_access_key_id\n".encode(),
        "{path}: line 6: not a 'key = value' line, [section] header or comment; fix the file, nothing was written",
        id="key-without-value",
    ),
    pytest.param(
        f"{LONG_TERM}[]\n".encode(),
        "{path}: line 5: not a 'key = value' line, [section] header or comment; fix the file, nothing was written",
        id="empty-section-name",
    ),
]


@pytest.mark.parametrize(("content", "message"), HOSTILE)
def test_hostile_file_is_refused_untouched(
    home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    home.credentials.write_bytes(content)
    RELIABILITY["hostile inputs"] += 1

    assert run(capsys, "--code", "123456") == (1, "", f"aws-mfa: error: {message.format(path=home.credentials)}\n")
    assert home.credentials.read_bytes() == content
    assert stub.requests == []


def test_huge_file_is_refused_unread(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    with open(home.credentials, "wb") as file:
        file.write(LONG_TERM.encode())
        file.write(b"# padding\n" * (5 * 1024 * 1024))  # 50 MiB
    size = home.credentials.stat().st_size
    RELIABILITY["hostile inputs"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} is larger than 16 MiB, too large for a credentials file\n",
    )
    assert home.credentials.stat().st_size == size


def test_dangling_symlink(home: Home, stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    home.credentials.symlink_to(home.path / "gone")
    RELIABILITY["hostile inputs"] += 1

    assert run(capsys, "--code", "123456") == (
        1,
        "",
        f"aws-mfa: error: {home.credentials} does not exist; run `aws configure`, then `aws-mfa --setup` "
        "(or create it with a [default-long-term] section)\n",
    )
    assert not (home.path / "gone").exists()


@pytest.mark.parametrize(
    ("profile", "content"),
    [
        pytest.param("my work", LONG_TERM.replace("[default-long-term]", "[my work-long-term]"), id="space-in-name"),
        pytest.param("default", f"{LONG_TERM}[odd]\nk = 100% sure, %(x)s, %%\n", id="percent-values"),
        pytest.param("default", f"{LONG_TERM}[odd]\nk = a\x00b\n", id="nul-in-other-profile"),
        pytest.param("default", f"{LONG_TERM}[s3]\ns3 =\n  max_concurrent_requests = 10\n", id="nested-value"),
    ],
)
def test_odd_but_valid_files_are_refreshed(
    home: Home, session_stub: StubServer, capsys: pytest.CaptureFixture[str], profile: str, content: str
) -> None:
    home.credentials.write_text(content)
    RELIABILITY["hostile inputs"] += 1

    assert run(capsys, "-p", profile, "--code", "123456") == (0, "", valid_until().replace("default", profile))
    assert home.credentials.read_text() == f"{content}\n[{profile}]\n{stub_session()}"


# --- hangs and floods -----------------------------------------------------------------------


def test_flooding_helper_is_cut_off(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_bin("op", "while True:\n    sys.stdout.write('123456' * 10000)")
    RELIABILITY["hung or flooding helpers"] += 1
    started = time.monotonic()

    assert run(capsys, "--op-item-name", "AWS", stdin="123456\n") == (
        0,
        "",
        "aws-mfa: warning: 1Password printed more than 64 KiB, which is no code; asking for the code instead\n"
        + valid_until(),
    )
    assert time.monotonic() - started < 10


def test_helper_whose_child_keeps_the_pipe_open(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str]
) -> None:
    # op answers, but a process it started still holds stdout: aws-mfa must not wait for that one.
    fake_bin(
        "op",
        "import subprocess\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)'])\nprint('123456')",
    )
    RELIABILITY["hung or flooding helpers"] += 1
    started = time.monotonic()

    assert run(capsys, "--op-item-name", "AWS") == (0, "", valid_until())
    assert time.monotonic() - started < 4


def test_shell_metacharacters_never_reach_a_shell(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    fake_bin("op", "print('123456')")
    RELIABILITY["hostile inputs"] += 1

    assert run(capsys, "--op-item-name", f"x; touch {canary}; $(touch {canary})") == (0, "", valid_until())
    assert run(capsys, "-f", "--otp-command", f"op `touch {canary}` | touch {canary}") == (0, "", valid_until())
    assert not canary.exists()
