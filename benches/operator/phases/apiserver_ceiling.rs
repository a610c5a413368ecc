//! Step 1b/9 (table section 1, ceilings): what the API server of this environment allows per
//! resource, without the operator. First the writes of a convergence made as one makes them
//! (`converging`): the user's creates, and as each is answered, a stand-in for the operator
//! applies the object's status and creates its event, with the two watches of a convergence
//! open; the convergence goal is judged against that. Then each kind of write alone at full
//! concurrency: the create, the server-side-apply status write, the event, and a status merge
//! patch for comparison.

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
    /// The writes as a convergence makes them, on as many other objects: resources per second
    /// (first create sent -> last event answered) and the CPU meanwhile.
    pub converging: WriteRate,
    pub create: WriteRate,
    pub status_apply: WriteRate,
    pub status_merge_patch: WriteRate,
    pub event_create: WriteRate,
}

impl ApiServerCeiling {
    /// Resources per second the API server allows a convergence's writes, made as it makes
    /// them: the bound the convergence goal is judged against.
    pub fn converging_bound(&self) -> f64 {
        self.converging.per_second
    }

    /// Resources per second the API server allows the same writes one kind at a time: one
    /// create, one status apply and one event each, 1 / (1/create + 1/status + 1/event).
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
/// need not exist), and their events.
struct Objects {
    ns: String,
    api: Api<UserPoolMfaConfig>,
    events: Api<Event>,
    names: Vec<String>,
    pools: Vec<String>,
}

impl Objects {
    fn new(env: &Env, client: &Client, prefix: &str, k: usize) -> Self {
        let ns = env.namespace(prefix);
        Self {
            api: Api::namespaced(client.clone(), &ns),
            events: Api::namespaced(client.clone(), &ns),
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

    /// Object `j`'s status written again as a merge patch, for comparison.
    async fn merge_status(&self, j: usize) {
        let patch = json!({"status": status(&self.ns, &self.pools[j], " (merge)")});
        let name = &self.names[j];
        self.api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("status merge patch {name}: {e}"));
    }

    /// The event a converging pass publishes about object `j`.
    async fn create_event(&self, j: usize) {
        let name = &self.names[j];
        let event: Event = serde_json::from_value(json!({
            "metadata": {"name": format!("{name}.bench")},
            "eventTime": jiff::Timestamp::now().to_string(),
            "reportingController": MANAGER, "reportingInstance": "bench",
            "action": "Reconcile", "reason": "Synced", "type": "Normal",
            "note": format!("pool of {name} matches the spec (MFA ON: TOTP)"),
            "regarding": {"apiVersion": "cognitoidp.operators.dev/v1alpha1",
                          "kind": "UserPoolMfaConfig", "name": name, "namespace": self.ns},
        }))
        .unwrap();
        self.events
            .create(&PostParams::default(), &event)
            .await
            .unwrap_or_else(|e| panic!("event for {name}: {e}"));
    }

    /// Removes the objects and their events, so that they do not weigh on what follows.
    async fn remove(&self) {
        let (all, dp) = (ListParams::default(), DeleteParams::default());
        for gone in [
            self.api.delete_collection(&dp, &all).await.map(drop),
            self.events.delete_collection(&dp, &all).await.map(drop),
        ] {
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

/// The writes of a convergence of `objects` without the operator: the creates,
/// `--create-concurrency` in flight as the convergence sends them, and as each is answered a
/// stand-in for the operator's pass that applies the status and then creates the event,
/// `--ceiling-concurrency` passes at a time (the operator's default concurrency, 16), with the
/// convergence's two watches open. The stand-in learns of each object from its create's answer,
/// sooner than an operator can from its watch.
async fn converging(client: &Client, objects: &Objects, o: &Opts) -> WriteRate {
    let watches = ConvergenceWatches::open(client, objects).await;
    let k = objects.names.len();
    let (created, answered) = futures::channel::mpsc::unbounded::<usize>();
    let before = cpu_snapshot(None);
    let start = Instant::now();
    let creates = async move {
        stream::iter(0..k)
            .map(|j| {
                let created = created.clone();
                async move {
                    objects.create(j).await;
                    created
                        .unbounded_send(j)
                        .expect("the stand-in takes every object");
                }
            })
            .buffer_unordered(o.create_concurrency)
            .for_each(|()| async {})
            .await;
        // `created` goes here: the stand-in's line ends once it has taken every object
    };
    let passes = answered
        .map(|j| async move {
            objects.apply_status(j).await;
            objects.create_event(j).await;
        })
        .buffer_unordered(o.ceiling_concurrency)
        .count();
    let ((), passed) = tokio::join!(creates, passes);
    assert_eq!(passed, k, "stand-in passes");
    let rate = WriteRate {
        concurrency: o.ceiling_concurrency,
        per_second: k as f64 / start.elapsed().as_secs_f64(),
        cpu: CpuDelta::between(&before, &cpu_snapshot(None)),
    };
    watches.saw_all(k).await;
    rate
}

/// Measures the writes on `k` objects: first as a convergence makes them (on objects of their
/// own), then each kind alone. Removes the objects afterwards, so that they do not weigh on the
/// phases that follow.
pub async fn run(env: &Env, client: &Client, o: &Opts, k: usize) -> ApiServerCeiling {
    eprintln!(
        "bench: API server ceiling: {k} resources' writes as converging, then each kind alone"
    );
    let replayed = Objects::new(env, client, "bench-apiserver-converging", k);
    let converging = converging(client, &replayed, o).await;
    replayed.remove().await;

    let alone = Objects::new(env, client, "bench-apiserver", k);
    let create = timed((0..k).map(|j| alone.create(j)), o.create_concurrency).await;
    let c = o.ceiling_concurrency;
    let status_apply = timed((0..k).map(|j| alone.apply_status(j)), c).await;
    let status_merge_patch = timed((0..k).map(|j| alone.merge_status(j)), c).await;
    let event_create = timed((0..k).map(|j| alone.create_event(j)), c).await;
    alone.remove().await;
    ApiServerCeiling {
        objects: k,
        converging,
        create,
        status_apply,
        status_merge_patch,
        event_create,
    }
}
