"""Fault injection (/_emulator/faults: AWS errors, Timeout, ConnectionReset) and call accounting
(/_emulator/calls)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest

from emulator_support import err_of

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
# The shared table of error codes (also read by the operator's tests): each can be injected and
# answers with its status.
SERVICE_ERRORS = json.loads(
    (Path(__file__).resolve().parents[2] / "src" / "logic" / "service_errors.json").read_text())["errors"]
STATUS = {e["code"]: e["status"] for e in SERVICE_ERRORS}
KINDS = sorted(STATUS)


def valid_set(pool_id: str) -> dict:
    return {"UserPoolId": pool_id, "MfaConfiguration": "ON", **TOTP}


def add_fault(emu, **spec) -> dict:
    status, fault = emu.ctl("POST", "faults", spec)
    assert status == 200, fault
    return fault


def raw_get(emu, pool_id: str, timeout: float = 10):
    """GetUserPoolMfaConfig on a connection of our own: returns the response, or the exception."""
    c = emu.conn(timeout=timeout)
    try:
        c.request("POST", "/", body=json.dumps({"UserPoolId": pool_id}),
                  headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUserPoolMfaConfig"})
        r = c.getresponse()
        r.read()
        return r
    except (OSError, http.client.HTTPException) as exc:
        return exc
    finally:
        c.close()


@pytest.mark.parametrize("kind", KINDS)
def test_injected_fault(emu, pool, kind):
    pool_id = pool
    add_fault(emu, operation="SetUserPoolMfaConfig", error=kind, count=1, message=f"injected {kind}")
    # faults come before validation: the request is invalid, the fault answers
    r = emu.aws("SetUserPoolMfaConfig", {**valid_set(pool_id), "MfaConfiguration": "BOGUS"})
    want = STATUS[kind]
    assert r[0] == want and err_of(r) == kind and r[1].get("X-Amzn-ErrorType") == kind, r
    assert r[2]["message"] == f"injected {kind}", r


def test_count_1_faults_are_used_up(emu, pool):
    pool_id = pool
    add_fault(emu, operation="SetUserPoolMfaConfig", error="NotAuthorizedException", count=1)
    assert err_of(emu.aws("SetUserPoolMfaConfig", valid_set(pool_id))) == "NotAuthorizedException"
    assert emu.aws("SetUserPoolMfaConfig", valid_set(pool_id))[0] == 200
    assert emu.ctl("GET", "faults") == (200, {"faults": []})


def test_pool_scoped_fault_hits_its_pool(emu, eu_pool):
    pool_id = eu_pool
    add_fault(emu, operation="GetUserPoolMfaConfig", error="TooManyRequestsException", poolId=pool_id)
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id}, region="eu-west-1")
    assert err_of(r) == "TooManyRequestsException", r


def test_pool_scoped_fault_spares_other_pools(emu, eu_pool, pool):
    pool_id, other = eu_pool, pool
    add_fault(emu, operation="GetUserPoolMfaConfig", error="TooManyRequestsException", poolId=pool_id)
    assert emu.aws("GetUserPoolMfaConfig", {"UserPoolId": other})[0] == 200


def test_fault_without_count_persists(emu, eu_pool):
    pool_id = eu_pool
    add_fault(emu, operation="GetUserPoolMfaConfig", error="TooManyRequestsException", poolId=pool_id)
    for _ in range(3):
        r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id}, region="eu-west-1")
        assert err_of(r) == "TooManyRequestsException", r
    faults = emu.ctl("GET", "faults")[1]["faults"]
    assert [(f["error"], f["hits"], f["count"]) for f in faults] == [("TooManyRequestsException", 3, None)], faults


def test_delete_one_fault(emu, eu_pool):
    pool_id = eu_pool
    fault = add_fault(emu, operation="GetUserPoolMfaConfig", error="TooManyRequestsException", poolId=pool_id)
    kept = add_fault(emu, operation="DescribeUserPool", error="InternalErrorException")
    assert emu.ctl("DELETE", f"faults/{fault['id']}")[0] == 200
    assert emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id}, region="eu-west-1")[0] == 200
    assert [f["id"] for f in emu.ctl("GET", "faults")[1]["faults"]] == [kept["id"]]
    assert emu.ctl("DELETE", f"faults/{fault['id']}")[0] == 404


def test_star_fault_hits_any_operation_with_custom_status(emu, pool):
    pool_id = pool
    add_fault(emu, operation="*", error="InternalErrorException", status=503)
    r = emu.aws("DescribeUserPool", {"UserPoolId": pool_id})
    assert r[0] == 503 and err_of(r) == "InternalErrorException", r
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})
    assert r[0] == 503 and err_of(r) == "InternalErrorException", r


def test_delete_faults_clears_all(emu, pool):
    pool_id = pool
    add_fault(emu, operation="*", error="InternalErrorException", status=503)
    add_fault(emu, operation="GetUserPoolMfaConfig", error="NotAuthorizedException")
    assert emu.ctl("DELETE", "faults")[0] == 200
    assert emu.aws("DescribeUserPool", {"UserPoolId": pool_id})[0] == 200
    assert emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})[0] == 200


def test_timeout_fault_delays_then_answers_normally(emu, pool):
    pool_id = pool
    in_force = emu.ctl("GET", f"pools/{pool_id}/mfa")[1]
    add_fault(emu, operation="GetUserPoolMfaConfig", error="Timeout", delaySeconds=1.5, count=1)
    t0 = time.monotonic()
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})
    dt = time.monotonic() - t0
    assert r[0] == 200 and r[2] == in_force, r
    assert 1.4 <= dt < 3, dt


def test_timeout_fault_default_30s_makes_a_client_time_out(emu, pool):
    pool_id = pool
    fault = add_fault(emu, operation="GetUserPoolMfaConfig", error="Timeout", count=1)
    assert fault["delaySeconds"] == 30.0, fault
    outcome = raw_get(emu, pool_id, timeout=0.5)
    assert isinstance(outcome, TimeoutError), outcome


def test_server_still_answers_while_a_timeout_sleeps(emu, pool):
    pool_id = pool
    add_fault(emu, operation="GetUserPoolMfaConfig", error="Timeout", delaySeconds=3, count=1)
    slow: list = []
    sleeper = threading.Thread(target=lambda: slow.append(raw_get(emu, pool_id)))
    sleeper.start()
    # wait until the slow call has taken the fault (it is then sleeping in the server)
    deadline = time.monotonic() + 2
    while emu.ctl("GET", "faults")[1]["faults"] and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})
    dt = time.monotonic() - t0
    still_sleeping = sleeper.is_alive()
    sleeper.join(10)
    assert r[0] == 200 and dt < 1 and still_sleeping, (r, dt, still_sleeping)
    assert getattr(slow[0], "status", None) == 200, slow


def test_connection_reset_fault_drops_the_connection(emu, pool):
    pool_id = pool
    add_fault(emu, operation="GetUserPoolMfaConfig", error="ConnectionReset", count=1)
    outcome = raw_get(emu, pool_id)
    assert isinstance(outcome, (ConnectionResetError, http.client.RemoteDisconnected)), outcome


def test_server_fine_after_a_reset(emu, pool):
    pool_id = pool
    add_fault(emu, operation="GetUserPoolMfaConfig", error="ConnectionReset", count=1)
    raw_get(emu, pool_id)
    assert emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})[0] == 200


# ---------------- call accounting ----------------

@pytest.fixture
def faulted_sets(emu, pool, eu_pool):
    """One SetUserPoolMfaConfig per fault kind, then one that succeeds, and noise on another pool."""
    pool_id = pool
    for kind in KINDS:
        add_fault(emu, operation="SetUserPoolMfaConfig", error=kind, count=1)
        emu.aws("SetUserPoolMfaConfig", valid_set(pool_id))
    assert emu.aws("SetUserPoolMfaConfig", valid_set(pool_id))[0] == 200
    emu.aws("GetUserPoolMfaConfig", {"UserPoolId": eu_pool}, region="eu-west-1")
    emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})
    return pool_id


def test_calls_filter_by_pool_and_operation(emu, faulted_sets):
    calls = emu.calls(f"poolId={faulted_sets}&operation=SetUserPoolMfaConfig")
    assert calls["total"] == {"SetUserPoolMfaConfig": len(KINDS) + 1}, calls["total"]
    assert all(c["poolId"] == faulted_sets and c["operation"] == "SetUserPoolMfaConfig" for c in calls["calls"])


def test_faulted_calls_recorded_with_their_error_and_status(emu, faulted_sets):
    calls = emu.calls(f"poolId={faulted_sets}&operation=SetUserPoolMfaConfig")["calls"]
    assert [(c["error"], c["status"]) for c in calls] == [
        (kind, 500 if kind == "InternalErrorException" else 400) for kind in KINDS
    ] + [(None, 200)], calls


def test_connection_reset_and_timeout_calls_recorded(emu, pool):
    pool_id = pool
    add_fault(emu, operation="GetUserPoolMfaConfig", error="Timeout", delaySeconds=0.2, count=1)
    assert raw_get(emu, pool_id).status == 200
    add_fault(emu, operation="GetUserPoolMfaConfig", error="ConnectionReset", count=1)
    raw_get(emu, pool_id)
    calls = emu.calls()
    assert calls["total"] == {"GetUserPoolMfaConfig": 2}, calls
    assert [(c["status"], c["error"]) for c in calls["calls"]] == [(200, None), (0, "ConnectionReset")], calls


def test_delete_calls_resets(emu, pool):
    pool_id = pool
    emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})
    assert emu.calls()["total"] == {"GetUserPoolMfaConfig": 1}
    assert emu.ctl("DELETE", "calls")[0] == 200
    assert emu.calls() == {"total": {}, "calls": []}
