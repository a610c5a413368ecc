"""Thread safety: concurrent requests from several threads are each applied exactly once, and no
one sees another's half-done change.

The emulator serves each connection in a thread of its own and keeps its state (MFA store, call
records, faults, quota buckets, control-created pools) under one lock. These tests run against an
emulator of their own whose GIL switch interval is 10 µs instead of 5 ms (see
emulator_support._STRESS_LAUNCHER), so that a read-modify-write that is not under the lock is
interrupted by another thread within a few hundred requests; with the default interval such a
race shows up once in a long while only.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from emulator_support import ROLE, Emulator, err_of, new_pool_id

SWITCH_INTERVAL = 1e-5
WRITERS = 8
WRITES = 25  # per writer
READERS = 4
WEBAUTHN_DEFAULTS = {"UserVerification": "preferred", "FactorConfiguration": "SINGLE_FACTOR"}


@pytest.fixture(scope="module")
def stress():
    e = Emulator(switch_interval=SWITCH_INTERVAL)
    yield e
    e.stop()


def run_threads(n: int, target, *args) -> None:
    """Run target(i, *args) in n threads released together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            target(i, *args)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads), "threads still running"
    if errors:
        raise errors[0]


# ---------------- concurrent SetUserPoolMfaConfig / GetUserPoolMfaConfig on one pool ----------------

def write(t: int, j: int) -> dict:
    """Writer t's j-th configuration: distinct from every other in several blocks, so that a state
    mixed from two writes equals none of them."""
    tag = f"{t}-{j}"
    if j % 2:
        return {"MfaConfiguration": "OPTIONAL",
                "EmailMfaConfiguration": {"Message": f"code {{####}} {tag}", "Subject": tag},
                "WebAuthnConfiguration": {"RelyingPartyId": f"w{tag}.example", "UserVerification": "required"}}
    return {"MfaConfiguration": "ON",
            "SmsMfaConfiguration": {"SmsAuthenticationMessage": f"code {{####}} {tag}",
                                    "SmsConfiguration": {"SnsCallerArn": ROLE, "ExternalId": tag}},
            "SoftwareTokenMfaConfiguration": {"Enabled": True},
            "WebAuthnConfiguration": {"RelyingPartyId": f"w{tag}.example"}}


def in_force(config: dict) -> dict:
    """What GetUserPoolMfaConfig answers once `config` is stored."""
    return {**config, "WebAuthnConfiguration": {**WEBAUTHN_DEFAULTS, **config["WebAuthnConfiguration"]}}


def key(state: dict) -> str:
    return repr(sorted(state.items()))


@pytest.fixture(scope="module")
def concurrent_sets(stress):
    """WRITERS threads x WRITES Sets with distinct values, READERS threads reading meanwhile."""
    pool = stress.new_pool(emailSendingAccount="DEVELOPER")
    initial = stress.get_mfa(pool)
    assert stress.ctl("DELETE", "calls")[0] == 200
    sets: dict[tuple[int, int], tuple] = {}
    reads: list[tuple] = []
    done = threading.Event()  # set once every writer has finished (or failed)
    finished = Counter()
    lock = threading.Lock()

    def worker(i: int) -> None:
        if i >= WRITERS:
            while not done.is_set():
                reads.append(stress.aws("GetUserPoolMfaConfig", {"UserPoolId": pool}))
            return
        try:
            for j in range(WRITES):
                sets[(i, j)] = stress.aws("SetUserPoolMfaConfig", {"UserPoolId": pool, **write(i, j)})
        finally:
            with lock:
                finished["writers"] += 1
                if finished["writers"] == WRITERS:
                    done.set()

    run_threads(WRITERS + READERS, worker)
    written = {key(in_force(write(t, j))) for t in range(WRITERS) for j in range(WRITES)}
    calls = stress.calls(f"poolId={pool}")  # before the final Get below
    return {"pool": pool, "initial": initial, "sets": sets, "reads": reads, "written": written,
            "final": stress.get_mfa(pool), "calls": calls}


def test_concurrent_sets_all_succeed(concurrent_sets):
    sets = concurrent_sets["sets"]
    assert len(sets) == WRITERS * WRITES
    failed = {k: r for k, r in sets.items() if r[0] != 200}
    assert not failed, list(failed.items())[:3]


def test_concurrent_sets_each_echo_their_own_write(concurrent_sets):
    wrong = {k: r[2] for k, r in concurrent_sets["sets"].items() if r[2] != in_force(write(*k))}
    assert not wrong, list(wrong.items())[:3]


def test_concurrent_sets_counted_exactly_once(concurrent_sets):
    calls = concurrent_sets["calls"]
    assert calls["total"]["SetUserPoolMfaConfig"] == WRITERS * WRITES, calls["total"]
    assert calls["total"]["GetUserPoolMfaConfig"] == len(concurrent_sets["reads"]), calls["total"]


def test_concurrent_call_records_all_completed(concurrent_sets):
    records = concurrent_sets["calls"]["calls"]
    assert Counter((c["operation"], c["status"], c["error"]) for c in records) == {
        ("SetUserPoolMfaConfig", 200, None): WRITERS * WRITES,
        ("GetUserPoolMfaConfig", 200, None): len(concurrent_sets["reads"]),
    }


