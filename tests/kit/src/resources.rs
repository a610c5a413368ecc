//! UserPoolMfaConfig objects as tests write them.

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::{Value, json};

/// The spec most tests use: TOTP required on `pool`.
pub fn totp_on(pool: &str) -> Value {
    json!({"userPoolId": pool, "mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}})
}

/// A resource from YAML, in `namespace`.
pub fn resource(namespace: &str, name: &str, spec: Value) -> UserPoolMfaConfig {
    serde_json::from_value(json!({
        "apiVersion": "cognitoidp.operators.dev/v1alpha1",
        "kind": "UserPoolMfaConfig",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
    .unwrap()
}

pub async fn create(api: &Api<UserPoolMfaConfig>, obj: &UserPoolMfaConfig) -> UserPoolMfaConfig {
    api.create(&PostParams::default(), obj).await.unwrap()
}

pub async fn delete(api: &Api<UserPoolMfaConfig>, name: &str) {
    let _ = api.delete(name, &DeleteParams::default()).await.unwrap();
}
