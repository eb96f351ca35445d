"""How a run ends: a run that loaded botocore skips the interpreter's teardown, keeping everything else."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import LONG_TERM
from conftest import STUB_KEY
from conftest import STUB_SECRET
from conftest import STUB_TOKEN
from conftest import Home
from conftest import StubServer
from conftest import stub_expiration
from conftest import stub_session
from conftest import valid_until

# aws-mfa as the console script runs it, plus two witnesses: an atexit handler, which must
# still run, and an object whose __del__ only the interpreter's teardown calls. Both write
# with os.write, which works even while the modules are being torn down.
PROGRAM = """
import atexit, os, sys
import aws_mfa

class Witness:
    def __del__(self, write=os.write):
        write(2, b"teardown ran\\n")

witness = Witness()
atexit.register(os.write, 2, b"atexit handler ran\\n")
sys.argv[1:] = {argv!r}
raise SystemExit(aws_mfa.main())
"""


@pytest.fixture(autouse=True)
def buffered_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout block-buffered on a pipe, as users have it: output survives only if it is flushed."""
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)


def run_program(*argv: str) -> subprocess.CompletedProcess[str]:
    program = PROGRAM.format(argv=list(argv))
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)


def test_refresh_ends_without_teardown_after_atexit_handlers(session_stub: StubServer, home: Home) -> None:
    result = run_program("-f", "--code", "123456")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", f"{valid_until()}atexit handler ran\n")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert sorted(path.name for path in home.credentials.parent.iterdir()) == [
        "credentials",
        "credentials.aws-mfa.lock",
    ]


def test_credential_process_output_is_complete_on_a_pipe(session_stub: StubServer, home: Home) -> None:
    result = run_program("--credential-process", "--code", "123456")

    assert (result.returncode, result.stderr) == (0, "atexit handler ran\n")
    assert json.loads(result.stdout) == {
        "Version": 1,
        "AccessKeyId": STUB_KEY,
        "SecretAccessKey": STUB_SECRET,
        "SessionToken": STUB_TOKEN,
        "Expiration": stub_expiration(),
    }
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_sts_error_keeps_its_exit_code_and_message(stub: StubServer, home: Home) -> None:
    stub.sts_error("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
    home.credentials.write_text(LONG_TERM)

    result = run_program("--code", "123456")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "aws-mfa: error: STS rejected the MFA code (wrong, expired or already used); wait for the next code "
        "and run again\natexit handler ran\n"
    )
    assert home.credentials.read_text() == LONG_TERM


