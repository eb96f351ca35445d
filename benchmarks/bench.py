"""`make bench`: aws-mfa's start-up and refresh times against their targets, on loopback only.

Builds a venv with a plain (not editable) install of the project, as pipx gives users, starts
a stub STS on 127.0.0.1, and runs every case many times, interleaved, timing each run and
reading its peak memory from wait4(). Prints medians and ratios; exits 1 if a target is
missed. `--with-peer` also installs broamski/aws-mfa 0.0.12 into its own venv (with this
venv's boto3) and times the same refresh with it.
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"
LONG_TERM = (
    "[default-long-term]\naws_access_key_id = AKIAEXAMPLELONGTERM1\naws_secret_access_key = secret\n"
    "aws_mfa_device = arn:aws:iam::123456789012:mfa/alice\n"
)
OP_DELAY = 0.3
# A key program (credential_process) and an OTP program that take this long each.
PROGRAM_DELAY = 1.5
# A config file as someone with several accounts keeps it: per-profile aws-mfa settings.
CONFIG = (
    "".join(
        f"[profile {name}]\nregion = eu-west-1\noutput = json\n"
        f"aws_mfa_otp_command = ykman oath accounts code -s {name}\n"
        "aws_mfa_duration = 8h\naws_mfa_min_remaining = 30m\n\n"
        for name in ("default", "work", "prod", "staging", "sandbox", "audit")
    )
    + "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = default\n"
)


class Target(NamedTuple):
    name: str
    value: float
    limit: float | None  # None: reported, no target
    unit: str = ""


def answer_sts() -> http.server.ThreadingHTTPServer:
    """A stub STS that answers every request with a 12-hour session."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            expiration = (datetime.now(timezone.utc) + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = (
                '<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetSessionTokenResult>'
                "<Credentials><AccessKeyId>ASIABENCHSESSION0001</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
                f"<SessionToken>token</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
                "</GetSessionTokenResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                "</GetSessionTokenResponse>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def make_venv(path: Path, *packages: str) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages], check=True
    )
    return path / "bin"


def home_with(credentials: str, config: str = "") -> str:
    home = tempfile.mkdtemp(dir=WORK)
    Path(home, ".aws").mkdir()
    Path(home, ".aws", "credentials").write_text(credentials)
    if config:
        Path(home, ".aws", "config").write_text(config)
    return home


def valid_session(profile: str = "default") -> str:
    expiration = (datetime.now(timezone.utc) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"[{profile}]\naws_access_key_id = ASIAOLDSESSION000001\naws_secret_access_key = s\n"
        f"aws_session_token = t\nexpiration = {expiration}\n"
    )


def cpu_ticks(pid: int) -> int | None:
    """The process's user + system CPU time in clock ticks, from /proc; None without /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def wait_until_idle(pid: int) -> None:
    """Until the process has used no CPU for 60 ms: its imports are done and it waits for input."""
    time.sleep(0.2)
    last, idle = cpu_ticks(pid), 0
    if last is None:  # no /proc: a delay longer than the import takes
        time.sleep(2.0)
        return
    while idle < 3:
        time.sleep(0.02)
        now = cpu_ticks(pid)
        idle, last = (idle + 1 if now == last else 0), now


def after_code(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from the code reaching stdin to the process's exit, started long before."""
    process = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until_idle(process.pid)
    started = time.perf_counter()
    _, err = process.communicate(b"123456\n")
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}): {err.decode()}")
    return elapsed


def teardown(argv: list[str], env: dict[str, str], last_line: bytes) -> float:
    """Seconds from the program's last message on stderr (its work done) to its exit."""
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stderr is not None
    err = b""
    while line := process.stderr.readline():
        err += line
        if last_line in line:
            break
    finished = time.perf_counter()
    process.communicate()
    elapsed = time.perf_counter() - finished
    if process.returncode != 0 or last_line not in err:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}): {err.decode()}")
    return elapsed


def run_once(argv: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    started = time.perf_counter()
    process = subprocess.run(
        argv, env=env, input=stdin.encode() if stdin is not None else None, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}): {process.stderr.decode()}")
    return elapsed


