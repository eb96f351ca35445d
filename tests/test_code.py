"""Where the MFA code comes from: 1Password, the terminal, standard input."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DEVICE
from conftest import LONG_TERM
from conftest import Home
from conftest import StubServer
from conftest import set_env
from conftest import stub_session
from conftest import valid_until
from test_refresh import run

import aws_mfa

FakeBin = Callable[[str, str], Path]
OP_RECORDING = """
with open(os.environ["OP_LOG"], "w") as log:
    json.dump({"argv": sys.argv[1:], "stdin": sys.stdin.read()}, log)
"""


def token_code(stub: StubServer) -> str:
    (request,) = stub.requests
    return request.body.rsplit("TokenCode=", 1)[1]


@pytest.mark.parametrize(
    ("argv", "env", "op_argv"),
    [
        pytest.param(["--op-item-name", "AWS"], {}, ["item", "get", "AWS", "--otp"], id="flag"),
        pytest.param(
            ["--op-item-name", "AWS prod; rm -rf ~", "--op-account", "my.1password.com"],
            {},
            ["item", "get", "AWS prod; rm -rf ~", "--otp", "--account", "my.1password.com"],
            id="flags-with-account-no-shell",
        ),
        pytest.param(
            [],
            {"AWS_MFA_UPDATER_OP_ITEM_NAME": "AWS", "AWS_MFA_UPDATER_OP_ACCOUNT": "team.1password.eu"},
            ["item", "get", "AWS", "--otp", "--account", "team.1password.eu"],
            id="environment",
        ),
        pytest.param(
            ["--op-item-name", "Flag", "--op-account", "flag.1password.com"],
            {"AWS_MFA_UPDATER_OP_ITEM_NAME": "Env", "AWS_MFA_UPDATER_OP_ACCOUNT": "env.1password.com"},
            ["item", "get", "Flag", "--otp", "--account", "flag.1password.com"],
            id="flags-beat-environment",
        ),
    ],
)
def test_code_from_1password(
    session_stub: StubServer,
    home: Home,
    fake_bin: FakeBin,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    env: dict[str, str],
    op_argv: list[str],
) -> None:
    fake_bin("op", f"import json\n{OP_RECORDING}\nprint('246810')")
    monkeypatch.setenv("OP_LOG", str(tmp_path / "op.json"))
    set_env(monkeypatch, env)

    assert run(capsys, *argv) == (0, "", valid_until())

    assert json.loads((tmp_path / "op.json").read_text()) == {"argv": op_argv, "stdin": ""}
    assert token_code(session_stub) == "246810"
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


HANGING_OP = "time.sleep(30)"
OP_FAILURES = [
    # cron and launchd search a short PATH: the message says which.
    pytest.param(None, "1Password: 'op' was not found on PATH={bin}", id="op-missing"),
    pytest.param("", "1Password: cannot run 'op': Permission denied", id="op-not-executable"),
    # op's error format; the time in it is text aws-mfa passes on, compared with no clock.
    pytest.param(
        "sys.stderr.write('[ERROR] 2026/11/28 02:40:00 \"AWS\" isn\\'t an item. Specify the item with its UUID\\n');"
        " sys.exit(1)",
        '1Password failed (exit 1): [ERROR] 2026/11/28 02:40:00 "AWS" isn\'t an item. Specify the item with its UUID',
        id="op-error",
    ),
    pytest.param(
        "sys.stderr.write('[ERROR] ' + 'x' * 400); sys.exit(6)",
        "1Password failed (exit 6): [ERROR] " + "x" * 189 + "...",
        id="op-long-error-shortened",
    ),
    pytest.param("sys.exit(1)", "1Password failed (exit 1): no message", id="op-silent-failure"),
    pytest.param("print('12345')", "1Password gave something that is not a six-digit code", id="op-five-digits"),
    pytest.param("print('')", "1Password gave something that is not a six-digit code", id="op-empty"),
    pytest.param(HANGING_OP, "1Password gave no code within 0.5 s", id="op-hangs"),
]


@pytest.mark.parametrize(("script", "warning"), OP_FAILURES)
def test_1password_failure_warns_and_falls_back_to_stdin(
    session_stub: StubServer,
    home: Home,
    fake_bin: FakeBin,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    script: str | None,
    warning: str,
) -> None:
    if script is not None:
        op = fake_bin("op", script)
        if not script:
            op.chmod(0o644)
    # Only the hanging op waits for the timeout; the others must not, however long a
    # loaded machine takes to start them.
    hangs = script == HANGING_OP
    monkeypatch.setattr(aws_mfa, "DEFAULT_OTP_TIMEOUT", 0.5 if hangs else 30)
    started = time.monotonic()

    result = run(capsys, "--op-item-name", "AWS", stdin="135791\n")

    warning = warning.format(bin=os.environ["PATH"])
    assert result == (0, "", f"aws-mfa: warning: {warning}; asking for the code instead\n{valid_until()}")
    assert token_code(session_stub) == "135791"
    assert time.monotonic() - started < 20


def test_1password_failure_without_any_other_source_is_one_error(
    session_stub: StubServer, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_bin("op", "sys.exit(1)")

    assert run(capsys, "--op-item-name", "AWS") == (
        1,
        "",
        "aws-mfa: warning: 1Password failed (exit 1): no message; asking for the code instead\n"
        "aws-mfa: error: no MFA code: no terminal to ask on and nothing on standard input; pass --code, set "
        "--otp-command, or set the 1Password item with --op-item-name (and --op-account)\n",
    )
    assert session_stub.requests == []


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        pytest.param("", "no MFA code: no terminal", id="empty"),
        pytest.param("\n", "no MFA code: no terminal", id="blank-line"),
        pytest.param("12345\n", "standard input gave something that is not a six-digit code", id="five-digits"),
        pytest.param("1234567\n", "standard input gave something that is not a six-digit code", id="seven-digits"),
        pytest.param("12a456\n", "standard input gave something that is not a six-digit code", id="letter"),
        pytest.param("١٢٣٤٥٦\n", "standard input gave something that is not a six-digit code", id="arabic-digits"),
    ],
)
def test_bad_code_on_stdin_is_refused_before_sts(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str], stdin: str, message: str
) -> None:
    code, out, err = run(capsys, stdin=stdin)

    assert (code, out) == (1, "")
    assert err.startswith(f"aws-mfa: error: {message}")
    assert err.count("\n") == 1
    assert session_stub.requests == []
    assert home.credentials.read_text() == LONG_TERM


def test_closed_stdin_is_no_code(
    session_stub: StubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", None)

    code, out, err = run(capsys)

    assert (code, out) == (1, "")
    assert err.startswith("aws-mfa: error: no MFA code: no terminal")


class Terminal:
    """aws-mfa run as a console script with a real pseudo-terminal as its stdin."""

    def __init__(self, home: Home, *argv: str) -> None:
        self.master, slave = pty.openpty()
        script = Path(sys.executable).with_name("aws-mfa")
        self.process = subprocess.Popen(
            [str(script), *argv], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ)
        )
        os.close(slave)
        self.seen = b""

    def wait_for_prompt(self, count: int) -> None:
        # The prompt goes to stderr, which is a pipe here; the terminal only carries what is typed.
        deadline = time.monotonic() + 20
        assert self.process.stderr is not None
        while self.seen.count(b"MFA code for ") < count:
            assert time.monotonic() < deadline, self.seen
            ready, _, _ = select.select([self.process.stderr], [], [], 0.1)
            if ready:
                self.seen += os.read(self.process.stderr.fileno(), 4096)

    def wait_until_reading(self) -> None:
        """Until aws-mfa is asleep reading the terminal, where a person's Ctrl-C finds it.

        The prompt is written just before the read starts. CPython turns SIGINT into
        KeyboardInterrupt between bytecodes, or when a blocking call fails with EINTR: a
        signal that lands between the prompt and the read (microseconds, longer when the
        loaded machine deschedules aws-mfa in between) is acted on only when the read
        returns, after the next line. A person is not that quick; this harness was.
        """
        wchan = Path(f"/proc/{self.process.pid}/wchan")
        if not wchan.exists():  # no /proc (macOS): give it time instead
            time.sleep(1)
            return
        deadline = time.monotonic() + 20
        # n_tty_read sleeps in wait_woken until a line arrives.
        while wchan.read_text() != "wait_woken":
            assert time.monotonic() < deadline, wchan.read_text()
            time.sleep(0.005)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=20)
        os.close(self.master)
        return self.process.returncode, out.decode(), self.seen.decode() + err.decode()


def test_prompt_on_terminal_asks_again_after_bad_input(session_stub: StubServer, home: Home) -> None:
    terminal = Terminal(home)
    terminal.wait_for_prompt(1)
    terminal.type("12 34\n")
    terminal.wait_for_prompt(2)
    terminal.type("123456\n")

    code, out, err = terminal.finish()

    assert (code, out) == (0, "")
    assert err == (
        f"MFA code for {DEVICE}: aws-mfa: that is not a six-digit code; try again\nMFA code for {DEVICE}: "
        + valid_until()
    )
    assert token_code(session_stub) == "123456"


def test_prompt_gives_up_after_three_bad_codes(session_stub: StubServer, home: Home) -> None:
    terminal = Terminal(home)
    for attempt in range(1, 4):
        terminal.wait_for_prompt(attempt)
        terminal.type("nope\n")

    code, out, err = terminal.finish()

    assert (code, out) == (1, "")
    assert err == (
        f"MFA code for {DEVICE}: aws-mfa: that is not a six-digit code; try again\n" * 3
        + "aws-mfa: error: no six-digit code after 3 tries\n"
    )
    assert session_stub.requests == []
    assert home.credentials.read_text() == LONG_TERM


def test_end_of_input_at_the_prompt_is_no_code(session_stub: StubServer, home: Home) -> None:
    terminal = Terminal(home)
    terminal.wait_for_prompt(1)
    terminal.type("\x04")  # Ctrl-D

    code, out, err = terminal.finish()

    assert (code, out) == (1, "")
    assert err.startswith(f"MFA code for {DEVICE}: aws-mfa: error: no MFA code")


def test_ctrl_c_at_the_prompt_exits_130_and_leaves_the_file(session_stub: StubServer, home: Home) -> None:
    terminal = Terminal(home)
    terminal.wait_for_prompt(1)
    terminal.wait_until_reading()
    terminal.process.send_signal(signal.SIGINT)

    assert terminal.finish() == (130, "", f"MFA code for {DEVICE}: aws-mfa: interrupted\n")
    assert home.credentials.read_text() == LONG_TERM
