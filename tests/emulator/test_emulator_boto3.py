"""A round trip through a real AWS SDK (boto3, default client settings)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def client(emu):
    return boto3.client("cognito-idp", endpoint_url=emu.url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def error_code(call, **kw) -> str | None:
    try:
        call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def test_boto3_set_round_trip(client, pool):
    pool_id = pool
    r = client.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL",
                                        EmailMfaConfiguration={"Message": "c {####}", "Subject": "s"},
                                        WebAuthnConfiguration={"RelyingPartyId": "example.com"})
    assert r["EmailMfaConfiguration"]["Subject"] == "s", r
    assert r["WebAuthnConfiguration"]["RelyingPartyId"] == "example.com", r
    g = client.get_user_pool_mfa_config(UserPoolId=pool_id)
    assert g["MfaConfiguration"] == "OPTIONAL" and g["EmailMfaConfiguration"] == r["EmailMfaConfiguration"], g


def test_boto3_sees_invalid_parameter_exception(client):
    assert error_code(client.get_user_pool_mfa_config, UserPoolId="bad") == "InvalidParameterException"


def test_boto3_sees_an_unknown_injected_code(emu, client, pool):
    pool_id = pool
    emu.ctl("POST", "faults", {"operation": "GetUserPoolMfaConfig", "error": "SomethingNewException", "count": 1})
    assert error_code(client.get_user_pool_mfa_config, UserPoolId=pool_id) == "SomethingNewException"
