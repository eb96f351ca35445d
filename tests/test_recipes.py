"""USAGE.md's recipes, as written: cron, systemd and launchd with their minimal PATH; credential_process
under the real `aws` CLI; the role chained on the session under botocore."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import plistlib
import re
import select
import shlex
import shutil
import subprocess
import sys
import termios
import urllib.parse
from pathlib import Path

import pytest
from conftest import LONG_TERM
from conftest import STUB_KEY
from conftest import STUB_TOKEN
from conftest import Answer
from conftest import Home
from conftest import StubServer
from conftest import clock_env
from conftest import stub_session
from conftest import valid_until
from test_refresh import run

ROOT = Path(__file__).resolve().parent.parent
USAGE = (ROOT / "USAGE.md").read_text()
README = (ROOT / "README.md").read_text()
WORK_LONG_TERM = """[work-long-term]
aws_access_key_id = AKIAEXAMPLEWORK00001
aws_secret_access_key = work/secret/0000000000000000000000000000
aws_mfa_device = arn:aws:iam::210987654321:mfa/alice-work
"""
NO_CODE = (
    "aws-mfa: error: no MFA code: no terminal to ask on and nothing on standard input; pass --code, set "
    "--otp-command, or set the 1Password item with --op-item-name (and --op-account)\n"
)
IDENTITY = {"UserId": "AIDAEXAMPLEUSER00001", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/alice"}
IDENTITY_XML = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    f"<Arn>{IDENTITY['Arn']}</Arn><UserId>{IDENTITY['UserId']}</UserId><Account>{IDENTITY['Account']}</Account>"
    "</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
    "</GetCallerIdentityResponse>"
)


def blocks(language: str, containing: str, text: str = USAGE) -> list[str]:
    """USAGE.md's fenced code blocks of one language that contain a text."""
    return [block for block in re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL) if containing in block]


def find_aws_cli() -> str | None:
    """The `aws` CLI: $TEST_AWS_CLI (`make test` builds one in .venv-awscli), else the one on PATH."""
    found = os.environ.get("TEST_AWS_CLI") or shutil.which("aws")
    if found and "/shims/" in found:  # a pyenv shim needs pyenv's environment: use what it points to
        found = subprocess.run(["pyenv", "which", "aws"], capture_output=True, text=True, check=False).stdout.strip()
    return found or None


AWS_CLI = find_aws_cli()


@pytest.fixture
def user_bin(home: Home) -> Path:
    """~/.local/bin as pipx leaves it: aws-mfa there (the other programs go there as tests need them)."""
    directory = home.path / ".local" / "bin"
    directory.mkdir(parents=True)
    (directory / "aws-mfa").symlink_to(Path(sys.executable).with_name("aws-mfa"))
    return directory


def program(directory: Path, name: str, body: str) -> None:
    """A small executable: the interpreter by its absolute path, so no PATH is needed to start it."""
    script = directory / name
    script.write_text(f"#!{sys.executable}\nimport os, sys, time\n{body}\n")
    script.chmod(0o755)


def scheduler_env(home: Home, path: str, sts_url: str) -> dict[str, str]:
    """What a scheduler gives (env -i, HOME, a minimal PATH), plus the suite's network guards."""
    return {
        "HOME": str(home.path),
        "LOGNAME": "alice",
        "SHELL": "/bin/sh",
        "PATH": path,
        # Not the scheduler's: STS is the stub on 127.0.0.1 and no metadata service is asked.
        "AWS_ENDPOINT_URL_STS": sts_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        **clock_env(),
    }


def run_detached(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """As a scheduler runs a job: no terminal (a new session), stdin closed."""
    process = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, start_new_session=True, timeout=60
    )
    return process.returncode, process.stdout, process.stderr


def token_codes(stub: StubServer) -> list[str]:
    return [dict(urllib.parse.parse_qsl(request.body)).get("TokenCode", "") for request in stub.requests]


# --- cron, systemd, launchd ---------------------------------------------------------------


def cron_commands(text: str = USAGE) -> list[str]:
    lines = [line for block in blocks("cron", "aws-mfa", text) for line in block.splitlines() if line.strip()]
    return [line.split(None, 5)[5] for line in lines]


