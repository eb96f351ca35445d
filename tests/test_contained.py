"""Every run is contained: no chain of nested runs, no helper left running, bounded reads, and a
failed or stopped run leaves HOME, the credentials file and the output as a person expects."""

from __future__ import annotations

import sys
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
from conftest import Home
from conftest import StubServer
from conftest import as_shown
from conftest import expires_in
from test_refresh import run

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
    session = (
        "aws_access_key_id = ASIAOLDSESSION000000\naws_secret_access_key = oldsecret\n"
        f"aws_session_token = oldtoken\nexpiration = {expiration}\n"
    )
    credentials = f"{LONG_TERM}[default]\n{session}"
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
