"""Several accounts: pools per account (control API), STS AssumeRole through the emulator's endpoint
with the trust checks of the real service ("sts rule N"), and who called (call records)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from emulator_support import DEFAULT_ACCOUNT, new_account, new_pool_id

SESSION = "cognito-mfa-operator"
TAGS = [{"Key": "kubernetes-namespace", "Value": "team-a"}, {"Key": "kubernetes-name", "Value": "pool-mfa"}]
TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}


def outcome(call, **kw) -> tuple[str | None, int | None, Any]:
    """(error code, HTTP status, response) of one SDK call; code None on success."""
    try:
        return None, 200, call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response
    except BotoCoreError as e:
        return type(e).__name__, None, e


@dataclass
class Tenant:
    """An account with a registered role (external ID ext-123) and a pool (MFA ON, TOTP)."""

    account: str
    role: str
    pool: str
    assume: dict
    principal: dict


@pytest.fixture(scope="module")
def tenant_home(emulator) -> tuple[str, str]:
    """The tenants' account and its one pool (one per module)."""
    account, pool = new_account(), new_pool_id()
    assert emulator.ctl("POST", "pools", {"id": pool, "account": account}) == (200, {"id": pool})
    return account, pool


@pytest.fixture
def tenant(emu, tenant_home) -> Tenant:
    account, pool = tenant_home
    role = f"arn:aws:iam::{account}:role/mfa-operator"
    assert emu.ctl("POST", "roles", {"arn": role, "externalId": "ext-123"})[0] == 200
    assert emu.ctl("PUT", f"pools/{pool}/mfa?account={account}", {"MfaConfiguration": "ON", **TOTP})[0] == 200
    principal = {"arn": f"arn:aws:sts::{account}:assumed-role/mfa-operator/{SESSION}", "roleArn": role,
                 "sessionName": SESSION, "externalId": "ext-123",
                 "sessionTags": {"kubernetes-namespace": "team-a", "kubernetes-name": "pool-mfa"}}
    assume = {"RoleArn": role, "RoleSessionName": SESSION, "ExternalId": "ext-123", "Tags": TAGS}
    return Tenant(account, role, pool, assume, principal)


@pytest.fixture
def sts(boto):
    return boto("sts")


@pytest.fixture
def creds(tenant, sts) -> dict:
    """Keys from AssumeRole of the tenant's role."""
    code, _status, r = outcome(sts.assume_role, **tenant.assume)
    assert code is None, r
    return r["Credentials"]


# ---------------- control: roles, pools per account ----------------

def test_register_role_allow_tag_session_defaults_to_true(emu):
    role = f"arn:aws:iam::{new_account()}:role/mfa-operator"
    r = emu.ctl("POST", "roles", {"arn": role, "externalId": "ext-123"})
    assert r == (200, {"arn": role, "externalId": "ext-123", "allowTagSession": True}), r


def test_register_role_with_a_bad_arn_is_400(emu):
    assert emu.ctl("POST", "roles", {"arn": "arn:aws:sns:x"})[0] == 400


def test_get_roles_lists_it(emu):
    role = f"arn:aws:iam::{new_account()}:role/mfa-operator"
    registered = emu.ctl("POST", "roles", {"arn": role, "externalId": "ext-123"})[1]
    assert emu.ctl("GET", "roles") == (200, {"roles": [registered]})


def test_create_pool_in_another_account(emu):
    pool = new_pool_id()
    assert emu.ctl("POST", "pools", {"id": pool, "account": new_account()}) == (200, {"id": pool})


def test_create_pool_with_a_bad_account_is_400(emu):
    assert emu.ctl("POST", "pools", {"id": new_pool_id(), "account": "12"})[0] == 400


def test_get_pool_finds_it_in_its_account(emu, tenant):
    info = emu.ctl("GET", f"pools/{tenant.pool}")
    assert info[0] == 200 and info[1]["account"] == tenant.account, info
    assert info[1]["arn"] == f"arn:aws:cognito-idp:us-east-1:{tenant.account}:userpool/{tenant.pool}", info


def test_list_pools_of_one_account(emu, tenant):
    listed = emu.ctl("GET", f"pools?account={tenant.account}")[1]["pools"]
    assert [p["id"] for p in listed] == [tenant.pool], listed