def systemd_command(home: Home) -> tuple[list[str], dict[str, str]]:
    (unit,) = blocks("ini", "ExecStart=")
    lines = dict(line.split("=", 1) for line in unit.replace("%h", str(home.path)).splitlines() if "=" in line)
    name, value = lines["Environment"].split("=", 1)
    return shlex.split(lines["ExecStart"]), {name: value}


def launchd_command(home: Home) -> tuple[list[str], dict[str, str]]:
    (plist,) = blocks("xml", "ProgramArguments")
    # launchd expands nothing: USAGE.md writes alice's home out, the test puts its own there.
    job = plistlib.loads(plist.replace("/Users/alice", str(home.path)).encode())
    return job["ProgramArguments"], job["EnvironmentVariables"]


def test_usage_has_the_recipes() -> None:
    assert len(cron_commands()) == 2
    assert len(blocks("ini", "ExecStart=")) == len(blocks("xml", "ProgramArguments")) == 1


def test_readme_cron_line_is_the_one_the_tests_run() -> None:
    # The README shows USAGE.md's first cron line, which test_cron_recipe_with_crons_path runs.
    assert cron_commands(README) == cron_commands()[:1]


def test_every_command_block_is_run_or_marked() -> None:
    # Each sh block of USAGE.md is run by a test or says it is not: the --setup lines by
    # tests/test_setup.py (through main()), the --env line's shape by test_usage_env_recipe_sees_a_failure.
    marked = "# example; not run by the tests"
    unmarked = [block for block in blocks("sh", "", USAGE) if marked not in block]
    assert [block.splitlines()[0] for block in unmarked] == [
        "aws-mfa --setup --dry-run     # the change as a diff, secrets masked; nothing written",
        'creds=$(aws-mfa --env) && eval "$creds"',
    ]


@pytest.mark.parametrize("line", [0, 1], ids=["cron-pass", "cron-1password"])
def test_cron_recipe_with_crons_path(session_stub: StubServer, home: Home, user_bin: Path, line: int) -> None:
    program(user_bin, "pass", "assert sys.argv[1:] == ['otp', 'aws']\nprint('111111')")
    program(user_bin, "op", "assert sys.argv[1:] == ['item', 'get', 'AWS-work', '--otp']\nprint('222222')")
    home.credentials.write_text(f"{LONG_TERM}\n{WORK_LONG_TERM}")

    result = run_detached(
        ["/bin/sh", "-c", cron_commands()[line]], scheduler_env(home, "/usr/bin:/bin", session_stub.url)
    )

    profile = ("default", "work")[line]
    assert result == (0, "", "")
    assert token_codes(session_stub) == [("111111", "222222")[line]]
    assert home.credentials.read_text() == f"{LONG_TERM}\n{WORK_LONG_TERM}\n[{profile}]\n{stub_session()}"


def test_cron_recipe_names_the_path_it_searched(session_stub: StubServer, home: Home, user_bin: Path) -> None:
    # pass is not installed anywhere on the recipe's PATH.
    result = run_detached(["/bin/sh", "-c", cron_commands()[0]], scheduler_env(home, "/usr/bin:/bin", session_stub.url))

    searched = f"{home.path}/.local/bin:/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin"
    assert result == (
        1,
        "",
        f"aws-mfa: warning: the OTP command: 'pass' was not found on PATH={searched}; asking for the code instead\n"
        + NO_CODE,
    )
    assert (session_stub.requests, home.credentials.read_text()) == ([], LONG_TERM)


def test_without_the_recipes_path_the_message_names_crons(session_stub: StubServer, home: Home, user_bin: Path) -> None:
    program(user_bin, "ykman", "print('111111')")
    argv = [str(user_bin / "aws-mfa"), "-q", "--otp-command", "ykman oath accounts code -s aws"]

    result = run_detached(argv, scheduler_env(home, "/usr/bin:/bin", session_stub.url))

    assert result == (
        1,
        "",
        "aws-mfa: warning: the OTP command: 'ykman' was not found on PATH=/usr/bin:/bin; asking for the code "
        "instead\n" + NO_CODE,
    )


