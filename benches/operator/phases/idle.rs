//! Step 5/9 (table section 5, footprint): a fresh operator (resync `--idle-resync`) over the
//! converged resources: its start-up pass over all of them, then `--idle-seconds` of idle CPU,
//! and its RSS.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::Api;

use cognito_mfa_operator::api::UserPoolMfaConfig;

use super::convergence::Fleet;
use crate::environment::emulator::{calls_for, count, reset_calls};
use crate::environment::{blocking, operator};
use crate::options::Opts;
use test_kit::procfs::{CpuDelta, Rss, cpu_snapshot, vm_kib};
use test_kit::watch::Tracker;
use test_kit::{Env, wait_until};

pub struct Idle {
    pub namespace: String,
    pub resources: usize,
    pub resync: Duration,
    /// Operator start -> `cognito_mfa_reconciles_total` >= resources.
    pub restart_pass_seconds: f64,
    /// Emulator calls from the start to the end of the idle window.
    pub restart_gets: usize,
    pub restart_sets: usize,
    /// MODIFIED events of the resources from the start to the end of the idle window.
    pub status_writes: u64,
    pub idle: Duration,
    pub idle_cpu: CpuDelta,
    /// VmHWM and VmRSS at the end, KiB.
    pub peak_rss_kib: u64,
    pub rss_kib_end: u64,
    pub rss_end: Rss,
}

pub async fn run(env: &Env, client: &Client, o: &Opts, fleet: &Fleet) -> Idle {
    eprintln!(
        "bench: [5/9] idle: restart over {} resources, then {:?} idle",
        fleet.pools.len(),
        o.idle
    );
    let n = fleet.pools.len();
    let api: Api<UserPoolMfaConfig> = Api::namespaced(client.clone(), &fleet.namespace);
    let tracker = Tracker::start(api).await;
    reset_calls(env);
    let start = Instant::now();
    let op = operator::start(o, &fleet.namespace, o.idle_resync, &operator::limiter_off());
    let pid = op.pid();
    blocking(|| {
        wait_until(
            Duration::from_secs(120).max(Duration::from_millis(200) * n as u32),
            "the restarted operator's first pass over every resource",
            || op.metric("cognito_mfa_reconciles_total", "") >= n as f64,
        )
    });
    let pass = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu0 = cpu_snapshot(Some(pid));
    tokio::time::sleep(o.idle).await;
    let cpu1 = cpu_snapshot(Some(pid));
    let peak_rss_kib = vm_kib(pid, "VmHWM");
    let rss_kib_end = vm_kib(pid, "VmRSS");
    let rss_end = Rss::of(pid);
    let tracks = tracker.snapshot();
    drop(tracker);
    drop(op);
    let pool_set: HashSet<&str> = fleet.pools.iter().map(String::as_str).collect();
    let calls = calls_for(env, &pool_set);
    let status_writes: u64 = tracks
        .values()
        .map(|t| u64::from(t.modified_before_ready + t.modified_after_ready))
        .sum();
    Idle {
        namespace: fleet.namespace.clone(),
        resources: n,
        resync: o.idle_resync,
        restart_pass_seconds: pass,
        restart_gets: count(&calls, "GetUserPoolMfaConfig"),
        restart_sets: count(&calls, "SetUserPoolMfaConfig"),
        status_writes,
        idle: o.idle,
        idle_cpu: CpuDelta::between(&cpu0, &cpu1),
        peak_rss_kib,
        rss_kib_end,
        rss_end,
    }
}
