"""Render the chart with the real Helm engine against the stand-in API server and check the result:
Kubernetes schemas (strict), Pod Security "restricted", RBAC least privilege, operator settings."""

from __future__ import annotations

import json
from pathlib import Path
import socket
import urllib.request

import helm_sdkpy
import jsonschema
import kubernetes_validate
import pytest
import yaml

import render
from chart_support import (
    ACCESS_POLICY_CRD,
    CHART_DIR,
    NAMESPACE,
    RELEASE,
    REPO,
    SCENARIOS,
    crd,
    rendered,
    validate_custom_resource,
)
from fake_apiserver import FakeApiServer

# Kubernetes versions the rendered objects must be valid for: the chart's minimum (kubeVersion
# >=1.28) and a current one.
SCHEMA_VERSIONS = ["1.28", "1.33"]
# Custom resources kubernetes-validate has no schema for; checked field by field below (the
# ServiceMonitor) or against their CRD in crds/ (the UserPoolAccessPolicies).
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("cognitoidp.operators.dev/v1alpha1", "UserPoolAccessPolicy"),
}
# Kinds without a namespace among the chart's objects.
CLUSTER_SCOPED_KINDS = {"ClusterRole", "ClusterRoleBinding", "UserPoolAccessPolicy", "CustomResourceDefinition"}

STANDARD_LABELS = {
    "app.kubernetes.io/name": "cognito-mfa-operator",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/version": "0.1.0",
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/part-of": "cognito-mfa-operator",
    "helm.sh/chart": "cognito-mfa-operator-0.1.0",
}

# Every Kubernetes API call the operator makes, as (apiGroup, resource, verb, where):
# "watched" = in the namespaces it watches, "cluster" = on cluster-scoped resources (only with
# access policies enforced), "own" = in its own (release) namespace (the Lease, only with leader
# election). The e2e test rbac.rs checks this table against the calls a real run of the operator
# makes (from the API server's audit log).
_CALLS: dict[str, set] = {"watched": set(), "cluster": set(), "own": set()}
for call in json.loads((Path(__file__).parent / "operator-api-calls.json").read_text())["calls"]:
    _CALLS[call["where"]].add((call["group"], call["resource"], call["verb"], call["where"]))
OPERATOR_API_CALLS, ACCESS_POLICY_CALLS, LEASE_CALLS = _CALLS["watched"], _CALLS["cluster"], _CALLS["own"]

# Cluster-scoped resources, as (apiGroup, resource): a ClusterRoleBinding grants them
# cluster-wide whichever namespaces the operator watches.
CLUSTER_SCOPED_RESOURCES = {("", "namespaces")} | {
    (c["spec"]["group"], c["spec"]["names"]["plural"])
    for c in (crd(f.stem) for f in sorted((REPO / "crds").glob("*.yaml")))
    if c["spec"]["scope"] == "Cluster"
}


