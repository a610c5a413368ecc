"""Shared helpers of the chart tests: value sets, cached renders, tool locations.

(Not in conftest.py, so that test modules can import it by a name no other test directory uses.)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

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
    "everything": {
        "replicaCount": 2,
        "watchNamespace": "identity",
        "leaderElection": {"enabled": True, "leaseName": "mfa-leader", "leaseDuration": "30s"},
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
