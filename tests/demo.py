"""`make demo`: one real refresh against moto's STS on 127.0.0.1, in a throwaway HOME, and a second run."""

from __future__ import annotations

import http.client
import http.server
import logging
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from datetime import datetime
from datetime import timedelta
from datetime import timezone
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


class Front(http.server.BaseHTTPRequestHandler):
    """Answers GetSessionToken with a new session, as STS does, and relays the rest to moto.

    moto answers GetSessionToken with an IAM user's key id (AKIA...), which aws-mfa refuses.
    """

    moto = ""  # host:port

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"] or 0))
        form = urllib.parse.parse_qs(body.decode())
        if form.get("Action") == ["GetSessionToken"]:
            expiration = datetime.now(timezone.utc) + timedelta(seconds=int(form["DurationSeconds"][0]))
            status, answer = (
                200,
                SESSION.format(
                    key="ASIA" + secrets.token_hex(8).upper(),
                    secret=secrets.token_urlsafe(30),
                    token=secrets.token_urlsafe(90),
                    expiration=expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                ).encode(),
            )
        else:
            moto = http.client.HTTPConnection(self.moto, timeout=30)
            moto.request("POST", self.path, body, {k: v for k, v in self.headers.items() if k.lower() != "host"})
            response = moto.getresponse()
            status, answer = response.status, response.read()
            moto.close()
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


SESSION = (
    '<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetSessionTokenResult><Credentials>'
    "<AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>"
    "<Expiration>{expiration}</Expiration></Credentials></GetSessionTokenResult>"
    "<ResponseMetadata><RequestId>demo</RequestId></ResponseMetadata></GetSessionTokenResponse>"
)


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
    front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    try:
        host, port = server.get_host_and_port()
        Front.moto = f"{host}:{port}"
        endpoint = f"http://127.0.0.1:{front.server_address[1]}"
        print(f"moto's STS is listening on http://{host}:{port}, behind {endpoint}, which answers GetSessionToken")
        print("with a session key (ASIA...): moto's has an IAM user's key id (AKIA...), which aws-mfa refuses")
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
            print("$ aws-mfa   # a second run keeps the session")
            if subprocess.run(command, stdin=subprocess.DEVNULL, env=env, check=False).returncode != 0:
                print("the second run failed")
                return 1
    finally:
        front.shutdown()
        server.stop()
    print("demo finished: the server is stopped and the throwaway HOME is gone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
