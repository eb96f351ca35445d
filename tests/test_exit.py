"""How a run ends: cli() skips the interpreter's teardown after botocore was loaded, keeping everything else."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

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
aws_mfa.cli()
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


def test_paths_without_botocore_end_as_usual(home: Home) -> None:
    home.credentials.write_text(LONG_TERM)

    result = run_program("--status")

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "[default] has no session\n",
        "atexit handler ran\nteardown ran\n",
    )
