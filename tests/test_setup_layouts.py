"""--setup and --clear on the layouts a hostile review found: what the user recorded is used, never advised away."""

from __future__ import annotations

import pytest
from conftest import DEVICE
from conftest import LONG_KEY
from conftest import LONG_SECRET
from conftest import Home
from conftest import StubServer
from conftest import stub_session
from conftest import valid_until
from test_modes import mfa_devices
from test_modes import params
from test_refresh import run
from test_setup import KEYS
from test_setup import NEXT
from test_setup import moved
from test_setup import sts_stub  # noqa: F401 (a fixture)

OTHER_DEVICE = "arn:aws:iam::123456789012:mfa/not-this-one"


# --- 13: a device already recorded in [PROFILE] is the one used ------------------------------


@pytest.mark.parametrize("key", ["mfa_serial", "aws_mfa_device"])
def test_setup_takes_the_device_recorded_in_the_profile_and_asks_no_iam(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    key: str,
) -> None:
    home.credentials.write_text(f"[default]\n{KEYS}{key} = {DEVICE}\n")
    sts_stub.actions["ListMFADevices"] = mfa_devices(OTHER_DEVICE)
    after = f"[default-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[default]\n{key} = {DEVICE}\n"

    # difflib pairs the device line of [default] with the new one when both are aws_mfa_device.
    tail = (
        f"+aws_mfa_device = {DEVICE}\n+\n+[default]\n {key} = {DEVICE}\n"
        if key == "mfa_serial"
        else f" aws_mfa_device = {DEVICE}\n+\n+[default]\n+aws_mfa_device = {DEVICE}\n"
    )
    assert run(capsys, "--setup", "--dry-run") == (
        0,
        f"--- {home.credentials}\n+++ {home.credentials} after aws-mfa --setup\n@@ -1,4 +1,7 @@\n-[default]\n"
        f"+[default-long-term]\n aws_access_key_id = {LONG_KEY}\n aws_secret_access_key = ****\n{tail}",
        "",
    )
    assert run(capsys, "--setup") == (0, "", moved(home.credentials) + NEXT)

    assert home.credentials.read_text() == after
    assert sts_stub.requests == []
    assert run(capsys, "-t", "123456") == (0, "", valid_until())
    (request,) = sts_stub.requests
    assert params(request.body)["SerialNumber"] == DEVICE
    assert home.credentials.read_text() == f"{after}{stub_session()}"


@pytest.mark.parametrize("key", ["mfa_serial", "aws_mfa_device"])
def test_refresh_list_and_dry_run_take_the_device_recorded_in_the_short_term_profile(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    key: str,
) -> None:
    # botocore reads a credentials section as part of the profile of that name: mfa_serial there
    # is the profile's mfa_serial, as it would be in the config file.
    before = f"[default-long-term]\n{KEYS}\n[default]\n{key} = {DEVICE}\n"
    home.credentials.write_text(before)
    sts_stub.actions["ListMFADevices"] = mfa_devices(OTHER_DEVICE)

    assert run(capsys, "--list") == (
        0,
        f"default: keys in [default-long-term] of {home.credentials}; device {DEVICE}; session none\n",
        "",
    )
    code, out, err = run(capsys, "--dry-run")
    assert (code, err) == (0, "")
    assert f"MFA device: {DEVICE} ({key} in [default])\n" in out
    assert run(capsys, "-t", "123456") == (0, "", valid_until())
    (request,) = sts_stub.requests
    assert params(request.body)["Action"] == "GetSessionToken"
    assert params(request.body)["SerialNumber"] == DEVICE
    assert home.credentials.read_text() == f"{before}{stub_session()}"


def test_the_long_term_profiles_device_wins_over_the_short_term_profiles(
    home: Home,
    sts_stub: StubServer,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = f"[default-long-term]\n{KEYS}aws_mfa_device = {DEVICE}\n\n[default]\nmfa_serial = {OTHER_DEVICE}\n"
    home.credentials.write_text(before)

    assert run(capsys, "-t", "123456") == (0, "", valid_until())
    (request,) = sts_stub.requests
    assert params(request.body)["SerialNumber"] == DEVICE
    assert LONG_SECRET in home.credentials.read_text()