@pytest.fixture
def elsewhere(emu) -> tuple[str, str]:
    """(account, pool ID) of a pool made in an account of its own."""
    account, pool = new_account(), new_pool_id()
    assert emu.ctl("POST", "pools", {"id": pool, "account": account}) == (200, {"id": pool})
    return account, pool


@pytest.fixture
def twins(emu, elsewhere) -> tuple[str, str]:
    """The pool of `elsewhere` and a pool of the same ID in the default account."""
    _account, pool = elsewhere
    assert emu.ctl("POST", "pools", {"id": pool}) == (200, {"id": pool})
    return elsewhere


def test_same_id_in_the_default_account_is_another_pool(emu, elsewhere):
    _account, pool = elsewhere
    assert emu.ctl("POST", "pools", {"id": pool}) == (200, {"id": pool})
    assert emu.ctl("GET", f"pools/{pool}?account={DEFAULT_ACCOUNT}")[1]["account"] == DEFAULT_ACCOUNT


def test_id_in_two_accounts_is_409_without_account(emu, twins):
    _account, pool = twins
    assert emu.ctl("GET", f"pools/{pool}/mfa")[0] == 409
    assert emu.ctl("GET", f"pools/{pool}")[0] == 409


def test_account_query_picks_one(emu, twins):
    account, pool = twins
    assert emu.ctl("GET", f"pools/{pool}?account={DEFAULT_ACCOUNT}")[1]["account"] == DEFAULT_ACCOUNT
    assert emu.ctl("GET", f"pools/{pool}?account={account}")[1]["account"] == account


def test_delete_with_account_deletes_that_one(emu, twins):
    account, pool = twins
    assert emu.ctl("DELETE", f"pools/{pool}?account={DEFAULT_ACCOUNT}")[0] == 200
    left = emu.ctl("GET", f"pools/{pool}")
    assert left[0] == 200 and left[1]["account"] == account, left


def test_put_mfa_finds_the_pool_in_its_account(emu, tenant):
    put = emu.ctl("PUT", f"pools/{tenant.pool}/mfa", {"MfaConfiguration": "OPTIONAL", **TOTP})
    assert put[0] == 200 and put[1]["MfaConfiguration"] == "OPTIONAL", put
    assert emu.ctl("GET", f"pools/{tenant.pool}/mfa?account={tenant.account}")[1] == put[1]


# ---------------- AssumeRole (moto issues keys of the role's account) ----------------

def test_assume_role_of_a_registered_role(tenant, sts):
    code, _status, r = outcome(sts.assume_role, **tenant.assume)
    assert code is None, r
    assert r["AssumedRoleUser"]["Arn"] == tenant.principal["arn"], r
    assert r["Credentials"]["AccessKeyId"].startswith("ASIA"), r


def test_get_caller_identity_with_assumed_keys_is_the_roles_account(tenant, creds, boto):
    ident = boto("sts", creds).get_caller_identity()
    assert ident["Account"] == tenant.account and ident["Arn"] == tenant.principal["arn"], ident


def test_cognito_with_assumed_keys_finds_the_accounts_pool(tenant, creds, boto):
    code, _, r = outcome(boto("cognito-idp", creds).get_user_pool_mfa_config, UserPoolId=tenant.pool)
    assert code is None and r["MfaConfiguration"] == "ON", r


def test_static_keys_default_account_resource_not_found(tenant, boto):
    code, _, r = outcome(boto("cognito-idp").get_user_pool_mfa_config, UserPoolId=tenant.pool)
    assert code == "ResourceNotFoundException", r


def test_set_with_assumed_keys_works(emu, tenant, creds, boto):
    code, _, r = outcome(boto("cognito-idp", creds).set_user_pool_mfa_config, UserPoolId=tenant.pool,
                         MfaConfiguration="OFF")
    assert code is None and r["MfaConfiguration"] == "OFF", r
    assert emu.ctl("GET", f"pools/{tenant.pool}/mfa")[1]["MfaConfiguration"] == "OFF"


# ---------------- trust checks ----------------

def without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


