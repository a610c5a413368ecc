"""Throughput of the emulator: a benchmark that reports (in pytest's summary), not a timed assertion.

Each measurement runs EMULATOR_BENCH_SECONDS (default 1). The test fails only if a call fails or
the emulator's call counter disagrees with the calls made; the rates are printed, not judged.
"""

from __future__ import annotations

import os
import threading
import time

from emulator_support import BENCH_REPORT

SECONDS = float(os.environ.get("EMULATOR_BENCH_SECONDS", "1"))
TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}


def test_throughput_report(emu, pool):
    pool_id = pool
    valid_set = {"UserPoolId": pool_id, "MfaConfiguration": "ON", **TOTP}

    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < SECONDS:
        r = emu.aws("SetUserPoolMfaConfig", valid_set)
        assert r[0] == 200, r
        n += 1
    sets = n
    BENCH_REPORT.append(f"sequential SetUserPoolMfaConfig: {n / (time.monotonic() - t0):.0f} calls/s")

    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < SECONDS / 2:
        r = emu.aws("DescribeUserPool", {"UserPoolId": pool_id})
        assert r[0] == 200, r
        n += 1
    describes = n
    BENCH_REPORT.append(f"sequential DescribeUserPool (through moto): {n / (time.monotonic() - t0):.0f} calls/s")

    counts = [0] * 8
    failures: list = []

    def worker(i: int) -> None:
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            r = emu.aws("GetUserPoolMfaConfig" if i % 2 else "SetUserPoolMfaConfig",
                        {"UserPoolId": pool_id} if i % 2 else valid_set)
            if r[0] != 200:
                failures.append(r)
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    BENCH_REPORT.append(f"8 concurrent clients (Set/Get mix): {sum(counts) / (time.monotonic() - t0):.0f} calls/s total")

    assert not failures, failures[:3]
    total = emu.calls(f"poolId={pool_id}")["total"]
    assert total == {"SetUserPoolMfaConfig": sets + sum(counts[0::2]), "DescribeUserPool": describes,
                     "GetUserPoolMfaConfig": sum(counts[1::2])}, (total, sets, describes, counts)
