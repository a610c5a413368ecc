"""tests/env/up as the Rust test kit drives it: commands on stdin, answers on stdout, and an
exit when stdin closes even after whoever read its output is gone (a killed test process)."""

import subprocess
import time
from pathlib import Path

UP = Path(__file__).resolve().parent / "up"


def start() -> subprocess.Popen:
    p = subprocess.Popen([str(UP), "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith("READY "):
            return p
    p.kill()
    raise AssertionError(f"no READY line; stderr: {p.stderr.read()[-2000:]}")


def answer(p: subprocess.Popen, line: str) -> str:
    p.stdin.write(line + "\n")
    p.stdin.flush()
    return p.stdout.readline().strip()


def test_it_exits_on_stdin_eof_after_its_readers_are_gone():
    p = start()
    try:
        # The parent died: nobody reads stdout or stderr any more, then its stdin closes.
        p.stdout.close()
        p.stderr.close()
        time.sleep(0.5)
        p.stdin.close()
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_revoke_grant_and_expire_answer_once_in_force_and_refuse_its_own_identity():
    p = start()
    try:
        assert answer(p, "revoke cognito-mfa-operator") == "REVOKED cognito-mfa-operator"
        assert answer(p, "grant cognito-mfa-operator") == "GRANTED cognito-mfa-operator"
        refused = answer(p, "revoke testenv-admin")
        assert refused.startswith("ERROR revoke testenv-admin: "), refused
        assert answer(p, "grant someone") == "GRANTED someone"
        assert answer(p, "expire cognito-mfa-operator") == "EXPIRED cognito-mfa-operator"
        assert answer(p, "expire someone leases") == "EXPIRED someone leases"
        assert answer(p, "expire") == "ERROR expire: no user given"
    finally:
        p.stdin.close()
        assert p.wait(timeout=30) == 0
