"""Shared helpers of the chart tests: value sets, cached renders, tool locations.

(Not in conftest.py, so that test modules can import it by a name no other test directory uses.)
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import render  # noqa: E402

REPO = render.REPO
CHART_DIR = render.CHART_DIR
RELEASE = "cognito-mfa-operator"
NAMESPACE = "cognito-mfa-operator"

# Where tests/chart/setup puts the command-line scanners (checkov, hadolint, check-jsonschema).
TOOLS_VENV = Path(
    os.environ.get("CHART_TOOLS_VENV", Path.home() / ".cache" / "cognito-mfa-operator" / "chart-tools-venv")
)

# Value sets the chart is rendered with. Every test that looks at all renders (schema validation,
# checkov, labels) covers each of them.
SCENARIOS: dict[str, dict] = {
    "defaults": {},
    "replicas-3": {"replicaCount": 3},
    "single-namespace": {"watchNamespace": "team-a"},
    "extras": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "podDisruptionBudget": {"enabled": True},
        "networkPolicy": {
            "enabled": True,
            "apiServer": {"cidrs": ["10.96.0.1/32", "172.18.0.2/32"]},
            "metricsFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
            ],
            "dns": {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ]
            },
        },
    },
    # Single-team mode: no UserPoolAccessPolicy is read, so no cluster-wide read either.
    "access-policies-off": {"accessPolicies": {"enforce": False}},
    # Multi-account: the chart creates the policies; the operator's own role (EKS Pod Identity)
    # assumes the roles they name.
    "access-policies": {
        "aws": {"podIdentity": True},
        "accessPolicies": {
            "policies": [
                {
                    "name": "payments",
                    "spec": {
                        "namespaces": {
                            "names": ["payments-admin"],
                            "selector": {
                                "matchLabels": {"team": "payments"},
                                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}],
                            },
                        },
                        "userPools": ["eu-west-1_*", "us-east-1_Pay123"],
                        "identity": {
                            "roleArn": "arn:aws:iam::222222222222:role/cognito-mfa-payments",
                            "externalId": "cognito-mfa-payments",
                        },
                        "allowedManagementPolicies": ["Manage", "Observe"],
                        "allowedDeletionPolicies": ["Retain"],
                    },
                },
                {
                    "name": "floor.prod",
                    "spec": {
                        "userPools": ["eu-west-1_*"],
                        "mfaFloor": {"mfaConfiguration": "ON", "requiredFactors": ["TOTP"]},
                    },
                },
            ]
        },
    },
    "everything": {
        "replicaCount": 2,
        "watchNamespace": "identity",
        "leaderElection": {"enabled": True, "leaseName": "mfa-leader", "leaseDuration": "30s", "renewDeadline": "20s"},
        "image": {
            "digest": "sha256:" + "ab" * 32,
            "pullPolicy": "Always",
        },
        "imagePullSecrets": [{"name": "regcred"}],
        "commonLabels": {"team": "identity"},
        "serviceAccount": {
            "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/cognito-mfa"}
        },
        "operator": {
            "resyncInterval": "1h 30m",
            "maxConcurrentReconciles": 4,
            "logLevel": "debug",
            "logFormat": "text",
            "cognitoTimeout": "5s",
            "shutdownTimeout": "40s",
        },
        "terminationGracePeriodSeconds": 60,
        "aws": {"region": "eu-west-1", "endpointUrl": "http://cognito-emulator.test.svc:5000"},
        "rateLimit": {"readsPerSecond": 2.5, "writesPerSecond": 1, "burst": 2},
        "extraEnv": [{"name": "AWS_MAX_ATTEMPTS", "value": "5"}],
        "httpPort": 9090,
        "service": {"port": 9090},
        "podAnnotations": {"example.com/scrape": "true"},
        "podLabels": {"tier": "control"},
        "priorityClassName": "system-cluster-critical",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "cognito-mfa-operator"}},
            }
        ],
        "serviceMonitor": {"enabled": True, "interval": "1m", "scrapeTimeout": "20s"},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "networkPolicy": {"enabled": True, "extraEgress": [{"ports": [{"port": 5000, "protocol": "TCP"}]}]},
        "rbac": {"aggregateToEdit": True},
        "extraArgs": ["--extra-flag", "value with spaces"],
        "volumes": [{"name": "aws-ca", "configMap": {"name": "aws-ca-bundle"}}],
        "volumeMounts": [{"name": "aws-ca", "mountPath": "/etc/aws-ca", "readOnly": True}],
        "extraObjects": [
            # As a string: templated with tpl.
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"cognito-mfa-operator.fullname\" . }}-extra\n"
            "  namespace: {{ .Release.Namespace }}\n  labels:\n"
            "    {{- include \"cognito-mfa-operator.labels\" . | nindent 4 }}\n"
            "data:\n  release: {{ .Release.Name | quote }}\n",
            # As an object: turned into YAML, then templated.
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "aws-ca-bundle",
                    "namespace": "{{ .Release.Namespace }}",
                    "labels": {
                        "helm.sh/chart": "{{ include \"cognito-mfa-operator.chart\" . }}",
                        "app.kubernetes.io/name": "cognito-mfa-operator",
                        "app.kubernetes.io/instance": "{{ .Release.Name }}",
                        "app.kubernetes.io/version": "{{ .Chart.AppVersion }}",
                        "app.kubernetes.io/managed-by": "{{ .Release.Service }}",
                        "app.kubernetes.io/part-of": "cognito-mfa-operator",
                        "team": "identity",
                    },
                },
                "data": {"ca.pem": "-----BEGIN CERTIFICATE-----"},
            },
        ],
        "test": {"image": "registry.example.com/mirror/curl:8.11.1"},
    },
}

_cache: dict[str, render.Rendered] = {}


def rendered(name: str) -> render.Rendered:
    """The chart rendered with SCENARIOS[name] (each rendered once per session)."""
    if name not in _cache:
        _cache[name] = render.render(SCENARIOS[name], release=RELEASE, namespace=NAMESPACE)
    return _cache[name]


def tool(name: str) -> str:
    """Path of a scanner installed by tests/chart/setup."""
    path = TOOLS_VENV / "bin" / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(f"{name} is not installed: run tests/chart/setup first")


def system_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run tests/chart/setup first")
    return found


# ---------------------------------------------------------------------------------------------
# Custom resources against the generated CRDs in crds/

ACCESS_POLICY_CRD = "userpoolaccesspolicies.cognitoidp.operators.dev"
# Object names of custom resources (DNS-1123 subdomains).
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"


def crd(name: str) -> dict:
    """A CRD of crds/ (the source the chart's and deploy/'s copies are made from)."""
    return yaml.safe_load((REPO / "crds" / f"{name}.yaml").read_text())


def to_jsonschema(node):
    """OpenAPI v3 structural schema -> JSON schema: `nullable` becomes a null type; unknown fields
    are rejected like the API server prunes/rejects them (kubectl --validate=strict). CEL rules
    (x-kubernetes-validations) are dropped: the real API server checks those in the e2e suite."""
    if isinstance(node, dict):
        node = {k: to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        if node.get("type") in ("object", ["object", "null"]) and "properties" in node:
            node.setdefault("additionalProperties", False)
        return node
    if isinstance(node, list):
        return [to_jsonschema(v) for v in node]
    return node


def crd_jsonschema(name: str, version: str = "v1alpha1") -> dict:
    """The JSON schema of a CRD version's openAPIV3Schema, for the body of an object (without
    apiVersion, kind and metadata, which the API server checks itself)."""
    (v,) = [v for v in crd(name)["spec"]["versions"] if v["name"] == version]
    schema = to_jsonschema(copy.deepcopy(v["schema"]["openAPIV3Schema"]))
    schema["properties"].pop("metadata", None)
    return schema


def validate_custom_resource(obj: dict, name: str) -> None:
    """Check a custom resource as the API server would, structurally: group, version and kind of
    the CRD, a namespace exactly when it is namespaced, a valid name, and the body against the
    schema (types, enums, patterns, required and unknown fields). Raises on the first problem."""
    definition = crd(name)
    spec = definition["spec"]
    served = [v["name"] for v in spec["versions"] if v.get("served")]
    group, _, version = obj["apiVersion"].partition("/")
    assert group == spec["group"] and version in served, obj["apiVersion"]
    assert obj["kind"] == spec["names"]["kind"], obj["kind"]
    meta = obj["metadata"]
    assert ("namespace" in meta) == (spec["scope"] == "Namespaced"), f"scope {spec['scope']}: {meta}"
    assert re.fullmatch(DNS_SUBDOMAIN, meta["name"]) and len(meta["name"]) <= 253, meta["name"]
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    jsonschema.validate(body, crd_jsonschema(name, version))
