"""The throttling quota (/_emulator/quota): a token bucket per category (reads, writes) of Cognito
calls; calls above it get TooManyRequestsException ("Rate exceeded")."""

from __future__ import annotations

import time

import pytest

from emulator_support import err_of

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}


@pytest.fixture
def throttled(emu, pool):
    """12 reads in a row against a quota of 5 per second (bucket of 5): (pool, responses)."""
    pool_id = pool
    assert emu.ctl("POST", "quota", {"rps": 5}) == (200, {"rps": 5.0, "burst": 5.0})
    return pool_id, [emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id}) for _ in range(12)]


def test_quota_throttles_reads_above_the_bucket(emu, throttled):
    _pool, res = throttled
    refused = [r for r in res if err_of(r) == "TooManyRequestsException"]
    # 5 from the bucket, plus what it refills while the 12 calls run (normally none)
    assert 5 <= len(res) - len(refused) <= 7, [err_of(r) for r in res]
    assert all(r[0] == 200 for r in res[:5]), res[:5]
    assert refused[0][2]["message"] == "Rate exceeded" and refused[0][0] == 400, refused[0]


def test_quota_writes_have_their_own_bucket(emu, throttled):
    pool_id, _res = throttled
    assert emu.aws("SetUserPoolMfaConfig", {"UserPoolId": pool_id, "MfaConfiguration": "ON", **TOTP})[0] == 200


def test_quota_bucket_refills(emu, throttled):
    pool_id, _res = throttled
    time.sleep(1.0)
    assert emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})[0] == 200


def test_quota_throttled_calls_are_counted(emu, throttled):
    _pool, res = throttled
    calls = emu.calls("operation=GetUserPoolMfaConfig")["calls"]
    assert len(calls) == len(res)
    assert [c["error"] for c in calls] == [err_of(r) for r in res], calls


def test_quota_off(emu, throttled):
    pool_id, _res = throttled
    assert emu.ctl("POST", "quota", {"rps": 0}) == (200, {"rps": None, "burst": None})
    res = [emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id}) for _ in range(30)]
    assert all(r[0] == 200 for r in res), [err_of(r) for r in res]
