"""pytest set-up of the Cognito emulator's tests (tests/support/cognito_emulator.py).

One emulator for the whole session, started on 127.0.0.1 on a port it picks itself (it prints
`LISTENING <port>`) and stopped at the end; each test gets it through `emu`, reset first (no
faults, calls, registered roles; the command line's quota). Pools stay: a test either uses the
session's `pool` / `eu_pool` and sets whatever MFA state it reads, or makes its own pool with a
fresh ID (`emu.new_pool()`) and its own account where accounts matter.

Tests that start their own emulator (signals, stdin, command-line options, the concurrency
stress run) use `emulator_support.Emulator` directly. The checks of the shared emulator's stderr
(marker `emulator_stderr`) run after every other test, once the emulator has been stopped.

COGNITO_EMULATOR=<path> runs the checks against another copy of the emulator. The throughput
figures of test_emulator_throughput.py are printed in the summary (EMULATOR_BENCH_SECONDS, default
1, sets the length of each measurement); they are a report, not a pass/fail criterion.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import emulator_support  # noqa: E402
from emulator_support import BENCH_REPORT  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "emulator_stderr: checks of the shared emulator's stderr, run after every other test"
    )


def pytest_collection_modifyitems(session, config, items):
    last = [item for item in items if item.get_closest_marker("emulator_stderr")]
    if last:
        items[:] = [item for item in items if item not in last] + last


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if BENCH_REPORT:
        terminalreporter.write_sep("-", "Cognito emulator throughput (report only)")
        for line in BENCH_REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def emulator():
    """The session's emulator process (not reset: use `emu` in tests)."""
    server = emulator_support.Emulator()
    BENCH_REPORT.append(f"startup to LISTENING: {server.startup_seconds:.2f} s")
    yield server
    server.stop()


@pytest.fixture
def emu(emulator):
    """The session's emulator, reset: no faults, calls or roles, the command line's quota."""
    assert emulator.proc.poll() is None, "the shared emulator is not running"
    assert emulator.ctl("POST", "reset") == (200, {"reset": True})
    return emulator


@pytest.fixture(scope="session")
def pool(emulator) -> str:
    """A pool of the session (us-east-1, default account, ESSENTIALS, email through SES) for tests
    that set whatever state they read."""
    return emulator.new_pool(emailSendingAccount="DEVELOPER")


@pytest.fixture(scope="session")
def eu_pool(emulator) -> str:
    """Another pool of the session, in eu-west-1 (PLUS); its MFA configuration is never set."""
    return emulator.new_pool("eu-west-1", tier="PLUS")


@pytest.fixture(scope="session")
def boto(emulator):
    """boto3 clients of the session's emulator: boto(service, creds=None, **Config options).

    Without creds the static keys 'testing' (moto's default account); creds is an AssumeRole
    Credentials dict. One attempt per call unless told otherwise (injected faults are not retried
    away) and no client-side parameter checks.
    """
    import boto3
    from botocore.config import Config

    cache: dict = {}

    def client(service: str, creds: dict | None = None, **config):
        keys = (
            {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            if creds is None
            else {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
                  "aws_session_token": creds["SessionToken"]}
        )
        options = {"retries": {"total_max_attempts": 1}, "parameter_validation": False, **config}
        key = (service, keys["aws_access_key_id"], repr(sorted(options.items())))
        if key not in cache:
            cache[key] = boto3.client(service, endpoint_url=emulator.url, region_name="us-east-1",
                                      config=Config(**options), **keys)
        return cache[key]

    return client
