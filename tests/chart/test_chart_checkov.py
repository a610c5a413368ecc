"""Scan the rendered chart with checkov (--framework kubernetes), offline.

checkov runs once for this module, on every value set of chart_support.SCENARIOS plus the chart's
CRDs. Any failed check must be listed in checkov-skips.yaml with a reason, and every listed check
must still fail somewhere (no stale skips). Offline checkov reports no severities, so this holds
for findings of every severity, high ones included.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from chart_support import CHART_DIR, HERE, SCENARIOS, rendered, tool

SKIPS_FILE = HERE / "checkov-skips.yaml"


def run_checkov(directory: Path) -> dict[str, list[dict]]:
    """Run checkov on a directory of manifests; return its results: passed and failed checks."""
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE")
    proc = subprocess.run(
        [tool("checkov"), "--directory", str(directory), "--framework", "kubernetes",
         "--output", "json", "--skip-download", "--compact"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    results: dict[str, list[dict]] = {"passed": [], "failed": []}
    for r in reports:
        if r.get("check_type") != "kubernetes":
            continue
        assert r["summary"]["parsing_errors"] == 0, r["summary"]
        results["passed"] += r["results"]["passed_checks"]
        results["failed"] += r["results"]["failed_checks"]
    return results


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> dict[str, list[dict]]:
    directory = tmp_path_factory.mktemp("checkov")
    for name in SCENARIOS:
        r = rendered(name)
        # The hooks too (the `helm test` Pod): the manifest leaves them out.
        hooks = "".join("---\n" + yaml.safe_dump(h, sort_keys=False) for h in r.hooks)
        (directory / f"{name}.yaml").write_text(r.manifest + "\n" + hooks)
    for crd in sorted((CHART_DIR / "crds").glob("*.yaml")):
        (directory / f"crd-{crd.name}").write_text(crd.read_text())
    return run_checkov(directory)


@pytest.fixture(scope="module")
def skips() -> dict[str, dict]:
    entries = yaml.safe_load(SKIPS_FILE.read_text())["skips"]
    return {e["id"]: e for e in entries}


def test_skips_have_reasons(skips):
    for check_id, entry in skips.items():
        assert check_id.startswith("CKV"), check_id
        assert len(entry.get("reason", "").split()) >= 10, f"{check_id} needs a written reason"


def test_every_scenario_was_scanned(scan):
    files = {c["file_path"].lstrip("/") for c in scan["passed"] + scan["failed"]}
    assert {f"{name}.yaml" for name in SCENARIOS} <= files
    # The pod checks ran on the Deployments.
    deployment_checks = {c["check_id"] for c in scan["passed"] if c["resource"].startswith("Deployment.")}
    for check_id in ("CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_11", "CKV_K8S_13", "CKV_K8S_20", "CKV_K8S_22",
                     "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_40"):
        assert check_id in deployment_checks, f"{check_id} did not pass on the Deployment"


def test_no_unexplained_findings(scan, skips):
    unexplained = sorted(
        f"{c['check_id']} {c['check_name']} ({c['file_path']}: {c['resource']})"
        for c in scan["failed"]
        if c["check_id"] not in skips
    )
    assert not unexplained, "fix these or add them with a reason to checkov-skips.yaml:\n" + "\n".join(unexplained)


def test_no_stale_skips(scan, skips):
    failing = {c["check_id"] for c in scan["failed"]}
    stale = sorted(set(skips) - failing)
    assert not stale, f"checks in checkov-skips.yaml that no longer fail (remove them): {stale}"


def test_digest_pinned_image_passes_the_digest_check(scan):
    """The "everything" value set pins the image by digest: CKV_K8S_43 passes there."""
    by_file = {(c["check_id"], c["file_path"].lstrip("/")) for c in scan["passed"]}
    assert ("CKV_K8S_43", "everything.yaml") in by_file


def test_checkov_finds_an_insecure_deployment(tmp_path):
    """The scan can fail: a privileged Deployment without limits or probes is reported."""
    deployment = yaml.safe_load(yaml.safe_dump(rendered("defaults").one("Deployment")))
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    c["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True}
    del c["resources"], c["livenessProbe"], c["readinessProbe"]
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        deployment["metadata"].pop(key, None)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(deployment))
    failed = {c["check_id"] for c in run_checkov(tmp_path)["failed"]}
    assert {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_11", "CKV_K8S_13"} <= failed