def container(r: render.Rendered) -> dict:
    deployment = r.one("Deployment")
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def env(r: render.Rendered) -> dict[str, object]:
    """Container env: name -> value, or the valueFrom dict."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(r)["env"]}


def own_annotations(obj: dict) -> dict:
    """Annotations the chart set (without the ownership annotations Helm adds when it applies)."""
    annotations = obj["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if not k.startswith("meta.helm.sh/")}


def granted(r: render.Rendered, watched: str | None) -> set[tuple[str, str, str, str]]:
    """What the operator's ServiceAccount may do, in the terms of OPERATOR_API_CALLS.

    watched: the watched namespace, or None for all namespaces. Only grants that reach the
    operator's ServiceAccount through a binding count. A ClusterRoleBinding grants "cluster" for
    cluster-scoped resources, and for the others "watched" when all namespaces are watched, else
    "cluster" (more than the operator needs).
    """
    sa = ("ServiceAccount", r.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"], NAMESPACE)
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in r.objects if o["kind"] in ("Role", "ClusterRole")}
    result = set()
    for binding in r.objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subjects = {(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]}
        if sa not in subjects:
            continue
        ref = binding["roleRef"]
        ns = binding["metadata"].get("namespace")
        role = roles[(ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"])]
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    if binding["kind"] == "ClusterRoleBinding":
                        cluster_scoped = (group, resource) in CLUSTER_SCOPED_RESOURCES
                        where = "watched" if watched is None and not cluster_scoped else "cluster"
                    elif ns == NAMESPACE and ns != watched:
                        where = "own"
                    elif ns == watched:
                        where = "watched"
                    else:
                        where = f"namespace {ns}"
                    for verb in rule["verbs"]:
                        result.add((group, resource, verb, where))
    return result


def operator_cluster_roles(r: render.Rendered) -> list[dict]:
    """ClusterRoles for the operator: without the ones for users that view/edit aggregate."""
    return [
        o for o in r.find("ClusterRole")
        if not any(k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in o["metadata"]["labels"])
    ]


def enforced(scenario: str) -> bool:
    return SCENARIOS[scenario].get("accessPolicies", {}).get("enforce", True)


# ---------------------------------------------------------------------------------------------
# Every value set


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_objects_are_valid_kubernetes_objects(scenario, version):
    r = rendered(scenario)
    assert r.objects, "Helm sent no object"
    errors = []
    assert r.hooks, "no helm test hook"
    for obj in r.manifest_objects() + r.hooks:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(p) for p in e.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {e.message}")
    assert not errors, "\n".join(errors)


def test_schema_validation_catches_a_broken_object():
    """The check above can fail: an unknown field in a real Deployment is rejected."""
    deployment = yaml.safe_load(yaml.safe_dump(rendered("defaults").one("Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.33", strict=True)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_manifest_matches_what_the_api_server_received(scenario):
    r = rendered(scenario)
    sent = sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in r.objects)
    manifest = sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in r.manifest_objects()
    )
    assert sent == manifest
    assert any(m == "POST" and "/deployments" in p for m, p in r.requests)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_standard_labels_and_namespaces(scenario):
    r = rendered(scenario)
    for obj in r.manifest_objects() + r.hooks:
        labels = obj["metadata"].get("labels", {})
        for key, value in STANDARD_LABELS.items():
            assert labels.get(key) == value, f"{obj['kind']}/{obj['metadata']['name']}: label {key}"
        if obj["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in obj["metadata"]
        else:
            assert obj["metadata"].get("namespace"), f"{obj['kind']} has no namespace"
    if "commonLabels" in SCENARIOS[scenario]:
        for obj in r.manifest_objects():
            assert obj["metadata"]["labels"]["team"] == "identity"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_pod_meets_restricted_pod_security_standard(scenario):
    """The checks of the "restricted" Pod Security Standard (Kubernetes docs), on the pod template."""
    pod = rendered(scenario).one("Deployment")["spec"]["template"]["spec"]
    psc = pod["securityContext"]
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert "volumes" not in pod or all(set(v) & {"hostPath"} == set() for v in pod["volumes"])
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True or psc.get("runAsNonRoot") is True
        assert (sc.get("runAsUser") or psc.get("runAsUser")) == 65532
        assert sc["allowPrivilegeEscalation"] is False
        assert sc.get("privileged", False) is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert not sc["capabilities"].get("add")
        assert sc["readOnlyRootFilesystem"] is True
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile"))["type"]
        assert seccomp == "RuntimeDefault"
        assert "hostPort" not in str(c.get("ports", []))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_probes_resources_and_downward_api(scenario):
    r = rendered(scenario)
    c = container(r)
    port = SCENARIOS[scenario].get("httpPort", 8080)
    assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}
    assert c["args"] == ["run", *SCENARIOS[scenario].get("extraArgs", [])]
    assert "command" not in c  # the image's ENTRYPOINT is /cognito-mfa-operator
    e = env(r)
    assert e["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert e["LEASE_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert e["LISTEN_ADDRESS"] == f"0.0.0.0:{port}"
    service = r.one("Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pod_labels = r.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_rbac_is_exactly_what_the_operator_calls(scenario):
    """Least privilege: the ServiceAccount gets every API call the operator makes, in the right
    scope, and nothing more."""
    r = rendered(scenario)
    values = SCENARIOS[scenario]
    watched = values.get("watchNamespace") or None
    leader = values.get("replicaCount", 1) > 1 or values.get("leaderElection", {}).get("enabled", False)
    expected = (
        OPERATOR_API_CALLS
        | (ACCESS_POLICY_CALLS if enforced(scenario) else set())
        | (LEASE_CALLS if leader else set())
    )
    assert granted(r, watched) == expected
    assert env(r)["ENFORCE_ACCESS_POLICIES"] == str(enforced(scenario)).lower()
    # The Lease rules name the operator's own Lease, except create (which cannot be limited).
    if leader:
        lease_role = r.one("Role", f"{RELEASE}-leader-election")
        assert lease_role["metadata"]["namespace"] == NAMESPACE
        lease_name = values.get("leaderElection", {}).get("leaseName", "cognito-mfa-operator")
        for rule in lease_role["rules"]:
            if rule["verbs"] != ["create"]:
                assert rule["resourceNames"] == [lease_name]
        assert env(r)["LEASE_NAME"] == lease_name
    # No wildcards, no access to Secrets or core Events anywhere; of the core group, only
    # reading Namespaces.
    for role in r.find("Role") + r.find("ClusterRole"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
            assert "secrets" not in rule["resources"]
            if "" in rule["apiGroups"]:
                assert rule["apiGroups"] == [""] and rule["resources"] == ["namespaces"]
                assert set(rule["verbs"]) <= {"list", "watch"}


def test_cluster_calls_are_the_access_policy_reads():
    """The table's cluster-scoped calls: reading UserPoolAccessPolicies and Namespaces, nothing
    else, and both resources are cluster-scoped (so a Role could not grant them)."""
    assert ACCESS_POLICY_CALLS == {
        (group, resource, verb, "cluster")
        for group, resource in (("cognitoidp.operators.dev", "userpoolaccesspolicies"), ("", "namespaces"))
        for verb in ("list", "watch")
    }
    assert {(g, res) for g, res, _, _ in ACCESS_POLICY_CALLS} <= CLUSTER_SCOPED_RESOURCES


def test_granted_detects_extra_permissions():
    """The RBAC check can fail: one more verb shows up as a difference."""

    def tampered(r, role_name, change):
        original = r.one("ClusterRole", role_name)
        role = yaml.safe_load(yaml.safe_dump(original))
        change(role["rules"][0])
        return render.Rendered(r.manifest, r.notes, [role if o is original else o for o in r.objects])

    extra_verb = tampered(rendered("defaults"), RELEASE, lambda rule: rule["verbs"].append("delete"))
    assert granted(extra_verb, None) - OPERATOR_API_CALLS - ACCESS_POLICY_CALLS == {
        ("cognitoidp.operators.dev", "userpoolmfaconfigs", "delete", "watched")
    }
    # With one namespace watched, a namespaced resource in the access-policies ClusterRole is a
    # cluster-wide grant.
    extra_resource = tampered(
        rendered("single-namespace"), f"{RELEASE}-access-policies",
        lambda rule: rule["resources"].append("userpoolmfaconfigs"),
    )
    assert granted(extra_resource, "team-a") - OPERATOR_API_CALLS - ACCESS_POLICY_CALLS == {
        ("cognitoidp.operators.dev", "userpoolmfaconfigs", verb, "cluster") for verb in ("list", "watch")
    }


# ---------------------------------------------------------------------------------------------
# Particular value sets


def test_defaults():
    r = rendered("defaults")
    kinds = sorted(o["kind"] for o in r.objects)
    assert kinds == [
        "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "Deployment", "Service", "ServiceAccount",
    ]
    deployment = r.one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    # One replica without leader election: never two operators at once during an update.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container(r)["image"] == "ghcr.io/cognito-mfa-operator/cognito-mfa-operator:0.1.0"
    assert env(r) == {
        "WATCH_NAMESPACE": "",
        "ENFORCE_ACCESS_POLICIES": "true",
        "RESYNC_INTERVAL": "10m",
        "MAX_CONCURRENT_RECONCILES": "16",
        "LISTEN_ADDRESS": "0.0.0.0:8080",
        "LOG_LEVEL": "info",
        "LOG_FORMAT": "json",
        "COGNITO_TIMEOUT": "10s",
        "SHUTDOWN_TIMEOUT": "20s",
        "LEADER_ELECTION": "false",
        "LEASE_NAME": "cognito-mfa-operator",
        "LEASE_DURATION": "15s",
        "LEASE_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "COGNITO_READ_RPS": "8",
        "COGNITO_WRITE_RPS": "8",
        "COGNITO_BURST": "4",
    }
    assert r.find("Role") == [] and r.find("RoleBinding") == []
    assert own_annotations(r.one("ServiceAccount")) == {}
    assert r.one("Service")["metadata"]["name"] == f"{RELEASE}-metrics"


def test_replicas_3_turns_leader_election_on():
    r = rendered("replicas-3")
    deployment = r.one("Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert env(r)["LEADER_ELECTION"] == "true"
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    lease_role = r.one("Role", f"{RELEASE}-leader-election")
    assert {g for rule in lease_role["rules"] for g in rule["apiGroups"]} == {"coordination.k8s.io"}
    assert {res for rule in lease_role["rules"] for res in rule["resources"]} == {"leases"}
    binding = r.one("RoleBinding", f"{RELEASE}-leader-election")
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{RELEASE}-leader-election"}
    # Still watching every namespace.
    assert r.one("ClusterRole", RELEASE) and r.one("ClusterRoleBinding", RELEASE)


def test_leader_election_can_be_forced_with_one_replica():
    r = render.render({"leaderElection": {"enabled": True}})
    assert env(r)["LEADER_ELECTION"] == "true"
    assert r.one("Role", f"{RELEASE}-leader-election")


def test_a_shard_release_passes_its_selector_and_lease():
    r = render.render({"shardSelector": "shard!=a", "leaderElection": {"enabled": True, "leaseName": "upmfa-rest"}})
    assert env(r)["SHARD_SELECTOR"] == "shard!=a"
    assert env(r)["LEASE_NAME"] == "upmfa-rest"
    assert "SHARD_SELECTOR" not in env(rendered("defaults")), "no selector: every resource"


def test_single_namespace_mode_uses_a_role_not_a_cluster_role():
    r = rendered("single-namespace")
    # The operator's one ClusterRole reads the cluster-scoped access policies and Namespaces only
    # (besides it, only the unbound view ClusterRole for users that `view` aggregates).
    access = f"{RELEASE}-access-policies"
    assert sorted(o["metadata"]["name"] for o in r.find("ClusterRole") + r.find("ClusterRoleBinding")) == sorted(
        [f"{RELEASE}-view", access, access]
    ), "in any order: Helm's order of objects of one kind is not fixed"
    assert granted(r, "team-a") >= ACCESS_POLICY_CALLS
    role = r.one("Role")
    binding = r.one("RoleBinding")
    assert role["metadata"]["namespace"] == "team-a"
    assert binding["metadata"]["namespace"] == "team-a"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    assert env(r)["WATCH_NAMESPACE"] == "team-a"
    assert env(r)["LEADER_ELECTION"] == "false"
    assert "namespace \"team-a\"" in r.notes


def test_single_namespace_mode_without_access_policies_has_no_cluster_role():
    r = render.render({"watchNamespace": "team-a", "accessPolicies": {"enforce": False}})
    assert operator_cluster_roles(r) == [] and r.find("ClusterRoleBinding") == []
    assert granted(r, "team-a") == OPERATOR_API_CALLS
    assert env(r)["ENFORCE_ACCESS_POLICIES"] == "false"


def test_access_policies_off():
    r = rendered("access-policies-off")
    assert env(r)["ENFORCE_ACCESS_POLICIES"] == "false"
    assert [o["metadata"]["name"] for o in operator_cluster_roles(r)] == [RELEASE]
    assert granted(r, None) == OPERATOR_API_CALLS
    assert "NOT enforced" in r.notes and "kubectl get upap" not in r.notes
    assert "sts:AssumeRole" not in r.notes
    assert r.find("UserPoolAccessPolicy") == []


def test_access_policies_are_created_from_values():
    r = rendered("access-policies")
    wanted = SCENARIOS["access-policies"]["accessPolicies"]["policies"]
    created = {p["metadata"]["name"]: p for p in r.find("UserPoolAccessPolicy")}
    assert sorted(created) == sorted(p["name"] for p in wanted)
    manifest = {o["metadata"]["name"]: o for o in r.manifest_objects() if o["kind"] == "UserPoolAccessPolicy"}
    for values in wanted:
        policy = created[values["name"]]
        assert policy["apiVersion"] == "cognitoidp.operators.dev/v1alpha1"
        assert "namespace" not in policy["metadata"], "cluster-scoped"
        assert policy["metadata"]["labels"].items() >= STANDARD_LABELS.items()
        assert policy["spec"] == values["spec"], "spec round-trips"
        assert manifest[values["name"]]["spec"] == values["spec"]
    # Helm installs the CRDs from crds/ before any policy.
    posts = [p.partition("?")[0] for m, p in r.requests if m == "POST"]
    policy_posts = [i for i, p in enumerate(posts) if p == "/apis/cognitoidp.operators.dev/v1alpha1/userpoolaccesspolicies"]
    assert len(policy_posts) == len(wanted)
    assert posts.index("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") < min(policy_posts)
    assert "kubectl get upap" in r.notes and "sts:AssumeRole and sts:TagSession" in r.notes
    assert "EKS Pod Identity association of that ServiceAccount" in r.notes


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_access_policies_are_valid_for_the_crd(scenario):
    """Custom resources kubernetes-validate cannot check: against the generated CRD instead."""
    for obj in rendered(scenario).manifest_objects():
        if obj["kind"] == "UserPoolAccessPolicy":
            validate_custom_resource(obj, ACCESS_POLICY_CRD)


def test_access_policy_crd_check_can_fail():
    (policy,) = [
        o for o in rendered("access-policies").manifest_objects()
        if o["kind"] == "UserPoolAccessPolicy" and o["metadata"]["name"] == "payments"
    ]
    for change in (
        lambda s: s.update(userPools=[]),
        lambda s: s.update(allowedDeletionPolicies=["Delete"]),
        lambda s: s["identity"].update(sessionName="x"),
        lambda s: s["identity"].update(roleArn="arn:aws:iam::1:role/x"),
    ):
        broken = yaml.safe_load(yaml.safe_dump(policy))
        change(broken["spec"])
        with pytest.raises(jsonschema.ValidationError):
            validate_custom_resource(broken, ACCESS_POLICY_CRD)


@pytest.mark.parametrize(
    "values, disabled",
    [
        ({}, False),
        ({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/x"}}}, True),
        ({"serviceAccount": {"annotations": {"example.com/other": "x"}}}, False),
        ({"aws": {"podIdentity": True}}, True),
    ],
    ids=["no-irsa-no-pod-identity", "irsa", "other-annotation", "pod-identity"],
)
def test_instance_metadata_is_disabled_with_irsa_or_pod_identity(values, disabled):
    """With IRSA or Pod Identity, a broken set-up must not fall back to the node's instance role."""
    e = env(render.render(values))
    if disabled:
        assert e["AWS_EC2_METADATA_DISABLED"] == "true"
    else:
        assert "AWS_EC2_METADATA_DISABLED" not in e


