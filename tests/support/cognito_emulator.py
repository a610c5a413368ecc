#!/usr/bin/env python3
"""Cognito user pool emulator for the operator's tests.

Wraps moto's server WSGI application (moto 5.2.1, ``DomainDispatcherApplication``)
and adds what real Amazon Cognito does on SetUserPoolMfaConfig /
GetUserPoolMfaConfig that moto lacks, plus fault injection, call accounting and
a throttling quota for tests.  Each extension names the rule it emulates from
``docs/cognito-service.md`` ("service rule N").

Usage::

    python3 tests/support/cognito_emulator.py [--host 127.0.0.1] [--port 0]
        [--quota-rps N] [--quota-burst N] [--exit-on-stdin-eof]

Prints exactly one line ``LISTENING <port>`` on stdout once it accepts
connections, then serves until SIGTERM/SIGINT (or stdin EOF with
``--exit-on-stdin-eof``).  AWS clients use ``http://<host>:<port>`` as the
endpoint with dummy credentials; test control lives under ``/_emulator/``
(plain JSON, see ``ControlApi`` below).

Pools are looked up in moto's backend exactly as moto does it: the account from
the credentials (moto's default 123456789012 for dummy keys) and the region
from the request's SigV4 credential scope, so a client must sign with the
pool's region (as against the real service).  Control endpoints take the
region from the pool ID's prefix and find the pool in whichever account holds
it (``?account=`` to choose); pools are created in the default account unless
the request names another.

Several accounts: STS AssumeRole (query protocol, signed for ``sts``) sent to
the same endpoint is served by moto's STS, which issues keys that moto then
serves as the role's account; Cognito's backends are per account and region,
so a pool exists in one account only and other accounts' calls for it get
ResourceNotFoundException.  moto trusts every AssumeRole; the emulator adds the
trust checks of the real service, each named after "STS limits" in
``docs/cognito-service.md`` ("sts rule N"): only roles
registered through ``/_emulator/roles`` can be assumed, with the external ID
they were registered with, session tags only where the role allows them, and
RoleSessionName 2-64 characters of ``[\\w+=,.@-]``.  Every call record names who
called: the access key, the account served as, and for AssumeRole keys the
assumed-role principal with the session name, session tags and external ID of
the AssumeRole that issued them.  The Cognito quota does not apply to STS.
"""

from __future__ import annotations

import _socket
import argparse
import gzip
import io
import json
import logging
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wsgi import get_input_stream

import moto.cognitoidp.models as moto_cognitoidp_models
from moto.cognitoidp.models import CognitoIdpUserPool, cognitoidp_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import BaseResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.utilities.utils import get_partition

COGNITO_TARGET_PREFIX = "AWSCognitoIdentityProviderService"
JSON_11 = "application/x-amz-json-1.1"

# --- request constraints (docs/cognito-service.md) -----
# service rule C4: pool ID pattern [\w-]+_[0-9a-zA-Z]+, length 1..55 (\w is ASCII, as in Java).
POOL_ID_RE = re.compile(r"[\w-]+_[0-9a-zA-Z]+", re.ASCII)
POOL_ID_MAX = 55
MFA_VALUES = ("OFF", "ON", "OPTIONAL")
# service rule 4: SnsCallerArn is an IAM role ARN Cognito assumes to publish via SNS.
ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", re.ASCII)
CODE_PLACEHOLDER = "{####}"
USER_VERIFICATION_VALUES = ("required", "preferred")
FACTOR_CONFIGURATION_VALUES = ("SINGLE_FACTOR", "MULTI_FACTOR_WITH_USER_VERIFICATION")
WEBAUTHN_DEFAULTS = {"UserVerification": "preferred", "FactorConfiguration": "SINGLE_FACTOR"}
TIERS = ("LITE", "ESSENTIALS", "PLUS")
DEFAULT_TIER = "ESSENTIALS"
EMAIL_SENDING_ACCOUNTS = ("COGNITO_DEFAULT", "DEVELOPER")
DEFAULT_EMAIL_SENDING_ACCOUNT = "COGNITO_DEFAULT"
ACCOUNT_RE = re.compile(r"\d{12}", re.ASCII)
# Most pools one POST /_emulator/pools {"ids": [...]} creates (the benchmark's 10,000 in one request).
MAX_BULK_POOLS = 10000
BULK_POOL_FIELDS = ("ids", "tier", "emailSendingAccount", "account")

# --- STS AssumeRole (docs/cognito-service.md, STS) ----------------------
ASSUME_ROLE = "AssumeRole"
STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
# sts rule 4: RoleSessionName 2..64 characters of [\w+=,.@-].
SESSION_NAME_RE = re.compile(r"[\w+=,.@-]*", re.ASCII)
# sts rule 2: ExternalId 2..1224 characters (API model pattern [\w+=,.@:/-]*).
EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]*", re.ASCII)
# SigV4: Authorization: AWS4-HMAC-SHA256 Credential=<access key>/<date>/<region>/<service>/aws4_request, ...
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")

DEFAULT_FAULT_MESSAGES = {
    "ConcurrentModificationException": "Concurrent modification of the user pool, try again.",
    "InternalErrorException": "Internal server error.",
    "InvalidParameterException": "Invalid parameter (injected fault).",
    "InvalidSmsRoleAccessPolicyException": "Role does not have permission to publish with SNS",
    "InvalidSmsRoleTrustRelationshipException": "Role trust relationship is not valid for cognito-idp.amazonaws.com",
    "NotAuthorizedException": "User is not authorized to perform this operation.",
    "ResourceNotFoundException": "User pool does not exist.",
    "TooManyRequestsException": "Rate exceeded",
    "FeatureUnavailableInTierException": "This feature is not available in the user pool's feature plan.",
    "AccessDenied": "User is not authorized to perform: sts:AssumeRole (injected fault)",
    "ExpiredToken": "The security token included in the request is expired",
}
# Status of an injected fault when the spec gives none (else 400).
DEFAULT_FAULT_STATUS = {"InternalErrorException": 500, "AccessDenied": 403}
PSEUDO_FAULTS = ("Timeout", "ConnectionReset")


class AwsError(Exception):
    """An error answered in the AWS JSON 1.1 error shape."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _split_pool_region(pool_id: str) -> str:
    return pool_id.rsplit("_", 1)[0]


def _read_body(environ: dict) -> bytes:
    """Read the whole request body and make it re-readable for moto."""
    stream = get_input_stream(environ)
    body = stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body


def _decode_json(environ: dict, body: bytes) -> Any:
    if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except OSError:
            return None
    if not body:
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _request_account_region(environ: dict) -> tuple[str, str]:
    """Account and region exactly as moto's BaseResponse derives them."""
    host = environ.get("HTTP_HOST", "")
    url_match = BaseResponse.region_regex.search(f"http://{host}{environ.get('PATH_INFO', '')}")
    ua_match = BaseResponse.region_from_useragent_regex.search(environ.get("HTTP_USER_AGENT", ""))
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if url_match:
        region = url_match.group(1)
    elif ua_match:
        region = ua_match.group(1)
    elif "AWS4" in auth:
        try:
            region = auth.split(",")[0].split("/")[2]
        except IndexError:
            region = "us-east-1"
    else:
        region = "us-east-1"

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"], region
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"], region
    access_key = "AKIAEXAMPLE"
    match = BaseResponse.access_key_regex.search(auth)
    if match:
        access_key = match.group(1)
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key), region


