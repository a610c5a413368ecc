//! Step 7/9 (table section 7): two namespaces share one write budget. A busy namespace creates
//! `--fairness-big` resources at once; `HEADSTART` after its creates were sent, while its
//! backlog queues for the budget (`COGNITO_WRITE_RPS=--fairness-write-rps`, burst 1), a quiet
//! namespace creates `--fairness-small`. Measured: the quiet namespace's create -> Ready, and
//! how many of the busy namespace's resources were still pending when the quiet one's last was
//! Ready.
//!
//! One operator serves both namespaces: it watches all namespaces, with a shard selector
//! (`SHARD_SELECTOR`) that takes only this phase's resources, since earlier phases' resources
//! remain in others. Each namespace has its UserPoolAccessPolicy (`Env::namespace`), as the
//! operator enforces them by default. An operator over all namespaces sees every resource's
//! claim on its pool, so the phase's pools are new (none of the earlier phases' resources
//! claims them).

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use kube::Client;
use kube::api::{Api, PostParams};

use cognito_mfa_operator::api::UserPoolMfaConfig;

use crate::environment::emulator::{calls_for, count, create_pools, reset_calls};
use crate::environment::resources::{create_labelled, labelled, names, spec};
use crate::environment::{blocking, operator};
use crate::options::Opts;
use crate::stats::Samples;
use test_kit::watch::Tracker;
use test_kit::{Env, resource};

/// How long the busy namespace's backlog builds up before the quiet namespace creates.
pub const HEADSTART: Duration = Duration::from_secs(1);

/// The operator's write burst in this phase.
pub const BURST: u32 = 1;

/// The label (key) the phase's shard selector picks.
pub const SHARD_LABEL: &str = "bench-shard";

pub struct Fairness {
    pub big_namespace: String,
    pub small_namespace: String,
    pub big: usize,
    pub small: usize,
    pub write_rps: f64,
    pub shard_selector: String,
    /// First busy create sent -> last busy create answered.
    pub big_creates_sent_seconds: f64,
    /// Busy resources Ready when the quiet namespace began to create.
    pub big_ready_at_small_start: usize,
    /// Create sent -> Ready of each quiet resource, ms.
    pub small_ready_ms: Samples,
    /// First quiet create sent -> last quiet resource Ready.
    pub small_seconds: f64,
    /// Busy resources not Ready when the quiet namespace's last was.
    pub big_pending_at_small_done: usize,
    /// First busy create sent -> last busy resource Ready, and the quiet namespace's last
    /// Ready on the same clock.
    pub big_seconds: f64,
    pub small_done_at_seconds: f64,
    /// `cognito_mfa_rate_limiter_deferrals_total` of each namespace at the end.
    pub big_deferrals: f64,
    pub small_deferrals: f64,
    /// Sets at the emulator, both namespaces.
    pub sets: usize,
}

impl Fairness {
    /// The quiet namespace was done while the busy one still had resources pending.
    pub fn small_first(&self) -> bool {
        self.big_pending_at_small_done > 0
    }
}

