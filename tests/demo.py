"""`make demo`: one real refresh against moto's STS on 127.0.0.1, in a throwaway HOME."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

CREDENTIALS = """\
# Long-term keys of the IAM user "alice" (a throwaway demo file).
[default-long-term]
aws_access_key_id = AKIAEXAMPLELONGTERM1
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY
aws_mfa_device = arn:aws:iam::123456789012:mfa/alice

; another profile, which aws-mfa leaves exactly as it is
[Work]
AWS_Access_Key_Id=AKIAWORKEXAMPLE00000
aws_secret_access_key=workSecretExample
region=eu-west-1
"""
SECRET_LINE = re.compile(r"^(\s*aws_(?:secret_access_key|session_token|security_token)\s*[=:]\s*)(\S+)", re.I | re.M)


def masked(text: str) -> str:
    return SECRET_LINE.sub(lambda m: f"{m[1]}{m[2][:4]}... ({len(m[2])} characters, masked)", text)


def show(title: str, path: Path) -> None:
    print(f"--- {title}: {path}")
    print(masked(path.read_text()), end="")
    print("---")


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        print(f"moto's STS is listening on {endpoint} (loopback only)")
        with tempfile.TemporaryDirectory() as home:
            credentials = Path(home, ".aws", "credentials")
            credentials.parent.mkdir()
            credentials.write_text(CREDENTIALS)
            credentials.chmod(0o600)
            env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
            env.update(HOME=home, AWS_ENDPOINT_URL_STS=endpoint, AWS_EC2_METADATA_DISABLED="true")
            show("before", credentials)
            command = [str(Path(sys.executable).with_name("aws-mfa"))]
            print("$ echo 123456 | aws-mfa")
            result = subprocess.run(command, input="123456\n", env=env, text=True, check=False)
            if result.returncode != 0:
                print(f"aws-mfa exited {result.returncode}")
                return 1
            show("after", credentials)
            os.environ.update(env)
            identity = boto3.Session(profile_name="default", region_name="us-east-1").client("sts")
            answer = identity.get_caller_identity()
            print(f"GetCallerIdentity with the new [default]: account {answer['Account']}, {answer['Arn']}")
    finally:
        server.stop()
    print("demo finished: the server is stopped and the throwaway HOME is gone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
