"""Pools (control API and moto), the SetUserPoolMfaConfig / GetUserPoolMfaConfig round trip, the
feature-plan rules and the control API's drift endpoints."""

from __future__ import annotations

import time

import pytest

from emulator_support import BENCH_REPORT, DEFAULT_ACCOUNT, ROLE, Emulator, err_of, new_account, new_pool_id

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
EMAIL = {"EmailMfaConfiguration": {"Message": "code {####}", "Subject": "s"}}
SMS = {"SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}", "SmsConfiguration": {"SnsCallerArn": ROLE}}}
SES_ARN = "arn:aws:ses:us-east-1:123456789012:identity/a@b.c"
WEBAUTHN_DEFAULTS = {"UserVerification": "preferred", "FactorConfiguration": "SINGLE_FACTOR"}
FULL_SET = {
    "MfaConfiguration": "OPTIONAL",
    "SoftwareTokenMfaConfiguration": {"Enabled": True},
    "EmailMfaConfiguration": {"Message": "Your code is {####}", "Subject": "Code"},
    "WebAuthnConfiguration": {"RelyingPartyId": "auth.example.com", "UserVerification": "required",
                              "FactorConfiguration": "MULTI_FACTOR_WITH_USER_VERIFICATION"},
}


def set_mfa(emu, pool_id, config, region="us-east-1"):
    return emu.aws("SetUserPoolMfaConfig", {"UserPoolId": pool_id, **config}, region=region)


def create_through_aws(emu, **kw) -> str:
    r = emu.aws("CreateUserPool", {"PoolName": "p", **kw})
    assert r[0] == 200, r
    return r[2]["UserPool"]["Id"]


# ---------------- pools ----------------

def test_control_create_pool_with_chosen_id(emu):
    pool_id = new_pool_id()
    assert emu.ctl("POST", "pools", {"id": pool_id, "emailSendingAccount": "DEVELOPER"}) == (200, {"id": pool_id})


def test_control_create_existing_id_is_409(emu, pool):
    assert emu.ctl("POST", "pools", {"id": pool})[0] == 409


def test_control_create_bad_id_is_400(emu):
    assert emu.ctl("POST", "pools", {"id": "nope"})[0] == 400


def test_moto_describe_user_pool_sees_chosen_id(emu, pool):
    r = emu.aws("DescribeUserPool", {"UserPoolId": pool})
    assert r[0] == 200 and r[2]["UserPool"]["Id"] == pool, r
    assert r[2]["UserPool"].get("UserPoolTier") == "ESSENTIALS", r


def test_moto_list_user_pools_lists_it(emu, pool):
    r = emu.aws("ListUserPools", {"MaxResults": 60})
    assert r[0] == 200 and pool in [p["Id"] for p in r[2]["UserPools"]], r


def test_control_create_pool_in_another_region(emu):
    pool_id = new_pool_id("eu-west-1")
    assert emu.ctl("POST", "pools", {"id": pool_id, "tier": "PLUS"}) == (200, {"id": pool_id})


def test_pool_found_in_its_region(emu, eu_pool):
    r = emu.aws("DescribeUserPool", {"UserPoolId": eu_pool}, region="eu-west-1")
    assert r[0] == 200 and r[2]["UserPool"]["Id"] == eu_pool and r[2]["UserPool"]["UserPoolTier"] == "PLUS", r


def test_pool_not_found_through_another_region(emu, eu_pool):
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": eu_pool}, region="us-east-1")
    assert err_of(r) == "ResourceNotFoundException", r


# ---------------- Set/Get round trip ----------------

def test_set_echoes_config_in_force(emu, pool):
    r = set_mfa(emu, pool, FULL_SET)
    assert r[0] == 200 and r[2] == FULL_SET, r


def test_get_returns_email_and_webauthn(emu, pool):
    assert set_mfa(emu, pool, FULL_SET)[0] == 200
    assert emu.get_mfa(pool) == FULL_SET


def test_describe_user_pool_mfa_configuration_in_step(emu, pool):
    assert set_mfa(emu, pool, FULL_SET)[0] == 200
    assert emu.aws("DescribeUserPool", {"UserPoolId": pool})[2]["UserPool"]["MfaConfiguration"] == "OPTIONAL"