def test_servicemonitor_pdb_and_networkpolicy():
    r = rendered("extras")
    pod_labels = r.one("Deployment")["spec"]["template"]["metadata"]["labels"]

    monitor = r.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= r.one("Service")["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == r.one("Service")["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"

    pdb = r.one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"] == {**pdb["spec"], "maxUnavailable": 1}
    assert "minAvailable" not in pdb["spec"]

    policy = r.one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    # Ingress: the http (metrics) port only, from the monitoring namespace.
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == SCENARIOS["extras"]["networkPolicy"]["metricsFrom"]
    # Egress: DNS, HTTPS, the API server (to its addresses), the EKS Pod Identity agent.
    egress = policy["egress"]
    ports = [sorted((p["port"], p["protocol"]) for p in rule["ports"]) for rule in egress]
    assert ports == [[(53, "TCP"), (53, "UDP")], [(443, "TCP")], [(443, "TCP"), (6443, "TCP")], [(80, "TCP")]]
    assert egress[0]["to"] == SCENARIOS["extras"]["networkPolicy"]["dns"]["to"]
    assert "to" not in egress[1]
    assert egress[2]["to"] == [{"ipBlock": {"cidr": "10.96.0.1/32"}}, {"ipBlock": {"cidr": "172.18.0.2/32"}}]
    assert egress[3]["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}, {"ipBlock": {"cidr": "fd00:ec2::23/128"}}]


def test_everything_set():
    r = rendered("everything")
    values = SCENARIOS["everything"]
    c = container(r)
    assert c["image"] == "ghcr.io/cognito-mfa-operator/cognito-mfa-operator@sha256:" + "ab" * 32
    assert c["imagePullPolicy"] == "Always"
    e = env(r)
    assert e["WATCH_NAMESPACE"] == "identity"
    assert e["ENFORCE_ACCESS_POLICIES"] == "true"
    assert e["AWS_EC2_METADATA_DISABLED"] == "true"  # IRSA
    assert e["RESYNC_INTERVAL"] == "1h 30m"
    assert e["MAX_CONCURRENT_RECONCILES"] == "4"
    assert e["LOG_LEVEL"] == "debug" and e["LOG_FORMAT"] == "text"
    assert e["LEADER_ELECTION"] == "true" and e["LEASE_NAME"] == "mfa-leader"
    assert (e["LEASE_DURATION"], e["LEASE_RENEW_DEADLINE"]) == ("30s", "20s")
    assert (e["COGNITO_TIMEOUT"], e["SHUTDOWN_TIMEOUT"]) == ("5s", "40s")
    assert e["AWS_REGION"] == "eu-west-1"
    assert e["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] == "http://cognito-emulator.test.svc:5000"
    assert (e["COGNITO_READ_RPS"], e["COGNITO_WRITE_RPS"], e["COGNITO_BURST"]) == ("2.5", "1", "2")
    assert e["AWS_MAX_ATTEMPTS"] == "5"
    assert e["LISTEN_ADDRESS"] == "0.0.0.0:9090"
    sa = r.one("ServiceAccount")
    assert own_annotations(sa) == values["serviceAccount"]["annotations"]
    pod = r.one("Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"] == values["podAnnotations"]
    assert pod["metadata"]["labels"]["tier"] == "control"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 60
    for key in ("priorityClassName", "nodeSelector", "tolerations", "topologySpreadConstraints", "imagePullSecrets"):
        assert pod["spec"][key] == values[key]
    assert r.one("PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert "maxUnavailable" not in r.one("PodDisruptionBudget")["spec"]
    assert r.one("NetworkPolicy")["spec"]["egress"][-1] == values["networkPolicy"]["extraEgress"][0]
    assert r.one("ServiceMonitor")["spec"]["endpoints"][0]["interval"] == "1m"
    assert "arn:aws:iam::123456789012:role/cognito-mfa" in r.notes


def test_existing_service_account():
    r = render.render({"serviceAccount": {"create": False, "name": "shared-operator"}})
    assert r.find("ServiceAccount") == []
    assert r.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "shared-operator"
    for binding in r.find("ClusterRoleBinding"):
        assert binding["subjects"][0]["name"] == "shared-operator"


def test_rbac_can_be_left_out():
    r = render.render({"rbac": {"create": False}})
    assert not [o for o in r.objects if o["apiVersion"].startswith("rbac.authorization.k8s.io/")]


def test_notes_tell_how_to_check_the_operator():
    notes = rendered("defaults").notes
    assert "kubectl get upmfa --all-namespaces" in notes
    assert f"kubectl -n {NAMESPACE} logs deployment/{RELEASE}" in notes
    assert "/metrics" in notes and "port-forward service/cognito-mfa-operator-metrics 8080:8080" in notes
    assert f"rollout status deployment/{RELEASE}" in notes
    assert "kubectl get upap" in notes


# ---------------------------------------------------------------------------------------------
# Values schema and chart constraints, enforced by the Helm engine


@pytest.mark.parametrize(
    "values",
    [
        {"replicas": 3},  # misspelt key
        {"image": {"repository": "x", "tga": "1"}},
        {"operator": {"logFormat": "xml"}},
        {"replicaCount": "three"},
        {"rateLimit": {"readsPerSecond": -1}},
        {"rateLimit": {"writesPerSecond": 0.001}},
        {"watchNamespace": "Not_A_Namespace"},
        {"networkPolicy": {"enabled": True, "apiServer": {"ports": []}}},
        {"accessPolicies": {"enforce": "yes"}},
        {"accessPolicies": {"policies": [{"name": "no-spec"}]}},
        {"accessPolicies": {"policies": [{"name": "Bad_Name", "spec": {"userPools": ["*"]}}]}},
        {"accessPolicies": {"policies": [{"name": "p", "spec": {"userPools": ["*"]}, "namespace": "x"}]}},
        {"accessPolicies": {"policies": [{"name": "p", "spec": {"userPools": []}}]}},
        {"aws": {"podIdentity": "true"}},
        {"crds": {"enabled": "yes"}},
        {"crds": {"kept": True}},
        {"rbac": {"aggregateToView": "true"}},
        {"extraArgs": [1]},
        {"extraArgs": "--flag"},
        {"volumes": [{"emptyDir": {}}]},
        {"volumeMounts": [{"name": "x"}]},
        {"extraObjects": {"apiVersion": "v1"}},
        {"test": {"image": ""}},
    ],
    ids=[
        "unknown-key", "unknown-nested-key", "bad-enum", "bad-type", "negative-rate", "rate-below-minimum", "bad-namespace", "no-api-ports",
        "enforce-not-boolean", "policy-without-spec", "bad-policy-name", "policy-unknown-key", "policy-no-pools",
        "pod-identity-not-boolean", "crds-enabled-not-boolean", "crds-unknown-key", "aggregate-not-boolean",
        "extra-arg-not-string", "extra-args-not-list", "volume-without-name", "mount-without-path",
        "extra-objects-not-list", "empty-test-image",
    ],
)
def test_values_schema_rejects(values):
    with pytest.raises(helm_sdkpy.InstallError):
        render.render(values)


def test_a_zero_rate_means_unlimited_and_reaches_the_operator():
    e = env(render.render({"rateLimit": {"readsPerSecond": 0, "writesPerSecond": 0}}))
    assert (e["COGNITO_READ_RPS"], e["COGNITO_WRITE_RPS"]) == ("0", "0")


def test_kube_version_constraint():
    """kubeVersion >=1.28: Helm refuses an older cluster and accepts the minimum."""
    with pytest.raises(helm_sdkpy.InstallError):
        render.render({}, kube_version="1.27")
    assert render.render({}, kube_version="1.28").one("Deployment")


def test_lint_passes():
    import asyncio

    result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration(namespace=NAMESPACE)).run(str(CHART_DIR)))
    # Severities: 1 info, 2 warning, 3 error. An info ("icon is recommended") is fine.
    bad = [m for m in result["Messages"] if m["Severity"] >= 2]
    assert result["TotalChartsLinted"] == 1
    assert not bad, bad


def test_lint_catches_errors(tmp_path):
    """The lint check can fail: a broken template and a value of the wrong type are errors."""
    import asyncio
    import shutil

    chart = tmp_path / "cognito-mfa-operator"
    shutil.copytree(CHART_DIR, chart)
    with open(chart / "templates" / "service.yaml", "a") as f:
        f.write("{{ .Values.missing.field }}\n")
    result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration(namespace=NAMESPACE)).run(str(chart)))
    assert [m for m in result["Messages"] if m["Severity"] == 3 and m["Path"] == "templates/"]


