//! Step 4/9 (table sections 2 and 5): cold convergence of `--n` resources created at once, the
//! operator's client-side limiter off (`COGNITO_READ_RPS=0 COGNITO_WRITE_RPS=0`), resync
//! `--resync`. Its operator and watch go on running into the call accounting (`accounting.rs`).
//! The scale phase (`scale.rs`) converges `--scale-n` resources the same way. Both end with
//! `--ratio-pairs` - 1 more pairs of the API server's bound and a convergence (`more_pairs`):
//! the API server's speed varies during a run, so the ratio goal is judged on their median.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::Api;

use cognito_mfa_operator::api::UserPoolMfaConfig;

use super::apiserver_ceiling::{self, ApiServerCeiling};
use crate::environment::emulator::{create_pools, reset_calls};
use crate::environment::resources::{create_all, names, remove_all};
use crate::environment::{blocking, operator};
use crate::options::Opts;
use test_kit::procfs::{CpuDelta, Rss, cpu_snapshot, vm_kib};
use test_kit::watch::{Track, Tracker};
use test_kit::{Env, Operator};

/// The convergence phase's namespaces, `bench-converge-<random>`.
pub const NAMESPACE_PREFIX: &str = "bench-converge";

pub struct Convergence {
    pub namespace: String,
    pub resources: usize,
    pub create_concurrency: usize,
    /// First create sent -> last create answered.
    pub creates_sent_seconds: f64,
    /// First create sent -> last resource Ready.
    pub seconds: f64,
    /// The concurrent SDK Set rate (1) and the API server's bound (1b) it is compared with.
    pub set_ceiling: f64,
    pub apiserver_bound: f64,
    /// The operator's `cognito_mfa_reconciles_total` and reconcile duration sum at convergence.
    pub reconciles: f64,
    pub reconcile_seconds_sum: f64,
    /// First create sent -> all Ready.
    pub cpu: CpuDelta,
    /// The operator's VmHWM at convergence, KiB.
    pub peak_rss_kib: u64,
    pub rss: Rss,
}

impl Convergence {
    pub fn resources_per_second(&self) -> f64 {
        self.resources as f64 / self.seconds
    }

    pub fn ratio_to_set_ceiling(&self) -> f64 {
        self.resources_per_second() / self.set_ceiling
    }

    pub fn ratio_to_apiserver_bound(&self) -> f64 {
        self.resources_per_second() / self.apiserver_bound
    }

    /// Operator CPU seconds per 1,000 resources.
    pub fn operator_cpu_per_1000(&self) -> f64 {
        self.cpu.cpu_seconds("operator").unwrap_or(f64::NAN) * 1000.0 / self.resources as f64
    }

    pub fn mean_reconcile_ms(&self) -> f64 {
        if self.reconciles > 0.0 {
            self.reconcile_seconds_sum * 1000.0 / self.reconciles
        } else {
            0.0
        }
    }
}

/// The converged resources: `names[i]` manages `pools[i]`.
pub struct Fleet {
    pub namespace: String,
    pub names: Vec<String>,
    pub pools: Vec<String>,
}

/// The phase's operator and watch, still running, and what the watch had seen at convergence.
pub struct Running {
    pub op: Operator,
    pub tracker: Tracker,
    pub tracks: HashMap<String, Track>,
}

pub async fn run(
    env: &Env,
    client: &Client,
    o: &Opts,
    set_ceiling: f64,
    apiserver_bound: f64,
) -> (Convergence, Fleet, Running) {
    eprintln!(
        "bench: [4/9] convergence: {} resources at once, limiter off, resync {:?}",
        o.n, o.resync
    );
    let ceilings = (set_ceiling, apiserver_bound);
    converge(env, client, o, o.n, o.resync, NAMESPACE_PREFIX, ceilings).await
}