def test_set_replaces_omitted_blocks_off_webauthn_back_to_defaults(emu, pool):
    assert set_mfa(emu, pool, FULL_SET)[0] == 200
    sms = {"SmsAuthenticationMessage": "code {####}", "SmsConfiguration": {"SnsCallerArn": ROLE, "ExternalId": "x"}}
    r = set_mfa(emu, pool, {"MfaConfiguration": "ON", "SmsMfaConfiguration": sms,
                               "SoftwareTokenMfaConfiguration": {"Enabled": False}})
    assert r[0] == 200 and r[2] == {"MfaConfiguration": "ON", "SmsMfaConfiguration": sms,
                                    "WebAuthnConfiguration": WEBAUTHN_DEFAULTS}, r
    assert emu.get_mfa(pool) == r[2]


def test_off_with_webauthn_accepted(emu, pool):
    r = set_mfa(emu, pool, {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": "x.example"}})
    assert r[0] == 200 and r[2] == {
        "MfaConfiguration": "OFF",
        "WebAuthnConfiguration": {"RelyingPartyId": "x.example", **WEBAUTHN_DEFAULTS},
    }, r


def test_get_unknown_pool_is_resource_not_found(emu):
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": "us-east-1_fresh1"})
    assert err_of(r) == "ResourceNotFoundException", r
    assert r[2]["message"] == "User pool us-east-1_fresh1 does not exist.", r
    assert r[1].get("X-Amzn-ErrorType") == "ResourceNotFoundException", r


def test_fresh_pool_get_is_off_with_webauthn_defaults(emu):
    pool_id = emu.new_pool("eu-west-1", tier="PLUS")
    assert emu.get_mfa(pool_id, region="eu-west-1") == {"MfaConfiguration": "OFF",
                                                         "WebAuthnConfiguration": WEBAUTHN_DEFAULTS}


# ---------------- feature plan and email sending (service rules 5, 6), pools made through the AWS API ----------------

def create_lite_pool(emu) -> str:
    return create_through_aws(emu, UserPoolTier="LITE",
                              EmailConfiguration={"EmailSendingAccount": "DEVELOPER", "SourceArn": SES_ARN})


@pytest.fixture(scope="module")
def lite_pool(emulator) -> str:
    """A LITE pool with email through SES, made with CreateUserPool (its plan is never changed)."""
    return create_lite_pool(emulator)


def test_email_mfa_on_lite_is_feature_unavailable(emu, lite_pool):
    r = set_mfa(emu, lite_pool, {"MfaConfiguration": "ON", **EMAIL})
    assert err_of(r) == "FeatureUnavailableInTierException", r


def test_webauthn_on_lite_is_feature_unavailable(emu, lite_pool):
    r = set_mfa(emu, lite_pool, {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": "a.b"}})
    assert err_of(r) == "FeatureUnavailableInTierException", r


def test_totp_on_lite_fine(emu, lite_pool):
    r = set_mfa(emu, lite_pool, {"MfaConfiguration": "ON", **TOTP})
    assert r[0] == 200, r


def test_email_mfa_without_ses_is_invalid_parameter_naming_email_config(emu):
    r = set_mfa(emu, create_through_aws(emu), {"MfaConfiguration": "ON", **EMAIL})
    assert err_of(r) == "InvalidParameterException" and "EmailSendingAccount" in r[2]["message"], r


def test_email_and_sms_mfa_on_plus_developer_pool_fine(emu):
    pool_id = create_through_aws(emu, UserPoolTier="PLUS",
                                 EmailConfiguration={"EmailSendingAccount": "DEVELOPER", "SourceArn": SES_ARN})
    r = set_mfa(emu, pool_id, {"MfaConfiguration": "ON", **EMAIL, **SMS})
    assert r[0] == 200 and "EmailMfaConfiguration" in r[2] and "SmsMfaConfiguration" in r[2], r


def test_control_created_lite_pool_is_feature_unavailable(emu):
    pool_id = emu.new_pool(tier="LITE", emailSendingAccount="DEVELOPER")
    r = set_mfa(emu, pool_id, {"MfaConfiguration": "ON", **EMAIL})
    assert err_of(r) == "FeatureUnavailableInTierException", r


def test_update_user_pool_to_essentials_enables_email_mfa(emu):
    pool_id = create_lite_pool(emu)
    r = emu.aws("UpdateUserPool", {"UserPoolId": pool_id, "UserPoolTier": "ESSENTIALS",
                                   "EmailConfiguration": {"EmailSendingAccount": "DEVELOPER"}})
    assert r[0] == 200, r
    r = set_mfa(emu, pool_id, {"MfaConfiguration": "ON", **EMAIL})
    assert r[0] == 200, r


def test_delete_user_pool_removes_it(emu):
    pool_id = create_through_aws(emu)
    assert emu.aws("DeleteUserPool", {"UserPoolId": pool_id})[0] == 200
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})
    assert err_of(r) == "ResourceNotFoundException", r


# ---------------- control API: drift behind the operator's back ----------------

def test_control_put_mfa_stores_without_validation(emu, pool):
    # ON without any factor: SetUserPoolMfaConfig refuses it, the control API stores it.
    assert err_of(set_mfa(emu, pool, {"MfaConfiguration": "ON"})) == "InvalidParameterException"
    r = emu.ctl("PUT", f"pools/{pool}/mfa", {"MfaConfiguration": "ON"})
    assert r == (200, {"MfaConfiguration": "ON", "WebAuthnConfiguration": WEBAUTHN_DEFAULTS}), r
    assert emu.get_mfa(pool) == r[1]


def test_control_get_mfa_equals_get_user_pool_mfa_config(emu, pool):
    assert emu.ctl("PUT", f"pools/{pool}/mfa", {"MfaConfiguration": "ON", **TOTP})[0] == 200
    r = emu.ctl("GET", f"pools/{pool}/mfa")
    g = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool})
    assert r[0] == 200 and r[1] == g[2] and g[2]["MfaConfiguration"] == "ON", (r, g)


