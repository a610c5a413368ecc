"""The UserPoolMfaConfig CRD against the Cognito API model that ships with botocore.

Every member of SetUserPoolMfaConfigRequest has its spec field, with the model's enum values,
lengths and patterns. Where the CRD is deliberately stricter (or states a limit the model does
not), the deviation is listed below, and the field's own documentation (`kubectl explain`) says
why; a deviation that no longer differs fails too, so the list cannot go stale.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import botocore
import pytest

from chart_support import REPO, crd

MODEL = os.path.join(os.path.dirname(botocore.__file__), "data", "cognito-idp", "2016-04-18", "service-2.json.gz")

# spec path -> {what differs: a phrase the field's description must contain}
DEVIATIONS = {
    "smsMfaConfiguration.smsConfiguration.snsCallerArn": {"pattern": "only an IAM role can be assumed"},
    "smsMfaConfiguration.smsConfiguration.externalId": {"maxLength": "IAM's `sts:ExternalId` condition"},
    "smsMfaConfiguration.smsConfiguration.snsRegion": {"pattern": "pattern of a region code"},
    "emailMfaConfiguration.subject": {
        "length": "the service's documented limit",
        "pattern": "1 to 140 characters",
    },
    # The model's patterns for the two messages say "contains {####}"; the CRD checks that with
    # a CEL rule whose message names the placeholder, instead of an opaque regular expression.
    "smsMfaConfiguration.smsAuthenticationMessage": {"pattern": "{####}"},
    "emailMfaConfiguration.message": {"pattern": "{####}"},
}


def model_shapes() -> dict:
    with gzip.open(MODEL) as f:
        return json.load(f)["shapes"]


def api_members(shapes: dict, shape: str, path: str = ""):
    """(spec path, member shape) of every leaf member, in the CRD's camelCase."""
    for name, member in shapes[shape]["members"].items():
        field = name[0].lower() + name[1:]
        here = f"{path}.{field}" if path else field
        target = shapes[member["shape"]]
        if target["type"] == "structure":
            yield from api_members(shapes, member["shape"], here)
        else:
            yield here, target


def spec_field(path: str) -> dict:
    node = crd("userpoolmfaconfigs.cognitoidp.operators.dev")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    node = node["properties"]["spec"]
    for part in path.split("."):
        node = node["properties"][part]
    return node


def anchored(pattern: str) -> str:
    return pattern if pattern.startswith("^") else f"^{pattern}$"


MEMBERS = list(api_members(model_shapes(), "SetUserPoolMfaConfigRequest"))


def test_the_model_is_read():
    paths = [p for p, _ in MEMBERS]
    assert "userPoolId" in paths and "webAuthnConfiguration.relyingPartyId" in paths
    assert len(paths) >= 12


@pytest.mark.parametrize("path,shape", MEMBERS, ids=[p for p, _ in MEMBERS])
def test_each_api_member_has_its_field_with_the_models_limits(path, shape):
    field = spec_field(path)
    deviates = DEVIATIONS.get(path, {})
    if "enum" in shape:
        assert field.get("enum") == shape["enum"], path
    if shape["type"] == "boolean":
        assert field["type"] == "boolean", path
        return
    if "length" not in deviates and "maxLength" not in deviates and "max" in shape:
        assert field.get("maxLength") == shape["max"], f"{path}: maxLength {field.get('maxLength')}, the model says {shape['max']}"
    if "length" not in deviates and shape.get("min"):
        # min 0 is no limit: an empty optional string means the same as a left-out one.
        assert field.get("minLength") == shape["min"], f"{path}: minLength {field.get('minLength')}, the model says {shape['min']}"
    if "pattern" in shape and "pattern" not in deviates:
        assert field.get("pattern") == anchored(shape["pattern"]), path


@pytest.mark.parametrize("path", sorted(DEVIATIONS))
def test_each_deviation_is_real_and_explained(path):
    shape = dict(MEMBERS)[path]
    field = spec_field(path)
    for kind, phrase in DEVIATIONS[path].items():
        if kind == "pattern":
            assert field.get("pattern") != anchored(shape.get("pattern", "")), f"{path}: the pattern no longer deviates"
        elif kind == "maxLength":
            assert field.get("maxLength") != shape.get("max"), f"{path}: maxLength no longer deviates"
        elif kind == "length":
            assert (field.get("minLength"), field.get("maxLength")) != (shape.get("min"), shape.get("max")), path
        assert phrase in json.dumps(field), f"{path}: the documentation does not say why ({phrase!r})"


def test_the_partition_table_is_botocores():
    """src/logic/partitions.json, which the operator resolves pool regions with, is what
    scripts/partitions.py makes of the partition metadata botocore ships."""
    made = subprocess.run([sys.executable, str(REPO / "scripts" / "partitions.py")], capture_output=True, text=True, check=True)
    committed = (REPO / "src" / "logic" / "partitions.json").read_text()
    assert committed == made.stdout, "src/logic/partitions.json is stale: run scripts/generate"
    assert {p["id"] for p in json.loads(committed)["partitions"]} >= {"aws", "aws-cn", "aws-us-gov"}


def test_the_table_of_error_codes_documents_exactly_what_the_model_lists():
    """src/logic/service_errors.json (shared by the operator's tests and the emulator's) names,
    for each code, the operations whose reference documents it: exactly the model's error shapes."""
    with gzip.open(MODEL) as f:
        operations = json.load(f)["operations"]
    table = json.loads((REPO / "src" / "logic" / "service_errors.json").read_text())["errors"]
    for op in ("SetUserPoolMfaConfig", "GetUserPoolMfaConfig"):
        documented = {e["shape"] for e in operations[op]["errors"]}
        listed = {row["code"] for row in table if op in row["operations"]}
        assert listed == documented, op
    codes = [row["code"] for row in table]
    assert len(codes) == len(set(codes)), "one row per code"