def test_systemd_recipe_with_its_environment(session_stub: StubServer, home: Home, user_bin: Path) -> None:
    program(user_bin, "ykman", "print('333333')")
    argv, environment = systemd_command(home)

    result = run_detached(argv, {**scheduler_env(home, "/usr/bin:/bin", session_stub.url), **environment})

    assert result == (0, "", "")
    assert token_codes(session_stub) == ["333333"]
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


def test_launchd_recipe_with_its_environment(session_stub: StubServer, home: Home, user_bin: Path) -> None:
    # 1Password's `op` from Homebrew lives in /opt/homebrew/bin; the test cannot write there,
    # so it stands in ~/.local/bin, which the recipe's PATH also names.
    program(user_bin, "op", "assert sys.argv[1:] == ['item', 'get', 'AWS', '--otp']\nprint('444444')")
    argv, environment = launchd_command(home)
    launchd_path = "/usr/bin:/bin:/usr/sbin:/sbin"

    result = run_detached(argv, {**scheduler_env(home, launchd_path, session_stub.url), **environment})

    assert result == (0, "", "")
    assert token_codes(session_stub) == ["444444"]
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"


# --- credential_process under the aws CLI ---------------------------------------------------


@pytest.fixture
def aws_cli() -> str:
    if AWS_CLI is None:
        pytest.fail("the `aws` CLI is needed: `make test` builds .venv-awscli, or set TEST_AWS_CLI")
    return AWS_CLI


@pytest.fixture
def sdk_home(session_stub: StubServer, home: Home, user_bin: Path) -> dict[str, str]:
    """USAGE.md's credential_process profile in ~/.aws/config, and the environment to run `aws` in."""
    (recipe,) = blocks("ini", "aws-mfa --credential-process")
    # USAGE.md writes alice's absolute path (the SDK expands no ~); the test's home stands there.
    home.config.write_text(recipe.replace("/home/alice", str(home.path)))
    session_stub.actions["GetCallerIdentity"] = Answer(200, IDENTITY_XML)
    # coverage's own variables, so that aws-mfa run by the aws CLI is measured like any subprocess.
    measured = {name: value for name, value in os.environ.items() if name.startswith("COVERAGE_")}
    return {
        **measured,
        **clock_env(),
        "HOME": str(home.path),
        "PATH": f"{user_bin}:/usr/bin:/bin",
        "AWS_PROFILE": "mfa",
        "AWS_ENDPOINT_URL_STS": session_stub.url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def check_identity_call(stub: StubServer) -> None:
    call = stub.requests[-1]
    assert dict(urllib.parse.parse_qsl(call.body))["Action"] == "GetCallerIdentity"
    assert f"Credential={STUB_KEY}/" in call.headers["Authorization"]
    assert call.headers["X-Amz-Security-Token"] == STUB_TOKEN


def test_credential_process_recipe_under_the_aws_cli(
    session_stub: StubServer, home: Home, user_bin: Path, sdk_home: dict[str, str], aws_cli: str
) -> None:
    program(user_bin, "ykman", "print('555555')")

    first = run_detached([aws_cli, "sts", "get-caller-identity"], sdk_home)
    again = run_detached([aws_cli, "sts", "get-caller-identity"], sdk_home)

    assert first == again == (0, json.dumps(IDENTITY, indent=4) + "\n", "")
    # AWS_PROFILE=mfa named the SDK's profile; aws-mfa wrote [default] once, then kept it.
    assert token_codes(session_stub) == ["555555", "", ""]
    assert home.credentials.read_text() == f"{LONG_TERM}\n[default]\n{stub_session()}"
    check_identity_call(session_stub)


def test_credential_process_failure_shows_under_the_aws_cli(
    session_stub: StubServer, home: Home, user_bin: Path, sdk_home: dict[str, str], aws_cli: str
) -> None:
    # No ykman, no terminal: the error reaches the person through the aws CLI's message.
    code, out, err = run_detached([aws_cli, "sts", "get-caller-identity"], sdk_home)

    assert (code, out) == (255, "")
    assert f"'ykman' was not found on PATH={user_bin}:/usr/bin:/bin" in err
    assert NO_CODE.strip() in err
    assert home.credentials.read_text() == LONG_TERM


def test_waiting_notice_reaches_the_terminal_while_the_aws_cli_captures_stderr(
    session_stub: StubServer, home: Home, user_bin: Path, sdk_home: dict[str, str], aws_cli: str
) -> None:
    # A YubiKey waiting for its touch: ykman takes a while.
    program(user_bin, "ykman", "time.sleep(1.5)\nprint('666666')")
    master, terminal = os.openpty()

    def controlling_terminal() -> None:  # as a login shell has it: a new session, the pty as its terminal
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [aws_cli, "sts", "get-caller-identity"],
        env=sdk_home,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        preexec_fn=controlling_terminal,  # only setsid and an ioctl: safe beside the stub's threads
    )
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, "the aws CLI printed nothing for 60 s"
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every holder of the terminal has closed it
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)

    assert process.wait(30) == 0
    assert shown.decode() == (
        "aws-mfa: waiting for the OTP command (approve the request if it asks)...\n"
        + json.dumps(IDENTITY, indent=4)
        + "\n"
    ).replace("\n", "\r\n")
    assert token_codes(session_stub) == ["666666", ""]
    check_identity_call(session_stub)


