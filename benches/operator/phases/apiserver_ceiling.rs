//! Step 1b/9 (table section 1, ceilings): what the API server of this environment allows per
//! resource, without the operator: the user's create, then the operator's share (one
//! server-side-apply status write and one event, the writes of a converging pass), each measured
//! alone at full concurrency; a status merge patch beside them for comparison. The create and the
//! status apply are measured twice: first with the watches a convergence holds open on its
//! namespace (every write to a watched object is sent to each of them), then without.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::io::AsyncBufReadExt;
use futures::{StreamExt, stream};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use serde_json::{Value, json};

use cognito_mfa_operator::api::UserPoolMfaConfig;
use cognito_mfa_operator::controller::MANAGER;
use cognito_mfa_operator::logic::conditions::{Reason, after_pass};

use crate::environment::resources::{names, spec};
use crate::options::Opts;
use test_kit::procfs::{CpuDelta, cpu_snapshot};
use test_kit::watch::Tracker;
use test_kit::{Env, resource};

/// One kind of write, `objects` of them.
pub struct WriteRate {
    pub concurrency: usize,
    pub per_second: f64,
    pub cpu: CpuDelta,
}

pub struct ApiServerCeiling {
    /// Objects written by each kind of write (`--n`, at most 500, in 1b; `--scale-n` in 9).
    pub objects: usize,
    pub create: WriteRate,
    pub status_apply: WriteRate,
    pub status_merge_patch: WriteRate,
    pub event_create: WriteRate,
    /// The create and the status apply on as many other objects, with the watches of a
    /// convergence open on them (`watch_as_converging`); no watch sees the events.
    pub watched_create: WriteRate,
    pub watched_status_apply: WriteRate,
}

impl ApiServerCeiling {
    /// Resources per second the API server allows a converging pass for its writes alone: one
    /// create, one status apply and one event each, 1 / (1/create + 1/status + 1/event).
    pub fn bound(&self) -> f64 {
        per_resource([&self.create, &self.status_apply, &self.event_create])
    }

    /// The same with the create and the status apply as a convergence makes them, watched.
    pub fn watched_bound(&self) -> f64 {
        per_resource([
            &self.watched_create,
            &self.watched_status_apply,
            &self.event_create,
        ])
    }
}

