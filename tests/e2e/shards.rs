//! Shards: deployments that split the resources by a label selector over one API server.

use std::time::Duration;

use cognito_mfa_operator::api::{MfaMode, UserPoolMfaConfig};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use test_kit::*;

fn shard(namespace: &str, identity: &str, selector: &str) -> Operator {
    let mut o = OperatorOptions::new(namespace);
    o.identity = identity;
    o.extra_env = vec![("SHARD_SELECTOR", selector.to_owned())];
    Operator::start_with(o)
}

fn calls(op: &Operator, operation: &str) -> f64 {
    op.metric(
        "cognito_mfa_cognito_calls_total",
        &format!(r#"operation="{operation}""#),
    )
}

fn reports(op: &Operator, name: &str) -> bool {
    op.get("/metrics")
        .is_some_and(|(_, body)| body.contains(&format!(r#"name="{name}""#)))
}

#[tokio::test]
async fn two_shards_split_the_resources_and_decide_ownership_together() {
    let env = env();
    let ns = env.namespace("shards");
    let a = shard(&ns, "shard-a", "shard=a");
    let rest = shard(&ns, "shard-rest", "shard!=a");
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;

    let moving = synced_totp(&api, &ns, "moving").await;
    assert_eq!(
        calls(&rest, "SetUserPoolMfaConfig"),
        1.0,
        "the rest wrote moving"
    );
    assert_eq!(env.calls(&moving, "SetUserPoolMfaConfig"), 1);
    assert!(reports(&rest, "moving") && !reports(&a, "moving"));
    assert_eq!(
        calls(&a, "GetUserPoolMfaConfig"),
        0.0,
        "shard a has nothing to read"
    );

    // Relabelled (no new generation), `moving` passes to shard a, which reads its pool at the
    // next resync (2 s); the rest stops reading it.
    api.patch(
        "moving",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"shard": "a"}}})),
    )
    .await
    .unwrap();
    wait_until(
        Duration::from_secs(10),
        "shard a to read moving's pool",
        || calls(&a, "GetUserPoolMfaConfig") >= 1.0,
    );
    assert!(reports(&a, "moving") && !reports(&rest, "moving"));
    let reads = calls(&rest, "GetUserPoolMfaConfig");
    change_spec_and_wait_synced(&api, "moving", json!({"mfaConfiguration": "OPTIONAL"})).await;
    assert_eq!(env.pool_mfa(&moving).mfa_configuration, MfaMode::Optional);
    assert_eq!(
        calls(&a, "SetUserPoolMfaConfig"),
        1.0,
        "shard a wrote the change"
    );
    assert_eq!(
        calls(&rest, "SetUserPoolMfaConfig"),
        1.0,
        "the rest wrote nothing more"
    );
    // More resync periods: the pool is read by shard a only.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(calls(&a, "GetUserPoolMfaConfig") >= 2.0);
    assert_eq!(
        calls(&rest, "GetUserPoolMfaConfig"),
        reads,
        "the rest still reads moving"
    );

    // Ownership spans shards: the rest sees the older claim shard a holds on the pool.
    create(
        &api,
        &resource(
            &ns,
            "rival",
            json!({"userPoolId": moving, "mfaConfiguration": "OFF"}),
        ),
    )
    .await;
    let message = wait_reason(&api, "rival", "Conflict", Duration::from_secs(30)).await;
    assert!(message.contains("moving"), "{message}");
    assert_eq!(env.pool_mfa(&moving).mfa_configuration, MfaMode::Optional);
    assert_eq!(calls(&rest, "SetUserPoolMfaConfig"), 1.0);
    assert!(reports(&rest, "rival") && !reports(&a, "rival"));
}
