"""SetUserPoolMfaConfig's request rules (docs/cognito-service.md, "Rules the service enforces"):
each invalid request is refused with InvalidParameterException naming what is wrong, and changes
nothing."""

from __future__ import annotations

import pytest

from emulator_support import ROLE, err_of

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
EMAIL = {"EmailMfaConfiguration": {"Message": "code {####}", "Subject": "s"}}
SMS = {"SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}", "SmsConfiguration": {"SnsCallerArn": ROLE}}}


def sms(message="code {####}", **config):
    return {"SmsMfaConfiguration": {"SmsAuthenticationMessage": message,
                                    **({"SmsConfiguration": config} if config else {})}}


def email(message="c {####}", subject="s"):
    return {"EmailMfaConfiguration": {"Message": message, "Subject": subject}}


# (id, request without UserPoolId unless it is the subject, error code, text the message must contain)
CASES = [
    ("bad pool ID pattern", {"UserPoolId": "not-a-pool", "MfaConfiguration": "OFF"}, "UserPoolId"),
    ("pool ID too long", {"UserPoolId": "us-east-1_" + "a" * 50, "MfaConfiguration": "OFF"}, "UserPoolId"),
    ("MfaConfiguration enum", {"MfaConfiguration": "MAYBE"}, "MfaConfiguration"),
    ("MfaConfiguration missing", {}, "MfaConfiguration"),
    ("ON without factor", {"MfaConfiguration": "ON"}, "MfaConfiguration"),
    ("ON with TOTP disabled only", {"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": False}},
     "factor"),
    ("OPTIONAL with WebAuthn only", {"MfaConfiguration": "OPTIONAL", "WebAuthnConfiguration": {"RelyingPartyId": "a.b"}},
     "WebAuthn"),
    ("OFF with TOTP", {"MfaConfiguration": "OFF", **TOTP}, "can't turn off MFA and configure an MFA together"),
    ("OFF with SMS", {"MfaConfiguration": "OFF", **SMS}, "can't turn off MFA"),
    ("OFF with email", {"MfaConfiguration": "OFF", **EMAIL}, "can't turn off MFA"),
    ("SMS message without {####}", {"MfaConfiguration": "ON", **sms("code is here", SnsCallerArn=ROLE)},
     "SmsAuthenticationMessage"),
    ("SMS message too short", {"MfaConfiguration": "ON", **sms("{####}"[:5], SnsCallerArn=ROLE)},
     "SmsAuthenticationMessage"),
    ("SMS message too long", {"MfaConfiguration": "ON", **sms("{####}" + "x" * 140, SnsCallerArn=ROLE)},
     "SmsAuthenticationMessage"),
    ("SMS without SmsConfiguration", {"MfaConfiguration": "ON", **sms()}, "SnsCallerArn"),
    ("SMS with malformed role ARN",
     {"MfaConfiguration": "ON", **sms(SnsCallerArn="arn:aws:sns:us-east-1:123456789012:topic")}, "SnsCallerArn"),
    ("email Message without {####}", {"MfaConfiguration": "ON", **email("no code here")},
     "EmailMfaConfiguration.Message"),
    ("email Message too short", {"MfaConfiguration": "ON", **email("{###}")}, "EmailMfaConfiguration.Message"),
    ("email Message too long", {"MfaConfiguration": "ON", **email("{####}" + "x" * 20000)},
     "EmailMfaConfiguration.Message"),
    ("email Subject empty", {"MfaConfiguration": "ON", **email(subject="")}, "EmailMfaConfiguration.Subject"),
    ("email Subject too long", {"MfaConfiguration": "ON", **email(subject="s" * 141)},
     "EmailMfaConfiguration.Subject"),
    ("RelyingPartyId too long", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": "a" * 128}},
     "RelyingPartyId"),
    ("RelyingPartyId empty", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"RelyingPartyId": ""}},
     "RelyingPartyId"),
    ("UserVerification enum", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"UserVerification": "always"}},
     "UserVerification"),
    ("FactorConfiguration enum", {"MfaConfiguration": "OFF", "WebAuthnConfiguration": {"FactorConfiguration": "TWO"}},
     "FactorConfiguration"),
]


def request_for(pool_id: str, body: dict) -> dict:
    return body if "UserPoolId" in body else {"UserPoolId": pool_id, **body}


@pytest.fixture(scope="module")
def configured_pool(emulator) -> str:
    """A pool (email through SES) with SMS, TOTP, email and WebAuthn settings in force."""
    pool_id = emulator.new_pool(emailSendingAccount="DEVELOPER")
    r = emulator.aws("SetUserPoolMfaConfig", {"UserPoolId": pool_id, "MfaConfiguration": "OPTIONAL", **TOTP, **SMS,
                                         **EMAIL, "WebAuthnConfiguration": {"RelyingPartyId": "auth.example.com"}})
    assert r[0] == 200, r
    return pool_id


@pytest.mark.parametrize("body, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_set_refused(emu, configured_pool, body, needle):
    r = emu.aws("SetUserPoolMfaConfig", request_for(configured_pool, body))
    assert err_of(r) == "InvalidParameterException", r
    assert r[1].get("X-Amzn-ErrorType") == "InvalidParameterException", r
    assert needle in r[2].get("message", ""), r


def test_refused_sets_change_nothing(emu, configured_pool):
    before = emu.get_mfa(configured_pool)
    for _name, body, _needle in CASES:
        assert emu.aws("SetUserPoolMfaConfig", request_for(configured_pool, body))[0] == 400
    assert emu.get_mfa(configured_pool) == before
    # and every refused call is recorded as refused
    calls = emu.calls("operation=SetUserPoolMfaConfig")["calls"][-len(CASES):]
    assert [(c["status"], c["error"]) for c in calls] == [(400, "InvalidParameterException")] * len(CASES), calls


def test_get_with_malformed_id_is_invalid_parameter(emu):
    r = emu.aws("GetUserPoolMfaConfig", {"UserPoolId": "bad id"})
    assert err_of(r) == "InvalidParameterException" and "UserPoolId" in r[2]["message"], r


def test_set_on_missing_pool_is_resource_not_found(emu):
    r = emu.aws("SetUserPoolMfaConfig", {"UserPoolId": "us-east-1_missing9", "MfaConfiguration": "ON", **TOTP})
    assert err_of(r) == "ResourceNotFoundException", r