# Peak memory comes from wait4() in a small helper process: a child forked from this one
# (which has boto3 loaded) would report this process's size as its own peak.
PEAK_RSS = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(os.wait4(child.pid, 0)[2].ru_maxrss)
"""


# A process holding a botocore client that ends by os._exit once its line arrives: the least
# any exit after a refresh can cost (the OS freeing the memory botocore filled).
BOTOCORE_EXIT = (
    "import botocore.session, os, sys; botocore.session.Session().create_client('sts', region_name='eu-west-1', "
    "aws_access_key_id='AKIAEXAMPLELONGTERM1', aws_secret_access_key='secret'); sys.stdin.readline(); os._exit(0)"
)


def peak_rss(python: Path, argv: list[str], env: dict[str, str]) -> int:
    result = subprocess.run([str(python), "-c", PEAK_RSS, *argv], env=env, capture_output=True, text=True, check=True)
    return int(result.stdout)


def silent_listener() -> socket.socket:
    """Accepts connections (the kernel's backlog does) and never answers: a hung metadata service."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=21, help="runs of each case (default: %(default)s)")
    parser.add_argument("--with-peer", action="store_true", help="also time broamski/aws-mfa 0.0.12")
    args = parser.parse_args(argv)

    WORK.mkdir(exist_ok=True)
    import boto3
    import botocore

    pins = [f"boto3=={boto3.__version__}", f"botocore=={botocore.__version__}"]
    print("building the benchmark venvs (a plain install of this checkout) ...", flush=True)
    ours = make_venv(WORK / "venv", *pins, str(ROOT))
    peer = make_venv(WORK / "peer-venv", *pins, "aws-mfa==0.0.12") if args.with_peer else None
    # pip's console script for aws-mfa is the project's; the peer's lives in its own venv.

    server = answer_sts()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    hung = silent_listener()
    bin_dir = Path(tempfile.mkdtemp(dir=WORK))
    op = bin_dir / "op"
    op.write_text(f"#!/bin/sh\nsleep {OP_DELAY}\necho 123456\n")
    op.chmod(0o755)
    keys = bin_dir / "slow-keys"
    keys.write_text(
        f"#!/bin/sh\nsleep {PROGRAM_DELAY}\n"
        'echo \'{"Version": 1, "AccessKeyId": "AKIAEXAMPLELONGTERM1", "SecretAccessKey": "secret"}\'\n'
    )
    otp = bin_dir / "slow-otp"
    otp.write_text(f"#!/bin/sh\nsleep {PROGRAM_DELAY}\necho 123456\n")
    for program in (keys, otp):
        program.chmod(0o755)

    base_env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    base_env.update(AWS_EC2_METADATA_DISABLED="true", PATH=f"{bin_dir}:{base_env.get('PATH', '')}")

    def env(home: str, **extra: str) -> dict[str, str]:
        return {**base_env, "HOME": home, **extra}

    valid = home_with(LONG_TERM + valid_session())
    configured = home_with(LONG_TERM + valid_session(), CONFIG)
    big = home_with(LONG_TERM + "".join(valid_session(f"p{n}") for n in range(20000)) + valid_session())
    refresh_home = home_with(LONG_TERM)
    # No keys in the credentials file: the config profile's credential_process prints them.
    program_home = home_with(
        "",
        "[profile default-long-term]\ncredential_process = slow-keys\n"
        "mfa_serial = arn:aws:iam::123456789012:mfa/alice\n",
    )
    sts = {"AWS_ENDPOINT_URL_STS": endpoint, "AWS_DEFAULT_REGION": "eu-west-1"}
    aws_mfa = str(ours / "aws-mfa")
    minimal = (
        "import boto3; boto3.client('sts', region_name='eu-west-1', aws_access_key_id='AKIAEXAMPLELONGTERM1', "
        "aws_secret_access_key='secret').get_session_token(DurationSeconds=43200, "
        "SerialNumber='arn:aws:iam::123456789012:mfa/alice', TokenCode='123456')"
    )
    imds_env = {
        "AWS_ENDPOINT_URL_STS": endpoint,
        "AWS_EC2_METADATA_DISABLED": "false",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{hung.getsockname()[1]}",
    }
    cases: dict[str, Callable[[], float]] = {
        "bare python -c pass": lambda: run_once([str(ours / "python"), "-c", "pass"], env(valid)),
        # pip's console-script wrapper itself runs `import re`: no aws-mfa command starts faster.
        "floor: python -c 'import re'": lambda: run_once([str(ours / "python"), "-c", "import re"], env(valid)),
        "floor: + argparse, configparser, datetime": lambda: run_once(
            [str(ours / "python"), "-c", "import re, argparse, configparser, datetime"], env(valid)
        ),
        # Any argparse command line builds a parser: argparse's messages go through gettext, which
        # imports locale on the first one. aws-mfa's own cost is what comes on top of this.
        "floor: + an ArgumentParser()": lambda: run_once(
            [str(ours / "python"), "-c", "import re, argparse, configparser, datetime; argparse.ArgumentParser()"],
            env(valid),
        ),
        "aws-mfa --version": lambda: run_once([aws_mfa, "--version"], env(valid)),
        "skip (still valid)": lambda: run_once([aws_mfa], env(valid)),
        "--status": lambda: run_once([aws_mfa, "--status"], env(valid)),
        "--credential-process (cached)": lambda: run_once([aws_mfa, "--credential-process"], env(valid)),
        "skip, config file with settings": lambda: run_once([aws_mfa], env(configured)),
        "skip, 20,000 profiles": lambda: run_once([aws_mfa], env(big)),
        "refresh --code": lambda: run_once([aws_mfa, "-f", "--code", "123456"], env(refresh_home, **sts)),
        "minimal boto3 GetSessionToken": lambda: run_once(
            [str(ours / "python"), "-c", minimal], env(refresh_home, **sts)
        ),
        # The code typed long after the start: what is left is the STS call, the write and the exit.
        "post-code latency (code on stdin after import)": lambda: after_code([aws_mfa, "-f"], env(refresh_home, **sts)),
        # The same wait with nothing to do but end: the OS freeing ~40 MiB as the process exits.
        "post-code, botocore loaded: os._exit": lambda: after_code(
            [str(ours / "python"), "-c", BOTOCORE_EXIT], env(refresh_home)
        ),
        # From the last message (the work done) to the process's exit.
        "teardown: refresh --code": lambda: teardown(
            [aws_mfa, "-f", "--code", "123456"], env(refresh_home, **sts), b"] is valid until "
        ),
        "teardown: minimal boto3 program": lambda: teardown(
            [str(ours / "python"), "-c", minimal + "; import sys; print('done', file=sys.stderr, flush=True)"],
            env(refresh_home, **sts),
            b"done",
        ),
        f"refresh, op takes {OP_DELAY} s": lambda: run_once(
            [aws_mfa, "-f", "--op-item-name", "AWS"], env(refresh_home, **sts)
        ),
        f"refresh, key program {PROGRAM_DELAY} s + OTP program {PROGRAM_DELAY} s": lambda: run_once(
            [aws_mfa, "-f", "--otp-command", "slow-otp"], env(program_home, **sts)
        ),
        "refresh, metadata hangs": lambda: run_once([aws_mfa, "-f", "--code", "123456"], env(refresh_home, **imds_env)),
    }
    botocore_parse = "import sys, botocore.configloader as c; c.raw_config_parse(sys.argv[1])"
    for label, home in (("1 profile", valid), ("20,000 profiles", big)):
        path = str(Path(home, ".aws", "credentials"))
        cases[f"botocore parses {label}"] = lambda path=path: run_once(  # type: ignore[misc]
            [str(ours / "python"), "-c", botocore_parse, path], env(valid)
        )
    if peer is not None:
        peer_home = home_with(LONG_TERM)
        cases["broamski/aws-mfa 0.0.12 refresh"] = lambda: run_once(
            [str(peer / "aws-mfa"), "--force"], env(peer_home, **sts), stdin="123456\n"
        )

    times: dict[str, list[float]] = {name: [] for name in cases}
    for case in cases.values():  # one warm-up each: page cache, .pyc files
        case()
    print(f"timing {len(cases)} cases x {args.runs} runs, interleaved ...", flush=True)
    for _ in range(args.runs):
        for name, case in cases.items():
            times[name].append(case())
    python = ours / "python"
    memory_bare = statistics.median(peak_rss(python, [str(python), "-c", "pass"], env(valid)) for _ in range(5))
    memory_skip = statistics.median(peak_rss(python, [aws_mfa], env(valid)) for _ in range(5))
    server.shutdown()
    hung.close()

    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{'case':48} {'median':>9} {'min':>9}")
    for name, values in times.items():
        print(f"{name:48} {median[name] * 1000:7.1f}ms {min(values) * 1000:7.1f}ms")
    bare = median["bare python -c pass"]
    # The stdlib the skip path cannot do without: no aws-mfa command can start faster than this.
    floor = median["floor: + argparse, configparser, datetime"]
    parser_floor = median["floor: + an ArgumentParser()"]
    targets = [
        Target("skip / stdlib floor", median["skip (still valid)"] / floor, 1.20),
        Target("--version / stdlib floor", median["aws-mfa --version"] / floor, 1.20),
        Target("skip / argparse floor", median["skip (still valid)"] / parser_floor, None),
        Target("--version / argparse floor", median["aws-mfa --version"] / parser_floor, None),
        Target("skip with a config file / stdlib floor", median["skip, config file with settings"] / floor, None),
        Target("--status / stdlib floor", median["--status"] / floor, None),
        Target("cached --credential-process / stdlib floor", median["--credential-process (cached)"] / floor, None),
        Target("floor: console script's import re / bare", median["floor: python -c 'import re'"] / bare, None),
        Target("stdlib floor / bare python", floor / bare, None),
        # The target for the refresh is "no slower than before by more than noise": compare
        # this figure between two runs of `make bench` (before and after), not against a fixed limit.
        Target(
            "refresh / minimal boto3 program", median["refresh --code"] / median["minimal boto3 GetSessionToken"], None
        ),
        Target(
            "post-code latency / bare python", median["post-code latency (code on stdin after import)"] / bare, 0.80
        ),
        Target(
            "post-code, botocore loaded: os._exit / bare",
            median["post-code, botocore loaded: os._exit"] / bare,
            None,
        ),
        Target("teardown after the work: refresh", median["teardown: refresh --code"], None, " s"),
        Target("teardown after the work: minimal boto3", median["teardown: minimal boto3 program"], None, " s"),
        Target(
            f"(refresh with op - with --code) / {OP_DELAY} s",
            (median[f"refresh, op takes {OP_DELAY} s"] - median["refresh --code"]) / OP_DELAY,
            0.60,
        ),
        Target(
            f"(refresh with key + OTP programs - with --code) / {PROGRAM_DELAY} s",
            (
                median[f"refresh, key program {PROGRAM_DELAY} s + OTP program {PROGRAM_DELAY} s"]
                - median["refresh --code"]
            )
            / PROGRAM_DELAY,
            1.2,  # about 2 if the two programs ran one after the other
        ),
        Target(
            "extra time, hung metadata service",
            median["refresh, metadata hangs"] - median["refresh --code"],
            0.30,
            " s",
        ),
        Target(
            "skip 20,000 profiles / skip 1 profile",
            median["skip, 20,000 profiles"] / median["skip (still valid)"],
            None,
        ),
        Target("peak memory skip / bare python", memory_skip / memory_bare, 1.3),
    ]
    ours_parse = median["skip, 20,000 profiles"] - median["skip (still valid)"]
    botocore_cost = median["botocore parses 20,000 profiles"] - median["botocore parses 1 profile"]
    targets.append(Target("20,000-profile cost: skip path / botocore's parse", ours_parse / botocore_cost, None))
    if peer is not None:
        peer_median = median["broamski/aws-mfa 0.0.12 refresh"]
        targets.append(Target("refresh / broamski 0.0.12", median["refresh --code"] / peer_median, 0.95))
    print(f"\n{'figure':50} {'value':>8} {'target':>8}")
    missed = 0
    for target in targets:
        verdict = "" if target.limit is None else ("ok" if target.value <= target.limit else "MISSED")
        missed += verdict == "MISSED"
        limit = "-" if target.limit is None else f"<= {target.limit:g}"
        print(f"{target.name:50} {target.value:8.2f}{target.unit:2} {limit:>8} {verdict}")
    print(f"\npeak RSS: bare {memory_bare / 1024:.1f} MiB, skip path {memory_skip / 1024:.1f} MiB")
    for leftover in WORK.glob("tmp*"):
        shutil.rmtree(leftover, ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