# ---------------------------------------------------------------------------
# moto's pool signing key, imported once
# ---------------------------------------------------------------------------

class _SharedKeyImports:
    """Stands in for ``joserfc.jwk.RSAKey`` in moto's cognitoidp models: ``import_key`` of a JWK
    dict it has imported before returns the key object imported then.

    moto gives every pool the same signing key (its resources/jwks-private.json, n/e/d only) and
    imports it afresh per pool: joserfc recovers the RSA primes from n/e/d and cryptography checks
    the key, ~0.2 s of the pool's creation.  The key object is never modified after its import
    (it already has its "kid"), so pools sharing it sign exactly as with their own copy.
    """

    def __init__(self, rsa_key_class):
        self._cls = rsa_key_class
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def import_key(self, value, parameters=None, password=None):
        if not isinstance(value, dict) or parameters is not None or password is not None:
            return self._cls.import_key(value, parameters, password)
        cache_key = json.dumps(value, sort_keys=True)
        with self._lock:
            key = self._keys.get(cache_key)
            if key is None:
                key = self._keys[cache_key] = self._cls.import_key(value)
        return key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cls, name)


class _JwkWithSharedKeys:
    """``joserfc.jwk`` as moto's cognitoidp models see it: the same, but RSAKey imports once."""

    def __init__(self, jwk_module):
        self._module = jwk_module
        self.RSAKey = _SharedKeyImports(jwk_module.RSAKey)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def share_pool_signing_key() -> None:
    """Make moto import its pool signing key once per process (idempotent)."""
    if not isinstance(moto_cognitoidp_models.jwk, _JwkWithSharedKeys):
        moto_cognitoidp_models.jwk = _JwkWithSharedKeys(moto_cognitoidp_models.jwk)


def _control_account() -> str:
    return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)


def _account_id(value: Any) -> str:
    if not isinstance(value, str) or not ACCOUNT_RE.fullmatch(value):
        raise ValueError("'account' must be a 12-digit AWS account ID")
    return value


def _find_pool(account: str, region: str, pool_id: str):
    try:
        backend = cognitoidp_backends[account][region]
    except KeyError:
        return None
    return backend.user_pools.get(pool_id)


def _pool_tier(pool) -> str:
    # service rules 5/6: the feature plan comes from CreateUserPool/UpdateUserPool's
    # UserPoolTier (moto keeps every CreateUserPool parameter in extended_config;
    # like the real UpdateUserPool, an update that omits it resets it to the default).
    return (pool.extended_config.get("UserPoolTier") or DEFAULT_TIER).upper()


def _pool_email_sending_account(pool) -> str:
    # service rule 5: email MFA needs EmailConfiguration.EmailSendingAccount DEVELOPER (SES).
    email_cfg = pool.extended_config.get("EmailConfiguration") or {}
    return (email_cfg.get("EmailSendingAccount") or DEFAULT_EMAIL_SENDING_ACCOUNT).upper()


# ---------------------------------------------------------------------------
# MFA configuration store (kept on moto's pool object: deleting the pool in
# moto deletes it, a re-created pool starts fresh)
# ---------------------------------------------------------------------------

def _sms_block_from_moto(pool) -> dict | None:
    if pool.sms_mfa_config:
        return pool.sms_mfa_config
    return None


def mfa_state(pool) -> dict:
    """The configuration in force, in GetUserPoolMfaConfig's response shape.

    service rule C3: blocks that are off are absent (absent == off), including
    SoftwareTokenMfaConfiguration {Enabled: false}; WebAuthnConfiguration is
    always returned, with the service defaults for what was never set.
    """
    out: dict[str, Any] = {}
    sms = _sms_block_from_moto(pool)
    if sms:
        out["SmsMfaConfiguration"] = sms
    if pool.token_mfa_config and pool.token_mfa_config.get("Enabled"):
        out["SoftwareTokenMfaConfiguration"] = {"Enabled": True}
    email = getattr(pool, "_emu_email_mfa", None)
    if email is not None:
        out["EmailMfaConfiguration"] = dict(email)
    out["MfaConfiguration"] = pool.mfa_config or "OFF"
    webauthn = dict(WEBAUTHN_DEFAULTS)
    webauthn.update(getattr(pool, "_emu_webauthn", None) or {})
    out["WebAuthnConfiguration"] = webauthn
    return out


def store_mfa(pool, req: dict) -> None:
    """Replace the whole MFA configuration (service rule C1: Set replaces; a block left out is off).

    Also keeps moto's own fields (mfa_config, sms_mfa_config, token_mfa_config)
    in step so moto's DescribeUserPool and sign-in flows see the same state.
    """
    pool.mfa_config = req.get("MfaConfiguration") or "OFF"
    sms = req.get("SmsMfaConfiguration")
    pool.sms_mfa_config = dict(sms) if isinstance(sms, dict) else None
    totp = req.get("SoftwareTokenMfaConfiguration")
    pool.token_mfa_config = {"Enabled": True} if isinstance(totp, dict) and totp.get("Enabled") is True else None
    email = req.get("EmailMfaConfiguration")
    pool._emu_email_mfa = dict(email) if isinstance(email, dict) else None
    webauthn = req.get("WebAuthnConfiguration")
    pool._emu_webauthn = (
        {k: v for k, v in webauthn.items() if k in ("RelyingPartyId", "UserVerification", "FactorConfiguration")}
        if isinstance(webauthn, dict)
        else None
    )


# ---------------------------------------------------------------------------
# validation of SetUserPoolMfaConfig (docs/cognito-service.md, "Rules the service enforces")
# ---------------------------------------------------------------------------

class _SchemaErrors:
    """Collects constraint violations; reported like the service's
    "N validation error(s) detected: Value '...' at '<Parameter>' failed to satisfy constraint: ..."
    (Cognito's code is InvalidParameterException, STS's ValidationError)."""

    def __init__(self, code: str = "InvalidParameterException") -> None:
        self.code = code
        self.items: list[str] = []

    def add(self, value: Any, where: str, constraint: str) -> None:
        shown = "null" if value is None else str(value)
        self.items.append(f"Value '{shown}' at '{where}' failed to satisfy constraint: {constraint}")

    def length(self, value: Any, where: str, lo: int, hi: int) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise AwsError("SerializationException", f"{where}: expected a string")
        if not lo <= len(value) <= hi:
            self.add(value, where, f"Member must have length between {lo} and {hi}, inclusive")

    def enum(self, value: Any, where: str, allowed: Iterable[str]) -> None:
        if value is None:
            return
        allowed = tuple(allowed)
        if value not in allowed:
            self.add(value, where, f"Member must satisfy enum value set: [{', '.join(allowed)}]")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            head = f"{n} validation error{'s' if n > 1 else ''} detected: "
            raise AwsError(self.code, head + "; ".join(self.items))


