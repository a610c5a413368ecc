//! The Kubernetes API calls a real run of the operator makes, read from the API server's audit
//! log, are exactly those in tests/chart/operator-api-calls.json, the table the chart's RBAC
//! rules are checked against (tests/chart/test_chart_render.py): nothing missing, nothing extra.

use std::collections::BTreeSet;
use std::time::Duration;

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::harness::*;

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
            e["user"]["username"] == "cognito-mfa-operator"
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
        &std::fs::read_to_string(
            crate::support::repo().join("tests/chart/operator-api-calls.json"),
        )
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
