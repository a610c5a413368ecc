#!/usr/bin/env python3
"""Self-check of tests/support/cognito_emulator.py, the project's Cognito emulator (run by scripts/test).

    python3 tests/support/emulator_selfcheck.py [--skip-boto3] [--bench-seconds 3]

Starts the emulator as a subprocess and exercises it over raw HTTP (no extra
dependencies); if boto3 is installed it also does a short round trip through a
real AWS SDK.  Prints one line per check and a closing "N passed, N failed".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "cognito_emulator.py")
ROLE = "arn:aws:iam::123456789012:role/cognito-sms"

RESULTS = {"passed": 0, "failed": 0}


def check(name: str, cond: bool, detail: Any = "") -> bool:
    if cond:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name} {detail}")
    return cond



class Emu:
    def __init__(self, *extra: str, stdin_pipe: bool = False):
        self.proc = subprocess.Popen(
            [sys.executable, EMULATOR, "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL, text=True,
        )
        t0 = time.time()
        self.first_line = self.proc.stdout.readline()
        self.startup = time.time() - t0
        self.port = int(self.first_line.split()[1]) if self.first_line.startswith("LISTENING ") else None
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def aws(self, op: str, body: dict, region: str = "us-east-1") -> tuple[int, dict, dict]:
        c = self.conn()
        try:
            c.request("POST", "/", body=json.dumps(body), headers={
                "X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/{region}/cognito-idp/aws4_request, "
                                 "SignedHeaders=host;x-amz-date, Signature=00",
            })
            r = c.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), (json.loads(data) if data else {})
        finally:
            c.close()

    def ctl(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        c = self.conn()
        try:
            c.request(method, f"/_emulator/{path}", body=None if body is None else json.dumps(body),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def err_of(resp) -> str | None:
    status, headers, body = resp
    return body.get("__type") if status >= 400 else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-boto3", action="store_true")
    ap.add_argument("--bench-seconds", type=float, default=3.0)
    args = ap.parse_args()

    emu = Emu()
    try:
        run_checks(emu, args)
    finally:
        emu.stop()
    check("no per-request lines on stderr", not any("POST /" in l for l in emu.stderr_lines),
          "".join(emu.stderr_lines[-20:]))
    check("no tracebacks on stderr", not any("Traceback" in l for l in emu.stderr_lines),
          "".join(emu.stderr_lines[-40:]))
    lifecycle_checks()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


def run_checks(emu: Emu, args) -> None:
    check("LISTENING line", emu.port is not None, repr(emu.first_line))
    print(f"     (startup to LISTENING: {emu.startup:.2f}s)")

    # ---------------- pools ----------------
    pid = "us-east-1_AbcDef123"
    check("create pool with chosen ID", emu.ctl("POST", "pools", {"id": pid, "emailSendingAccount": "DEVELOPER"}) == (200, {"id": pid}))
    check("existing ID -> 409", emu.ctl("POST", "pools", {"id": pid})[0] == 409)
    check("bad ID -> 400", emu.ctl("POST", "pools", {"id": "nope"})[0] == 400)
    r = emu.aws("DescribeUserPool", {"UserPoolId": pid})
    check("moto DescribeUserPool sees the chosen ID", r[0] == 200 and r[2]["UserPool"]["Id"] == pid
          and r[2]["UserPool"].get("UserPoolTier") == "ESSENTIALS", r)
    r = emu.aws("ListUserPools", {"MaxResults": 60})
    check("moto ListUserPools lists it", any(p["Id"] == pid for p in r[2].get("UserPools", [])), r)
    eu = "eu-west-1_Xyz789"
    check("create pool in another region", emu.ctl("POST", "pools", {"id": eu, "tier": "PLUS"})[0] == 200)
    r = emu.aws("DescribeUserPool", {"UserPoolId": eu}, region="eu-west-1")
    check("pool found in its region", r[0] == 200, r)
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": eu}, region="us-east-1")
    check("pool not found through another region", err_of(r) == "ResourceNotFoundException", r)

    # ---------------- Set/Get round trip ----------------
    req = {"UserPoolId": pid, "MfaConfiguration": "OPTIONAL",
           "SoftwareTokenMfaConfiguration": {"Enabled": True},
           "EmailMfaConfiguration": {"Message": "Your code is {####}", "Subject": "Code"},
           "WebAuthnConfiguration": {"RelyingPartyId": "auth.example.com", "UserVerification": "required",
                                     "FactorConfiguration": "MULTI_FACTOR_WITH_USER_VERIFICATION"}}
    s = emu.aws("SetUserPoolMfaConfig", req)
    g = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})
    expect = {k: v for k, v in req.items() if k != "UserPoolId"}
    check("Set echoes config in force", s[0] == 200 and s[2] == expect, s)
    check("Get returns email + WebAuthn", g[0] == 200 and g[2] == expect, g)
    check("DescribeUserPool MfaConfiguration in step",
          emu.aws("DescribeUserPool", {"UserPoolId": pid})[2]["UserPool"]["MfaConfiguration"] == "OPTIONAL")
    s = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": pid, "MfaConfiguration": "ON",
                                         "SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}",
                                                                 "SmsConfiguration": {"SnsCallerArn": ROLE, "ExternalId": "x"}},
                                         "SoftwareTokenMfaConfiguration": {"Enabled": False}})
    check("Set replaces: omitted blocks off, WebAuthn back to defaults",
          s[0] == 200 and s[2] == {"MfaConfiguration": "ON",
                                   "SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}",
                                                           "SmsConfiguration": {"SnsCallerArn": ROLE, "ExternalId": "x"}},
                                   "WebAuthnConfiguration": {"UserVerification": "preferred",
                                                             "FactorConfiguration": "SINGLE_FACTOR"}}, s)
    s = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": pid, "MfaConfiguration": "OFF",
                                         "WebAuthnConfiguration": {"RelyingPartyId": "x.example"}})
    check("OFF with WebAuthn accepted", s[0] == 200 and s[2] == {
        "MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": "x.example", "UserVerification": "preferred",
                                                             "FactorConfiguration": "SINGLE_FACTOR"}}, s)
    g = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": "us-east-1_fresh1"})
    check("Get unknown pool -> ResourceNotFound",
          err_of(g) == "ResourceNotFoundException" and g[2]["message"] == "User pool us-east-1_fresh1 does not exist."
          and g[1].get("X-Amzn-ErrorType") == "ResourceNotFoundException", g)
    check("fresh pool Get: OFF + WebAuthn defaults",
          emu.aws("GetUserPoolMfaConfig", {"UserPoolId": eu}, region="eu-west-1")[2] == {
              "MfaConfiguration": "OFF", "WebAuthnConfiguration": {"UserVerification": "preferred",
                                                                   "FactorConfiguration": "SINGLE_FACTOR"}})

    # ---------------- validation ----------------
    totp = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
    email = {"EmailMfaConfiguration": {"Message": "code {####}", "Subject": "s"}}
    sms = {"SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}", "SmsConfiguration": {"SnsCallerArn": ROLE}}}
    cases = [
        ("bad pool ID pattern", {"UserPoolId": "not-a-pool", "MfaConfiguration": "OFF"}, "InvalidParameterException", "UserPoolId"),
        ("pool ID too long", {"UserPoolId": "us-east-1_" + "a" * 50, "MfaConfiguration": "OFF"}, "InvalidParameterException", "UserPoolId"),
        ("MfaConfiguration enum", {"MfaConfiguration": "MAYBE"}, "InvalidParameterException", "MfaConfiguration"),
        ("MfaConfiguration missing", {}, "InvalidParameterException", "MfaConfiguration"),
        ("ON without factor", {"MfaConfiguration": "ON"}, "InvalidParameterException", "MfaConfiguration"),
        ("ON with TOTP disabled only", {"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": False}}, "InvalidParameterException", "factor"),
        ("OPTIONAL with WebAuthn only", {"MfaConfiguration": "OPTIONAL", "WebAuthnConfiguration": {"RelyingPartyId": "a.b"}}, "InvalidParameterException", "WebAuthn"),
        ("OFF with TOTP", {"MfaConfiguration": "OFF", **totp}, "InvalidParameterException", "can't turn off MFA and configure an MFA together"),
        ("OFF with SMS", {"MfaConfiguration": "OFF", **sms}, "InvalidParameterException", "can't turn off MFA"),
        ("OFF with email", {"MfaConfiguration": "OFF", **email}, "InvalidParameterException", "can't turn off MFA"),
        ("SMS message without {####}", {"MfaConfiguration": "ON", "SmsMfaConfiguration": {"SmsAuthenticationMessage": "code is here", "SmsConfiguration": {"SnsCallerArn": ROLE}}}, "InvalidParameterException", "SmsAuthenticationMessage"),
        ("SMS message too short", {"MfaConfiguration": "ON", "SmsMfaConfiguration": {"SmsAuthenticationMessage": "{####}"[:5], "SmsConfiguration": {"SnsCallerArn": ROLE}}}, "InvalidParameterException", "SmsAuthenticationMessage"),
        ("SMS message too long", {"MfaConfiguration": "ON", "SmsMfaConfiguration": {"SmsAuthenticationMessage": "{####}" + "x" * 140, "SmsConfiguration": {"SnsCallerArn": ROLE}}}, "InvalidParameterException", "SmsAuthenticationMessage"),
        ("SMS without SmsConfiguration", {"MfaConfiguration": "ON", "SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}"}}, "InvalidParameterException", "SnsCallerArn"),
        ("SMS with malformed role ARN", {"MfaConfiguration": "ON", "SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}", "SmsConfiguration": {"SnsCallerArn": "arn:aws:sns:us-east-1:123456789012:topic"}}}, "InvalidParameterException", "SnsCallerArn"),
        ("email Message without {####}", {"MfaConfiguration": "ON", "EmailMfaConfiguration": {"Message": "no code here", "Subject": "s"}}, "InvalidParameterException", "EmailMfaConfiguration.Message"),
        ("email Message too short", {"MfaConfiguration": "ON", "EmailMfaConfiguration": {"Message": "{###}", "Subject": "s"}}, "InvalidParameterException", "EmailMfaConfiguration.Message"),
        ("email Message too long", {"MfaConfiguration": "ON", "EmailMfaConfiguration": {"Message": "{####}" + "x" * 20000, "Subject": "s"}}, "InvalidParameterException", "EmailMfaConfiguration.Message"),
        ("email Subject empty", {"MfaConfiguration": "ON", "EmailMfaConfiguration": {"Message": "c {####}", "Subject": ""}}, "InvalidParameterException", "EmailMfaConfiguration.Subject"),
        ("email Subject too long", {"MfaConfiguration": "ON", "EmailMfaConfiguration": {"Message": "c {####}", "Subject": "s" * 141}}, "InvalidParameterException", "EmailMfaConfiguration.Subject"),
        ("RelyingPartyId too long", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": "a" * 128}}, "InvalidParameterException", "RelyingPartyId"),
        ("RelyingPartyId empty", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": ""}}, "InvalidParameterException", "RelyingPartyId"),
        ("UserVerification enum", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"UserVerification": "always"}}, "InvalidParameterException", "UserVerification"),
        ("FactorConfiguration enum", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"FactorConfiguration": "TWO"}}, "InvalidParameterException", "FactorConfiguration"),
    ]
    before = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})[2]
    for name, body, code, needle in cases:
        body = {"UserPoolId": pid, **body} if "UserPoolId" not in body else body
        r = emu.aws("SetUserPoolMfaConfig", body)
        check(f"validation: {name}", err_of(r) == code and needle in r[2].get("message", "")
              and r[1].get("X-Amzn-ErrorType") == code, r)
    check("rejected Sets changed nothing", emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})[2] == before)
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": "bad id"})
    check("Get with malformed ID -> InvalidParameter", err_of(r) == "InvalidParameterException", r)
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": "us-east-1_missing9", "MfaConfiguration": "ON", **totp})
    check("Set on missing pool -> ResourceNotFound", err_of(r) == "ResourceNotFoundException", r)

    # feature plan (rules 5, 6), pools created through the AWS API
    def create(**kw):
        r = emu.aws("CreateUserPool", {"PoolName": "p", **kw})
        return r[2]["UserPool"]["Id"]
    lite = create(UserPoolTier="LITE", EmailConfiguration={"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/a@b.c"})
    plain = create()
    dev = create(UserPoolTier="PLUS", EmailConfiguration={"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/a@b.c"})
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": lite, "MfaConfiguration": "ON", **email})
    check("email MFA on LITE -> FeatureUnavailableInTier", err_of(r) == "FeatureUnavailableInTierException", r)
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": lite, "MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": "a.b"}})
    check("WebAuthn on LITE -> FeatureUnavailableInTier", err_of(r) == "FeatureUnavailableInTierException", r)
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": lite, "MfaConfiguration": "ON", **totp})
    check("TOTP on LITE fine", r[0] == 200, r)
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": plain, "MfaConfiguration": "ON", **email})
    check("email MFA without SES -> InvalidParameter naming email config",
          err_of(r) == "InvalidParameterException" and "EmailSendingAccount" in r[2]["message"], r)
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": dev, "MfaConfiguration": "ON", **email, **sms})
    check("email + SMS MFA on PLUS/DEVELOPER pool fine", r[0] == 200 and "EmailMfaConfiguration" in r[2], r)
    r = emu.ctl("POST", "pools", {"id": "us-east-1_Lite1", "tier": "LITE", "emailSendingAccount": "DEVELOPER"})
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": "us-east-1_Lite1", "MfaConfiguration": "ON", **email})
    check("control-created LITE pool -> FeatureUnavailableInTier", err_of(r) == "FeatureUnavailableInTierException", r)
    r = emu.aws("UpdateUserPool", {"UserPoolId": lite, "UserPoolTier": "ESSENTIALS", "EmailConfiguration": {"EmailSendingAccount": "DEVELOPER"}})
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": lite, "MfaConfiguration": "ON", **email})
    check("after UpdateUserPool to ESSENTIALS email MFA works", r[0] == 200, r)
    r = emu.aws("DeleteUserPool", {"UserPoolId": dev})
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": dev})
    check("DeleteUserPool removes it", err_of(r) == "ResourceNotFoundException", r)

    # control: drift behind the operator's back
    emu.ctl("DELETE", "calls")
    r = emu.ctl("PUT", f"pools/{pid}/mfa", {"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": True}})
    check("PUT mfa stores without validation", r[0] == 200 and r[1]["MfaConfiguration"] == "ON", r)
    r = emu.ctl("GET", f"pools/{pid}/mfa")
    g = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})
    check("GET mfa (control) == GetUserPoolMfaConfig", r[1] == g[2], (r, g))
    calls = emu.ctl("GET", "calls")[1]
    check("control endpoints not counted", calls["total"] == {"GetUserPoolMfaConfig": 1}, calls)
    check("control GET missing pool -> 404", emu.ctl("GET", "pools/us-east-1_none1/mfa")[0] == 404)

    # ---------------- faults ----------------
    emu.ctl("DELETE", "calls")
    kinds = ["ConcurrentModificationException", "InternalErrorException", "InvalidParameterException",
             "InvalidSmsRoleAccessPolicyException", "InvalidSmsRoleTrustRelationshipException",
             "NotAuthorizedException", "ResourceNotFoundException", "TooManyRequestsException",
             "FeatureUnavailableInTierException", "SomethingNewException"]
    valid_set = {"UserPoolId": pid, "MfaConfiguration": "ON", **totp}
    for kind in kinds:
        st, f = emu.ctl("POST", "faults", {"operation": "SetUserPoolMfaConfig", "error": kind, "count": 1,
                                           "message": f"injected {kind}"})
        r = emu.aws("SetUserPoolMfaConfig", {**valid_set, "MfaConfiguration": "BOGUS"})  # faults before validation
        want = 500 if kind == "InternalErrorException" else 400
        check(f"fault {kind}", st == 200 and r[0] == want and err_of(r) == kind and r[1].get("X-Amzn-ErrorType") == kind
              and r[2]["message"] == f"injected {kind}", r)
    check("count=1 faults are used up", emu.aws("SetUserPoolMfaConfig", valid_set)[0] == 200)
    st, f = emu.ctl("POST", "faults", {"operation": "GetUserPoolMfaConfig", "error": "TooManyRequestsException", "poolId": eu})
    check("poolId-scoped fault hits its pool",
          err_of(emu.aws("GetUserPoolMfaConfig", {"UserPoolId": eu}, region="eu-west-1")) == "TooManyRequestsException")
    check("poolId-scoped fault spares other pools", emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})[0] == 200)
    check("fault without count persists",
          err_of(emu.aws("GetUserPoolMfaConfig", {"UserPoolId": eu}, region="eu-west-1")) == "TooManyRequestsException")
    check("DELETE one fault", emu.ctl("DELETE", f"faults/{f['id']}")[0] == 200
          and emu.aws("GetUserPoolMfaConfig", {"UserPoolId": eu}, region="eu-west-1")[0] == 200)
    emu.ctl("POST", "faults", {"operation": "*", "error": "InternalErrorException", "status": 503})
    r = emu.aws("DescribeUserPool", {"UserPoolId": pid})
    check("'*' fault hits any operation, custom status", r[0] == 503 and err_of(r) == "InternalErrorException", r)
    emu.ctl("DELETE", "faults")
    check("DELETE faults clears all", emu.aws("DescribeUserPool", {"UserPoolId": pid})[0] == 200)

    emu.ctl("POST", "faults", {"operation": "GetUserPoolMfaConfig", "error": "Timeout", "delaySeconds": 1.5, "count": 1})
    t0 = time.time()
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})
    dt = time.time() - t0
    check("Timeout fault delays then answers normally", r[0] == 200 and 1.4 <= dt < 3, (r, dt))
    # client-side timeout while the server sleeps
    emu.ctl("POST", "faults", {"operation": "GetUserPoolMfaConfig", "error": "Timeout", "count": 1})  # 30 s default
    c = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=0.5)
    try:
        c.request("POST", "/", body=json.dumps({"UserPoolId": pid}),
                  headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUserPoolMfaConfig"})
        c.getresponse()
        timed_out = False
    except TimeoutError:
        timed_out = True
    finally:
        c.close()
    check("Timeout fault (default 30 s) makes a client time out", timed_out)
    check("server still answers while a Timeout sleeps", emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})[0] == 200)

    emu.ctl("POST", "faults", {"operation": "GetUserPoolMfaConfig", "error": "ConnectionReset", "count": 1})
    c = emu.conn()
    try:
        c.request("POST", "/", body=json.dumps({"UserPoolId": pid}),
                  headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUserPoolMfaConfig"})
        c.getresponse().read()
        outcome = "response"
    except ConnectionResetError:
        outcome = "reset"
    except http.client.RemoteDisconnected:
        outcome = "eof"
    finally:
        c.close()
    check(f"ConnectionReset fault drops the connection ({outcome})", outcome in ("reset", "eof"), outcome)
    check("server fine after a reset", emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})[0] == 200)

    # ---------------- call accounting ----------------
    calls = emu.ctl("GET", f"calls?poolId={pid}&operation=SetUserPoolMfaConfig")[1]
    check("calls filter by pool + operation",
          set(calls["total"]) == {"SetUserPoolMfaConfig"} and calls["total"]["SetUserPoolMfaConfig"] == len(kinds) + 1
          and all(c["poolId"] == pid for c in calls["calls"]), calls["total"])
    errs = [c["error"] for c in calls["calls"]]
    check("faulted calls recorded with their error/status", errs[:len(kinds)] == kinds and errs[-1] is None
          and calls["calls"][1]["status"] == 500, errs)
    allcalls = emu.ctl("GET", "calls")[1]
    check("ConnectionReset + Timeout calls recorded",
          any(c["error"] == "ConnectionReset" for c in allcalls["calls"]) and allcalls["total"]["GetUserPoolMfaConfig"] >= 6,
          allcalls["total"])
    emu.ctl("DELETE", "calls")
    check("DELETE calls resets", emu.ctl("GET", "calls")[1] == {"total": {}, "calls": []})

    # ---------------- quota ----------------
    emu.ctl("POST", "quota", {"rps": 5})
    res = [emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid}) for _ in range(12)]
    throttled = [r for r in res if err_of(r) == "TooManyRequestsException"]
    check("quota throttles reads above the bucket", 5 <= 12 - len(throttled) <= 7 and throttled
          and throttled[0][2]["message"] == "Rate exceeded", len(throttled))
    check("writes have their own bucket", emu.aws("SetUserPoolMfaConfig", valid_set)[0] == 200)
    time.sleep(1.0)
    check("bucket refills", emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid})[0] == 200)
    t = emu.ctl("GET", "calls?operation=GetUserPoolMfaConfig")[1]
    check("throttled calls are counted", sum(1 for c in t["calls"] if c["error"] == "TooManyRequestsException") == len(throttled))
    emu.ctl("POST", "quota", {"rps": 0})
    res = [emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pid}) for _ in range(30)]
    check("quota off", all(r[0] == 200 for r in res))

    # ---------------- throughput ----------------
    emu.ctl("DELETE", "calls")
    n, t0 = 0, time.time()
    while time.time() - t0 < args.bench_seconds:
        assert emu.aws("SetUserPoolMfaConfig", valid_set)[0] == 200
        n += 1
    rate = n / (time.time() - t0)
    print(f"     sequential SetUserPoolMfaConfig: {rate:.0f} calls/s")
    check("sequential Set >= 200/s", rate >= 200, rate)

    n, t0 = 0, time.time()
    while time.time() - t0 < args.bench_seconds / 2:
        assert emu.aws("DescribeUserPool", {"UserPoolId": pid})[0] == 200
        n += 1
    print(f"     sequential DescribeUserPool (through moto): {n / (time.time() - t0):.0f} calls/s")

    counts = [0] * 8
    failures = []

    def worker(i):
        end = time.time() + args.bench_seconds
        while time.time() < end:
            r = emu.aws("GetUserPoolMfaConfig" if i % 2 else "SetUserPoolMfaConfig",
                        {"UserPoolId": pid} if i % 2 else valid_set)
            if r[0] != 200:
                failures.append(r)
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    t0 = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rate = sum(counts) / (time.time() - t0)
    print(f"     8 concurrent clients (Set/Get mix): {rate:.0f} calls/s total")
    check("concurrent clients all succeed", not failures, failures[:3])
    total = emu.ctl("GET", "calls")[1]["total"]
    check("call counters thread-safe", total.get("GetUserPoolMfaConfig", 0) + total.get("SetUserPoolMfaConfig", 0)
          - 0 >= sum(counts), (total, sum(counts)))

    # ---------------- boto3 (a real SDK) ----------------
    if args.skip_boto3:
        return
    try:
        import boto3
        from botocore.exceptions import ClientError
    except ImportError:
        print("     (boto3 not installed: SDK check skipped)")
        return
    client = boto3.client("cognito-idp", endpoint_url=f"http://127.0.0.1:{emu.port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    r = client.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                        EmailMfaConfiguration={"Message": "c {####}", "Subject": "s"},
                                        WebAuthnConfiguration={"RelyingPartyId": "example.com"})
    check("boto3 Set round trip", r["EmailMfaConfiguration"]["Subject"] == "s"
          and r["WebAuthnConfiguration"]["RelyingPartyId"] == "example.com", r)
    try:
        client.get_user_pool_mfa_config(UserPoolId="bad")
        code = None
    except ClientError as e:
        code = e.response["Error"]["Code"]
    check("boto3 sees InvalidParameterException", code == "InvalidParameterException", code)
    emu.ctl("POST", "faults", {"operation": "GetUserPoolMfaConfig", "error": "SomethingNewException", "count": 1})
    try:
        client.get_user_pool_mfa_config(UserPoolId=pid)
        code = None
    except ClientError as e:
        code = e.response["Error"]["Code"]
    check("boto3 sees an unknown injected code", code == "SomethingNewException", code)
    multi_account_checks(emu)


def multi_account_checks(emu: Emu) -> None:
    """STS AssumeRole through the same endpoint, pools per account, who called (boto3)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    url = f"http://127.0.0.1:{emu.port}"
    static = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    # one attempt per call (injected faults are not retried away); no client-side parameter checks
    plain = Config(retries={"total_max_attempts": 1}, parameter_validation=False)

    def client(service: str, creds: dict | None = None):
        keys = static if creds is None else {"aws_access_key_id": creds["AccessKeyId"],
                                             "aws_secret_access_key": creds["SecretAccessKey"],
                                             "aws_session_token": creds["SessionToken"]}
        return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=plain, **keys)

    def outcome(call, **kw) -> tuple[str | None, int | None, Any]:
        """(error code, HTTP status, response) of one SDK call; code None on success."""
        try:
            return None, 200, call(**kw)
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response
        except BotoCoreError as e:
            return type(e).__name__, None, e

    sts = client("sts")
    account = "222222222222"
    role = f"arn:aws:iam::{account}:role/mfa-operator"
    tags = [{"Key": "kubernetes-namespace", "Value": "team-a"}, {"Key": "kubernetes-name", "Value": "pool-mfa"}]
    assume = {"RoleArn": role, "RoleSessionName": "cognito-mfa-operator", "ExternalId": "ext-123", "Tags": tags}
    emu.ctl("POST", "reset")

    # ---------------- control: roles, pools per account ----------------
    r = emu.ctl("POST", "roles", {"arn": role, "externalId": "ext-123"})
    check("register role (allowTagSession defaults to true)",
          r == (200, {"arn": role, "externalId": "ext-123", "allowTagSession": True}), r)
    check("register role with a bad ARN -> 400", emu.ctl("POST", "roles", {"arn": "arn:aws:sns:x"})[0] == 400)
    check("GET roles lists it", emu.ctl("GET", "roles")[1] == {"roles": [r[1]]})
    pool = "us-east-1_Acct2Pool1"
    check("create pool in another account", emu.ctl("POST", "pools", {"id": pool, "account": account}) == (200, {"id": pool}))
    check("bad account -> 400", emu.ctl("POST", "pools", {"id": "us-east-1_Acct3", "account": "12"})[0] == 400)
    info = emu.ctl("GET", f"pools/{pool}")
    check("GET pool finds it in its account", info[0] == 200 and info[1]["account"] == account
          and info[1]["arn"] == f"arn:aws:cognito-idp:us-east-1:{account}:userpool/{pool}", info)
    listed = emu.ctl("GET", f"pools?account={account}")[1]["pools"]
    check("GET pools?account= lists that account only", [p["id"] for p in listed] == [pool], listed)
    check("same ID in the default account is another pool", emu.ctl("POST", "pools", {"id": pool})[0] == 200)
    check("ID in two accounts -> 409 without ?account=", emu.ctl("GET", f"pools/{pool}/mfa")[0] == 409)
    check("?account= picks one", emu.ctl("GET", f"pools/{pool}?account=123456789012")[1]["account"] == "123456789012")
    check("DELETE with ?account= deletes that one",
          emu.ctl("DELETE", f"pools/{pool}?account=123456789012")[0] == 200 and emu.ctl("GET", f"pools/{pool}")[0] == 200)
    put = emu.ctl("PUT", f"pools/{pool}/mfa", {"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": True}})
    check("PUT mfa finds the pool in its account", put[0] == 200, put)

    # ---------------- AssumeRole (moto issues keys of the role's account) ----------------
    code, status, r = outcome(sts.assume_role, **assume)
    creds = r["Credentials"] if code is None else {}
    check("AssumeRole of a registered role through the emulator's endpoint",
          code is None and r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/mfa-operator/cognito-mfa-operator"
          and creds["AccessKeyId"].startswith("ASIA"), r)
    if code is not None:
        return
    ident = client("sts", creds).get_caller_identity()
    check("GetCallerIdentity with those keys: the role's account", ident["Account"] == account, ident)
    code, _, r = outcome(client("cognito-idp", creds).get_user_pool_mfa_config, UserPoolId=pool)
    check("Cognito with assumed keys finds the account's pool", code is None and r["MfaConfiguration"] == "ON", r)
    code, _, r = outcome(client("cognito-idp").get_user_pool_mfa_config, UserPoolId=pool)
    check("static keys (default account) -> ResourceNotFound", code == "ResourceNotFoundException", r)
    code, _, r = outcome(client("cognito-idp", creds).set_user_pool_mfa_config, UserPoolId=pool, MfaConfiguration="OFF")
    check("Set with assumed keys works", code is None and r["MfaConfiguration"] == "OFF", r)

    # ---------------- trust checks ----------------
    for name, kw, want in [
        ("wrong external ID", {**assume, "ExternalId": "ext-999"}, ("AccessDenied", 403)),
        ("missing external ID", {k: v for k, v in assume.items() if k != "ExternalId"}, ("AccessDenied", 403)),
        ("unregistered role", {**assume, "RoleArn": f"arn:aws:iam::{account}:role/other"}, ("AccessDenied", 403)),
        ("session name with a space", {**assume, "RoleSessionName": "bad name"}, ("ValidationError", 400)),
        ("session name of 1 char", {**assume, "RoleSessionName": "a"}, ("ValidationError", 400)),
        ("session name of 65 chars", {**assume, "RoleSessionName": "a" * 65}, ("ValidationError", 400)),
        ("session name of 64 chars of [\\w+=,.@-]", {**assume, "RoleSessionName": "a+=,.@-_" * 8}, (None, 200)),
        ("external ID of 1 char", {**assume, "ExternalId": "x"}, ("ValidationError", 400)),
    ]:
        code, status, r = outcome(sts.assume_role, **kw)
        check(f"AssumeRole {name} -> {want[0] or 'ok'}", (code, status) == want, r)
    denied = outcome(sts.assume_role, **{**assume, "ExternalId": "ext-999"})[2]
    check("AccessDenied names caller, action and role", denied["Error"]["Message"] ==
          f"User: arn:aws:sts::123456789012:user/moto is not authorized to perform: sts:AssumeRole on resource: {role}",
          denied["Error"])
    untagged = f"arn:aws:iam::{account}:role/no-tags"
    emu.ctl("POST", "roles", {"arn": untagged, "allowTagSession": False})
    code, status, r = outcome(sts.assume_role, RoleArn=untagged, RoleSessionName="s1", Tags=tags)
    check("session tags refused without TagSession", code == "AccessDenied" and status == 403
          and "sts:TagSession" in r["Error"]["Message"], r)
    code, _, r = outcome(sts.assume_role, RoleArn=untagged, RoleSessionName="s1")
    check("same role without tags works", code is None, r)
    check("DELETE one role (URL-encoded ARN)",
          emu.ctl("DELETE", "roles/" + urllib.parse.quote(untagged, safe=""))[0] == 200
          and outcome(sts.assume_role, RoleArn=untagged, RoleSessionName="s1")[0] == "AccessDenied")
    check("DELETE a role not registered -> 404", emu.ctl("DELETE", f"roles/{untagged}")[0] == 404)

    # ---------------- who called ----------------
    calls = emu.ctl("GET", f"calls?roleArn={urllib.parse.quote(role)}&operation=GetUserPoolMfaConfig")[1]["calls"]
    principal = {"arn": f"arn:aws:sts::{account}:assumed-role/mfa-operator/cognito-mfa-operator", "roleArn": role,
                 "sessionName": "cognito-mfa-operator", "externalId": "ext-123",
                 "sessionTags": {"kubernetes-namespace": "team-a", "kubernetes-name": "pool-mfa"}}
    check("call record: assumed-role principal, tags, account, key",
          len(calls) == 1 and calls[0]["principal"] == principal and calls[0]["account"] == account
          and calls[0]["accessKeyId"] == creds["AccessKeyId"] and calls[0]["poolId"] == pool, calls)
    calls = emu.ctl("GET", f"calls?poolId={pool}&account=123456789012")[1]["calls"]
    check("call record: static keys -> default account, no principal",
          [(c["operation"], c["accessKeyId"], c["principal"], c["error"]) for c in calls]
          == [("GetUserPoolMfaConfig", "testing", None, "ResourceNotFoundException")], calls)
    calls = emu.ctl("GET", f"calls?account={account}")[1]["total"]
    check("calls?account= filters by the account served as",
          calls == {"GetCallerIdentity": 1, "GetUserPoolMfaConfig": 1, "SetUserPoolMfaConfig": 1}, calls)
    records = emu.ctl("GET", f"calls?operation=AssumeRole&roleArn={urllib.parse.quote(role)}")[1]["calls"]
    first = records[0] if records else {}
    check("AssumeRole record: request and result",
          {k: first.get(k) for k in ("roleArn", "sessionName", "sessionTags", "externalId", "account", "principal")}
          == {**{k: principal[k] for k in ("roleArn", "sessionName", "sessionTags", "externalId")},
              "account": "123456789012", "principal": None}
          and first.get("result") == {"arn": principal["arn"], "accessKeyId": creds["AccessKeyId"], "account": account},
          first)
    refused = [c for c in records if c["error"]]
    check("refused AssumeRoles recorded with error, status, no result",
          len(refused) == 7 and all(c["result"] is None for c in refused)
          and sorted({(c["error"], c["status"]) for c in refused}) == [("AccessDenied", 403), ("ValidationError", 400)],
          refused)

    # ---------------- faults and quota ----------------
    for error, status in [("ExpiredToken", 400), ("AccessDenied", 403)]:
        emu.ctl("POST", "faults", {"operation": "AssumeRole", "error": error, "count": 1})
        code, got, r = outcome(sts.assume_role, **assume)
        check(f"AssumeRole fault {error} (STS error shape)", (code, got) == (error, status), r)
    emu.ctl("POST", "faults", {"operation": "AssumeRole", "error": "ConnectionReset", "count": 1})
    code, _, r = outcome(sts.assume_role, **assume)
    check(f"AssumeRole fault ConnectionReset ({code})", code in ("ConnectionClosedError", "EndpointConnectionError"), r)
    check("AssumeRole faults recorded", [c["error"] for c in emu.ctl("GET", "calls?operation=AssumeRole")[1]["calls"][-3:]]
          == ["ExpiredToken", "AccessDenied", "ConnectionReset"])
    emu.ctl("POST", "quota", {"rps": 1})
    check("Cognito quota does not throttle STS", all(outcome(sts.assume_role, **assume)[0] is None for _ in range(3)))
    emu.ctl("POST", "quota", {"rps": 0})

    # ---------------- reset ----------------
    emu.ctl("POST", "reset")
    check("reset clears roles", emu.ctl("GET", "roles")[1] == {"roles": []}
          and outcome(sts.assume_role, **assume)[0] == "AccessDenied")
    client("cognito-idp", creds).get_user_pool_mfa_config(UserPoolId=pool)
    calls = emu.ctl("GET", "calls?operation=GetUserPoolMfaConfig")[1]["calls"]
    check("issued keys keep working and naming their principal after reset",
          [c["principal"] for c in calls] == [principal], calls)


