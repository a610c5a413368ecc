//! Step 1b/9 (table section 1, ceilings): what the API server of this environment allows per
//! resource, without the operator: the user's create, then the operator's share (one
//! server-side-apply status write and one event, the writes of a converging pass), each measured
//! alone at full concurrency; a status merge patch beside them for comparison.

use std::future::Future;
use std::time::Instant;

use futures::{StreamExt, stream};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use cognito_mfa_operator::api::UserPoolMfaConfig;
use cognito_mfa_operator::controller::MANAGER;
use cognito_mfa_operator::logic::conditions::{Reason, after_pass};

use crate::environment::resources::{create_all, names, remove_all};
use crate::options::Opts;
use test_kit::Env;
use test_kit::procfs::{CpuDelta, cpu_snapshot};

/// One kind of write, `objects` of them.
pub struct WriteRate {
    pub concurrency: usize,
    pub per_second: f64,
    pub cpu: CpuDelta,
}

pub struct ApiServerCeiling {
    /// Objects written by each kind of write (`--n` in 1b, `--scale-n` in 9).
    pub objects: usize,
    pub create: WriteRate,
    pub status_apply: WriteRate,
    pub status_merge_patch: WriteRate,
    pub event_create: WriteRate,
}

impl ApiServerCeiling {
    /// Resources per second the API server allows a converging pass: one create, one status
    /// apply and one event each, 1 / (1/create + 1/status + 1/event).
    pub fn bound(&self) -> f64 {
        1.0 / (1.0 / self.create.per_second
            + 1.0 / self.status_apply.per_second
            + 1.0 / self.event_create.per_second)
    }
}

/// Times `ops` futures run `concurrency` at a time; returns (per second, CPU figures).
async fn timed<F: Future<Output = ()>>(
    ops: impl Iterator<Item = F>,
    concurrency: usize,
) -> WriteRate {
    let before = cpu_snapshot(None);
    let start = Instant::now();
    let mut n = 0usize;
    stream::iter(ops)
        .buffer_unordered(concurrency)
        .for_each(|_| {
            n += 1;
            async {}
        })
        .await;
    let per_second = n as f64 / start.elapsed().as_secs_f64();
    WriteRate {
        concurrency,
        per_second,
        cpu: CpuDelta::between(&before, &cpu_snapshot(None)),
    }
}

/// Measures the writes on `k` objects; removes them afterwards, so that they do not weigh on
/// the phases that follow.
pub async fn run(env: &Env, client: &Client, o: &Opts, k: usize) -> ApiServerCeiling {
    eprintln!("bench: API server ceiling: {k} creates, status writes, events");
    let ns = env.namespace("bench-apiserver");
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let names = names("api", k);
    // no operator runs here: the pools need not exist
    let pools: Vec<String> = (0..k)
        .map(|_| format!("us-east-1_{}", test_kit::random_suffix()))
        .collect();
    // The status a converging pass writes: the operator's three conditions, built as it builds
    // them, and the calling identity (the namespace's access policy, which the test kit names
    // after the namespace), since the size of the applied status is most of the apply's cost.
    let status = |pool: &str, note: &str| {
        let now = jiff::Timestamp::now();
        let message = format!("pool {pool} matches the spec (MFA ON: TOTP){note}");
        let conditions = after_pass(&[], Reason::Synced, &message, 1, &Time(now));
        json!({
            "observedGeneration": 1,
            "conditions": conditions,
            "liveConfiguration": {"mfaConfiguration": "ON", "softwareTokenMfaConfiguration": {"enabled": true}},
            "lastSyncTime": now.to_string(),
            "identity": {"policies": [ns]},
        })
    };
    let before = cpu_snapshot(None);
    let start = Instant::now();
    create_all(&api, &ns, &names, &pools, o.create_concurrency).await;
    let create = WriteRate {
        concurrency: o.create_concurrency,
        per_second: k as f64 / start.elapsed().as_secs_f64(),
        cpu: CpuDelta::between(&before, &cpu_snapshot(None)),
    };
    let status_apply = timed(
        names.iter().zip(&pools).map(|(name, pool)| {
            let (api, patch) = (
                api.clone(),
                json!({
                    "apiVersion": "cognitoidp.operators.dev/v1alpha1",
                    "kind": "UserPoolMfaConfig",
                    "status": status(pool, ""),
                }),
            );
            async move {
                api.patch_status(
                    name,
                    &PatchParams::apply(MANAGER).force(),
                    &Patch::Apply(&patch),
                )
                .await
                .unwrap_or_else(|e| panic!("status apply {name}: {e}"));
            }
        }),
        o.ceiling_concurrency,
    )
    .await;
    let status_merge_patch = timed(
        names.iter().zip(&pools).map(|(name, pool)| {
            let (api, patch) = (api.clone(), json!({"status": status(pool, " (merge)")}));
            async move {
                api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .unwrap_or_else(|e| panic!("status merge patch {name}: {e}"));
            }
        }),
        o.ceiling_concurrency,
    )
    .await;
    let event_create = timed(
        names.iter().map(|name| {
            let event: Event = serde_json::from_value(json!({
                "metadata": {"name": format!("{name}.bench")},
                "eventTime": jiff::Timestamp::now().to_string(),
                "reportingController": MANAGER, "reportingInstance": "bench",
                "action": "Reconcile", "reason": "Synced", "type": "Normal",
                "note": format!("pool of {name} matches the spec (MFA ON: TOTP)"),
                "regarding": {"apiVersion": "cognitoidp.operators.dev/v1alpha1",
                              "kind": "UserPoolMfaConfig", "name": name, "namespace": ns},
            }))
            .unwrap();
            let events = events.clone();
            async move {
                events
                    .create(&PostParams::default(), &event)
                    .await
                    .unwrap_or_else(|e| panic!("event for {name}: {e}"));
            }
        }),
        o.ceiling_concurrency,
    )
    .await;
    remove_all(client, &ns).await;
    ApiServerCeiling {
        objects: k,
        create,
        status_apply,
        status_merge_patch,
        event_create,
    }
}
