"""Generated files are up to date (chart CRD copy, deploy/), deploy/ builds with kustomize, and
the example resources and policies are valid against their CRDs."""

from __future__ import annotations

import filecmp
import re
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from chart_support import (
    ACCESS_POLICY_CRD,
    CHART_DIR,
    HERE,
    REPO,
    crd,
    crd_jsonschema,
    system_tool,
    tool,
    validate_custom_resource,
)

CRD_NAME = "userpoolmfaconfigs.cognitoidp.operators.dev"
SOURCE_CRD = REPO / "crds" / f"{CRD_NAME}.yaml"
EXAMPLES = REPO / "deploy" / "examples"
POLICIES = REPO / "deploy" / "policies"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    """Everything tests/chart/generate writes, regenerated into a temporary directory."""
    out = tmp_path_factory.mktemp("generated")
    proc = subprocess.run([str(HERE / "generate"), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_source_crd_exists():
    assert SOURCE_CRD.is_file(), (
        f"{SOURCE_CRD.relative_to(REPO)} is missing: the operator generates it (cognito-mfa-operator crd)"
    )


def test_generated_files_are_up_to_date(regenerated):
    files = sorted(p.relative_to(regenerated) for p in regenerated.rglob("*") if p.is_file())
    assert files, "the generator wrote nothing"
    stale = [str(f) for f in files if not (REPO / f).is_file() or (REPO / f).read_bytes() != (regenerated / f).read_bytes()]
    assert not stale, f"stale generated files (run tests/chart/generate): {stale}"
    # No leftover CRD copies that the generator would no longer write.
    for copy_dir in (
        Path("charts/cognito-mfa-operator/crds"), Path("charts/cognito-mfa-operator/templates/crds"), Path("deploy/crds"),
    ):
        committed = {p.name for p in (REPO / copy_dir).iterdir()} if (REPO / copy_dir).is_dir() else set()
        assert committed == {p.name for p in (regenerated / copy_dir).iterdir()}, copy_dir


def test_chart_crd_is_identical_to_the_generated_one():
    sources = sorted((REPO / "crds").glob("*.yaml"))
    assert sources, "no CRD in crds/"
    for source in sources:
        for copy_dir in (CHART_DIR / "crds", REPO / "deploy" / "crds"):
            assert filecmp.cmp(source, copy_dir / source.name, shallow=False), f"{copy_dir / source.name} differs"


def test_staleness_is_detected(tmp_path):
    """The check above can fail: a changed file in a copy of the outputs is reported stale."""
    root = tmp_path / "repo"
    proc = subprocess.run([str(HERE / "generate"), "--out", str(root)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    operator = root / "deploy" / "operator.yaml"
    operator.write_text(operator.read_text().replace("replicas: 1", "replicas: 2"))
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("chart_generate", str(HERE / "generate"))
    spec = importlib.util.spec_from_loader("chart_generate", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    assert module.stale_files(root) == ["deploy/operator.yaml"]


def test_deploy_builds_with_kustomize():
    proc = subprocess.run(
        [system_tool("kubectl"), "kustomize", str(REPO / "deploy")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    objects = [d for d in yaml.safe_load_all(proc.stdout) if d]
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("CustomResourceDefinition", CRD_NAME) in kinds
    assert ("CustomResourceDefinition", ACCESS_POLICY_CRD) in kinds
    assert ("Namespace", "cognito-mfa-operator") in kinds
    assert ("Deployment", "cognito-mfa-operator") in kinds
    assert ("ClusterRole", "cognito-mfa-operator") in kinds
    for o in objects:
        if o["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert o["metadata"]["namespace"] == "cognito-mfa-operator", o["kind"]
        kubernetes_validate.validate(o, "1.33", strict=True)
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# ---------------------------------------------------------------------------------------------
# deploy/examples


def crd_schema() -> dict:
    return crd_jsonschema(CRD_NAME)


def examples() -> dict[str, dict]:
    found = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(docs) == 1, f"{path.name}: one resource per file"
        found[path.name] = docs[0]
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_example_is_valid_for_the_crd(name):
    obj = examples()[name]
    assert obj["apiVersion"] == "cognitoidp.operators.dev/v1alpha1"
    assert obj["kind"] == "UserPoolMfaConfig"
    assert obj["metadata"]["namespace"] == "default"
    assert obj["metadata"]["name"] == name.removesuffix(".yaml")
    schema = crd_schema()
    jsonschema.validate({k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}, schema)
    spec = obj["spec"]
    # The service's own rules (docs/cognito-service.md), which the CRD checks with CEL.
    factors = [
        spec.get("softwareTokenMfaConfiguration", {}).get("enabled", False),
        "smsMfaConfiguration" in spec,
        "emailMfaConfiguration" in spec,
    ]
    if spec["mfaConfiguration"] == "OFF":
        assert not any(factors)
    else:
        assert any(factors)
    for text in (
        spec.get("smsMfaConfiguration", {}).get("smsAuthenticationMessage"),
        spec.get("emailMfaConfiguration", {}).get("message"),
    ):
        assert text is None or "{####}" in text
    if spec.get("deletionPolicy") == "Reset":
        assert spec.get("managementPolicy", "Manage") == "Manage"


def test_crd_schema_check_can_fail():
    schema = crd_schema()
    bad = {"spec": {"userPoolId": "us-east-1_X", "mfaConfiguration": "MAYBE"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = {"spec": {"userPoolId": "us-east-1_X", "mfaConfiguration": "ON", "softwareTokenMfa": {"enabled": True}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_examples_cover_every_mode_and_factor():
    specs = {name: obj["spec"] for name, obj in examples().items()}
    assert len({s["userPoolId"] for s in specs.values()}) == len(specs), "distinct pools"
    assert {s["mfaConfiguration"] for s in specs.values()} == {"OFF", "ON", "OPTIONAL"}

    def has(pred):
        return [n for n, s in specs.items() if pred(s)]

    totp = lambda s: s.get("softwareTokenMfaConfiguration", {}).get("enabled") is True
    assert has(lambda s: s["mfaConfiguration"] == "ON" and totp(s) and not {"smsMfaConfiguration", "emailMfaConfiguration"} & set(s))
    (sms,) = has(lambda s: "smsMfaConfiguration" in s)
    sms_spec = specs[sms]
    assert sms_spec["mfaConfiguration"] == "OPTIONAL"
    sms_config = sms_spec["smsMfaConfiguration"]["smsConfiguration"]
    assert sms_config["snsCallerArn"] == "arn:aws:iam::123456789012:role/cognito-sms"
    assert sms_config["externalId"] and sms_config["snsRegion"]
    (email,) = has(lambda s: "emailMfaConfiguration" in s)
    assert specs[email]["mfaConfiguration"] == "ON" and totp(specs[email])
    assert specs[email]["emailMfaConfiguration"]["subject"]
    (webauthn,) = has(lambda s: "webAuthnConfiguration" in s)
    assert specs[webauthn]["mfaConfiguration"] == "OPTIONAL" and totp(specs[webauthn])
    assert specs[webauthn]["webAuthnConfiguration"] == {
        "relyingPartyId": "auth.example.com",
        "userVerification": "required",
        "factorConfiguration": "MULTI_FACTOR_WITH_USER_VERIFICATION",
    }
    assert has(lambda s: s.get("managementPolicy") == "Observe")
    assert has(lambda s: s.get("deletionPolicy") == "Reset")
    assert has(lambda s: s["mfaConfiguration"] == "OFF")


# ---------------------------------------------------------------------------------------------
# deploy/policies: example UserPoolAccessPolicies, checked with jsonschema against the CRD's
# openAPIV3Schema (required fields, enums, patterns, unknown fields); its CEL rules are checked
# by the real API server (tests/e2e/admission.rs applies each file with a server-side dry run).


def policies() -> dict[str, list[dict]]:
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text()) if d]
        for path in sorted(POLICIES.glob("*.yaml"))
    }


def test_policy_files_are_the_documented_ones():
    assert set(policies()) == {
        "one-team-one-account.yaml",
        "shared-account-split-by-team.yaml",
        "prod-floor-on.yaml",
    }
    for name, docs in policies().items():
        assert (POLICIES / name).read_text().startswith("#"), f"{name}: say what it is for"
    names = [d["metadata"]["name"] for docs in policies().values() for d in docs]
    assert len(names) == len(set(names)), "policy names are cluster-wide: distinct"
    assert "policies/" in (REPO / "deploy" / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(p.name for p in POLICIES.glob("*.yaml")))
def test_policy_is_valid_for_the_crd(name):
    for obj in policies()[name]:
        validate_custom_resource(obj, ACCESS_POLICY_CRD)


def test_policy_check_can_fail():
    """The check above rejects a missing required field, a value outside an enum, an unknown
    field, a bad pattern and a namespace on a cluster-scoped object."""
    (good,) = policies()["prod-floor-on.yaml"]
    broken = []
    for change in (
        lambda o: o["spec"].pop("userPools"),
        lambda o: o["spec"]["mfaFloor"].update(mfaConfiguration="ALWAYS"),
        lambda o: o["spec"]["mfaFloor"].update(requiredFactors=["WEBAUTHN"]),
        lambda o: o["spec"].update(userPool=["eu-west-1_*"]),
        lambda o: o["spec"].update(identity={"roleArn": "arn:aws:iam::22:role/x"}),
        lambda o: o["spec"].update(namespaces={"names": ["a"], "labels": {"team": "a"}}),
        lambda o: o["metadata"].update(namespace="default"),
    ):
        obj = yaml.safe_load(yaml.safe_dump(good))
        change(obj)
        broken.append(obj)
    for obj in broken:
        with pytest.raises((AssertionError, jsonschema.ValidationError)):
            validate_custom_resource(obj, ACCESS_POLICY_CRD)


def test_one_team_one_account():
    (policy,) = policies()["one-team-one-account.yaml"]
    spec = policy["spec"]
    assert spec["namespaces"] == {"selector": {"matchLabels": {"team": "payments"}}}
    assert spec["userPools"] == ["eu-west-1_*"]
    assert spec["identity"]["roleArn"] == "arn:aws:iam::222222222222:role/cognito-mfa-payments"
    assert spec["identity"]["externalId"]


def test_shared_account_split_by_team():
    docs = policies()["shared-account-split-by-team.yaml"]
    assert len(docs) == 2
    pools = []
    for policy in docs:
        spec = policy["spec"]
        assert set(spec["namespaces"]) == {"names"} and spec["namespaces"]["names"]
        assert all("*" not in p for p in spec["userPools"]), "exact pool IDs"
        assert "identity" not in spec, "the operator's own credentials"
        pools += spec["userPools"]
    assert len(pools) == len(set(pools)), "no pool shared between the teams"
    namespaces = [n for policy in docs for n in policy["spec"]["namespaces"]["names"]]
    assert len(namespaces) == len(set(namespaces)), "no namespace shared between the teams"


def test_prod_floor_on():
    (policy,) = policies()["prod-floor-on.yaml"]
    spec = policy["spec"]
    assert "namespaces" not in spec, "a floor only: it lets no namespace claim a pool"
    assert spec["userPools"] == ["eu-west-1_*"]
    assert spec["mfaFloor"] == {"mfaConfiguration": "ON", "requiredFactors": ["TOTP"]}


# ---------------------------------------------------------------------------------------------
# Dockerfile and workflow


def test_dockerfile_lint():
    proc = subprocess.run([tool("hadolint"), "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_builds_the_documented_image():
    text = (REPO / "Dockerfile").read_text()
    assert "FROM --platform=$BUILDPLATFORM" in text  # cross-compiles instead of emulating
    assert "cargo build --release --locked" in text
    assert "xx-verify --static" in text  # the binary is static (musl)
    final = text[text.rindex("\nFROM "):]
    assert final.startswith("\nFROM gcr.io/distroless/static-debian12:nonroot")
    assert "USER 65532:65532" in final
    assert 'ENTRYPOINT ["/cognito-mfa-operator"]' in final
    assert 'CMD ["run"]' in final
    for label in ("title", "description", "source", "licenses", "version", "revision", "created"):
        assert f"org.opencontainers.image.{label}=" in final
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    # Allow-list: everything is excluded, then only the Cargo sources come back.
    assert "*" in ignored and {"!Cargo.toml", "!Cargo.lock", "!src/"} <= set(ignored)
    assert ignored.index("*") < ignored.index("!src/")


def test_workflow_is_valid_and_its_scripts_pass_shellcheck():
    workflow = REPO / ".github" / "workflows" / "e2e-kind.yaml"
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = yaml.safe_load(workflow.read_text())
    scripts = [step["run"] for job in data["jobs"].values() for step in job["steps"] if "run" in step]
    assert scripts
    problems = []
    for script in scripts:
        plain = re.sub(r"\$\{\{[^}]*\}\}", "PLACEHOLDER", script)
        sc = subprocess.run([system_tool("shellcheck"), "-s", "bash", "-f", "gcc", "-"], input=plain, capture_output=True, text=True)
        if sc.returncode != 0:
            problems.append(sc.stdout)
    assert not problems, "\n".join(problems)
    text = workflow.read_text()
    assert "helm/kind-action" in text
    assert "pip install -r tests/support/requirements.txt" in text
    assert "tests/support/cognito_emulator.py --host 0.0.0.0 --port" in text
    assert 'E2E_KUBECONFIG="$HOME/.kube/config"' in text and "E2E_COGNITO_ENDPOINT=" in text
    assert "cargo test --locked --test e2e -- --test-threads=1" in text
