//! Step 4/9 (table sections 2 and 5): cold convergence of `--n` resources created at once, the
//! operator's client-side limiter off (`COGNITO_READ_RPS=0 COGNITO_WRITE_RPS=0`), resync
//! `--resync`. Its operator and watch go on running into the call accounting (`accounting.rs`).
//! The scale phase (`scale.rs`) converges `--scale-n` resources the same way.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::Api;

use cognito_mfa_operator::api::UserPoolMfaConfig;

use crate::environment::emulator::{create_pools, reset_calls};
use crate::environment::resources::{create_all, names};
use crate::environment::{blocking, operator};
use crate::options::Opts;
use test_kit::procfs::{CpuDelta, Rss, cpu_snapshot, vm_kib};
use test_kit::watch::{Track, Tracker};
use test_kit::{Env, Operator};

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
    converge(env, client, o, o.n, o.resync, "bench-converge", ceilings).await
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