def _obj(req: dict, key: str, where: str | None = None) -> dict | None:
    value = req.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AwsError("SerializationException", f"{where or key}: expected an object")
    return value


def validate_pool_id(pool_id: Any) -> str:
    # service rule C4: UserPoolId pattern [\w-]+_[0-9a-zA-Z]+, length 1..55; the real
    # service validates this before looking the pool up (moto says ResourceNotFound).
    if pool_id is None:
        raise invalid("1 validation error detected: Value null at 'UserPoolId' failed to satisfy constraint: "
                      "Member must not be null")
    if not isinstance(pool_id, str):
        raise AwsError("SerializationException", "UserPoolId: expected a string")
    errors = _SchemaErrors()
    errors.length(pool_id, "UserPoolId", 1, POOL_ID_MAX)
    if not POOL_ID_RE.fullmatch(pool_id):
        errors.add(pool_id, "UserPoolId", r"Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+")
    errors.raise_if_any()
    return pool_id


def validate_set_request_shape(req: dict) -> None:
    """Checks that need no pool: enums, lengths, patterns."""
    errors = _SchemaErrors()
    mfa = req.get("MfaConfiguration")
    # service rule 1: MfaConfiguration is one of OFF, ON, OPTIONAL.
    if mfa is None:
        errors.add(None, "MfaConfiguration", "Member must not be null (one of OFF, ON, OPTIONAL)")
    else:
        errors.enum(mfa, "MfaConfiguration", MFA_VALUES)

    sms = _obj(req, "SmsMfaConfiguration")
    if sms is not None:
        # service rule 4: SmsAuthenticationMessage length 6..140.
        errors.length(sms.get("SmsAuthenticationMessage"), "SmsMfaConfiguration.SmsAuthenticationMessage", 6, 140)
        sms_cfg = _obj(sms, "SmsConfiguration", "SmsMfaConfiguration.SmsConfiguration")
        if sms_cfg is not None:
            arn = sms_cfg.get("SnsCallerArn")
            # service rule 4: SnsCallerArn is an IAM role ARN.
            if arn is None:
                errors.add(None, "SmsMfaConfiguration.SmsConfiguration.SnsCallerArn", "Member must not be null")
            elif not isinstance(arn, str) or not ROLE_ARN_RE.fullmatch(arn):
                errors.add(arn, "SmsMfaConfiguration.SmsConfiguration.SnsCallerArn",
                           "Member must be an IAM role ARN (arn:aws:iam::<account-id>:role/<name>)")
            else:
                errors.length(arn, "SmsMfaConfiguration.SmsConfiguration.SnsCallerArn", 20, 2048)
            for key in ("ExternalId", "SnsRegion"):
                value = sms_cfg.get(key)
                if value is not None and not isinstance(value, str):
                    raise AwsError("SerializationException", f"SmsMfaConfiguration.SmsConfiguration.{key}: expected a string")
            # service rule 4: SnsRegion, when given, is 5..32 characters.
            errors.length(sms_cfg.get("SnsRegion"), "SmsMfaConfiguration.SmsConfiguration.SnsRegion", 5, 32)

    totp = _obj(req, "SoftwareTokenMfaConfiguration")
    if totp is not None and totp.get("Enabled") is not None and not isinstance(totp.get("Enabled"), bool):
        raise AwsError("SerializationException", "SoftwareTokenMfaConfiguration.Enabled: expected a boolean")

    email = _obj(req, "EmailMfaConfiguration")
    if email is not None:
        # service rule 5: Message 6..20000 chars, Subject 1..140 chars.
        errors.length(email.get("Message"), "EmailMfaConfiguration.Message", 6, 20000)
        errors.length(email.get("Subject"), "EmailMfaConfiguration.Subject", 1, 140)

    webauthn = _obj(req, "WebAuthnConfiguration")
    if webauthn is not None:
        # service rules 6 / C5: RelyingPartyId 1..127 (API model), UserVerification required|preferred,
        # FactorConfiguration SINGLE_FACTOR|MULTI_FACTOR_WITH_USER_VERIFICATION.
        errors.length(webauthn.get("RelyingPartyId"), "WebAuthnConfiguration.RelyingPartyId", 1, 127)
        errors.enum(webauthn.get("UserVerification"), "WebAuthnConfiguration.UserVerification",
                    USER_VERIFICATION_VALUES)
        errors.enum(webauthn.get("FactorConfiguration"), "WebAuthnConfiguration.FactorConfiguration",
                    FACTOR_CONFIGURATION_VALUES)
    errors.raise_if_any()


def _webauthn_configured(webauthn: dict | None) -> bool:
    """A WebAuthn block that differs from the service defaults (what every pool,
    LITE included, already reports) counts as turning WebAuthn settings on."""
    if not webauthn:
        return False
    if webauthn.get("RelyingPartyId") is not None:
        return True
    for key, default in WEBAUTHN_DEFAULTS.items():
        if webauthn.get(key) not in (None, default):
            return True
    return False


def validate_set_request_semantics(req: dict, pool) -> None:
    """Rules that combine blocks or need the pool (feature plan, email sending)."""
    mfa = req["MfaConfiguration"]
    sms = req.get("SmsMfaConfiguration")
    totp = req.get("SoftwareTokenMfaConfiguration") or {}
    email = req.get("EmailMfaConfiguration")
    webauthn = req.get("WebAuthnConfiguration")
    sms_on = sms is not None
    totp_on = totp.get("Enabled") is True
    email_on = email is not None

    # service rule 3: OFF with an enabled SMS, TOTP or email block is rejected (WebAuthn is fine).
    if mfa == "OFF" and (sms_on or totp_on or email_on):
        raise invalid("Invalid MFA configuration given, can't turn off MFA and configure an MFA together. "
                      "Remove SmsMfaConfiguration, SoftwareTokenMfaConfiguration and EmailMfaConfiguration "
                      "or set MfaConfiguration to ON or OPTIONAL.")
    # service rule 2: ON/OPTIONAL needs an enabled factor among SMS, TOTP, email; WebAuthn doesn't count.
    if mfa in ("ON", "OPTIONAL") and not (sms_on or totp_on or email_on):
        raise invalid(f"Invalid MFA configuration given: MfaConfiguration {mfa} needs at least one enabled MFA "
                      "factor among SmsMfaConfiguration, SoftwareTokenMfaConfiguration (Enabled: true) and "
                      "EmailMfaConfiguration (WebAuthnConfiguration is not an MFA factor).")
    if sms_on:
        # service rule 4: the SMS message must contain {####}.
        message = sms.get("SmsAuthenticationMessage")
        if message is not None and CODE_PLACEHOLDER not in message:
            raise invalid("SmsMfaConfiguration.SmsAuthenticationMessage must contain the code placeholder {####}.")
        # service rule 4: SMS MFA needs SmsConfiguration.SnsCallerArn.
        if not (sms.get("SmsConfiguration") or {}).get("SnsCallerArn"):
            raise invalid("SmsMfaConfiguration.SmsConfiguration.SnsCallerArn is required to use SMS MFA "
                          "(an IAM role Cognito assumes to publish through SNS).")
    if email_on:
        # service rule 5: the email message must contain {####}.
        message = email.get("Message")
        if message is not None and CODE_PLACEHOLDER not in message:
            raise invalid("EmailMfaConfiguration.Message must contain the code placeholder {####}.")
        # service rule 5: email MFA needs the Essentials or Plus plan ...
        tier = _pool_tier(pool)
        if tier == "LITE":
            raise AwsError("FeatureUnavailableInTierException",
                           f"Email MFA (EmailMfaConfiguration) is not available in the {tier} feature plan of user "
                           f"pool {pool.id}; it needs ESSENTIALS or PLUS.")
        # ... and the pool's email sending through SES (DEVELOPER).
        if _pool_email_sending_account(pool) != "DEVELOPER":
            raise invalid(f"EmailMfaConfiguration cannot be set: user pool {pool.id} must send email with Amazon "
                          "SES (EmailConfiguration.EmailSendingAccount DEVELOPER) to use email MFA.")
    # service rule 6: WebAuthn needs the Essentials plan or higher.
    if _webauthn_configured(webauthn) and _pool_tier(pool) == "LITE":
        raise AwsError("FeatureUnavailableInTierException",
                       f"WebAuthnConfiguration (passkeys) is not available in the LITE feature plan of user pool "
                       f"{pool.id}; it needs ESSENTIALS or PLUS.")