def test_control_endpoints_not_counted(emu, pool):
    emu.ctl("PUT", f"pools/{pool}/mfa", {"MfaConfiguration": "ON", **TOTP})
    emu.ctl("GET", f"pools/{pool}/mfa")
    emu.ctl("GET", f"pools/{pool}")
    emu.ctl("GET", "pools")
    emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool})
    calls = emu.calls()
    assert calls["total"] == {"GetUserPoolMfaConfig": 1}, calls


def test_control_get_missing_pool_is_404(emu):
    assert emu.ctl("GET", "pools/us-east-1_none1/mfa")[0] == 404


# ---------------- control API: several pools in one request ----------------

MAX_BULK_POOLS = 10000  # the emulator's limit per request (the benchmark's pool count)
# What DescribeUserPool answers that differs between two pools made alike.
OWN_FIELDS = ("Id", "Arn", "Name", "CreationDate", "LastModifiedDate")


def listed_ids(emu, query: str = "") -> set[str]:
    status, body = emu.ctl("GET", "pools" + (f"?{query}" if query else ""))
    assert status == 200, (status, body)
    return {p["id"] for p in body["pools"]}


def bulk(emu, ids, **spec):
    return emu.ctl("POST", "pools", {"ids": ids, **spec})


def described(emu, pool_id: str, region: str = "us-east-1") -> dict:
    r = emu.aws("DescribeUserPool", {"UserPoolId": pool_id}, region=region)
    assert r[0] == 200, r
    return {k: v for k, v in r[2]["UserPool"].items() if k not in OWN_FIELDS}


def assert_rejected_creating_nothing(emu, body, status: int, *words: str) -> str:
    """body is refused with status and an error naming words; none of its IDs became a pool."""
    before = listed_ids(emu)
    r = emu.ctl("POST", "pools", body)
    assert r[0] == status and isinstance(r[1], dict) and isinstance(r[1].get("error"), str), r
    assert all(w in r[1]["error"] for w in words), r
    ids = body.get("ids") if isinstance(body.get("ids"), list) else []
    assert listed_ids(emu) == before, "a refused request created pools"
    for pool_id in [i for i in ids if isinstance(i, str) and i not in before][:3]:
        assert err_of(emu.aws("GetUserPoolMfaConfig", {"UserPoolId": pool_id})) in (
            "ResourceNotFoundException", "InvalidParameterException"), pool_id
    return r[1]["error"]