/// `n` resources for as many new pools, created at once in a new namespace named after
/// `prefix`, until all are Ready, under an operator resyncing every `resync`; the scale phase
/// runs it at `--scale-n`. `ceilings`: the concurrent Set ceiling and the API server's bound.
pub async fn converge(
    env: &Env,
    client: &Client,
    o: &Opts,
    n: usize,
    resync: Duration,
    prefix: &str,
    (set_ceiling, apiserver_bound): (f64, f64),
) -> (Convergence, Fleet, Running) {
    let ns = env.namespace(prefix);
    let pools = create_pools(env, n);
    let names = names("conv", n);
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &ns);
    let op = operator::start(o, &ns, resync, &operator::limiter_off());
    let pid = op.pid();
    let tracker = Tracker::start(api.clone()).await;
    reset_calls(env);

    let cpu0 = cpu_snapshot(Some(pid));
    let t0 = Instant::now();
    create_all(&api, &ns, &names, &pools, o.create_concurrency).await;
    let created = t0.elapsed();
    let timeout = Duration::from_secs(120).max(Duration::from_millis(200) * n as u32);
    tracker.wait_ready(n, timeout, "convergence").await;
    let cpu1 = cpu_snapshot(Some(pid));
    let peak_rss_kib = vm_kib(pid, "VmHWM");
    let rss = Rss::of(pid);
    let tracks = tracker.snapshot();
    let last_ready = tracks
        .values()
        .filter_map(|t| t.ready.map(|x| x.0))
        .max()
        .unwrap();
    let seconds = last_ready.duration_since(t0).as_secs_f64();
    let reconciles = blocking(|| op.metric("cognito_mfa_reconciles_total", ""));
    let reconcile_seconds_sum =
        blocking(|| op.metric("cognito_mfa_reconcile_duration_seconds_sum", ""));
    let convergence = Convergence {
        namespace: ns.clone(),
        resources: n,
        create_concurrency: o.create_concurrency,
        creates_sent_seconds: created.as_secs_f64(),
        seconds,
        set_ceiling,
        apiserver_bound,
        reconciles,
        reconcile_seconds_sum,
        cpu: CpuDelta::between(&cpu0, &cpu1),
        peak_rss_kib,
        rss,
    };
    let fleet = Fleet {
        namespace: ns,
        names,
        pools,
    };
    (
        convergence,
        fleet,
        Running {
            op,
            tracker,
            tracks,
        },
    )
}

/// A bound measured on as many objects as the convergence right after it converged.
pub struct Pair {
    pub apiserver: ApiServerCeiling,
    pub convergence: Convergence,
}

/// The first convergence, then the more pairs' ones, in the order they ran.
pub fn all<'a>(first: &'a Convergence, more: &'a [Pair]) -> impl Iterator<Item = &'a Convergence> {
    std::iter::once(first).chain(more.iter().map(|p| &p.convergence))
}

/// Every pair's ratio to its bound, in the order they ran.
pub fn ratios(first: &Convergence, more: &[Pair]) -> Vec<f64> {
    all(first, more)
        .map(Convergence::ratio_to_apiserver_bound)
        .collect()
}

/// `--ratio-pairs` - 1 more pairs after a phase's first convergence, whose `fleet` is removed
/// first, each convergence's resources removed in turn, so that every pair has as many objects
/// stored: the API server's bound on `n` objects, then a convergence of `n` as `converge` runs it.
pub async fn more_pairs(
    env: &Env,
    client: &Client,
    o: &Opts,
    fleet: Fleet,
    resync: Duration,
    prefix: &str,
    set_ceiling: f64,
) -> Vec<Pair> {
    let n = fleet.names.len();
    remove_all(client, &fleet.namespace).await;
    let mut pairs = vec![];
    for i in 2..=o.ratio_pairs {
        eprintln!(
            "bench: pair {i}/{} at {n}: bound, then convergence",
            o.ratio_pairs
        );
        let apiserver = apiserver_ceiling::run(env, client, o, n).await;
        let ceilings = (set_ceiling, apiserver.bound());
        let (convergence, fleet, running) =
            converge(env, client, o, n, resync, prefix, ceilings).await;
        drop(running);
        remove_all(client, &fleet.namespace).await;
        pairs.push(Pair {
            apiserver,
            convergence,
        });
    }
    pairs
}