# ---------------------------------------------------------------------------------------------
# The stand-in API server


def test_apiserver_runs_only_during_the_render():
    server = FakeApiServer().start()
    host_port = server.url.removeprefix("http://")
    with urllib.request.urlopen(server.url + "/version", timeout=5) as resp:
        assert resp.status == 200
    r = render.render({}, server=server)
    assert any(m == "POST" and p.startswith(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments") for m, p in r.requests)
    # Helm's release record went to the stand-in too (as a protobuf Secret).
    assert any(m == "POST" and p.startswith(f"/api/v1/namespaces/{NAMESPACE}/secrets") for m, p in r.requests)
    server.stop()
    host, port = host_port.split(":")
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()


def test_crds_from_the_chart_reach_the_api_server(tmp_path):
    """CRDs in the chart's crds/ directory are installed first, as CustomResourceDefinitions."""
    import shutil

    chart = tmp_path / "cognito-mfa-operator"
    shutil.copytree(CHART_DIR, chart)
    crd_files = sorted((chart / "crds").glob("*.yaml"))
    if not crd_files:
        (chart / "crds").mkdir(exist_ok=True)
        (chart / "crds" / "example.yaml").write_text(_SAMPLE_CRD)
        crd_files = [chart / "crds" / "example.yaml"]
    r = render.render({}, chart=chart)
    expected = {yaml.safe_load(f.read_text())["metadata"]["name"] for f in crd_files}
    assert {c["metadata"]["name"] for c in r.crds} == expected
    posts = [p for m, p in r.requests if m == "POST"]
    assert posts.index(next(p for p in posts if "customresourcedefinitions" in p)) < posts.index(
        next(p for p in posts if "/deployments" in p)
    )


_SAMPLE_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: samples.example.com
spec:
  group: example.com
  names: {kind: Sample, plural: samples, singular: sample}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object}
"""


# ---------------------------------------------------------------------------------------------
# values.yaml documentation and values.schema.json coverage


def _undocumented_keys(lines: list[str]) -> list[str]:
    """Keys of values.yaml without a comment right above them. A key is covered by its own
    comment, by a commented ancestor, or (for a section header) by its children."""
    entries = []  # (indent, key, commented)
    previous = ""
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "- ")) and ":" in stripped:
            indent = len(line) - len(line.lstrip())
            entries.append((indent, stripped.split(":")[0], previous.startswith("#")))
        if stripped:
            previous = stripped
    problems = []
    for i, (indent, key, commented) in enumerate(entries):
        has_children = i + 1 < len(entries) and entries[i + 1][0] > indent
        ancestor_commented, level = False, indent
        for j in range(i - 1, -1, -1):
            if entries[j][0] < level:
                level = entries[j][0]
                ancestor_commented = ancestor_commented or entries[j][2]
        if not (commented or ancestor_commented or has_children):
            problems.append(key)
    return problems


def test_every_value_is_commented():
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    assert _undocumented_keys(lines) == []
    assert _undocumented_keys(["a:", "  # -- documented", "  b: 1", "  c: 2"]) == ["c"]


def test_schema_covers_exactly_the_values():
    import json

    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

    def walk(schema_node, value_node, path):
        props = schema_node.get("properties")
        if props is None or not isinstance(value_node, dict):
            return
        if schema_node.get("additionalProperties") is False:
            assert set(value_node) <= set(props), f"{path}: not in the schema: {set(value_node) - set(props)}"
        missing = set(props) - set(value_node) - {"global", "claims", "successThreshold"}
        assert not missing, f"{path}: schema properties without a default in values.yaml: {missing}"
        for key, sub in props.items():
            if key in value_node:
                walk(sub, value_node[key], f"{path}.{key}")

    assert schema["additionalProperties"] is False
    walk(schema, values, "values")


# ---------------------------------------------------------------------------------------------
# CRDs as templates (crds.enabled)


def _chart_without_crds_dir(tmp_path) -> Path:
    """The chart as `helm install --skip-crds` installs it: Helm leaves crds/ alone (helm-sdkpy
    has no skip-crds option, so the copy has no crds/)."""
    import shutil

    chart = tmp_path / "cognito-mfa-operator"
    shutil.copytree(CHART_DIR, chart)
    shutil.rmtree(chart / "crds")
    return chart


def _source_crds() -> dict[str, dict]:
    return {c["metadata"]["name"]: c for c in (yaml.safe_load(f.read_text()) for f in sorted((REPO / "crds").glob("*.yaml")))}


def test_crds_come_from_the_crds_directory_by_default():
    r = rendered("defaults")
    assert {c["metadata"]["name"] for c in r.crds} == set(_source_crds())
    assert not [o for o in r.manifest_objects() if o["kind"] == "CustomResourceDefinition"]


@pytest.mark.parametrize("keep", [True, False])
def test_crds_enabled_renders_them_as_templates(tmp_path, keep):
    r = render.render({"crds": {"enabled": True, "keep": keep}}, chart=_chart_without_crds_dir(tmp_path))
    assert r.crds == []  # nothing from crds/
    templated = {o["metadata"]["name"]: o for o in r.manifest_objects() if o["kind"] == "CustomResourceDefinition"}
    sources = _source_crds()
    assert set(templated) == set(sources)
    for name, obj in templated.items():
        assert obj["spec"] == sources[name]["spec"]
        annotations = own_annotations(obj)
        assert annotations.pop("helm.sh/resource-policy", None) == ("keep" if keep else None)
        assert annotations == sources[name]["metadata"].get("annotations", {})
        assert obj["metadata"]["labels"].items() >= STANDARD_LABELS.items()
        kubernetes_validate.validate(obj, "1.33", strict=True)
    # Helm sent them before the objects that depend on them.
    posts = [p for m, p in r.requests if m == "POST"]
    assert sum("customresourcedefinitions" in p for p in posts) == len(sources)
    assert posts.index(next(p for p in posts if "customresourcedefinitions" in p)) < posts.index(
        next(p for p in posts if "/deployments" in p)
    )


def test_crds_enabled_without_skip_crds_collides():
    """Why values.yaml says --skip-crds: Helm installs crds/ anyway, then the templated copies
    already exist without Helm's ownership, and the install fails."""
    with pytest.raises(helm_sdkpy.InstallError):
        render.render({"crds": {"enabled": True}})


# ---------------------------------------------------------------------------------------------
# extraArgs, volumes, volumeMounts, extraObjects


def test_extra_args_volumes_and_mounts():
    r = rendered("everything")
    values = SCENARIOS["everything"]
    c = container(r)
    assert c["args"] == ["run", "--extra-flag", "value with spaces"]
    assert c["volumeMounts"] == values["volumeMounts"]
    assert r.one("Deployment")["spec"]["template"]["spec"]["volumes"] == values["volumes"]
    defaults = rendered("defaults")
    assert "volumeMounts" not in container(defaults)
    assert "volumes" not in defaults.one("Deployment")["spec"]["template"]["spec"]


def test_extra_objects_are_rendered_with_tpl():
    r = rendered("everything")
    from_string = r.one("ConfigMap", f"{RELEASE}-extra")
    assert from_string["metadata"]["namespace"] == NAMESPACE
    assert from_string["data"] == {"release": RELEASE}
    assert from_string["metadata"]["labels"]["team"] == "identity"
    from_object = r.one("ConfigMap", "aws-ca-bundle")
    assert from_object["metadata"]["namespace"] == NAMESPACE
    assert from_object["metadata"]["labels"]["helm.sh/chart"] == "cognito-mfa-operator-0.1.0"
    assert rendered("defaults").find("ConfigMap") == []


# ---------------------------------------------------------------------------------------------
# Aggregated ClusterRoles for users (rbac.aggregateToView, rbac.aggregateToEdit)

RESOURCE_GROUP = "cognitoidp.operators.dev"


def _rules(role: dict) -> set[tuple[str, str, str]]:
    return {
        (g, res, verb)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for res in rule["resources"]
        for verb in rule["verbs"]
    }


def _bound_roles(r: render.Rendered) -> set[str]:
    return {b["roleRef"]["name"] for b in r.find("ClusterRoleBinding") + r.find("RoleBinding")}


def test_view_role_is_aggregated_by_default():
    r = rendered("defaults")
    view = r.one("ClusterRole", f"{RELEASE}-view")
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert _rules(view) == {
        (RESOURCE_GROUP, res, verb)
        for res in ("userpoolmfaconfigs", "userpoolmfaconfigs/status", "userpoolaccesspolicies")
        for verb in ("get", "list", "watch")
    }
    assert r.find("ClusterRole", f"{RELEASE}-edit") == []
    # Bound to no one: the operator's own grants stay what test_rbac_is_exactly_what_the_operator_calls checks.
    assert f"{RELEASE}-view" not in _bound_roles(r)


def test_edit_role_writes_mfa_configs_only():
    r = rendered("everything")
    edit = r.one("ClusterRole", f"{RELEASE}-edit")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in edit["metadata"]["labels"]
    assert _rules(edit) == {
        (RESOURCE_GROUP, "userpoolmfaconfigs", verb) for verb in ("create", "update", "patch", "delete")
    }
    assert not {res for _, res, _ in _rules(edit)} & {"userpoolaccesspolicies", "userpoolmfaconfigs/status"}
    assert not _bound_roles(r) & {f"{RELEASE}-edit", f"{RELEASE}-view"}


def test_aggregated_roles_can_be_switched_off():
    r = render.render({"rbac": {"aggregateToView": False}})
    assert not [o for o in r.find("ClusterRole") if "aggregate-to-view" in str(o["metadata"]["labels"])]
    r = render.render({"rbac": {"create": False, "aggregateToView": True, "aggregateToEdit": True}})
    assert r.find("ClusterRole") == []


# ---------------------------------------------------------------------------------------------
# helm test


def _test_pod(r: render.Rendered) -> dict:
    (pod,) = [h for h in r.hooks if h["kind"] == "Pod"]
    return pod


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_helm_test_pod_checks_readyz_through_the_service(scenario):
    r = rendered(scenario)
    pod = _test_pod(r)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["namespace"] == NAMESPACE
    # Not installed: a hook, not part of the release manifest.
    assert not [o for o in r.objects if o["kind"] == "Pod"]
    service = r.one("Service")
    (port,) = service["spec"]["ports"]
    (c,) = pod["spec"]["containers"]
    url = f"http://{service['metadata']['name']}.{NAMESPACE}.svc:{port['port']}/readyz"
    assert c["command"] == ["curl"] and c["args"][-1] == url and "--fail" in c["args"]
    assert c["image"] == SCENARIOS[scenario].get("test", {}).get("image", "curlimages/curl:8.11.1")
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    # Restricted Pod Security Standard.
    psc, sc = pod["spec"]["securityContext"], c["securityContext"]
    assert psc["runAsNonRoot"] is True and sc["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"} == psc["seccompProfile"]
    assert sc["readOnlyRootFilesystem"] is True
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}


def test_default_test_image_is_pinned_by_tag():
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    name, _, tag = values["test"]["image"].rpartition(":")
    assert name and tag and tag != "latest" and tag[0].isdigit()
