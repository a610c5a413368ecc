//! The Kubernetes API calls a real run of the operator makes, read from the API server's audit
//! log, are exactly those in tests/chart/operator-api-calls.json, the table the chart's RBAC
//! rules are checked against (tests/chart/test_chart_render.py): nothing missing, nothing extra.

use std::collections::BTreeSet;
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
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;

    // Everything the operator does: finalizer add and removal, status, repeated events, reset.
    let pool = env.new_pool();
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
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(test_kit::repo().join("tests/chart/operator-api-calls.json"))
            .unwrap(),
    )
    .unwrap();
    let granted: BTreeSet<Call> = table["calls"]
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

/// On a real cluster (`E2E_KUBECONFIG`, as the kind workflow runs this suite), the cluster's own
/// authorizer decides: with the Namespace, ServiceAccount and RBAC of the default install
/// (deploy/operator.yaml) applied, the operator's ServiceAccount may make every call of the table
/// in the scope it makes it (any namespace, for the all-namespaces watch), and no more. The
/// local API server authorizes every request, so there this test has nothing to ask.
#[tokio::test]
async fn on_a_real_cluster_the_shipped_rbac_authorizes_exactly_the_table() {
    if std::env::var("E2E_KUBECONFIG").is_err() {
        eprintln!("skipped: the local API server authorizes everything; runs with E2E_KUBECONFIG");
        return;
    }
    let env = env();
    let text = std::fs::read_to_string(test_kit::repo().join("deploy/operator.yaml")).unwrap();
    let items: Vec<Value> = text
        .split("\n---")
        .filter_map(|doc| serde_saphyr::from_str::<Value>(doc).ok())
        .filter(|o| {
            matches!(
                o["kind"].as_str(),
                Some(
                    "Namespace"
                        | "ServiceAccount"
                        | "ClusterRole"
                        | "ClusterRoleBinding"
                        | "Role"
                        | "RoleBinding"
                )
            )
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
    let sa = "system:serviceaccount:cognito-mfa-operator:cognito-mfa-operator";
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
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(test_kit::repo().join("tests/chart/operator-api-calls.json"))
            .unwrap(),
    )
    .unwrap();
    let mut wrong = vec![];
    for call in table["calls"].as_array().unwrap() {
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
    assert!(wrong.is_empty(), "{wrong:#?}");
}
