//! The UserPoolMfaConfig resources of the phases: every one asks for MFA ON with TOTP.

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use cognito_mfa_operator::api::{MfaSettings, UserPoolMfaConfig};

use test_kit::resource;

pub fn spec(pool: &str) -> Value {
    json!({"userPoolId": pool, "mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}})
}

/// What `spec` asks for, as the SDK ceiling sets it directly.
pub fn desired() -> MfaSettings {
    serde_json::from_value(
        json!({"mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}}),
    )
    .unwrap()
}

pub fn labelled(
    mut obj: UserPoolMfaConfig,
    labels: &BTreeMap<String, String>,
) -> UserPoolMfaConfig {
    if !labels.is_empty() {
        obj.metadata.labels = Some(labels.clone());
    }
    obj
}

pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:05}")).collect()
}

/// Creates `names[i]` for `pools[i]`, `concurrency` at a time.
pub async fn create_all(
    api: &Api<UserPoolMfaConfig>,
    ns: &str,
    names: &[String],
    pools: &[String],
    concurrency: usize,
) {
    create_labelled(api, ns, names, pools, &BTreeMap::new(), concurrency).await;
}

/// `create_all` with these labels on every resource (a shard selector picks them).
pub async fn create_labelled(
    api: &Api<UserPoolMfaConfig>,
    ns: &str,
    names: &[String],
    pools: &[String],
    labels: &BTreeMap<String, String>,
    concurrency: usize,
) {
    let objs: Vec<UserPoolMfaConfig> = names
        .iter()
        .zip(pools)
        .map(|(name, pool)| labelled(resource(ns, name, spec(pool)), labels))
        .collect();
    stream::iter(objs)
        .map(|obj| async move {
            api.create(&PostParams::default(), &obj)
                .await
                .unwrap_or_else(|e| panic!("create {}: {e}", obj.name_any()))
        })
        .buffer_unordered(concurrency)
        .for_each(|_| async {})
        .await;
}