pub async fn run(env: &Env, client: &Client, o: &Opts) -> Fairness {
    let (big, small, w) = (o.fairness_big, o.fairness_small, o.fairness_write_rps);
    eprintln!(
        "bench: [7/9] fairness: {big} resources in a busy namespace, then {small} in a quiet one, write budget {w}/s"
    );
    let big_ns = env.namespace("bench-fair-busy");
    let small_ns = env.namespace("bench-fair-quiet");
    let pools = create_pools(env, big + small);
    let (big_pools, small_pools) = pools.split_at(big);
    let (big_names, small_names) = (names("busy", big), names("quiet", small));
    let shard = format!("fairness-{}", &test_kit::random_suffix()[..8]);
    let labels = BTreeMap::from([(SHARD_LABEL.to_owned(), shard.clone())]);
    let shard_selector = format!("{SHARD_LABEL}={shard}");
    let budget = vec![
        ("COGNITO_WRITE_RPS", w.to_string()),
        ("COGNITO_BURST", BURST.to_string()),
        ("SHARD_SELECTOR", shard_selector.clone()),
    ];
    // "": all namespaces
    let op = operator::start(o, "", o.idle_resync, &budget);
    let big_api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &big_ns);
    let small_api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &small_ns);
    let big_tracker = Tracker::start(big_api.clone()).await;
    let small_tracker = Tracker::start(small_api.clone()).await;
    reset_calls(env);

    let t0 = Instant::now();
    create_labelled(
        &big_api,
        &big_ns,
        &big_names,
        big_pools,
        &labels,
        o.create_concurrency,
    )
    .await;
    let big_creates_sent_seconds = t0.elapsed().as_secs_f64();
    tokio::time::sleep(HEADSTART).await;
    let big_ready_at_small_start = big_tracker.ready_count();

    let objs: Vec<UserPoolMfaConfig> = small_names
        .iter()
        .zip(small_pools)
        .map(|(name, pool)| labelled(resource(&small_ns, name, spec(pool)), &labels))
        .collect();
    let small_start = Instant::now();
    let sent: Vec<(String, Instant)> = stream::iter(objs)
        .map(|obj| {
            let api = small_api.clone();
            async move {
                let at = Instant::now();
                let name = obj.metadata.name.clone().unwrap_or_default();
                api.create(&PostParams::default(), &obj)
                    .await
                    .unwrap_or_else(|e| panic!("create {name}: {e}"));
                (name, at)
            }
        })
        .buffer_unordered(small)
        .collect()
        .await;
    small_tracker
        .wait_ready(small, Duration::from_secs(120), "fairness: quiet namespace")
        .await;
    let small_tracks = small_tracker.snapshot();
    let small_ready: Vec<Instant> = sent
        .iter()
        .map(|(name, _)| small_tracks[name].ready.expect("Ready").0)
        .collect();
    let small_done = *small_ready
        .iter()
        .max()
        .expect("--fairness-small is positive");
    let big_done_then = big_tracker
        .snapshot()
        .values()
        .filter(|t| t.ready.is_some_and(|(at, _)| at <= small_done))
        .count();
    let big_pending_at_small_done = big - big_done_then;
    let small_ready_ms = sent
        .iter()
        .zip(&small_ready)
        .map(|((_, at), ready)| ready.duration_since(*at).as_secs_f64() * 1000.0)
        .collect();

    let timeout = Duration::from_secs(120).max(Duration::from_secs_f64(3.0 * big as f64 / w));
    big_tracker
        .wait_ready(big, timeout, "fairness: busy namespace")
        .await;
    let big_done = big_tracker
        .snapshot()
        .values()
        .filter_map(|t| t.ready.map(|x| x.0))
        .max()
        .expect("--fairness-big is positive");
    let deferrals = |ns: &str| {
        blocking(|| {
            op.metric(
                "cognito_mfa_rate_limiter_deferrals_total",
                &format!("namespace=\"{ns}\""),
            )
        })
    };
    let (big_deferrals, small_deferrals) = (deferrals(&big_ns), deferrals(&small_ns));
    drop(big_tracker);
    drop(small_tracker);
    drop(op);
    let pool_set: HashSet<&str> = pools.iter().map(String::as_str).collect();
    let calls = calls_for(env, &pool_set);
    Fairness {
        big_namespace: big_ns,
        small_namespace: small_ns,
        big,
        small,
        write_rps: w,
        shard_selector,
        big_creates_sent_seconds,
        big_ready_at_small_start,
        small_ready_ms: Samples::new(small_ready_ms),
        small_seconds: small_done.duration_since(small_start).as_secs_f64(),
        big_pending_at_small_done,
        big_seconds: big_done.duration_since(t0).as_secs_f64(),
        small_done_at_seconds: small_done.duration_since(t0).as_secs_f64(),
        big_deferrals,
        small_deferrals,
        sets: count(&calls, "SetUserPoolMfaConfig"),
    }
}