def test_bulk_create_answers_the_ids_in_order_and_each_exists(emu):
    ids = [new_pool_id() for _ in range(5)] + [new_pool_id("eu-west-1") for _ in range(3)]
    assert bulk(emu, ids) == (200, {"ids": ids})
    assert set(ids) <= listed_ids(emu)
    for pool_id in ids:
        region = pool_id.rsplit("_", 1)[0]
        info = emu.ctl("GET", f"pools/{pool_id}")
        assert info == (200, {"id": pool_id, "name": pool_id.rsplit("_", 1)[1], "region": region,
                              "account": DEFAULT_ACCOUNT,
                              "arn": f"arn:aws:cognito-idp:{region}:{DEFAULT_ACCOUNT}:userpool/{pool_id}",
                              "tier": "ESSENTIALS", "emailSendingAccount": "COGNITO_DEFAULT"}), info
        assert emu.get_mfa(pool_id, region=region) == {"MfaConfiguration": "OFF",
                                                       "WebAuthnConfiguration": WEBAUTHN_DEFAULTS}


@pytest.mark.parametrize("tier,sending", [("LITE", "DEVELOPER"), ("PLUS", "COGNITO_DEFAULT"),
                                          ("ESSENTIALS", "DEVELOPER")])
def test_bulk_pools_describe_like_a_singly_created_pool(emu, tier, sending):
    single = emu.new_pool(tier=tier, emailSendingAccount=sending)
    ids = [new_pool_id() for _ in range(2)]
    assert bulk(emu, ids, tier=tier, emailSendingAccount=sending) == (200, {"ids": ids})
    for pool_id in ids:
        assert described(emu, pool_id) == described(emu, single)
        info, single_info = emu.ctl("GET", f"pools/{pool_id}")[1], emu.ctl("GET", f"pools/{single}")[1]
        assert (info["tier"], info["emailSendingAccount"]) == (single_info["tier"], single_info["emailSendingAccount"])
        assert (info["tier"], info["emailSendingAccount"]) == (tier, sending)


def test_bulk_pools_set_and_get_mfa_with_their_own_state(emu):
    a, b = ids = [new_pool_id(), new_pool_id()]
    assert bulk(emu, ids, emailSendingAccount="DEVELOPER") == (200, {"ids": ids})
    r = set_mfa(emu, a, FULL_SET)
    assert r[0] == 200 and r[2] == FULL_SET, r
    assert emu.get_mfa(a) == FULL_SET
    assert emu.aws("DescribeUserPool", {"UserPoolId": a})[2]["UserPool"]["MfaConfiguration"] == "OPTIONAL"
    # the other pool of the request is untouched
    assert emu.get_mfa(b) == {"MfaConfiguration": "OFF", "WebAuthnConfiguration": WEBAUTHN_DEFAULTS}
    assert emu.ctl("PUT", f"pools/{b}/mfa", {"MfaConfiguration": "ON", **TOTP})[0] == 200
    assert emu.get_mfa(b) == {"MfaConfiguration": "ON", **TOTP, "WebAuthnConfiguration": WEBAUTHN_DEFAULTS}
    assert emu.get_mfa(a) == FULL_SET


