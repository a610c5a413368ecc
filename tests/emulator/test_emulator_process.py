"""The emulator as a process: its LISTENING line, signals, stdin EOF, command-line quota, and what
it writes to stderr over the whole session."""

from __future__ import annotations

import re
import signal

import pytest

from emulator_support import Emulator, aws_headers, err_of


def test_listening_line(emulator):
    assert re.fullmatch(r"LISTENING [1-9][0-9]*\n", emulator.first_line), emulator.first_line
    assert emulator.ctl("GET", "health") == (200, {"ok": True})


def test_connections_are_kept_alive(emulator):
    """As Amazon Cognito does: one TCP connection serves one request after another, also after
    an error answer to a large body and after an AWS call."""
    c = emulator.conn()
    try:
        ports = []
        health = (200, b'{"ok": true}')
        for method, path, body, headers, answer in [
            ("GET", "/_emulator/health", None, {}, health),
            ("GET", "/_emulator/health", b"x" * 70000, {}, (400, b'{"error": "body is not JSON"}')),
            ("POST", "/", b'{"UserPoolId": "us-east-1_x1"}', aws_headers("GetUserPoolMfaConfig"), None),
            ("GET", "/_emulator/health", None, {}, health),
        ]:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            assert r.getheader("Connection") != "close" and not r.will_close, (path, r.getheaders())
            assert len(data) == int(r.getheader("Content-Length")), (path, data)
            ports.append(c.sock.getsockname()[1])
            if answer is None:
                assert (r.status, r.getheader("X-Amzn-ErrorType")) == (400, "ResourceNotFoundException"), data
            else:
                assert (r.status, data) == answer, data
        assert len(set(ports)) == 1, ports
    finally:
        c.close()


def test_sigterm_stops_it_with_exit_0():
    assert Emulator().stop(signal.SIGTERM) == 0


def test_stdout_has_only_the_listening_line():
    e = Emulator()
    assert e.aws("GetUserPoolMfaConfig", {"UserPoolId": "us-east-1_x1"})[0] == 400
    assert e.stop() == 0
    assert e.proc.stdout.read() == ""


def test_sigint_stops_it():
    assert Emulator().stop(signal.SIGINT) == 0


def test_stdin_eof_stops_it_with_exit_on_stdin_eof():
    e = Emulator("--exit-on-stdin-eof", stdin_pipe=True)
    try:
        alive = e.proc.poll() is None and e.aws("GetUserPoolMfaConfig", {"UserPoolId": "us-east-1_x1"})[0] == 400
        e.proc.stdin.close()
        rc = e.proc.wait(10)
    finally:
        e.stop()
    assert alive and rc == 0, (alive, rc)


@pytest.fixture(scope="module")
def quota_emulator():
    """An emulator started with --quota-rps 2 whose stdin is closed at once."""
    e = Emulator("--quota-rps", "2", stdin_pipe=True)
    e.proc.stdin.close()
    yield e
    e.stop()


@pytest.fixture
def quota_emu(quota_emulator):
    assert quota_emulator.ctl("POST", "reset")[0] == 200  # back to the command line's quota, full buckets
    return quota_emulator


def test_stdin_eof_ignored_without_the_flag(quota_emu):
    assert quota_emu.proc.poll() is None
    assert quota_emu.ctl("GET", "health") == (200, {"ok": True})


def test_quota_rps_option_throttles(quota_emu):
    res = [quota_emu.aws("DescribeUserPool", {"UserPoolId": "us-east-1_x1"}) for _ in range(5)]
    assert [err_of(r) == "TooManyRequestsException" for r in res] == [False, False, True, True, True], \
        [err_of(r) for r in res]


def test_get_quota_reports_the_command_line_quota(quota_emu):
    assert quota_emu.ctl("GET", "quota") == (200, {"rps": 2.0, "burst": 2.0})


# ---------------- the shared emulator's stderr, after every other test ----------------

@pytest.fixture
def session_stderr(emulator) -> list[str]:
    """Stops the session's emulator (so that all it wrote has been read) and returns its stderr."""
    assert emulator.stop() == 0
    return emulator.stderr_lines


@pytest.mark.emulator_stderr
def test_no_per_request_lines_on_stderr(session_stderr):
    assert not [line for line in session_stderr if "POST /" in line or "GET /" in line], "".join(session_stderr[-20:])


@pytest.mark.emulator_stderr
def test_no_tracebacks_on_stderr(session_stderr):
    assert not [line for line in session_stderr if "Traceback" in line], "".join(session_stderr[-40:])
