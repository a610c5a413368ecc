//! Client-side budgets under load: a change is served before the routine resync reads that
//! saturate the read budget, and no resource leaves Ready because of the operator's own limit.

use std::time::{Duration, Instant};

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn a_change_is_served_before_a_saturated_resync_backlog() {
    let env = env();
    let ns = env.namespace("saturated");
    // 30 resources resynced every 2 s want 15 reads per second; the budget allows 2.
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![
        ("COGNITO_READ_RPS", "2".into()),
        ("COGNITO_BURST", "1".into()),
    ];
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    const N: usize = 30;
    let items: Vec<Value> = (0..N)
        .map(|i| {
            serde_json::to_value(resource(&ns, &format!("r{i}"), totp_on(&env.new_pool()))).unwrap()
        })
        .collect();
    env.kubectl_with_input(
        &["create", "-f", "-"],
        &json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .success();
    for i in 0..N {
        wait_reason(&api, &format!("r{i}"), "Synced", Duration::from_secs(60)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await; // the resync backlog builds up

    let started = Instant::now();
    create(&api, &resource(&ns, "change", totp_on(&env.new_pool()))).await;
    wait_reason(&api, "change", "Synced", Duration::from_secs(30)).await;
    let waited = started.elapsed();
    eprintln!(
        "a new resource was Ready {waited:?} after its creation, behind {N} saturated resyncs"
    );
    assert!(
        waited < Duration::from_secs(2),
        "the change waited {waited:?}"
    );
    for i in 0..N {
        let (ready, reason, _) = ready_at_generation(&api, &format!("r{i}")).await.unwrap();
        assert_eq!(
            (ready.as_str(), reason.as_str()),
            ("True", "Synced"),
            "r{i} left Ready"
        );
    }
}