def test_closed_stdout_is_one_error_as_on_the_skip_path(session_stub: StubServer, home: Home) -> None:
    script = Path(sys.executable).with_name("aws-mfa")

    def with_stdout_closed(*argv: str) -> tuple[int, str]:
        process = subprocess.Popen([str(script), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        process.stdout.close()  # the reader is gone before aws-mfa writes
        _, err = process.communicate()
        return process.returncode, err

    refreshed = with_stdout_closed("--env", "-f", "--code", "123456")
    expiration = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    home.credentials.write_text(f"{LONG_TERM}\n[default]\n{stub_session().replace(stub_expiration(), expiration)}")
    skipped = with_stdout_closed("--env")

    assert refreshed == skipped == (1, "aws-mfa: error: cannot write to standard output: Broken pipe\n")


# Runs a command as a child reaper (PR_SET_CHILD_SUBREAPER), so the processes the command
# leaves behind become its children: reads the command's output to the end, then describes
# each such process still alive, then waits up to 10 s for every one of them and gives their
# exit codes. If the command's output is a memory address, what is there in each process.
REAPER = """
import ctypes, json, os, signal, subprocess, sys, time
assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
command = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
out, err = command.communicate()
left = []
for name in os.listdir("/proc"):
    try:
        with open(f"/proc/{name}/status") as file:
            fields = dict(line.split(":", 1) for line in file.read().splitlines())
        if int(fields["PPid"]) != os.getpid() or fields["State"].split()[0] == "Z":
            continue
        seen = {
            "files": os.listdir(f"/proc/{name}/fd"),
            "directory": os.readlink(f"/proc/{name}/cwd"),
            "blocked": int(fields["SigBlk"], 16),
            "ignored": int(fields["SigIgn"], 16),
            "memory_kib": int(fields["VmRSS"].split()[0]),
        }
        if out.strip().isdigit():
            try:
                with open(f"/proc/{name}/mem", "rb") as memory:
                    memory.seek(int(out))
                    seen["at_address"] = memory.read(6).decode()
            except OSError as error:  # Yama's ptrace_scope 2 or more, without root
                seen["at_address"] = f"unreadable: {error.strerror}"
        left.append(seen)
    except (OSError, ValueError, KeyError):
        continue  # not a process, or one that has just ended
ended = []
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid:
        ended.append(os.waitstatus_to_exitcode(status))
    else:
        time.sleep(0.01)
else:
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as file:
                if int(file.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                    os.kill(int(name), signal.SIGKILL)
                    ended.append("still running after 10 s")
        except (OSError, ValueError, IndexError):
            continue
print(json.dumps({"code": command.returncode, "out": out, "err": err, "left": left, "ended": ended}))
"""

# Every signal sent from outside that a process can block: all but SIGKILL and SIGSTOP,
# which no mask holds off, and those a fault raises (SIGILL, SIGTRAP, SIGABRT, SIGBUS,
# SIGFPE, SIGSEGV, SIGSYS), which aws-mfa leaves unblocked.
BLOCKABLE = sum(1 << (number - 1) for number in range(1, 32) if number not in (9, 19, 4, 5, 6, 7, 8, 11, 31))
FAULTS = sum(1 << (number - 1) for number in (4, 5, 6, 7, 8, 11, 31))
# Signals sent from outside that end a process unless ignored.
FROM_OUTSIDE = sum(1 << (number - 1) for number in (1, 2, 3, 13, 14, 15, 10, 12, 20, 21, 22))
ON_LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the memory holder is Linux's clone()")
# Under a seccomp filter (a container's, say) aws-mfa rightly starts no holder: nothing to see.
WITH_HOLDER = pytest.mark.skipif(
    not sys.platform.startswith("linux") or "Seccomp:\t0\n" not in Path("/proc/self/status").read_text(),
    reason="the memory holder is Linux's clone(), and not started under a seccomp filter",
)


def run_reaped(program: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", REAPER, sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    reaped: dict[str, Any] = json.loads(result.stdout)
    return reaped


def process_state(pid: str) -> str | None:
    """A process's state letter from /proc (Z: a zombie); None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def holder_seen(program: str) -> dict[str, Any]:
    """A run of program whose holder was seen alive: it sleeps 0.2 s, and on a machine so
    loaded that the reaper reads /proc only after that, it is gone; hence a few tries."""
    for _ in range(5):
        reaped = run_reaped(program)
        if reaped["left"]:
            return reaped
    raise AssertionError(f"no process left behind alive in 5 runs; the last: {reaped}")


@WITH_HOLDER
def test_memory_is_freed_after_the_exit_by_a_holder_with_no_file_open(session_stub: StubServer, home: Home) -> None:
    reaped = holder_seen(PROGRAM.format(argv=["--env", "-f", "--code", "123456"]))

    assert (reaped["code"], reaped["out"], reaped["err"]) == (
        0,
        f"export AWS_ACCESS_KEY_ID={STUB_KEY}\nexport AWS_SECRET_ACCESS_KEY={STUB_SECRET}\n"
        f"export AWS_SESSION_TOKEN={STUB_TOKEN}\nexport AWS_SECURITY_TOKEN={STUB_TOKEN}\n"
        f"export AWS_CREDENTIAL_EXPIRATION={stub_expiration()}\n",
        "atexit handler ran\n",
    )
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    [holder] = reaped["left"]
    # No pipe kept open ($(aws-mfa --env) returned before the holder ended), no directory in
    # use, no signal acted on, and the run's memory, botocore's included, still in use. It
    # ends on its own, with status 0.
    assert (holder["files"], holder["directory"]) == ([], "/")
    assert (holder["blocked"] & BLOCKABLE, holder["blocked"] & FAULTS) == (BLOCKABLE, 0)
    assert holder["ignored"] & FROM_OUTSIDE == FROM_OUTSIDE
    assert holder["memory_kib"] > 20 * 1024
    assert reaped["ended"] == [0]


@WITH_HOLDER
def test_the_holder_shares_the_memory_of_the_run() -> None:
    # A byte string the process changes after starting the holder: the holder sees the
    # change only if the memory is one and the same, not a copy.
    program = """
import ctypes, os, aws_mfa
hand_over = aws_mfa._memory_holder()
marker = ctypes.create_string_buffer(b"before", 8)
print(ctypes.addressof(marker), flush=True)
hand_over()
ctypes.memmove(marker, b"after!", 6)
os._exit(0)
"""
    reaped = holder_seen(program)

    assert [holder["at_address"] for holder in reaped["left"]] == ["after!"]
    assert reaped["ended"] == [0]


@ON_LINUX
def test_signals_after_the_work_change_nothing(session_stub: StubServer, home: Home) -> None:
    # Ctrl-C and a SIGTERM arriving once the output is out, while the exit prepares the
    # holder (with --code it imports ctypes only then): the run still ends as it would.
    late_signals = """
import os, signal, aws_mfa
prepare = aws_mfa._memory_holder
def signalled():
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    return prepare()
aws_mfa._memory_holder = signalled
"""
    reaped = run_reaped(late_signals + PROGRAM.format(argv=["-f", "--code", "123456"]))

    assert (reaped["code"], reaped["out"], reaped["err"]) == (0, "", f"{valid_until()}atexit handler ran\n")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


@WITH_HOLDER
@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh to start the run in the background")
def test_no_holder_when_it_would_be_left_to_pid_1(session_stub: StubServer, home: Home) -> None:
    # A run whose parent is gone, so that it is PID 1's child, as an application's in a
    # container is: PID 1 would get the holder too, and may never reap it. A process started
    # by a shell in the background that ends at once, which waits until it is PID 1's.
    token = f"aws-mfa-test-{uuid.uuid4()}"  # names this test's processes among the machine's
    orphan = """
import os, sys, time
while os.getppid() == int(os.environ["SHELL_PID"]):
    time.sleep(0.005)
print(os.getpid(), os.getppid(), file=sys.stderr, flush=True)
"""
    shell = subprocess.Popen(
        [
            "sh",
            "-c",
            'SHELL_PID=$$ "$@" &',
            "sh",
            sys.executable,
            "-c",
            f"# {token}{orphan}{PROGRAM.format(argv=['-f', '--code', '123456'])}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = shell.communicate(timeout=60)  # to the end: the run closes both pipes as it ends
    pid, parent = err.splitlines()[0].split()
    if parent != "1":
        pytest.skip(f"an ancestor reaps orphans here (PID {parent}), so no run is PID 1's child")
    for _ in range(10000):  # until the run has ended (a zombie until init reaps it), which a holder outlives
        if process_state(pid) in (None, "Z"):
            break
        time.sleep(0.001)
    # Whatever is still alive and runs the same program: a holder shares the run's command line.
    alive = []
    for name in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if token in Path(f"/proc/{name}/cmdline").read_text() and process_state(name) not in (None, "Z"):
                alive.append(int(name))

    assert (shell.returncode, out, err.splitlines()[1:]) == (0, "", [*valid_until().splitlines(), "atexit handler ran"])
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert alive == []


@ON_LINUX
def test_no_holder_under_a_seccomp_filter(session_stub: StubServer, home: Home) -> None:
    # A filter that allows every call; another could kill the process for calling clone().
    filtered = """
import ctypes
class Instruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]
class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]
allow = (Instruction * 1)(Instruction(0x06, 0, 0, 0x7FFF0000))  # BPF_RET | BPF_K: SECCOMP_RET_ALLOW
libc = ctypes.CDLL(None)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(Program(1, allow)), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
assert "Seccomp:\t2" in open("/proc/self/status").read()
import aws_mfa
assert aws_mfa._memory_holder() is None  # prepared ahead, as a refresh does while the code is typed
"""

    reaped = run_reaped(filtered + PROGRAM.format(argv=["-f", "--code", "123456"]))

    assert (reaped["code"], reaped["out"], reaped["err"]) == (0, "", f"{valid_until()}atexit handler ran\n")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert (reaped["left"], reaped["ended"]) == ([], [])


@ON_LINUX
def test_without_clone_the_run_frees_its_memory_itself(session_stub: StubServer, home: Home) -> None:
    # A C library without clone(), as ctypes would find it.
    without_clone = """
import ctypes
found = ctypes.CDLL.__getattr__
def lookup(library, name):
    if name == "clone":
        raise AttributeError(name)
    return found(library, name)
ctypes.CDLL.__getattr__ = lookup
import aws_mfa
assert aws_mfa._memory_holder() is None  # prepared ahead, as a refresh does while the code is typed
"""

    reaped = run_reaped(without_clone + PROGRAM.format(argv=["-f", "--code", "123456"]))

    assert (reaped["code"], reaped["out"], reaped["err"]) == (0, "", f"{valid_until()}atexit handler ran\n")
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    assert (reaped["left"], reaped["ended"]) == ([], [])


def test_paths_without_botocore_end_as_usual(home: Home) -> None:
    home.credentials.write_text(LONG_TERM)

    reaped = run_reaped(PROGRAM.format(argv=["--status"]))

    assert (reaped["code"], reaped["out"], reaped["err"]) == (
        1,
        "[default] has no session\n",
        "atexit handler ran\nteardown ran\n",
    )
    assert (reaped["left"], reaped["ended"]) == ([], [])
