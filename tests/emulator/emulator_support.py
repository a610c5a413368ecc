"""Helpers of the Cognito emulator's tests (tests/emulator): start tests/support/cognito_emulator.py
as a subprocess and talk to it over raw HTTP, as the AWS JSON 1.1 protocol and the control API
(/_emulator/...) expect.

(Not in conftest.py, so that test modules can import it by a name no other test directory uses.)
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# COGNITO_EMULATOR=<path> runs the checks against another copy of the emulator (e.g. one
# changed on purpose to see a check fail).
EMULATOR = os.environ.get("COGNITO_EMULATOR") or str(REPO / "tests" / "support" / "cognito_emulator.py")
HOST = "127.0.0.1"
DEFAULT_ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/cognito-sms"
# Lines of the throughput report, printed in pytest's summary (conftest.py).
BENCH_REPORT: list[str] = []

# Runs the emulator with a GIL switch interval of a few microseconds instead of 5 ms, so that
# threads of the emulator interleave every few bytecodes: a read-modify-write of shared state
# that is not under the emulator's lock then goes wrong within a few hundred requests instead of
# once in a long while. The emulator itself is unchanged.
_STRESS_LAUNCHER = (
    "import runpy, sys\n"
    "sys.setswitchinterval(float(sys.argv[1]))\n"
    "sys.argv = sys.argv[2:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)

_ids = itertools.count(1)


def new_pool_id(region: str = "us-east-1") -> str:
    """A pool ID no other test uses ([\\w-]+_[0-9a-zA-Z]+)."""
    return f"{region}_T{next(_ids)}x{uuid.uuid4().hex[:8]}"


def new_account() -> str:
    """A 12-digit account ID no other test uses (not moto's default)."""
    return f"2{next(_ids):05d}{uuid.uuid4().int % 10**6:06d}"


def aws_headers(op: str, region: str = "us-east-1", access_key: str = "AKIDEXAMPLE") -> dict[str, str]:
    """The headers of a Cognito call: AWS JSON 1.1, SigV4-shaped Authorization for the region's scope."""
    return {
        "X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/20250101/{region}/cognito-idp/"
                         "aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
    }


def err_of(resp: tuple[int, dict, dict]) -> str | None:
    """The AWS error code of a response, None for a success."""
    status, _headers, body = resp
    return body.get("__type") if status >= 400 else None


class Emulator:
    """One emulator process on 127.0.0.1 (the port it picked, from its LISTENING line)."""

    def __init__(self, *extra: str, stdin_pipe: bool = False, switch_interval: float | None = None):
        args = ["--host", HOST, "--port", "0", *extra]
        if switch_interval is None:
            cmd = [sys.executable, EMULATOR, *args]
        else:
            cmd = [sys.executable, "-c", _STRESS_LAUNCHER, repr(switch_interval), EMULATOR, *args]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            text=True,
        )
        self.first_line = self.proc.stdout.readline()
        self.startup_seconds = time.monotonic() - t0
        self.port = int(self.first_line.split()[1]) if self.first_line.startswith("LISTENING ") else None
        self.stderr_lines: list[str] = []
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()
        if self.port is None:
            self.stop()
            raise RuntimeError(f"emulator did not start: {self.first_line!r} {''.join(self.stderr_lines)}")

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def conn(self, timeout: float = 10) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def aws(self, op: str, body: dict, region: str = "us-east-1", access_key: str = "AKIDEXAMPLE"
            ) -> tuple[int, dict, dict]:
        """One Cognito call (AWS JSON 1.1, SigV4-shaped Authorization for the region's scope)."""
        c = self.conn()
        try:
            c.request("POST", "/", body=json.dumps(body), headers=aws_headers(op, region, access_key))
            r = c.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), (json.loads(data) if data else {})
        finally:
            c.close()

    def ctl(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One control API call (/_emulator/<path>)."""
        c = self.conn()
        try:
            c.request(method, f"/_emulator/{path}", body=None if body is None else json.dumps(body),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            c.close()

    def new_pool(self, region: str = "us-east-1", **spec: Any) -> str:
        """Create a pool with a fresh ID through the control API; returns the ID."""
        pool_id = new_pool_id(region)
        status, body = self.ctl("POST", "pools", {"id": pool_id, **spec})
        assert (status, body) == (200, {"id": pool_id}), (status, body)
        return pool_id

    def get_mfa(self, pool_id: str, region: str = "us-east-1") -> dict:
        r = self.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id}, region=region)
        assert r[0] == 200, r
        return r[2]

    def calls(self, query: str = "") -> dict:
        status, body = self.ctl("GET", "calls" + (f"?{query}" if query else ""))
        assert status == 200, (status, body)
        return body

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the process (idempotent); returns its exit code. stderr is fully read afterwards."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._drain.join(5)
        return self.proc.returncode