def test_concurrent_gets_see_only_whole_written_states(concurrent_sets):
    reads = concurrent_sets["reads"]
    allowed = concurrent_sets["written"] | {key(concurrent_sets["initial"])}
    assert len(reads) >= READERS, "the readers did not overlap the writers"
    torn = [r for r in reads if r[0] != 200 or key(r[2]) not in allowed]
    assert not torn, torn[:3]


def test_concurrent_sets_final_state_is_one_written(concurrent_sets):
    assert key(concurrent_sets["final"]) in concurrent_sets["written"], concurrent_sets["final"]


# ---------------- concurrent pool creation ----------------

CREATORS = 8
CREATES = 1  # per creator


@pytest.fixture(scope="module")
def concurrent_creates(stress):
    assert stress.ctl("DELETE", "calls")[0] == 200
    results: list[tuple] = []
    run_threads(CREATORS, lambda i: results.extend(
        stress.aws("CreateUserPool", {"PoolName": f"c{i}-{j}"}) for j in range(CREATES)))
    return results, stress.calls("operation=CreateUserPool")


def test_concurrent_create_user_pool_all_succeed_with_distinct_ids(concurrent_creates):
    results, _calls = concurrent_creates
    assert [r[0] for r in results] == [200] * (CREATORS * CREATES), [err_of(r) for r in results]
    ids = [r[2]["UserPool"]["Id"] for r in results]
    assert len(set(ids)) == CREATORS * CREATES, ids


def test_concurrent_create_user_pool_each_listed_once(stress, concurrent_creates):
    results, _calls = concurrent_creates
    listed = Counter(p["id"] for p in stress.ctl("GET", "pools")[1]["pools"])
    assert {r[2]["UserPool"]["Id"]: listed[r[2]["UserPool"]["Id"]] for r in results} == {
        r[2]["UserPool"]["Id"]: 1 for r in results}


def test_concurrent_create_user_pool_counted_once_with_its_pool(concurrent_creates):
    results, calls = concurrent_creates
    assert calls["total"] == {"CreateUserPool": CREATORS * CREATES}, calls["total"]
    assert sorted(c["poolId"] for c in calls["calls"]) == sorted(r[2]["UserPool"]["Id"] for r in results)


def test_concurrent_control_creates_of_one_id_succeed_once(stress):
    pool = new_pool_id()
    statuses: list[int] = []
    run_threads(8, lambda i: statuses.append(stress.ctl("POST", "pools", {"id": pool})[0]))
    assert sorted(statuses) == [200] + [409] * 7, statuses
    assert [p["id"] for p in stress.ctl("GET", "pools")[1]["pools"]].count(pool) == 1


def test_concurrent_bulk_creates_sharing_an_id_one_creates_all_the_others_none(stress):
    shared = new_pool_id()
    own = [[new_pool_id() for _ in range(20)] for _ in range(8)]
    statuses: dict[int, int] = {}
    # each request: its own 20 IDs with the shared one in the middle
    run_threads(8, lambda i: statuses.__setitem__(
        i, stress.ctl("POST", "pools", {"ids": own[i][:10] + [shared] + own[i][10:]})[0]))
    assert sorted(statuses.values()) == [200] + [409] * 7, statuses
    winner = next(i for i, status in statuses.items() if status == 200)
    listed = Counter(p["id"] for p in stress.ctl("GET", "pools")[1]["pools"])
    assert listed[shared] == 1
    assert {i: sum(listed[p] for p in own[i]) for i in range(8)} == {i: 20 if i == winner else 0 for i in range(8)}


# ---------------- a counted fault and the quota under concurrent calls ----------------

CALLERS = 8
CALLS = 10  # per caller


def concurrent_gets(stress, pool: str) -> list[tuple]:
    results: list[tuple] = []
    run_threads(CALLERS, lambda i: results.extend(
        stress.aws("GetUserPoolMfaConfig", {"UserPoolId": pool}) for _ in range(CALLS)))
    return results


def test_concurrent_calls_consume_a_counted_fault_exactly(stress):
    pool = stress.new_pool()
    assert stress.ctl("POST", "reset")[0] == 200
    stress.ctl("POST", "faults", {"operation": "GetUserPoolMfaConfig", "error": "NotAuthorizedException",
                                  "count": 20, "poolId": pool})
    results = concurrent_gets(stress, pool)
    assert Counter(err_of(r) for r in results) == {"NotAuthorizedException": 20, None: CALLERS * CALLS - 20}
    assert stress.ctl("GET", "faults") == (200, {"faults": []})
    records = stress.calls(f"poolId={pool}")["calls"]
    assert Counter(c["error"] for c in records) == {"NotAuthorizedException": 20, None: CALLERS * CALLS - 20}


def test_concurrent_calls_take_each_quota_token_once(stress):
    pool = stress.new_pool()
    assert stress.ctl("POST", "reset")[0] == 200
    # a bucket of 20 that refills one token per 1000 s: exactly 20 calls pass
    assert stress.ctl("POST", "quota", {"rps": 0.001, "burst": 20})[0] == 200
    try:
        results = concurrent_gets(stress, pool)
    finally:
        stress.ctl("POST", "quota", {"rps": 0})
    assert Counter(err_of(r) for r in results) == {None: 20, "TooManyRequestsException": CALLERS * CALLS - 20}


def test_stress_emulator_stderr_has_no_tracebacks(stress):
    assert stress.stop() == 0
    assert not [line for line in stress.stderr_lines if "Traceback" in line], "".join(stress.stderr_lines[-40:])