# ---------------------------------------------------------------------------
# STS AssumeRole (docs/cognito-service.md, STS): moto issues the keys and
# serves them as the role's account; the emulator adds the checks moto lacks
# ---------------------------------------------------------------------------

def _query_params(environ: dict, body: bytes) -> dict[str, str]:
    """A query-protocol request's parameters (URL query and form body, blank values kept)."""
    params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    return {key: values[0] for key, values in params.items()}


def _members(params: dict[str, str], name: str) -> list[dict[str, str]]:
    """A query-protocol list of structures (``<name>.member.<N>.<Field>=...``) in N order."""
    items: dict[int, dict[str, str]] = {}
    prefix = f"{name}.member."
    for key, value in params.items():
        index, _, field = key[len(prefix):].partition(".")
        if key.startswith(prefix) and index.isdigit() and field:
            items.setdefault(int(index), {})[field] = value
    return [items[i] for i in sorted(items)]


def assume_role_request(params: dict[str, str]) -> dict:
    """The AssumeRole parameters the emulator checks and records."""
    return {
        "roleArn": params.get("RoleArn"),
        "sessionName": params.get("RoleSessionName"),
        "sessionTags": {tag.get("Key", ""): tag.get("Value", "") for tag in _members(params, "Tags")},
        "externalId": params.get("ExternalId"),
    }


def validate_assume_role(req: dict) -> None:
    """STS's own parameter checks (ValidationError, 400), made before the trust policy."""
    errors = _SchemaErrors("ValidationError")
    for key, where in (("roleArn", "roleArn"), ("sessionName", "roleSessionName")):
        if req[key] is None:
            errors.add(None, where, "Member must not be null")
    errors.length(req["roleArn"], "roleArn", 20, 2048)
    # sts rule 4: RoleSessionName is 2..64 characters of [\w+=,.@-].
    name = req["sessionName"]
    errors.length(name, "roleSessionName", 2, 64)
    if name is not None and not SESSION_NAME_RE.fullmatch(name):
        errors.add(name, "roleSessionName", r"Member must satisfy regular expression pattern: [\w+=,.@-]*")
    # sts rule 2: ExternalId is 2..1224 characters.
    external_id = req["externalId"]
    errors.length(external_id, "externalId", 2, 1224)
    if external_id is not None and not EXTERNAL_ID_RE.fullmatch(external_id):
        errors.add(external_id, "externalId", r"Member must satisfy regular expression pattern: [\w+=,.@:/-]*")
    errors.raise_if_any()


def check_trust(role: dict | None, req: dict, caller_arn: str) -> None:
    """The role's trust policy as STS applies it; refusals are AccessDenied (403)."""
    def denied(action: str) -> AwsError:
        return AwsError("AccessDenied", f"User: {caller_arn} is not authorized to perform: sts:{action} "
                                        f"on resource: {req['roleArn']}", 403)

    # sts rule 1: only a role whose trust policy names the caller can be assumed;
    # the emulator trusts exactly the roles registered through /_emulator/roles.
    if role is None:
        raise denied("AssumeRole")
    # sts rule 2: a trust policy with an sts:ExternalId condition needs exactly that ID.
    if role["externalId"] is not None and req["externalId"] != role["externalId"]:
        raise denied("AssumeRole")
    # sts rule 3: session tags need sts:TagSession in the role's trust policy.
    if req["sessionTags"] and not role["allowTagSession"]:
        raise denied("TagSession")


def role_from_spec(spec: Any) -> dict:
    """A role registration (POST /_emulator/roles) checked and with its defaults."""
    if not isinstance(spec, dict):
        raise ValueError("body must be a JSON object")
    arn = spec.get("arn")
    if not isinstance(arn, str) or not ROLE_ARN_RE.fullmatch(arn):
        raise ValueError("'arn' must be an IAM role ARN (arn:aws:iam::<account-id>:role/<name>)")
    external_id = spec.get("externalId")
    if external_id is not None and not isinstance(external_id, str):
        raise ValueError("'externalId' must be a string")
    allow_tags = spec.get("allowTagSession", True)
    if not isinstance(allow_tags, bool):
        raise ValueError("'allowTagSession' must be a boolean")
    return {"arn": arn, "externalId": external_id, "allowTagSession": allow_tags}


def issued_principal(req: dict, response: bytes) -> tuple[str, dict] | None:
    """The access key moto's AssumeRole response issued and the principal it stands for."""
    try:
        root = ET.fromstring(response)
    except ET.ParseError:
        return None
    key = root.findtext(".//{*}Credentials/{*}AccessKeyId")
    arn = root.findtext(".//{*}AssumedRoleUser/{*}Arn")
    if not key or not arn:
        return None
    return key, {"arn": arn, **req}


def _access_key_id(environ: dict) -> str | None:
    match = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else None


# ---------------------------------------------------------------------------
# quota (docs/cognito-service.md, "Quotas": ~15 rps per category, throttled calls get TooManyRequests)
# ---------------------------------------------------------------------------

class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def operation_category(operation: str) -> str:
    return "read" if operation.startswith(("Get", "Describe", "List")) else "write"


# ---------------------------------------------------------------------------
# the emulator WSGI application
# ---------------------------------------------------------------------------

