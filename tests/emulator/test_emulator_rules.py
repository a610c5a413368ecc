"""The service's column of tests/rules/spec-rules.yaml, the one table of the MFA rules: each spec,
sent as SetUserPoolMfaConfig to the emulator, is refused with InvalidParameterException (`reject`)
or ResourceNotFoundException (`not-found`), or taken, as the table says Cognito does. (The same
table drives the admission and validation tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from emulator_support import err_of

RULES = yaml.safe_load((Path(__file__).resolve().parents[1] / "rules" / "spec-rules.yaml").read_text())["cases"]
KUBERNETES_ONLY = ("managementPolicy", "deletionPolicy")
STANDS_FOR_A_POOL = "us-east-1_a"
# What the service answers a refused request: a broken rule, or a well-formed ID that names no pool.
SERVICE_ERRORS = {"reject": "InvalidParameterException", "not-found": "ResourceNotFoundException"}


def pascal(value):
    """The CRD's camelCase keys as the API's PascalCase ones."""
    if isinstance(value, dict):
        return {k[0].upper() + k[1:]: pascal(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", [c for c in RULES if c["service"] != "n/a"], ids=lambda c: c["what"])
def test_the_service_decides_as_the_table_says(emulator, case):
    spec = {k: v for k, v in case["spec"].items() if k not in KUBERNETES_ONLY}
    pool_id = spec.pop("userPoolId")
    region = "us-east-1"
    if pool_id == STANDS_FOR_A_POOL:
        pool_id = emulator.new_pool()
    elif case["service"] == "accept":
        status, body = emulator.ctl("POST", "pools", {"id": pool_id})
        assert status in (200, 409), body
        region = pool_id.rsplit("_", 1)[0]  # the pool is in its ID's region, called there
    resp = emulator.aws("SetUserPoolMfaConfig", {"UserPoolId": pool_id, **pascal(spec)}, region=region)
    if case["service"] == "accept":
        assert resp[0] == 200, resp
    else:
        assert (resp[0], err_of(resp)) == (400, SERVICE_ERRORS[case["service"]]), resp


def test_every_case_says_who_decides_what():
    assert len(RULES) >= 20
    for case in RULES:
        assert case["service"] in ("accept", "n/a", *SERVICE_ERRORS), case["what"]
        assert case["admission"] and case["operator"], case["what"]