# (id, change of the tenant's AssumeRole request, expected (code, status))
TRUST_CASES = [
    ("wrong external ID", lambda a: {**a, "ExternalId": "ext-999"}, ("AccessDenied", 403)),
    ("missing external ID", lambda a: without(a, "ExternalId"), ("AccessDenied", 403)),
    ("unregistered role", lambda a: {**a, "RoleArn": a["RoleArn"].replace("mfa-operator", "other")},
     ("AccessDenied", 403)),
    ("session name with a space", lambda a: {**a, "RoleSessionName": "bad name"}, ("ValidationError", 400)),
    ("session name of 1 char", lambda a: {**a, "RoleSessionName": "a"}, ("ValidationError", 400)),
    ("session name of 65 chars", lambda a: {**a, "RoleSessionName": "a" * 65}, ("ValidationError", 400)),
    ("session name of 64 chars of [\\w+=,.@-]", lambda a: {**a, "RoleSessionName": "a+=,.@-_" * 8}, (None, 200)),
    ("external ID of 1 char", lambda a: {**a, "ExternalId": "x"}, ("ValidationError", 400)),
]


@pytest.mark.parametrize("change, want", [c[1:] for c in TRUST_CASES],
                         ids=[f"{c[0]} -> {c[2][0] or 'ok'}" for c in TRUST_CASES])
def test_assume_role_trust(tenant, sts, change, want):
    code, status, r = outcome(sts.assume_role, **change(tenant.assume))
    assert (code, status) == want, r


def test_access_denied_names_caller_action_and_role(tenant, sts):
    _code, _status, denied = outcome(sts.assume_role, **{**tenant.assume, "ExternalId": "ext-999"})
    assert denied["Error"]["Message"] == (
        f"User: arn:aws:sts::{DEFAULT_ACCOUNT}:user/moto is not authorized to perform: sts:AssumeRole "
        f"on resource: {tenant.role}"), denied["Error"]


@pytest.fixture
def untagged_role(emu, tenant) -> str:
    role = f"arn:aws:iam::{tenant.account}:role/no-tags"
    assert emu.ctl("POST", "roles", {"arn": role, "allowTagSession": False})[0] == 200
    return role


def test_session_tags_refused_without_tag_session(untagged_role, sts):
    code, status, r = outcome(sts.assume_role, RoleArn=untagged_role, RoleSessionName="s1", Tags=TAGS)
    assert code == "AccessDenied" and status == 403 and "sts:TagSession" in r["Error"]["Message"], r


def test_same_role_without_tags_works(untagged_role, sts):
    code, _, r = outcome(sts.assume_role, RoleArn=untagged_role, RoleSessionName="s1")
    assert code is None, r


def test_delete_one_role_url_encoded_arn(emu, untagged_role, tenant, sts):
    assert emu.ctl("DELETE", "roles/" + urllib.parse.quote(untagged_role, safe=""))[0] == 200
    assert outcome(sts.assume_role, RoleArn=untagged_role, RoleSessionName="s1")[0] == "AccessDenied"
    assert [r["arn"] for r in emu.ctl("GET", "roles")[1]["roles"]] == [tenant.role]


def test_delete_a_role_not_registered_is_404(emu, tenant):
    assert emu.ctl("DELETE", f"roles/arn:aws:iam::{tenant.account}:role/no-tags")[0] == 404


# ---------------- who called ----------------

@pytest.fixture
def traffic(emu, tenant, creds, boto):
    """As the role: GetCallerIdentity, Get, Set; with static keys: one Get (wrong account)."""
    boto("sts", creds).get_caller_identity()
    boto("cognito-idp", creds).get_user_pool_mfa_config(UserPoolId=tenant.pool)
    boto("cognito-idp", creds).set_user_pool_mfa_config(UserPoolId=tenant.pool, MfaConfiguration="OFF")
    outcome(boto("cognito-idp").get_user_pool_mfa_config, UserPoolId=tenant.pool)
    return creds


def test_call_record_assumed_role_principal_tags_account_key(emu, tenant, traffic):
    role = urllib.parse.quote(tenant.role)
    calls = emu.calls(f"roleArn={role}&operation=GetUserPoolMfaConfig")["calls"]
    assert len(calls) == 1, calls
    assert calls[0]["principal"] == tenant.principal and calls[0]["account"] == tenant.account, calls
    assert calls[0]["accessKeyId"] == traffic["AccessKeyId"] and calls[0]["poolId"] == tenant.pool, calls