# Holds the terminal's foreground (a shell's place) and runs its arguments as a background job.
BACKGROUND_JOB = """
import os, signal, subprocess, sys
job = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=os.setpgrp)
os.set_blocking(job.stdout.fileno(), False)
_, status = os.waitpid(job.pid, os.WUNTRACED)
if os.WIFSTOPPED(status):
    os.killpg(job.pid, signal.SIGKILL)
    sys.exit(f"stopped by signal {os.WSTOPSIG(status)}")
sys.stdout.write(job.stdout.read().decode())
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_background_job_is_not_stopped_for_a_notice(
    session_stub: StubServer, home: Home, user_bin: Path, sdk_home: dict[str, str], aws_cli: str
) -> None:
    # `aws sts get-caller-identity > out &` under `stty tostop`: a write to the terminal from
    # the background would stop the job (SIGTTOU) until someone brings it to the foreground.
    program(user_bin, "ykman", "time.sleep(1.5)\nprint('666666')")
    master, terminal = os.openpty()
    attributes = termios.tcgetattr(terminal)
    attributes[3] |= termios.TOSTOP
    termios.tcsetattr(terminal, termios.TCSANOW, attributes)

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    shell = subprocess.run(
        [sys.executable, "-c", BACKGROUND_JOB, aws_cli, "sts", "get-caller-identity"],
        env=sdk_home,
        stdin=terminal,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=controlling_terminal,
        check=False,
    )
    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once every holder of the terminal has closed it
        while select.select([master], [], [], 0)[0] and (chunk := os.read(master, 65536)):
            shown += chunk
    os.close(master)

    assert (shell.returncode, shell.stderr) == (0, "")
    assert json.loads(shell.stdout) == IDENTITY
    assert shown == b""  # the notice was not for a job in the background
    assert token_codes(session_stub) == ["666666", ""]


# --- one MFA session, many roles -------------------------------------------------------------


def test_role_recipe_assumes_each_role_with_the_session(
    session_stub: StubServer, home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    (recipe,) = blocks("ini", "source_profile")
    home.config.write_text(recipe)
    assert run(capsys, "-t", "123456") == (0, "", valid_until())
    session_stub.sts_session("ASIAROLE000000000001", "role/secret/0000000000", "ROLETOKEN", action="AssumeRole")

    for profile, role in (
        ("prod", "arn:aws:iam::123456789012:role/admin"),
        ("staging", "arn:aws:iam::210987654321:role/deploy"),
    ):
        credentials = boto3.Session(profile_name=profile).get_credentials()  # the region from the recipe
        assert credentials is not None
        assert credentials.get_frozen_credentials().token == "ROLETOKEN"
        assume = session_stub.requests[-1]
        sent = dict(urllib.parse.parse_qsl(assume.body))
        assert (sent["Action"], sent["RoleArn"], "SerialNumber" in sent) == ("AssumeRole", role, False)
        # Signed by the session aws-mfa wrote into [default], not by the long-term keys.
        assert f"Credential={STUB_KEY}/" in assume.headers["Authorization"]
        assert assume.headers["X-Amz-Security-Token"] == STUB_TOKEN
    assert len(session_stub.requests) == 3  # one GetSessionToken (one code), one AssumeRole per role
