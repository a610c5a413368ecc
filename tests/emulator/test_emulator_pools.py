"""Pools (control API and moto), the SetUserPoolMfaConfig / GetUserPoolMfaConfig round trip, the
feature-plan rules and the control API's drift endpoints."""

from __future__ import annotations

import pytest

from emulator_support import ROLE, err_of, new_pool_id

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