def lifecycle_checks() -> None:
    # SIGTERM
    e = Emu()
    e.proc.send_signal(signal.SIGTERM)
    try:
        rc = e.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
        e.proc.kill()
    check("SIGTERM stops it (exit 0)", rc == 0, rc)
    check("stdout has only the LISTENING line", e.proc.stdout.read() == "")
    # SIGINT
    e = Emu()
    e.proc.send_signal(signal.SIGINT)
    try:
        rc = e.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
        e.proc.kill()
    check("SIGINT stops it", rc == 0, rc)
    # stdin EOF
    e = Emu("--exit-on-stdin-eof", stdin_pipe=True)
    time.sleep(0.3)
    alive = e.proc.poll() is None and e.aws("GetUserPoolMfaConfig", {"UserPoolId": "us-east-1_x1"})[0] == 400
    e.proc.stdin.close()
    try:
        rc = e.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
        e.proc.kill()
    check("stdin EOF stops it (with --exit-on-stdin-eof)", alive and rc == 0, (alive, rc))
    # stdin EOF ignored without the flag; --quota-rps from the command line
    e = Emu("--quota-rps", "2", stdin_pipe=True)
    e.proc.stdin.close()
    time.sleep(0.5)
    check("stdin EOF ignored without the flag", e.proc.poll() is None)
    res = [e.aws("DescribeUserPool", {"UserPoolId": "us-east-1_x1"}) for _ in range(5)]
    check("--quota-rps throttles", sum(1 for r in res if err_of(r) == "TooManyRequestsException") == 3,
          [err_of(r) for r in res])
    check("GET quota reports it", e.ctl("GET", "quota")[1]["rps"] == 2.0)
    e.stop()


if __name__ == "__main__":
    sys.exit(main())
