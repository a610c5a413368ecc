//! The UserPoolMfaConfig resources of the phases: every one asks for MFA ON with TOTP.

use futures::{StreamExt, stream};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use cognito_mfa_operator::api::{MfaSettings, UserPoolMfaConfig};

use crate::harness::resource;

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
    let objs: Vec<UserPoolMfaConfig> = names
        .iter()
        .zip(pools)
        .map(|(name, pool)| resource(ns, name, spec(pool)))
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