fn per_resource(writes: [&WriteRate; 3]) -> f64 {
    1.0 / writes.iter().map(|w| 1.0 / w.per_second).sum::<f64>()
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

/// Times `write` on every object of both sets, a slice of one set, then a slice of the other
/// (in turn which goes first), so that the machine's speed changing during the measurement
/// weighs on both alike: one such change made whichever set was measured first look a fifth
/// faster. Up to 8 slices, each of at least 32 x `concurrency` objects, so that the slices'
/// ends, where fewer writes are in flight, cost little (about 1/64 of the rate).
async fn alternating<'a, F, Fut>(
    sets: [&'a Objects; 2],
    concurrency: usize,
    write: F,
) -> [WriteRate; 2]
where
    F: Fn(&'a Objects, usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let k = sets[0].names.len();
    let slices = (k / (32 * concurrency)).clamp(1, 8);
    let slice = k.div_ceil(slices).max(1);
    let mut measured: [Option<(f64, CpuDelta)>; 2] = [None, None];
    for (turn, start) in (0..k).step_by(slice).enumerate() {
        let range = start..(start + slice).min(k);
        for i in [turn % 2, 1 - turn % 2] {
            let before = cpu_snapshot(None);
            let started = Instant::now();
            stream::iter(range.clone().map(|j| write(sets[i], j)))
                .buffer_unordered(concurrency)
                .for_each(|_| async {})
                .await;
            let (secs, cpu) = (
                started.elapsed().as_secs_f64(),
                CpuDelta::between(&before, &cpu_snapshot(None)),
            );
            match &mut measured[i] {
                Some((total, sum)) => {
                    *total += secs;
                    sum.add(&cpu);
                }
                none => *none = Some((secs, cpu)),
            }
        }
    }
    measured.map(|m| {
        let (secs, cpu) = m.expect("at least one object");
        WriteRate {
            concurrency,
            per_second: k as f64 / secs,
            cpu,
        }
    })
}

/// The status a converging pass writes in namespace `ns`: the operator's three conditions, built
/// as it builds them, and the calling identity (the namespace's access policy, named after it,
/// as the test kit makes it), since the size of the applied status is most of the apply's cost.
fn status(ns: &str, pool: &str, note: &str) -> Value {
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
}

/// `k` objects of a new namespace, each for a pool of its own (no operator runs here: the pools
/// need not exist).
struct Objects {
    ns: String,
    api: Api<UserPoolMfaConfig>,
    names: Vec<String>,
    pools: Vec<String>,
}

impl Objects {
    fn new(env: &Env, client: &Client, prefix: &str, k: usize) -> Self {
        let ns = env.namespace(prefix);
        Self {
            api: Api::namespaced(client.clone(), &ns),
            ns,
            names: names("api", k),
            pools: (0..k)
                .map(|_| format!("us-east-1_{}", test_kit::random_suffix()))
                .collect(),
        }
    }

    /// The user's create of object `j`.
    async fn create(&self, j: usize) {
        let obj = resource(&self.ns, &self.names[j], spec(&self.pools[j]));
        self.api
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", self.names[j]));
    }

    /// Object `j`'s status as the operator writes it (server-side apply, its field manager).
    async fn apply_status(&self, j: usize) {
        let patch = json!({
            "apiVersion": "cognitoidp.operators.dev/v1alpha1",
            "kind": "UserPoolMfaConfig",
            "status": status(&self.ns, &self.pools[j], ""),
        });
        let name = &self.names[j];
        self.api
            .patch_status(
                name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .unwrap_or_else(|e| panic!("status apply {name}: {e}"));
    }

    /// Removes the objects (and `events`), so that they do not weigh on what follows.
    async fn remove(&self, events: Option<&Api<Event>>) {
        let (all, dp) = (ListParams::default(), DeleteParams::default());
        let objects = self.api.delete_collection(&dp, &all).await.map(drop);
        let events = match events {
            Some(events) => events.delete_collection(&dp, &all).await.map(drop),
            None => Ok(()),
        };
        for gone in [objects, events] {
            gone.unwrap_or_else(|e| panic!("removing the ceiling's objects in {}: {e}", self.ns));
        }
    }
}

/// The two watches a convergence holds open on its namespace: the benchmark's tracker, which
/// tells when each resource is Ready, and one in place of the operator's, whose events are
/// counted and dropped (decoding them is the operator's own CPU, not the API server's).
struct ConvergenceWatches {
    tracker: Tracker,
    operators: tokio::task::JoinHandle<()>,
    operators_events: Arc<AtomicUsize>,
}

impl ConvergenceWatches {
    async fn open(client: &Client, objects: &Objects) -> Self {
        let tracker = Tracker::start(objects.api.clone()).await;
        let request = kube::core::Request::new(objects.api.resource_url())
            .watch(&WatchParams::default().timeout(290), "0")
            .unwrap();
        let mut lines = client
            .request_stream(request)
            .await
            .expect("a watch in place of the operator's");
        let operators_events = Arc::new(AtomicUsize::new(0));
        let counted = operators_events.clone();
        let operators = tokio::spawn(async move {
            // one event per line, until the stream ends
            loop {
                let chunk = lines.fill_buf().await.expect("the watch's stream");
                if chunk.is_empty() {
                    return;
                }
                let n = chunk.len();
                let events = chunk.iter().filter(|b| **b == b'\n').count();
                counted.fetch_add(events, Ordering::Relaxed);
                lines.consume_unpin(n);
            }
        });
        Self {
            tracker,
            operators,
            operators_events,
        }
    }

    /// Waits until both have seen each of the `k` objects created and Ready: proof that they
    /// watched every write.
    async fn saw_all(self, k: usize) {
        let wait = Duration::from_secs(30);
        self.tracker
            .wait_ready(k, wait, "the watched status applies")
            .await;
        let deadline = Instant::now() + wait;
        // an ADDED and a MODIFIED event per object (bookmarks besides)
        while self.operators_events.load(Ordering::Relaxed) < 2 * k {
            assert!(
                !self.operators.is_finished() && Instant::now() < deadline,
                "the watch in place of the operator's saw {} events of {}",
                self.operators_events.load(Ordering::Relaxed),
                2 * k
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.operators.abort();
    }
}

/// Measures the writes on `k` objects: the create and the status apply on two sets of `k`, one
/// watched as converging and one not, in alternating slices; the status merge patch and the
/// event create on the unwatched set. Removes the objects afterwards, so that they do not weigh
/// on the phases that follow.
pub async fn run(env: &Env, client: &Client, o: &Opts, k: usize) -> ApiServerCeiling {
    eprintln!(
        "bench: API server ceiling: {k} creates and status applies, watched and alone; {k} merge patches, events"
    );
    let watched = Objects::new(env, client, "bench-apiserver-watched", k);
    let alone = Objects::new(env, client, "bench-apiserver", k);
    let watches = ConvergenceWatches::open(client, &watched).await;
    let sets = [&watched, &alone];
    let [watched_create, create] =
        alternating(sets, o.create_concurrency, |set, j| set.create(j)).await;
    let [watched_status_apply, status_apply] =
        alternating(sets, o.ceiling_concurrency, |set, j| set.apply_status(j)).await;
    watches.saw_all(k).await;
    watched.remove(None).await;

    let status_merge_patch = timed(
        alone.names.iter().zip(&alone.pools).map(|(name, pool)| {
            let (api, patch) = (
                alone.api.clone(),
                json!({"status": status(&alone.ns, pool, " (merge)")}),
            );
            async move {
                api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .unwrap_or_else(|e| panic!("status merge patch {name}: {e}"));
            }
        }),
        o.ceiling_concurrency,
    )
    .await;
    let (ns, events) = (
        &alone.ns,
        Api::<Event>::namespaced(client.clone(), &alone.ns),
    );
    let event_create = timed(
        alone.names.iter().map(|name| {
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
    alone.remove(Some(&events)).await;
    ApiServerCeiling {
        objects: k,
        create,
        status_apply,
        status_merge_patch,
        event_create,
        watched_create,
        watched_status_apply,
    }
}
