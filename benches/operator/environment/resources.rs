//! The UserPoolMfaConfig resources of the phases: every one asks for MFA ON with TOTP.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
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

/// Deletes every resource and Event of the namespace, so that they do not weigh on the
/// measurements that follow (no operator watches it by then, and none has a finalizer). Tries
/// again while a deletion fails or leaves resources behind: a collection of 10,000 can outlast
/// a request's timeout.
pub async fn remove_all(client: &Client, ns: &str) {
    let (resources, events) = (
        Api::<UserPoolMfaConfig>::namespaced(client.clone(), ns),
        Api::<Event>::namespaced(client.clone(), ns),
    );
    let (dp, all) = (DeleteParams::default(), ListParams::default());
    for attempt in 1..=5 {
        let left: kube::Result<usize> = async {
            resources.delete_collection(&dp, &all).await?;
            events.delete_collection(&dp, &all).await?;
            let left = resources.list_metadata(&all.clone().limit(1)).await?;
            Ok(left.items.len())
        }
        .await;
        match left {
            Ok(0) => return,
            _ if attempt < 5 => {
                eprintln!("bench: removing the objects of {ns}: {left:?} left; again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            _ => panic!("removing the objects of {ns}: {left:?} left after {attempt} tries"),
        }
    }
}
