//! Waiting for a condition, and for a resource's Ready condition at its generation.

use std::time::{Duration, Instant};

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use serde_json::{Value, json};

use crate::env::env;
use crate::resources::{create, resource, totp_on};

pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

pub async fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The `Ready` condition's (status, reason) once it is at the current generation.
pub async fn ready_at_generation(
    api: &Api<UserPoolMfaConfig>,
    name: &str,
) -> Option<(String, String, String)> {
    let obj = api.get_opt(name).await.ok()??;
    let status = obj.status.as_ref()?;
    let ready = status.ready()?;
    (status.observed_generation == obj.metadata.generation).then(|| {
        (
            ready.status.clone(),
            ready.reason.clone(),
            ready.message.clone(),
        )
    })
}

/// Merges `spec` into `name`'s spec (a new generation) and waits until that generation is
/// synced.
pub async fn change_spec_and_wait_synced(api: &Api<UserPoolMfaConfig>, name: &str, spec: Value) {
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&json!({ "spec": spec })),
    )
    .await
    .unwrap();
    wait_for(
        Duration::from_secs(30),
        "the new generation to sync",
        async || {
            ready_at_generation(api, name)
                .await
                .filter(|(status, reason, _)| status == "True" && reason == "Synced")
        },
    )
    .await;
}

/// Creates a new pool and a TOTP-required resource `name` for it, and waits until it is synced.
pub async fn synced_totp(api: &Api<UserPoolMfaConfig>, namespace: &str, name: &str) -> String {
    let pool = env().new_pool();
    create(api, &resource(namespace, name, totp_on(&pool))).await;
    wait_reason(api, name, "Synced", Duration::from_secs(30)).await;
    pool
}

/// Waits for `Ready` with this reason at the current generation; returns the message.
pub async fn wait_reason(
    api: &Api<UserPoolMfaConfig>,
    name: &str,
    reason: &str,
    timeout: Duration,
) -> String {
    wait_for(timeout, &format!("{name} to report {reason}"), async || {
        ready_at_generation(api, name)
            .await
            .filter(|r| r.1 == reason)
            .map(|r| r.2)
    })
    .await
}