def test_bulk_pools_keep_the_tier_and_email_rules(emu):
    lite = [new_pool_id()]
    no_ses = [new_pool_id()]
    plus = [new_pool_id()]
    assert bulk(emu, lite, tier="lite", emailSendingAccount="DEVELOPER")[0] == 200
    assert bulk(emu, no_ses, tier="ESSENTIALS")[0] == 200
    assert bulk(emu, plus, tier="PLUS", emailSendingAccount="DEVELOPER")[0] == 200
    assert err_of(set_mfa(emu, lite[0], {"MfaConfiguration": "ON", **EMAIL})) == "FeatureUnavailableInTierException"
    r = set_mfa(emu, lite[0], {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": "a.b"}})
    assert err_of(r) == "FeatureUnavailableInTierException", r
    assert set_mfa(emu, lite[0], {"MfaConfiguration": "ON", **TOTP})[0] == 200
    r = set_mfa(emu, no_ses[0], {"MfaConfiguration": "ON", **EMAIL})
    assert err_of(r) == "InvalidParameterException" and "EmailSendingAccount" in r[2]["message"], r
    r = set_mfa(emu, plus[0], {"MfaConfiguration": "ON", **EMAIL, **SMS})
    assert r[0] == 200 and "EmailMfaConfiguration" in r[2] and "SmsMfaConfiguration" in r[2], r


def test_bulk_pools_in_another_account_are_that_accounts_only(emu, boto):
    account = new_account()
    ids = [new_pool_id() for _ in range(3)]
    assert bulk(emu, ids, account=account, tier="PLUS") == (200, {"ids": ids})
    assert listed_ids(emu, f"account={account}") == set(ids)
    assert not set(ids) & listed_ids(emu, f"account={DEFAULT_ACCOUNT}")
    assert emu.ctl("GET", f"pools/{ids[0]}")[1]["account"] == account
    # moto's default account (the emulator's dummy keys) does not see them
    assert err_of(emu.aws("GetUserPoolMfaConfig", {"UserPoolId": ids[0]})) == "ResourceNotFoundException"
    # the account's own keys (AssumeRole of a role in it) do
    role = f"arn:aws:iam::{account}:role/bulk"
    assert emu.ctl("POST", "roles", {"arn": role})[0] == 200
    creds = boto("sts").assume_role(RoleArn=role, RoleSessionName="bulk-pools")["Credentials"]
    cognito = boto("cognito-idp", creds)
    r = cognito.set_user_pool_mfa_config(UserPoolId=ids[1], MfaConfiguration="ON", **TOTP)
    assert r["MfaConfiguration"] == "ON", r
    assert cognito.describe_user_pool(UserPoolId=ids[1])["UserPool"]["UserPoolTier"] == "PLUS"
    assert [c["account"] for c in emu.calls(f"poolId={ids[1]}")["calls"]] == [account, account]


def test_bulk_create_is_not_counted_as_a_call(emu):
    assert bulk(emu, [new_pool_id(), new_pool_id()])[0] == 200
    assert emu.calls() == {"total": {}, "calls": []}


def test_bulk_pools_sign_tokens_that_verify_against_their_jwks(emu, boto):
    # moto gives every pool the same signing key; the emulator imports it once for all pools.
    import json
    import urllib.request

    from joserfc import jwk, jwt

    cognito = boto("cognito-idp")
    ids = [new_pool_id(), new_pool_id()]
    assert bulk(emu, ids)[0] == 200
    for pool_id in ids + [create_through_aws(emu)]:
        client = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="c",
                                                 ExplicitAuthFlows=["ADMIN_USER_PASSWORD_AUTH"])
        client_id = client["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool_id, Username="u", TemporaryPassword="Passw0rd!x")
        cognito.admin_set_user_password(UserPoolId=pool_id, Username="u", Password="Passw0rd!x", Permanent=True)
        tokens = cognito.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                                             AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                             AuthParameters={"USERNAME": "u", "PASSWORD": "Passw0rd!x"})
        with urllib.request.urlopen(f"{emu.url}/{pool_id}/.well-known/jwks.json", timeout=10) as resp:
            keys = jwk.KeySet.import_key_set(json.loads(resp.read()))
        token = jwt.decode(tokens["AuthenticationResult"]["IdToken"], keys)
        assert token.claims["iss"].endswith(f"/{pool_id}"), token.claims


def test_single_create_still_answers_one_id(emu):
    pool_id = new_pool_id()
    # the one-pool request is unchanged: "id", and fields it does not know are ignored
    assert emu.ctl("POST", "pools", {"id": pool_id, "tier": "LITE", "other": 1}) == (200, {"id": pool_id})
    assert emu.ctl("GET", f"pools/{pool_id}")[1]["tier"] == "LITE"


@pytest.mark.parametrize("extra,words", [
    ({"name": "n"}, ("'name'", "'ids'")),
    ({"id": "us-east-1_single1"}, ("'id'",)),
    ({"tiers": "PLUS"}, ("'tiers'",)),
])
def test_bulk_unknown_field_is_400_and_creates_nothing(emu, extra, words):
    assert_rejected_creating_nothing(emu, {"ids": [new_pool_id(), new_pool_id()], **extra}, 400,
                                     "unknown field", *words)


def test_bulk_duplicate_id_is_400_and_creates_nothing(emu):
    a, b = new_pool_id(), new_pool_id()
    assert_rejected_creating_nothing(emu, {"ids": [a, b, a]}, 400, "'ids'[2]", a, "more than once")


@pytest.mark.parametrize("bad", ["nope", "us-east-1_", "us-east-1_a.b", "x" * 50 + "_abcde", 7, None])
def test_bulk_invalid_id_is_400_and_creates_nothing(emu, bad):
    assert_rejected_creating_nothing(emu, {"ids": [new_pool_id(), bad, new_pool_id()]}, 400, "'ids'[1]",
                                     r"[\w-]+_[0-9a-zA-Z]+")


@pytest.mark.parametrize("ids", [[], "us-east-1_a1", {"us-east-1_a1": 1}, None])
def test_bulk_ids_not_a_list_of_ids_is_400(emu, ids):
    assert_rejected_creating_nothing(emu, {"ids": ids}, 400, "'ids' must be a list of 1..")


def test_bulk_too_many_ids_is_400_and_creates_nothing(emu):
    ids = [f"us-east-1_many{i}x{new_pool_id().rsplit('_', 1)[1]}" for i in range(MAX_BULK_POOLS + 1)]
    assert_rejected_creating_nothing(emu, {"ids": ids}, 400, f"1..{MAX_BULK_POOLS}")


@pytest.mark.parametrize("spec,words", [
    ({"tier": "GOLD"}, ("'tier'",)),
    ({"emailSendingAccount": "SES"}, ("'emailSendingAccount'",)),
    ({"account": "12"}, ("'account'",)),
])
def test_bulk_bad_setting_is_400_and_creates_nothing(emu, spec, words):
    assert_rejected_creating_nothing(emu, {"ids": [new_pool_id(), new_pool_id()], **spec}, 400, *words)


def test_bulk_unknown_region_is_400_and_creates_nothing(emu):
    assert_rejected_creating_nothing(emu, {"ids": [new_pool_id(), "xx-nowhere-9_abc1"]}, 400, "xx-nowhere-9")


def test_bulk_with_an_existing_id_is_409_and_creates_none_of_the_others(emu, pool):
    fresh = [new_pool_id() for _ in range(3)]
    error = assert_rejected_creating_nothing(emu, {"ids": fresh[:2] + [pool] + fresh[2:]}, 409, pool, "none of")
    assert not any(f in error for f in fresh), error
    # ... and the existing pool is the one it was
    assert emu.ctl("GET", f"pools/{pool}")[1]["emailSendingAccount"] == "DEVELOPER"


def test_bulk_existing_id_in_another_account_does_not_conflict(emu):
    pool_id = new_pool_id()
    assert bulk(emu, [pool_id], account=new_account()) == (200, {"ids": [pool_id]})
    assert bulk(emu, [pool_id]) == (200, {"ids": [pool_id]})


def test_bulk_the_benchmarks_pools_in_one_request():
    """MAX_BULK_POOLS pools (the benchmark's 10,000) in one request, on an emulator of its own; the
    time is reported, and bounded loosely (one pool at a time took ~0.17 s: ~28 min for these)."""
    e = Emulator()
    try:
        ids = [f"{region}_bench{i:05d}" for i, region in
               zip(range(MAX_BULK_POOLS), ["us-east-1", "eu-west-1"] * MAX_BULK_POOLS)]
        t0 = time.monotonic()
        c = e.conn(timeout=300)
        try:
            import json

            c.request("POST", "/_emulator/pools", body=json.dumps({"ids": ids, "tier": "ESSENTIALS",
                                                                  "emailSendingAccount": "DEVELOPER"}),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            status, body = r.status, json.loads(r.read())
        finally:
            c.close()
        seconds = time.monotonic() - t0
        BENCH_REPORT.append(f"{MAX_BULK_POOLS} pools in one POST /_emulator/pools: {seconds:.1f} s")
        assert (status, body) == (200, {"ids": ids})
        assert len(listed_ids(e)) == MAX_BULK_POOLS
        assert set_mfa(e, ids[-1], FULL_SET, region="eu-west-1")[2] == FULL_SET
        assert e.get_mfa(ids[0]) == {"MfaConfiguration": "OFF", "WebAuthnConfiguration": WEBAUTHN_DEFAULTS}
        assert seconds < 120, seconds
    finally:
        assert e.stop() == 0
    assert not [line for line in e.stderr_lines if "Traceback" in line], "".join(e.stderr_lines[-40:])