def test_call_record_static_keys_default_account_no_principal(emu, tenant, traffic):
    calls = emu.calls(f"poolId={tenant.pool}&account={DEFAULT_ACCOUNT}")["calls"]
    assert [(c["operation"], c["accessKeyId"], c["principal"], c["error"]) for c in calls] == [
        ("GetUserPoolMfaConfig", "testing", None, "ResourceNotFoundException")], calls


def test_calls_filter_by_the_account_served_as(emu, tenant, traffic):
    total = emu.calls(f"account={tenant.account}")["total"]
    assert total == {"GetCallerIdentity": 1, "GetUserPoolMfaConfig": 1, "SetUserPoolMfaConfig": 1}, total


def test_assume_role_record_request_and_result(emu, tenant, creds):
    records = emu.calls(f"operation=AssumeRole&roleArn={urllib.parse.quote(tenant.role)}")["calls"]
    assert len(records) == 1, records
    first = records[0]
    p = tenant.principal
    assert {k: first.get(k) for k in ("roleArn", "sessionName", "sessionTags", "externalId", "account", "principal")} \
        == {**{k: p[k] for k in ("roleArn", "sessionName", "sessionTags", "externalId")},
            "account": DEFAULT_ACCOUNT, "principal": None}, first
    assert first.get("result") == {"arn": p["arn"], "accessKeyId": creds["AccessKeyId"],
                                   "account": tenant.account}, first


def test_refused_assume_roles_recorded_with_error_status_no_result(emu, tenant, sts):
    refusing = [c for c in TRUST_CASES if c[2][0] is not None]
    for _name, change, _want in refusing:
        outcome(sts.assume_role, **change(tenant.assume))
    records = emu.calls("operation=AssumeRole")["calls"]
    assert [(c["error"], c["status"]) for c in records] == [want for _n, _c, want in refusing], records
    assert all(c["result"] is None for c in records), records


# ---------------- faults and quota ----------------

@pytest.mark.parametrize("error, status", [("ExpiredToken", 400), ("AccessDenied", 403)])
def test_assume_role_fault_sts_error_shape(emu, tenant, sts, error, status):
    emu.ctl("POST", "faults", {"operation": "AssumeRole", "error": error, "count": 1})
    code, got, r = outcome(sts.assume_role, **tenant.assume)
    assert (code, got) == (error, status), r


def test_assume_role_fault_connection_reset(emu, tenant, sts):
    emu.ctl("POST", "faults", {"operation": "AssumeRole", "error": "ConnectionReset", "count": 1})
    code, _, r = outcome(sts.assume_role, **tenant.assume)
    assert code in ("ConnectionClosedError", "EndpointConnectionError"), r


def test_assume_role_faults_recorded(emu, tenant, sts):
    for error in ("ExpiredToken", "AccessDenied", "ConnectionReset"):
        emu.ctl("POST", "faults", {"operation": "AssumeRole", "error": error, "count": 1})
        outcome(sts.assume_role, **tenant.assume)
    assert outcome(sts.assume_role, **tenant.assume)[0] is None
    records = emu.calls("operation=AssumeRole")["calls"]
    assert [c["error"] for c in records] == ["ExpiredToken", "AccessDenied", "ConnectionReset", None], records


def test_cognito_quota_does_not_throttle_sts(emu, tenant, sts):
    emu.ctl("POST", "quota", {"rps": 1})
    assert [outcome(sts.assume_role, **tenant.assume)[0] for _ in range(3)] == [None] * 3


# ---------------- reset ----------------

def test_reset_clears_roles(emu, tenant, sts):
    assert emu.ctl("POST", "reset")[0] == 200
    assert emu.ctl("GET", "roles")[1] == {"roles": []}
    assert outcome(sts.assume_role, **tenant.assume)[0] == "AccessDenied"


def test_issued_keys_keep_working_and_naming_their_principal_after_reset(emu, tenant, creds, boto):
    assert emu.ctl("POST", "reset")[0] == 200
    boto("cognito-idp", creds).get_user_pool_mfa_config(UserPoolId=tenant.pool)
    calls = emu.calls("operation=GetUserPoolMfaConfig")["calls"]
    assert [c["principal"] for c in calls] == [tenant.principal], calls
