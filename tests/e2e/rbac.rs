//! The Kubernetes API calls a real run of the operator makes, read from the API server's audit
//! log, are exactly those in tests/chart/operator-api-calls.json, the table the chart's RBAC
//! rules are checked against (tests/chart/test_chart_render.py): nothing missing, nothing extra.
//! And the shipped RBAC, judged by an RBAC authorizer (a cluster's, or the local API server's),
//! grants exactly the table, and is all the operator needs to run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use test_kit::*;

type Call = (String, String, String);

#[tokio::test]
async fn the_calls_a_real_run_makes_are_the_ones_rbac_grants() {
    let env = env();
    let Some(dir) = env.dir.clone() else {
        eprintln!(
            "skipped: needs the local environment's audit log (not available with E2E_KUBECONFIG)"
        );
        return;
    };
    let ns = env.namespace("rbac");
    let mut opts = OperatorOptions::new(&ns);
    opts.leader_election = true;
    let mut op = Operator::start_with(opts);
    lifecycle(env.api(&ns).await, ns.clone(), env.new_pool()).await;
    op.signal("TERM"); // releases the Lease
    op.wait_exit(Duration::from_secs(10))
        .expect("the operator stops");

    let observed: BTreeSet<Call> = std::fs::read_to_string(dir.join("audit.log"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        // Its calls in the test's namespace, and its cluster-scoped ones (access policies and
        // namespaces), which every run of it makes alike.
        .filter(|e| {
            e["user"]["username"] == OPERATOR_USER
                && (e["objectRef"]["namespace"] == ns.as_str()
                    || e["objectRef"]["resource"].is_string()
                        && e["objectRef"]["namespace"].is_null())
        })
        .map(|e| {
            let r = &e["objectRef"];
            let resource = match r["subresource"].as_str() {
                Some(sub) => format!("{}/{sub}", r["resource"].as_str().unwrap_or_default()),
                None => r["resource"].as_str().unwrap_or_default().to_owned(),
            };
            (
                r["apiGroup"].as_str().unwrap_or_default().to_owned(),
                resource,
                e["verb"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let granted: BTreeSet<Call> = api_calls()["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["group"].as_str().unwrap().into(),
                c["resource"].as_str().unwrap().into(),
                c["verb"].as_str().unwrap().into(),
            )
        })
        .collect();
    let missing: Vec<_> = observed.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&observed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "calls made but not granted: {missing:?}\ngranted but never made: {extra:?}"
    );
}

/// The shipped RBAC, judged by an RBAC authorizer, lets the operator's ServiceAccount make every
/// call of the table in the scope it makes it (any namespace, for the all-namespaces watch), and
/// no more: `kubectl auth can-i --as=system:serviceaccount:...` asks the API server for each. On a
/// real cluster (`E2E_KUBECONFIG`, as the kind workflow runs this suite) the Namespace,
/// ServiceAccount and RBAC of the default install (deploy/operator.yaml) are applied and the
/// cluster's own authorizer answers; locally the RBAC objects of that file are loaded into the
/// local API server, whose RBAC authorizer (kube-apiserver's semantics, upstream's rule engine)
/// answers, and are removed again at the end.
#[tokio::test]
async fn the_shipped_rbac_authorizes_exactly_the_table() {
    let env = env();
    let install = manifest_objects("deploy/operator.yaml");
    let _loaded = if env.dir.is_some() {
        let rbac: Vec<Value> = install.iter().filter(|o| is_rbac(o)).cloned().collect();
        assert!(
            rbac.len() >= 4,
            "deploy/operator.yaml holds the RBAC: {install:?}"
        );
        Some(env.load_rbac(&rbac))
    } else {
        let items: Vec<Value> = install
            .into_iter()
            .filter(|o| {
                is_rbac(o) || matches!(o["kind"].as_str(), Some("Namespace" | "ServiceAccount"))
            })
            .collect();
        assert!(
            items.len() >= 4,
            "deploy/operator.yaml holds the RBAC: {items:?}"
        );
        env.kubectl_with_input(
            &["apply", "-f", "-"],
            &json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
        )
        .success();
        None
    };
    let sa = SERVICE_ACCOUNT_USER;
    let ns = env.namespace("rbac-real");
    let can_i = |verb: &str, resource: &str, scope: &[&str]| -> bool {
        let (resource, sub) = match resource.split_once('/') {
            Some((r, sub)) => (r, Some(sub)),
            None => (resource, None),
        };
        let mut args = vec!["auth", "can-i", verb, resource, "--as", sa];
        if let Some(sub) = sub {
            args.extend(["--subresource", sub]);
        }
        args.extend(scope);
        let out = env.kubectl(&args);
        out.stdout.trim() == "yes"
    };
    let mut wrong = vec![];
    for call in api_calls()["calls"].as_array().unwrap() {
        let (group, resource, verb, place) = (
            call["group"].as_str().unwrap(),
            call["resource"].as_str().unwrap(),
            call["verb"].as_str().unwrap(),
            call["where"].as_str().unwrap(),
        );
        let qualified = match group {
            "" => resource.to_owned(),
            g => match resource.split_once('/') {
                Some((r, sub)) => format!("{r}.{g}/{sub}"),
                None => format!("{resource}.{g}"),
            },
        };
        let (scopes, expected): (Vec<Vec<&str>>, bool) = match place {
            // Watched in every namespace by the default install, hence also across all of them.
            "watched" => (
                vec![vec!["-n", ns.as_str()], vec!["--all-namespaces"]],
                true,
            ),
            "cluster" => (vec![vec![]], true),
            // The Lease Role comes only with leader election, which the default install lacks.
            _ => (vec![vec!["-n", "cognito-mfa-operator"]], false),
        };
        for scope in scopes {
            if can_i(verb, &qualified, &scope) != expected {
                wrong.push(format!("{verb} {qualified} {scope:?}: expected {expected}"));
            }
        }
    }
    // Least privilege: what the operator never does is refused.
    for (verb, resource) in [
        ("delete", "userpoolmfaconfigs.cognitoidp.operators.dev"),
        ("create", "userpoolaccesspolicies.cognitoidp.operators.dev"),
        ("get", "secrets"),
        ("patch", "namespaces"),
    ] {
        if can_i(verb, resource, &["-n", ns.as_str()]) {
            wrong.push(format!("{verb} {resource}: granted"));
        }
    }
    assert!(
        wrong.is_empty(),
        "kubectl auth can-i --as={sa} disagrees with tests/chart/operator-api-calls.json: {wrong:#?}"
    );
}

/// The operator runs as its ServiceAccount under the shipped RBAC with leader election on (the
/// chart's RBAC objects rendered with leaderElection.enabled, tests/e2e/rbac-leader-election.yaml,
/// loaded into the local API server's RBAC authorizer), through the lifecycle of the audit-log test
/// above, holding the Lease the chart's Role names in the release namespace: the resource syncs,
/// follows two spec changes and is deleted with Reset, and the API server answered none of the
/// operator's requests 403 Forbidden.
#[tokio::test]
async fn as_its_service_account_under_the_shipped_rbac_the_operator_is_never_forbidden() {
    let env = env();
    if env.dir.is_none() {
        eprintln!(
            "skipped: needs the local environment's ServiceAccount identity and audit log (not available with E2E_KUBECONFIG)"
        );
        return;
    }
    let rbac = manifest_objects("tests/e2e/rbac-leader-election.yaml");
    // The Lease the chart lets it have: the one its leader-election Role names, in its namespace.
    let lease_role = rbac
        .iter()
        .find(|o| o["kind"] == "Role" && o["rules"].to_string().contains("leases"))
        .expect("the rendering with leader election has the Lease Role");
    let lease_namespace = lease_role["metadata"]["namespace"]
        .as_str()
        .unwrap()
        .to_owned();
    let lease_name = lease_role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["resourceNames"][0].as_str())
        .expect("the Lease Role names the Lease")
        .to_owned();
    let _loaded = env.load_rbac(&rbac);

    let ns = env.namespace("rbac-sa");
    let mut opts = OperatorOptions::new(&ns);
    opts.leader_election = true;
    opts.service_account = true;
    opts.identity = "operator-sa";
    opts.extra_env = vec![
        ("LEASE_NAMESPACE", lease_namespace.clone()),
        ("LEASE_NAME", lease_name.clone()),
    ];
    let mut op = Operator::start_with(opts);
    // In a task of its own, so that the 403s below explain a lifecycle that did not complete.
    let lifecycle = lifecycle(env.api(&ns).await, ns.clone(), env.new_pool());
    let done = tokio::task::LocalSet::new()
        .run_until(async { tokio::task::spawn_local(lifecycle).await })
        .await;
    op.signal("TERM"); // releases the Lease
    op.wait_exit(Duration::from_secs(10))
        .expect("the operator stops");

    let requests = requests_of(env, SERVICE_ACCOUNT_USER);
    // Each forbidden request once, with how often it was made (retries repeat it).
    let mut forbidden = BTreeMap::<String, usize>::new();
    for e in requests
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 403)
    {
        let uri = e["requestURI"].as_str().unwrap_or_default();
        let path = uri.split_once('?').map_or(uri, |(path, _)| path);
        *forbidden
            .entry(format!("{} {path}", e["verb"].as_str().unwrap_or_default()))
            .or_default() += 1;
    }
    assert!(
        forbidden.is_empty(),
        "the shipped RBAC forbade requests of the operator as {SERVICE_ACCOUNT_USER} (403, times):\n{}",
        forbidden
            .iter()
            .map(|(request, n)| format!("{request} ({n}x)"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    if let Err(e) = done {
        std::panic::resume_unwind(e.into_panic());
    }
    // It did its work as the ServiceAccount: status writes in the test's namespace, and its Lease.
    let succeeded = |resource: &str, namespace: &str| {
        requests.iter().any(|e| {
            e["objectRef"]["resource"] == resource
                && e["objectRef"]["namespace"] == namespace
                && e["responseStatus"]["code"]
                    .as_u64()
                    .is_some_and(|c| (200..300).contains(&c))
        })
    };
    assert!(
        succeeded("userpoolmfaconfigs", &ns),
        "no request of {SERVICE_ACCOUNT_USER} in {ns} succeeded"
    );
    assert!(
        succeeded("leases", &lease_namespace),
        "{SERVICE_ACCOUNT_USER} never held its Lease {lease_namespace}/{lease_name}"
    );
}

/// Everything the operator does to one resource: finalizer add and removal, status, repeated
/// events, reset. Creates it, waits for Synced, changes the spec twice (each synced), deletes it
/// (deletionPolicy Reset) and waits until it is gone.
async fn lifecycle(api: Api<UserPoolMfaConfig>, ns: String, pool: String) {
    let spec = |mode: &str| json!({"userPoolId": pool, "mfaConfiguration": mode, "softwareTokenMfaConfiguration": {"enabled": true}, "deletionPolicy": "Reset"});
    create(&api, &resource(&ns, "rbac", spec("ON"))).await;
    wait_reason(&api, "rbac", "Synced", Duration::from_secs(30)).await;
    for mode in ["OPTIONAL", "ON"] {
        api.patch(
            "rbac",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": spec(mode)})),
        )
        .await
        .unwrap();
        wait_for(Duration::from_secs(30), "the change to sync", async || {
            ready_at_generation(&api, "rbac")
                .await
                .filter(|r| r.1 == "Synced")
        })
        .await;
    }
    delete(&api, "rbac").await;
    wait_for(Duration::from_secs(30), "deletion", async || {
        api.get_opt("rbac").await.unwrap().is_none().then_some(())
    })
    .await;
}

/// tests/chart/operator-api-calls.json: every call the operator makes.
fn api_calls() -> Value {
    let path = test_kit::repo().join("tests/chart/operator-api-calls.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The objects of a multi-document YAML file of the repository (a rendering of the chart).
fn manifest_objects(path: impl AsRef<Path>) -> Vec<Value> {
    std::fs::read_to_string(test_kit::repo().join(path))
        .unwrap()
        .split("\n---")
        .filter_map(|doc| serde_saphyr::from_str::<Value>(doc).ok())
        .filter(|o| o["kind"].is_string())
        .collect()
}

fn is_rbac(o: &Value) -> bool {
    matches!(
        o["kind"].as_str(),
        Some("ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding")
    )
}