class Emulator:
    def __init__(self, quota_rps: float | None = None, quota_burst: float | None = None):
        share_pool_signing_key()  # CreateUserPool and control-API pools: ~0.2 s less each
        self.moto = DomainDispatcherApplication(create_backend_app)
        # Pre-build moto's cognito-idp Flask app so the first call is not slow.
        with self.moto.lock:
            if "cognito-idp" not in self.moto.app_instances:
                self.moto.app_instances["cognito-idp"] = create_backend_app("cognito-idp")
        self.lock = threading.RLock()          # emulator state (calls, faults, quota, MFA store, roles)
        self.calls: list[dict] = []
        self.faults: list[dict] = []
        self.roles: dict[str, dict] = {}       # role ARN -> registration (the roles STS lets callers assume)
        self.principals: dict[str, dict] = {}  # access key AssumeRole issued -> its principal
        self.next_fault_id = 1
        self.default_quota = (quota_rps, quota_burst)
        self.quota_rps: float | None = None
        self.quota_burst: float | None = None
        self.buckets: dict[str, TokenBucket] = {}
        self.set_quota(quota_rps, quota_burst)

    # ---------------- quota ----------------
    def set_quota(self, rps: Any, burst: Any = None) -> None:
        with self.lock:
            rps = float(rps) if rps else None
            if rps is not None and rps <= 0:
                rps = None
            burst = float(burst) if burst else None
            self.quota_rps = rps
            self.quota_burst = burst if rps else None
            self.buckets = {}
            if rps:
                cap = burst if burst else max(1.0, rps)
                self.buckets = {"read": TokenBucket(rps, cap), "write": TokenBucket(rps, cap)}

    def quota_json(self) -> dict:
        with self.lock:
            return {"rps": self.quota_rps, "burst": (self.buckets["read"].capacity if self.buckets else None)}

    def _quota_allows(self, operation: str) -> bool:
        with self.lock:
            if not self.buckets:
                return True
            return self.buckets[operation_category(operation)].take()

    # ---------------- faults ----------------
    def add_fault(self, spec: dict) -> dict:
        error = spec.get("error")
        if not isinstance(error, str) or not error:
            raise ValueError("'error' (an AWS error code, 'Timeout' or 'ConnectionReset') is required")
        operation = spec.get("operation") or "*"
        if not isinstance(operation, str):
            raise ValueError("'operation' must be a string")
        status = spec.get("status")
        if error in PSEUDO_FAULTS:
            status = None
        elif status is None:
            status = DEFAULT_FAULT_STATUS.get(error, 400)
        else:
            status = int(status)
        count = spec.get("count")
        if count is not None:
            count = int(count)
            if count <= 0:
                raise ValueError("'count' must be positive")
        delay = spec.get("delaySeconds")
        if delay is None and error == "Timeout":
            delay = 30.0
        delay = float(delay) if delay is not None else None
        pool_id = spec.get("poolId")
        with self.lock:
            fault = {
                "id": str(self.next_fault_id),
                "operation": operation,
                "error": error,
                "message": None if error in PSEUDO_FAULTS else (
                    spec.get("message") or DEFAULT_FAULT_MESSAGES.get(error, f"{error} (injected fault)")),
                "status": status,
                "poolId": pool_id,
                "count": count,
                "delaySeconds": delay,
                "hits": 0,
            }
            self.next_fault_id += 1
            self.faults.append(fault)
            return dict(fault)

    def _match_fault(self, operation: str, pool_id: str | None) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault["operation"] not in ("*", operation):
                    continue
                if fault["poolId"] is not None and fault["poolId"] != pool_id:
                    continue
                fault["hits"] += 1
                if fault["count"] is not None:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self.faults.remove(fault)
                return dict(fault)
        return None

    # ---------------- roles ----------------
    def add_role(self, spec: Any) -> dict:
        role = role_from_spec(spec)
        with self.lock:
            self.roles[role["arn"]] = role
        return dict(role)

    # ---------------- call accounting ----------------
    def _record(self, operation: str, pool_id: str | None, access_key: str | None, account: str) -> dict:
        with self.lock:
            principal = self.principals.get(access_key) if access_key else None
            rec = {"operation": operation, "poolId": pool_id, "status": None, "error": None, "time": time.time(),
                   "accessKeyId": access_key, "account": account, "principal": principal}
            self.calls.append(rec)
        return rec

    def calls_json(self, query: dict) -> dict:
        exact = {key: query[key][0] for key in ("poolId", "operation", "account") if key in query}
        role_arn = query.get("roleArn", [None])[0]
        since = query.get("since", [None])[0]
        since = float(since) if since else None

        def selected_call(c: dict) -> bool:
            # roleArn: calls made with the role's credentials, and AssumeRole calls for it
            return (all(c[key] == value for key, value in exact.items())
                    and (role_arn is None or role_arn in (c.get("roleArn"), (c["principal"] or {}).get("roleArn")))
                    and (since is None or c["time"] >= since))

        with self.lock:
            selected = [dict(c) for c in self.calls if selected_call(c)]
        total: dict[str, int] = {}
        for c in selected:
            total[c["operation"]] = total.get(c["operation"], 0) + 1
        return {"total": total, "calls": selected}

    # ---------------- WSGI entry ----------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            if path.startswith("/_emulator/") or path == "/_emulator":
                return ControlApi(self).handle(environ, start_response)
            if path.startswith("/moto-api"):
                # moto's own dashboard/reset API: not an AWS call (no accounting, quota or faults)
                return self.moto(environ, start_response)
            return self._aws(environ, start_response)
        except _DropConnection:
            raise ConnectionResetError("emulated connection reset")
        except Exception as exc:  # never let a bug look like a dropped connection
            traceback.print_exc(file=sys.stderr)
            return _aws_error_response(start_response, AwsError("InternalErrorException",
                                                                f"emulator error: {exc!r}", 500))

    def _aws(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = _read_body(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, operation = target.partition(".")
        query_protocol = not operation
        parsed = None
        params: dict[str, str] = {}
        if query_protocol:
            # query-protocol (STS) or REST request for another moto service
            service = ""
            params = _query_params(environ, body)
            operation = params.get("Action") or f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        else:
            parsed = _decode_json(environ, body)
        pool_id = parsed.get("UserPoolId") if isinstance(parsed, dict) else None
        if not isinstance(pool_id, str):
            pool_id = None
        is_cognito = service == COGNITO_TARGET_PREFIX
        assume_role = query_protocol and operation == ASSUME_ROLE

        account, region = _request_account_region(environ)
        rec = self._record(operation, pool_id, _access_key_id(environ), account)
        if assume_role:
            request = assume_role_request(params)
            with self.lock:
                rec.update(request, result=None)

        def finish(status: int, error: str | None) -> None:
            with self.lock:
                rec["status"] = status
                rec["error"] = error

        def reject(err: AwsError) -> list[bytes]:
            finish(err.status, err.code)
            return _aws_error_response(start_response, err, query_protocol)

        # docs/cognito-service.md, "Quotas": Cognito calls above the per-category rate are throttled.
        if is_cognito and not self._quota_allows(operation):
            return reject(AwsError("TooManyRequestsException", "Rate exceeded"))

        # docs/cognito-service.md, "Error kinds": injected faults, checked before validation.
        fault = self._match_fault(operation, pool_id)
        if fault is not None:
            if fault["delaySeconds"]:
                time.sleep(fault["delaySeconds"])
            if fault["error"] == "ConnectionReset":
                finish(0, "ConnectionReset")
                _reset_connection(environ)
                raise _DropConnection()
            if fault["error"] != "Timeout":
                return reject(AwsError(fault["error"], fault["message"], fault["status"]))
            # Timeout: answer normally after the delay.

        try:
            if is_cognito and operation in ("SetUserPoolMfaConfig", "GetUserPoolMfaConfig"):
                if not isinstance(parsed, dict):
                    raise AwsError("SerializationException", "Request body is not a JSON object")
                if operation == "SetUserPoolMfaConfig":
                    result = self._set_mfa(parsed, account, region)
                else:
                    result = self._get_mfa(parsed, account, region)
                finish(200, None)
                return _aws_json_response(start_response, 200, result)
            if assume_role:
                validate_assume_role(request)
                caller = (rec["principal"] or {}).get("arn") or f"arn:{get_partition(region)}:sts::{account}:user/moto"
                with self.lock:
                    check_trust(self.roles.get(request["roleArn"]), request, caller)
            status, headers, chunks = self._forward(environ)
        except AwsError as err:
            return reject(err)

        error = None
        if status >= 400:
            error = _error_code_from(headers, chunks)
        elif is_cognito and operation == "CreateUserPool":
            try:
                created = json.loads(b"".join(chunks))["UserPool"]["Id"]
                with self.lock:
                    rec["poolId"] = created
            except (ValueError, KeyError, TypeError):
                pass
        elif assume_role:
            issued = issued_principal(request, b"".join(chunks))
            if issued is not None:
                key, principal = issued
                with self.lock:
                    self.principals[key] = principal
                    rec["result"] = {"arn": principal["arn"], "accessKeyId": key,
                                     "account": principal["arn"].split(":")[4]}
        finish(status, error)
        start_response(_status_line(status), headers)
        return chunks

    def _forward(self, environ: dict) -> tuple[int, list, list[bytes]]:
        """Lets moto answer; its own failures come back as AwsError."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info=None):
            captured["status"] = int(status.split(None, 1)[0])
            captured["headers"] = list(headers)
            return lambda data: captured.setdefault("written", []).append(data)

        try:
            result = self.moto(environ, capture)
            try:
                chunks = captured.get("written", []) + [c for c in result if c]
            finally:
                if hasattr(result, "close"):
                    result.close()
        except NotImplementedError as exc:
            raise AwsError("UnknownOperationException", f"moto: {exc}")
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            raise AwsError("InternalErrorException", f"moto error: {exc!r}", 500)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-length", "status")]
        headers.append(("Content-Length", str(sum(len(c) for c in chunks))))
        return captured["status"], headers, chunks

    # ---------------- MFA operations ----------------
    def _lookup(self, account: str, region: str, pool_id: str):
        pool = _find_pool(account, region, pool_id)
        if pool is None:
            raise AwsError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        return pool

    def _get_mfa(self, req: dict, account: str, region: str) -> dict:
        pool_id = validate_pool_id(req.get("UserPoolId"))
        with self.lock:
            return mfa_state(self._lookup(account, region, pool_id))

    def _set_mfa(self, req: dict, account: str, region: str) -> dict:
        pool_id = validate_pool_id(req.get("UserPoolId"))
        validate_set_request_shape(req)
        with self.lock:
            pool = self._lookup(account, region, pool_id)
            validate_set_request_semantics(req, pool)
            store_mfa(pool, req)
            return mfa_state(pool)


class _DropConnection(Exception):
    pass


def _reset_connection(environ: dict) -> None:
    """Abort the TCP connection with a RST and no response (fault 'ConnectionReset').

    SO_LINGER 0 plus closing the descriptor at once (bypassing the handler's
    file objects) makes the kernel send a RST; the handler is told to stop
    reading from this connection.
    """
    handler = environ.get("emulator.handler")
    if handler is not None:
        handler.close_connection = True
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        _socket.socket.close(sock)  # C-level close: the fd is closed now, despite open file objects
    except OSError:
        pass


def _aws_error_response(start_response: Callable, err: AwsError, query_protocol: bool = False) -> list[bytes]:
    """The error in the request's protocol: AWS JSON 1.1 (Cognito) or the query protocol's XML (STS)."""
    request_id = str(uuid.uuid4())
    if query_protocol:
        kind = "Receiver" if err.status >= 500 else "Sender"
        body = (f'<ErrorResponse xmlns="{STS_XMLNS}"><Error><Type>{kind}</Type><Code>{escape(err.code)}</Code>'
                f"<Message>{escape(err.message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
    else:
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        headers = [("Content-Type", JSON_11), ("X-Amzn-ErrorType", err.code)]
    headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
    start_response(_status_line(err.status), headers)
    return [body]


def _aws_json_response(start_response: Callable, status: int, payload: dict) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(_status_line(status), [
        ("Content-Type", JSON_11),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("Content-Length", str(len(body))),
    ])
    return [body]


def _error_code_from(headers: list, chunks: list[bytes]) -> str | None:
    for k, v in headers:
        if k.lower() == "x-amzn-errortype":
            return v.split(":", 1)[0]
    try:
        data = json.loads(b"".join(chunks))
        code = data.get("__type") or data.get("code")
        if code:
            return str(code).split("#")[-1]
    except (ValueError, AttributeError):
        pass
    body = b"".join(chunks)
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else "UnknownError"


# ---------------------------------------------------------------------------
# control API (/_emulator/...)
# ---------------------------------------------------------------------------

class ControlApi:
    """Plain JSON endpoints for tests (not AWS-signed, not counted as calls).

    POST   /_emulator/pools                {"id", "name"?, "tier"?, "emailSendingAccount"?, "account"?} -> {"id"};
                                           409 if it exists in that account (default: moto's default account)
    POST   /_emulator/pools                {"ids": [id, ...], "tier"?, "emailSendingAccount"?, "account"?}
                                           -> {"ids": [the same, in order]}: 1..MAX_BULK_POOLS (10,000) pools in
                                           one request, all with these settings, each named after its ID's
                                           suffix and in its ID's region, exactly as if created one by one
                                           (~0.4 ms a pool: 10,000 in ~4 s).  All or nothing: 400 for any
                                           other field, an ID given twice, an invalid ID or region, too many
                                           or no IDs, a bad setting; 409 if any ID exists in that account
                                           (the error names them); then none is created.
    GET    /_emulator/pools[?account=]     -> {"pools": [...]}  (all accounts unless one is named, all regions)
    GET    /_emulator/pools/<id>           -> {"id", "name", "region", "account", "arn", "tier", "emailSendingAccount"}
    DELETE /_emulator/pools/<id>           -> {"deleted": id}; 404 if missing
    GET    /_emulator/pools/<id>/mfa       -> GetUserPoolMfaConfig response shape
    PUT    /_emulator/pools/<id>/mfa       SetUserPoolMfaConfig-shaped body, stored as-is (no validation)
                                           (every /pools/<id> endpoint finds the pool in whichever account holds
                                           it, or takes ?account=; 409 if several accounts hold that ID)
    POST   /_emulator/roles                {"arn", "externalId"?, "allowTagSession"? (default true)} -> the role;
                                           registers (or replaces) a role STS AssumeRole may assume
    GET    /_emulator/roles                -> {"roles": [...]}
    DELETE /_emulator/roles[/<arn, URL-encoded or not>]   404 if that role is not registered
    POST   /_emulator/faults               {"operation", "error", "message"?, "status"?, "poolId"?, "count"?,
                                            "delaySeconds"?} -> the fault with its "id"; "operation" may be
                                            "AssumeRole" (STS: answered in its XML error shape)
    GET    /_emulator/faults               -> {"faults": [...]}
    DELETE /_emulator/faults[/<id>]
    GET    /_emulator/calls[?poolId=&operation=&account=&roleArn=&since=]   DELETE /_emulator/calls
                                           -> {"total": {operation: n}, "calls": [record...]}; a record is
                                           {"operation", "poolId", "status", "error", "time", "accessKeyId",
                                           "account" (served as), "principal"}; principal is null except for
                                           keys AssumeRole issued: {"arn" (assumed-role ARN), "roleArn",
                                           "sessionName", "sessionTags", "externalId"}.  AssumeRole records add
                                           the requested "roleArn", "sessionName", "sessionTags", "externalId"
                                           and "result" ({"arn", "accessKeyId", "account"}, null if refused).
                                           ?roleArn= selects calls made as the role and AssumeRole calls for it.
    GET|POST /_emulator/quota              {"rps": N|0|null, "burst"?}  (Cognito calls only)
    POST   /_emulator/reset                clears faults, calls and roles, quota back to the command line's
                                           (keys AssumeRole issued stay valid, as until their expiry in AWS)
    GET    /_emulator/health               -> {"ok": true}
    """

    def __init__(self, emu: Emulator):
        self.emu = emu

    def handle(self, environ: dict, start_response: Callable) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        parts = [p for p in environ.get("PATH_INFO", "").split("/") if p][1:]  # drop "_emulator"
        query = parse_qs(environ.get("QUERY_STRING", ""))
        raw = _read_body(environ)
        body: Any = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                return _json(start_response, 400, {"error": "body is not JSON"})
        try:
            return self._route(method, parts, query, body, start_response)
        except (ValueError, TypeError) as exc:
            return _json(start_response, 400, {"error": str(exc)})

    def _route(self, method, parts, query, body, start_response):
        emu = self.emu
        n = len(parts)
        head = parts[0] if parts else ""
        if head == "health" and n == 1:
            return _json(start_response, 200, {"ok": True})
        if head == "pools":
            if n == 1 and method == "POST":
                return self._create_pool(body, start_response)
            if n == 1 and method == "GET":
                return _json(start_response, 200, {"pools": self._list_pools(query)})
            if n >= 2:
                pool_id = parts[1]
                holders = self._pool_holders(pool_id, query)
                if not holders:
                    return _json(start_response, 404, {"error": f"User pool {pool_id} does not exist."})
                if len(holders) > 1:
                    return _json(start_response, 409, {"error": f"User pool {pool_id} exists in accounts "
                                                                f"{', '.join(p.account_id for p in holders)}; "
                                                                "name one with ?account="})
                pool = holders[0]
                if n == 2 and method == "GET":
                    return _json(start_response, 200, _pool_info(pool))
                if n == 2 and method == "DELETE":
                    cognitoidp_backends[pool.account_id][pool.region].delete_user_pool(pool_id)
                    return _json(start_response, 200, {"deleted": pool_id})
                if n == 3 and parts[2] == "mfa" and method == "GET":
                    with emu.lock:
                        return _json(start_response, 200, mfa_state(pool))
                if n == 3 and parts[2] == "mfa" and method == "PUT":
                    if not isinstance(body, dict):
                        raise ValueError("body must be a JSON object")
                    with emu.lock:
                        store_mfa(pool, body)
                        return _json(start_response, 200, mfa_state(pool))
        if head == "roles":
            if n == 1 and method == "POST":
                return _json(start_response, 200, emu.add_role(body))
            if n == 1 and method == "GET":
                with emu.lock:
                    return _json(start_response, 200, {"roles": [dict(r) for r in emu.roles.values()]})
            if method == "DELETE":
                arn = "/".join(parts[1:])  # the ARN's own "/" split it into several parts
                with emu.lock:
                    if not arn:
                        emu.roles.clear()
                        return _json(start_response, 200, {"cleared": True})
                    found = emu.roles.pop(arn, None) is not None
                return _json(start_response, 200 if found else 404,
                             {"deleted": arn} if found else {"error": f"no role {arn}"})
        if head == "faults":
            if n == 1 and method == "POST":
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                return _json(start_response, 200, emu.add_fault(body))
            if n == 1 and method == "GET":
                with emu.lock:
                    return _json(start_response, 200, {"faults": [dict(f) for f in emu.faults]})
            if n == 1 and method == "DELETE":
                with emu.lock:
                    emu.faults.clear()
                return _json(start_response, 200, {"cleared": True})
            if n == 2 and method == "DELETE":
                with emu.lock:
                    before = len(emu.faults)
                    emu.faults[:] = [f for f in emu.faults if f["id"] != parts[1]]
                    found = len(emu.faults) != before
                return _json(start_response, 200 if found else 404,
                             {"deleted": parts[1]} if found else {"error": f"no fault {parts[1]}"})
        if head == "calls" and n == 1:
            if method == "GET":
                return _json(start_response, 200, emu.calls_json(query))
            if method == "DELETE":
                with emu.lock:
                    emu.calls.clear()
                return _json(start_response, 200, {"cleared": True})
        if head == "quota" and n == 1:
            if method in ("POST", "PUT"):
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                emu.set_quota(body.get("rps"), body.get("burst"))
            if method in ("GET", "POST", "PUT"):
                return _json(start_response, 200, emu.quota_json())
        if head == "reset" and n == 1 and method == "POST":
            with emu.lock:
                emu.faults.clear()
                emu.calls.clear()
                emu.roles.clear()
            emu.set_quota(*emu.default_quota)
            return _json(start_response, 200, {"reset": True})
        return _json(start_response, 404, {"error": f"no control endpoint {method} /_emulator/{'/'.join(parts)}"})

    def _create_pool(self, body: Any, start_response):
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        if "ids" in body:
            return self._create_pools(body, start_response)
        pool_id = body.get("id")
        if not _valid_pool_id(pool_id):
            raise ValueError(r"'id' must match [\w-]+_[0-9a-zA-Z]+ and be 1..55 characters")
        tier, sending, account = _pool_settings(body)
        backend = _pool_backend(account, _split_pool_region(pool_id))
        pool = _new_pool(backend, pool_id, body.get("name") or pool_id.rsplit("_", 1)[1], tier, sending)
        with self.emu.lock:
            if pool_id in backend.user_pools:
                return _json(start_response, 409, {"error": f"User pool {pool_id} already exists."})
            backend.user_pools[pool_id] = pool
        return _json(start_response, 200, {"id": pool_id})

    def _create_pools(self, body: dict, start_response):
        """POST /_emulator/pools {"ids": [...], ...}: all the pools or, on any error, none."""
        unknown = sorted(set(body) - set(BULK_POOL_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(repr(k) for k in unknown)}: creating several pools "
                             f"takes {', '.join(repr(k) for k in BULK_POOL_FIELDS)} (each pool is named after "
                             "its ID's suffix)")
        ids = body["ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK_POOLS:
            raise ValueError(f"'ids' must be a list of 1..{MAX_BULK_POOLS} pool IDs")
        seen: set[str] = set()
        for index, pool_id in enumerate(ids):
            if not _valid_pool_id(pool_id):
                raise ValueError(f"'ids'[{index}] ({json.dumps(pool_id)}) must match [\\w-]+_[0-9a-zA-Z]+ "
                                 "and be 1..55 characters")
            if pool_id in seen:
                raise ValueError(f"'ids'[{index}] ({pool_id}) is given more than once")
            seen.add(pool_id)
        tier, sending, account = _pool_settings(body)
        backends = {region: _pool_backend(account, region)
                    for region in {_split_pool_region(pool_id) for pool_id in ids}}
        # The pools are built outside the lock (the lock is held only to check and insert them).
        pools = [_new_pool(backends[_split_pool_region(pool_id)], pool_id, pool_id.rsplit("_", 1)[1], tier, sending)
                 for pool_id in ids]
        with self.emu.lock:
            existing = [pool.id for pool in pools if pool.id in backends[pool.region].user_pools]
            if existing:
                shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
                return _json(start_response, 409, {"error": f"User pool(s) {shown} already exist in account "
                                                            f"{account}; none of the {len(ids)} was created."})
            for pool in pools:
                backends[pool.region].user_pools[pool.id] = pool
        return _json(start_response, 200, {"ids": ids})

    @staticmethod
    def _accounts(query: dict) -> list[str]:
        """The account ?account= names, else every account moto holds Cognito data for."""
        named = query.get("account", [None])[0]
        return [_account_id(named)] if named else list(cognitoidp_backends.keys())

    def _pool_holders(self, pool_id: str, query: dict) -> list:
        """The pools with this ID in the accounts to search (normally one)."""
        region = _split_pool_region(pool_id)
        found = (_find_pool(account, region, pool_id) for account in self._accounts(query))
        return [pool for pool in found if pool is not None]

    def _list_pools(self, query: dict) -> list[dict]:
        return [_pool_info(pool)
                for account in self._accounts(query)
                for backend in list(cognitoidp_backends[account].values())
                for pool in list(backend.user_pools.values())]


def _valid_pool_id(pool_id: Any) -> bool:
    return isinstance(pool_id, str) and len(pool_id) <= POOL_ID_MAX and POOL_ID_RE.fullmatch(pool_id) is not None


def _pool_settings(body: dict) -> tuple[str, str, str]:
    """The feature plan, email sending account and account of a control-API pool creation."""
    tier = (body.get("tier") or DEFAULT_TIER).upper()
    if tier not in TIERS:
        raise ValueError(f"'tier' must be one of {', '.join(TIERS)}")
    sending = (body.get("emailSendingAccount") or DEFAULT_EMAIL_SENDING_ACCOUNT).upper()
    if sending not in EMAIL_SENDING_ACCOUNTS:
        raise ValueError(f"'emailSendingAccount' must be one of {', '.join(EMAIL_SENDING_ACCOUNTS)}")
    account = _account_id(body.get("account") or _control_account())
    return tier, sending, account


def _pool_backend(account: str, region: str):
    try:
        return cognitoidp_backends[account][region]
    except KeyError:
        raise ValueError(f"'{region}' (the ID's prefix) is not a region moto knows")


def _new_pool(backend, pool_id: str, name: str, tier: str, sending: str) -> CognitoIdpUserPool:
    """A moto pool with the chosen ID, as moto's create_user_pool makes it (not yet in the backend)."""
    account, region = backend.account_id, backend.region_name
    email_cfg: dict[str, Any] = {"EmailSendingAccount": sending}
    if sending == "DEVELOPER":
        email_cfg["SourceArn"] = f"arn:{get_partition(region)}:ses:{region}:{account}:identity/noreply@example.com"
    pool = CognitoIdpUserPool(account, region, name, {"UserPoolTier": tier, "EmailConfiguration": email_cfg})
    pool.id = pool_id
    pool.arn = f"arn:{get_partition(region)}:cognito-idp:{region}:{account}:userpool/{pool_id}"
    return pool


def _pool_info(pool) -> dict:
    return {
        "id": pool.id,
        "name": pool.name,
        "region": pool.region,
        "account": pool.account_id,
        "arn": pool.arn,
        "tier": _pool_tier(pool),
        "emailSendingAccount": _pool_email_sending_account(pool),
    }


def _json(start_response: Callable, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(_status_line(status), [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body)))])
    return [body]


# ---------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------

class QuietHandler(WSGIRequestHandler):
    """No per-request log lines (errors still go to stderr), and HTTP/1.1 keep-alive.

    werkzeug answers every request with ``Connection: close``, so each AWS call would cost a
    new TCP connection and a handler thread, where Amazon Cognito keeps connections alive.
    A request whose body length is known is answered here instead: the body is read whole
    before the application runs, so the connection is left at the next request whatever the
    application read, and the response goes out with its length. Anything else (a chunked
    body, ``Expect: 100-continue``) is left to werkzeug, which closes the connection.
    """

    def setup(self) -> None:
        super().setup()
        # The status line and headers go out before the body: without this, a kept-alive
        # connection waits on the client's delayed ACK (40 ms) between the two.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def make_environ(self):
        environ = super().make_environ()
        environ["emulator.handler"] = self
        return environ

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if "Transfer-Encoding" in self.headers or "Expect" in self.headers or not length.isdigit():
            super().run_wsgi()
            return
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
        environ["wsgi.input_terminated"] = False
        response: list = []

        def start_response(status, headers, exc_info=None):  # noqa: ARG001
            response[:] = [status, headers]
            return lambda data: response.append(data)

        try:
            chunks = self.server.app(environ, start_response)
            try:
                body = b"".join([*response[2:], *chunks])
            finally:
                getattr(chunks, "close", lambda: None)()
            status, headers = response[:2]
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            for key, value in headers:
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if environ["REQUEST_METHOD"] != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            # a ConnectionReset fault, or the client went away
            self.close_connection = True

    def log_request(self, code="-", size="-") -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--quota-rps", type=float, default=None,
                    help="per-category (read/write) request rate above which calls get TooManyRequestsException")
    ap.add_argument("--quota-burst", type=float, default=None, help="token bucket size (default: the rps)")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="stop when stdin reaches EOF (the parent died or closed the pipe)")
    args = ap.parse_args(argv)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    emu = Emulator(args.quota_rps, args.quota_burst)
    server = make_server(args.host, args.port, emu, threaded=True, request_handler=QuietHandler)
    server.daemon_threads = True
    port = server.socket.getsockname()[1]

    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                             name="serve", daemon=True)
    serve.start()
    # The socket listens since make_server(); connections queue until served.
    sys.stdout.write(f"LISTENING {port}\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        if not serve.is_alive():
            print("cognito_emulator: server thread died", file=sys.stderr)
            return 1
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
