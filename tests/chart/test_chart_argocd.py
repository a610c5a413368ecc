"""The Argo CD integration: the UserPoolMfaConfig health check (run with real Lua interpreters),
its argocd-cm patch, and the example Application."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from chart_support import CHART_DIR, REPO, system_tool

ARGOCD = REPO / "deploy" / "argocd"
HEALTH_LUA = ARGOCD / "health.lua"
HEALTH_KEY = "resource.customizations.health.cognitoidp.operators.dev_UserPoolMfaConfig"
FINALIZER = "cognitoidp.operators.dev/reset-mfa"

TERMINAL = [
    "InvalidSpec", "NotPermitted", "BelowMfaFloor", "PartitionMismatch", "InvalidParameter", "FeatureUnavailableInTier", "Conflict", "DriftDetected",
    "NotAuthorized", "CredentialsUnavailable", "ResourceNotFound",
]
TRANSIENT = [
    "TooManyRequests", "InternalError", "ConcurrentModification", "NetworkError", "Timeout",
    "InvalidSmsRoleAccessPolicy", "InvalidSmsRoleTrustRelationship", "Pending", "UnknownServiceError",
]


def to_lua(value) -> str:
    """A Python (JSON) value as a Lua expression, like Argo CD hands the object to the script."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(
            chr(b) if chr(b).isalnum() or chr(b) in " .,:;_-/{}#()=+*'" else f"\\{b}" for b in value.encode()
        ) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{to_lua(k)}] = {to_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def run_health(interpreter: str, objects: list[dict]) -> list[tuple[str, str]]:
    """Run health.lua once per object in one interpreter process; return (status, message)s."""
    program = [
        f"local chunk = assert(loadfile({to_lua(str(HEALTH_LUA))}))",
        "local function js(s)",
        "  local escaped = string.gsub(tostring(s), '[%c\"\\\\]', function(c) return string.format('\\\\u%04x', string.byte(c)) end)",
        "  return '\"' .. escaped .. '\"'",
        "end",
    ]
    for obj in objects:
        program.append(f"obj = {to_lua(obj)}")
        program.append("do local hs = chunk(); io.write('[', js(hs.status), ',', js(hs.message or ''), ']\\n') end")
    proc = subprocess.run([interpreter, "-"], input="\n".join(program), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = [tuple(json.loads(line)) for line in proc.stdout.splitlines()]
    assert len(results) == len(objects), proc.stdout
    return results


def resource(generation=2, status="absent", **_) -> dict:
    obj = {
        "apiVersion": "cognitoidp.operators.dev/v1alpha1",
        "kind": "UserPoolMfaConfig",
        "metadata": {"name": "totp-required", "namespace": "default", "generation": generation},
        "spec": {"userPoolId": "us-east-1_Example02", "mfaConfiguration": "ON"},
    }
    if status != "absent":
        obj["status"] = status
    return obj


def ready(status: str, reason: str, message: str = "", observed=2) -> dict:
    condition = {
        "type": "Ready", "status": status, "reason": reason, "message": message,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    if observed is not None:
        condition["observedGeneration"] = observed
    return condition


def status(*conditions, observed=2) -> dict:
    s = {"conditions": list(conditions)}
    if observed is not None:
        s["observedGeneration"] = observed
    return s


# name -> (object, expected status, expected message or None)
CASES: dict[str, tuple[dict, str, str | None]] = {
    "no status": (resource(), "Progressing", None),
    "empty status": (resource(status={}), "Progressing", None),
    "no conditions yet": (resource(status=status()), "Progressing", "Waiting for the Ready condition"),
    "ready, current generation": (
        resource(status=status(ready("True", "Synced", "MFA configuration matches the spec"))),
        "Healthy", "MFA configuration matches the spec",
    ),
    "ready, old generation": (
        resource(status=status(ready("True", "Synced", observed=1), observed=1)), "Progressing",
        "Waiting for the operator to observe generation 2",
    ),
    "ready, status current but condition old": (
        resource(status=status(ready("True", "Synced", observed=1))), "Progressing", None,
    ),
    "ready, generation only on the condition": (
        resource(status=status(ready("True", "Synced", "in sync"), observed=None)), "Healthy", "in sync",
    ),
    "ready, no observed generation at all": (
        resource(status=status(ready("True", "Synced", observed=None), observed=None)), "Progressing", None,
    ),
    "terminal failure, old generation": (
        resource(status=status(ready("False", "InvalidSpec", "bad", observed=1), observed=1)), "Progressing", None,
    ),
    "ready unknown": (
        resource(status=status(ready("Unknown", "Reconciling", "first pass"))), "Progressing", "first pass",
    ),
    "other conditions around Ready": (
        resource(status=status(
            {"type": "Synced", "status": "False", "reason": "X", "message": "not this one"},
            ready("True", "Synced", "the Ready one"),
        )),
        "Healthy", "the Ready one",
    ),
    "terminal failure without message": (
        resource(status=status(ready("False", "NotAuthorized", ""))), "Degraded", "NotAuthorized",
    ),
}
for reason in TERMINAL:
    message = f"{reason}: the pool us-east-1_Example02 says no"
    CASES[f"terminal {reason}"] = (resource(status=status(ready("False", reason, message))), "Degraded", message)
for reason in TRANSIENT:
    message = f"{reason}: retrying in 30s"
    CASES[f"transient {reason}"] = (resource(status=status(ready("False", reason, message))), "Progressing", message)


def interpreters() -> list[str]:
    found = [name for name in ("lua5.1", "lua5.4") if shutil.which(name)]
    return found or ["lua5.4"]  # fails with a clear message below when none is installed


@pytest.fixture(scope="module", params=interpreters())
def health_results(request) -> dict[str, tuple[str, str]]:
    interpreter = system_tool(request.param)
    names = list(CASES)
    results = run_health(interpreter, [CASES[n][0] for n in names])
    return dict(zip(names, results))


@pytest.mark.parametrize("case", list(CASES))
def test_health(health_results, case):
    _, expected_status, expected_message = CASES[case]
    got_status, got_message = health_results[case]
    assert got_status == expected_status, got_message
    if expected_message is not None:
        assert got_message == expected_message
    assert got_message, "every health status carries a message"


def test_lua_5_4_is_installed():
    """Argo CD runs Lua 5.1 semantics (gopher-lua); the script is checked with 5.4 at least."""
    assert "lua5.4" in interpreters() and shutil.which("lua5.4"), "run tests/chart/setup"


def test_every_operator_reason_is_classified():
    """Every reason the operator can put on Ready (its Rust enum) is in one of the lists above."""
    sources = list((REPO / "src").rglob("*.rs")) if (REPO / "src").is_dir() else []
    block = None
    for source in sources:
        match = re.search(r"reasons!\s*\{(.*?)\n\}", source.read_text(), re.S)
        if match:
            block = match.group(1)
    if block is None:
        pytest.skip("the operator's reason list (reasons! macro in src/) was not found")
    reasons = set(re.findall(r"^\s*([A-Z][A-Za-z]+),", re.sub(r"///.*", "", block), re.M))
    assert "Synced" in reasons and "InvalidSpec" in reasons
    unclassified = reasons - set(TERMINAL) - set(TRANSIENT) - {"Synced"}
    assert not unclassified, f"classify these reasons in health.lua and this test: {sorted(unclassified)}"


def test_cm_patch_carries_the_script():
    patch = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())
    assert patch["kind"] == "ConfigMap" and patch["metadata"]["name"] == "argocd-cm"
    assert patch["data"][HEALTH_KEY] == HEALTH_LUA.read_text()


def test_application():
    app = yaml.safe_load((ARGOCD / "application.yaml").read_text())
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    source = app["spec"]["source"]
    assert (REPO / source["path"]).resolve() == CHART_DIR
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
    ignores = [i for i in app["spec"]["ignoreDifferences"] if i["kind"] == "UserPoolMfaConfig"]
    assert all(i["group"] == "cognitoidp.operators.dev" for i in ignores)
    assert "/status" in [p for i in ignores for p in i.get("jsonPointers", [])]
    assert any(FINALIZER in e for i in ignores for e in i.get("jqPathExpressions", []))
    # The chart's values in the Application are valid for the chart's schema.
    import json as _json

    import jsonschema

    schema = _json.loads((CHART_DIR / "values.schema.json").read_text())
    jsonschema.validate(source["helm"]["valuesObject"], schema)


def test_finalizer_ignore_expression_selects_only_the_operators_finalizer():
    """Evaluate the Application's jq path expression (Argo CD uses gojq) with jq."""
    app = yaml.safe_load((ARGOCD / "application.yaml").read_text())
    (expression,) = [e for i in app["spec"]["ignoreDifferences"] for e in i.get("jqPathExpressions", [])]
    obj = resource(status=status(ready("True", "Synced")))
    obj["metadata"]["finalizers"] = ["example.com/other", FINALIZER]
    proc = subprocess.run(
        [system_tool("jq"), "-c", f"[path({expression})]"], input=json.dumps(obj),
        capture_output=True, text=True, check=True,
    )
    assert json.loads(proc.stdout) == [["metadata", "finalizers", 1]]
    del obj["metadata"]["finalizers"]
    proc = subprocess.run(
        [system_tool("jq"), "-c", f"[path({expression})]"], input=json.dumps(obj),
        capture_output=True, text=True, check=True,
    )
    assert json.loads(proc.stdout) == []


def test_chart_crds_sync_before_everything_else():
    crds = sorted((CHART_DIR / "crds").glob("*.yaml"))
    assert crds, "the chart carries no CRD: run tests/chart/generate"
    for crd in crds:
        for doc in yaml.safe_load_all(crd.read_text()):
            if doc:
                assert doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1", crd.name
